/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* status.c — status names, error detail and the log hook. */
#include <stdio.h>
#include <cblas.h>

#include "internal.h"

static UdmlLogFunc log_func;
static void *log_user;

const char *
udml_status_name (UdmlStatus s)
{
  switch (s) {
    case UDML_OK:
      return "ok";
    case UDML_ERR_ARG:
      return "invalid argument";
    case UDML_ERR_NOMEM:
      return "out of memory";
    case UDML_ERR_IO:
      return "i/o error";
    case UDML_ERR_TRUNCATED:
      return "truncated file";
    case UDML_ERR_MAGIC:
      return "bad magic";
    case UDML_ERR_VERSION:
      return "unsupported version";
    case UDML_ERR_CRC:
      return "checksum mismatch";
    case UDML_ERR_DIMS:
      return "bad dimensions";
    case UDML_ERR_FORMAT:
      return "malformed file";
    case UDML_ERR_MISMATCH:
      return "mismatch";
    case UDML_ERR_INTERRUPTED:
      return "interrupted";
    case UDML_ERR_NUMERIC:
      return "numerical failure";
    case UDML_ERR_UNSUPPORTED:
      return "unsupported here";
  }
  return "unknown status";
}

UdmlStatus
udml_error_set (UdmlError * err, UdmlStatus code, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start (ap, fmt);
    err->code = code;
    vsnprintf (err->msg, sizeof err->msg, fmt, ap);
    va_end (ap);
  }
  return code;
}

void
udml_set_log_func (UdmlLogFunc func, void *user)
{
  log_func = func;
  log_user = user;
}

void
udml_log (UdmlLogLevel level, const char *fmt, ...)
{
  char buf[1024];
  va_list ap;

  if (!log_func)
    return;
  va_start (ap, fmt);
  vsnprintf (buf, sizeof buf, fmt, ap);
  va_end (ap);
  log_func (level, buf, log_user);
}

void
udml_set_num_threads (int n)
{
  openblas_set_num_threads (n < 1 ? 1 : n);
}
