/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* util.c — strings, whole-file reads, paths and the FNV-1a hash. */
#include "data-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint64_t
udml_data_hash (uint64_t h, const void *data, size_t n)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

char *
udml_data_strdup (const char *s)
{
  size_t n = strlen (s) + 1;
  char *d = malloc (n);
  if (d)
    memcpy (d, s, n);
  return d;
}

char *
udml_data_printf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n < 0)
    return NULL;
  char *s = malloc ((size_t) n + 1);
  if (!s)
    return NULL;
  va_start (ap, fmt);
  vsnprintf (s, (size_t) n + 1, fmt, ap);
  va_end (ap);
  return s;
}

char *
udml_data_read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  struct stat st;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  int saved;

  if (!f)
    return NULL;
  /* a directory opens for reading on Linux; say so instead of a read error */
  saved = fstat (fileno (f), &st) != 0 ? errno : S_ISDIR (st.st_mode) ?
      EISDIR : 0;
  if (saved) {
    fclose (f);
    errno = saved;
    return NULL;
  }
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 65536;
      char *nb = realloc (buf, cap);
      if (!nb) {
        free (buf);
        fclose (f);
        errno = ENOMEM;
        return NULL;
      }
      buf = nb;
    }
    size_t got = fread (buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  saved = ferror (f) ? (errno ? errno : EIO) : 0;
  fclose (f);
  if (saved) {
    free (buf);
    errno = saved;
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

char *
udml_data_dir_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  if (!slash)
    return udml_data_strdup (".");
  if (slash == path)
    return udml_data_strdup ("/");
  char *d = malloc ((size_t) (slash - path) + 1);
  if (d) {
    memcpy (d, path, (size_t) (slash - path));
    d[slash - path] = '\0';
  }
  return d;
}

const char *
udml_data_base_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  return slash ? slash + 1 : path;
}

char *
udml_data_resolve (const char *dir, const char *path)
{
  if (path[0] == '/' || strcmp (dir, ".") == 0)
    return udml_data_strdup (path);
  return udml_data_printf ("%s/%s", dir, path);
}
