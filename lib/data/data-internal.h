/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* data-internal.h — helpers shared by the files of lib/data. */
#ifndef UDML_DATA_INTERNAL_H
#define UDML_DATA_INTERNAL_H

#include <stddef.h>

#include "udml-data.h"

char *udml_data_strdup (const char *s);
char *udml_data_printf (const char *fmt, ...) UDML_PRINTF (1, 2);

/* Whole file, NUL-terminated; NULL with errno set (the reason) on failure,
 * a directory gives EISDIR. (transfer full) */
char *udml_data_read_file (const char *path, size_t *len);

/* Directory part of path ("." if none). (transfer full) */
char *udml_data_dir_of (const char *path);
const char *udml_data_base_of (const char *path);
/* path relative to dir, unless absolute. (transfer full) */
char *udml_data_resolve (const char *dir, const char *path);

#endif /* UDML_DATA_INTERNAL_H */
