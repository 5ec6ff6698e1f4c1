/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tool.h — what every udml-<verb> front end shares: option parsing with
 * GOptionContext, one message style (`udml-x: error: ...`; exit 2 on bad
 * usage, 1 on a failed run), early checks of output paths, the check of
 * standard output before exit, and loading manifests into features with
 * every problem reported. */
#ifndef UDML_TOOL_H
#define UDML_TOOL_H

#include <glib.h>
#include <stdio.h>

#include "udml.h"
#include "udml-data.h"

/* The program name of every message; also g_set_prgname. */
void tool_init (const char *prog);
const char *tool_prog (void);

void tool_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
void tool_warning (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* `udml-x: ...` on stderr. */
void tool_note (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* Prints the error and a pointer to --help, and exits with status 2. */
G_GNUC_NORETURN void tool_usage_error (const char *fmt, ...)
    G_GNUC_PRINTF (1, 2);

/* Parses argv (left untouched) with entries; --help prints the generated
 * help and exits 0, bad usage exits 2. params follows the program name in
 * the usage line. Returns the positional arguments. (transfer full) */
char **tool_parse (const GOptionEntry * entries, const char *params,
    const char *summary, const char *description, int argc, char **argv);

/* Option values given as text, checked after parsing; bad usage exits 2.
 * NULL value: keeps *out. */
void tool_opt_long (const char *opt, const char *value, long lo, long hi,
    long *out);
void tool_opt_double (const char *opt, const char *value, double lo,
    double hi, const char *what, double *out);

/* Checks before any work that path can be written as a file: not a
 * directory, in an existing writable directory. Prints `opt PATH: reason`
 * and returns -1 when not. */
int tool_check_output (const char *opt, const char *path);

/* Flushes and closes standard output; returns 1 (with an error printed)
 * when anything written to it was lost, else ret. */
int tool_finish (int ret);

double tool_now (void);

/* A UdmlLogFunc: errors and warnings; INFO too when *(int *) user. */
void tool_log (UdmlLogLevel level, const char *msg, void *user);

typedef struct
{
  int skip_bad;              /* report bad rows as warnings and go on */
  const char *cache_dir;     /* NULL: the manifest's own directory */
  int no_cache;
  int quiet;                 /* no decoding progress or summary */
  int64_t hop_ns;            /* step between windows; 0: the model's */
} ToolDataOptions;

/* A folder per class or a manifest into list; prints the error. Returns
 * 0 or 1. */
int tool_read_list (const char *path, UdmlDataList * list);

/* Binds list to cfg's labels, extracts (or loads from the cache) every
 * window and appends them to set, reporting as tool_load_features. */
int tool_extract (UdmlDataList * list, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set);
/* The same, also appending the rows' waveforms to waves (initialised). */
int tool_extract_waves (UdmlDataList * list, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set, UdmlWaveSet * waves);

/* Reads the manifest (or folder per class), binds it to cfg's labels, extracts (or loads from
 * the cache) the features and appends the good rows to set. Prints every
 * bad row as `PROG: error: FILE:LINE: PATH: reason` (warning with
 * skip_bad). Returns 0, or 1 when the manifest is unusable or has bad rows
 * (unless skip_bad). */
int tool_load_features (const char *manifest, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set);

#endif /* UDML_TOOL_H */
