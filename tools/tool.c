/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tool.c — options, messages and output checks of the udml tools. */
#include "tool.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "udml";

void
tool_init (const char *name)
{
  prog = name;
  g_set_prgname (name);
  /* the terminal's character set for --help; numbers stay in the C locale */
  setlocale (LC_CTYPE, "");
}

const char *
tool_prog (void)
{
  return prog;
}

static void
message (const char *kind, const char *fmt, va_list ap)
{
  fprintf (stderr, "%s: %s", prog, kind);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
}

void
tool_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  message ("error: ", fmt, ap);
  va_end (ap);
}

void
tool_warning (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  message ("warning: ", fmt, ap);
  va_end (ap);
}

void
tool_note (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  message ("", fmt, ap);
  va_end (ap);
}

void
tool_usage_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  message ("error: ", fmt, ap);
  va_end (ap);
  fprintf (stderr, "Try '%s --help' for the options.\n", prog);
  exit (2);
}

char **
tool_parse (const GOptionEntry * entries, const char *params,
    const char *summary, const char *description, int argc, char **argv)
{
  GOptionContext *ctx = g_option_context_new (params);
  GError *gerr = NULL;
  char **rest = NULL;
  gboolean help = FALSE;
  /* --help by hand, so its output is checked like any other */
  const GOptionEntry common[] = {
    {"help", 'h', 0, G_OPTION_ARG_NONE, &help, "show this help and exit",
        NULL},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, NULL},
    {NULL}
  };
  /* a copy: callers keep the command line as typed (provenance) */
  char **args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);

  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_main_entries (ctx, common, NULL);
  g_option_context_set_summary (ctx, summary);
  if (description)
    g_option_context_set_description (ctx, description);
  if (!g_option_context_parse_strv (ctx, &args, &gerr)) {
    char *msg = g_strdup (gerr->message);
    g_error_free (gerr);
    g_option_context_free (ctx);
    g_strfreev (args);
    tool_usage_error ("%s", msg);
  }
  g_strfreev (args);
  if (help) {
    char *text = g_option_context_get_help (ctx, TRUE, NULL);
    fputs (text, stdout);
    g_free (text);
    exit (tool_finish (0));
  }
  g_option_context_free (ctx);
  return rest ? rest : g_new0 (char *, 1);
}

void
tool_opt_long (const char *opt, const char *value, long lo, long hi, long *out)
{
  char *end;
  if (!value)
    return;
  errno = 0;
  long x = strtol (value, &end, 10);
  if (errno || *end || end == value || x < lo || x > hi)
    tool_usage_error ("%s: '%s' is not an integer in [%ld, %ld]", opt, value,
        lo, hi);
  *out = x;
}

void
tool_opt_double (const char *opt, const char *value, double lo, double hi,
    const char *what, double *out)
{
  char *end;
  if (!value)
    return;
  double x = strtod (value, &end);
  if (*end || end == value || !(x >= lo) || !(x <= hi))
    tool_usage_error ("%s: '%s' is not %s", opt, value, what);
  *out = x;
}

/* Whether a file can be created in dir: the only reliable test is to do it
 * (permissions, read-only mounts, root). */
static int
dir_writable (const char *dir)
{
  char *probe = g_strdup_printf ("%s/.udml-probe-XXXXXX", dir);
  int fd = mkstemp (probe), saved = errno;
  if (fd >= 0) {
    close (fd);
    unlink (probe);
  }
  g_free (probe);
  errno = saved;
  return fd >= 0;
}

int
tool_check_output (const char *opt, const char *path)
{
  struct stat st;
  char *dir = g_path_get_dirname (path);
  int ret = -1;

  if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
    tool_error ("%s %s: is a directory; give a file name", opt, path);
  else if (stat (dir, &st) != 0)
    tool_error ("%s %s: directory %s: %s", opt, path, dir, strerror (errno));
  else if (!S_ISDIR (st.st_mode))
    tool_error ("%s %s: %s is not a directory", opt, path, dir);
  else if (!dir_writable (dir))
    tool_error ("%s %s: cannot write in %s: %s", opt, path, dir,
        strerror (errno));
  else if (access (path, F_OK) == 0 && access (path, W_OK) != 0)
    tool_error ("%s %s: %s", opt, path, strerror (errno));
  else
    ret = 0;
  g_free (dir);
  return ret;
}

int
tool_finish (int ret)
{
  /* fclose reports only the last flush; earlier failures set ferror */
  errno = 0;
  int lost = fflush (stdout) != 0, saved = errno;
  lost |= ferror (stdout);
  if (!lost && fclose (stdout) != 0) {
    lost = 1;
    saved = errno;
  }
  if (lost) {
    tool_error ("writing to standard output: %s",
        saved ? strerror (saved) : "write error");
    return 1;
  }
  return ret;
}

double
tool_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
tool_log (UdmlLogLevel level, const char *msg, void *user)
{
  int verbose = user ? *(int *) user : 0;
  if (level == UDML_LOG_ERROR)
    tool_error ("%s", msg);
  else if (level == UDML_LOG_WARNING)
    tool_warning ("%s", msg);
  else if (verbose)
    tool_note ("%s", msg);
}
