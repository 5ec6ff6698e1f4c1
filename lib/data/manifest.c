/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* manifest.c — CSV manifests into data lists, and labels onto a model. */
#include "data-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 16

/* Column indices named by the header; -1 when absent. */
typedef struct
{
  int path, audio, video, label, start, end;
  int n;
} Columns;

/* Splits one CSV line in place into at most max fields; handles double
 * quotes ("" inside quotes is a quote). Returns the field count. */
static int
split_csv (char *line, char **fields, int max)
{
  int n = 0;
  char *p = line;
  for (;;) {
    char *out = p, *start = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0')
          break;
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      while (*p && *p != ',')
        p++;
    } else {
      while (*p && *p != ',')
        *out++ = *p++;
    }
    char end = *p;
    *out = '\0';
    /* trim surrounding blanks */
    while (*start == ' ' || *start == '\t')
      start++;
    size_t l = strlen (start);
    while (l > 0 && (start[l - 1] == ' ' || start[l - 1] == '\t'))
      start[--l] = '\0';
    if (n < max)
      fields[n] = start;
    n++;
    if (end != ',')
      break;
    p++;
  }
  return n;
}

static void
item_free (UdmlDataItem * it)
{
  if (it->v_path != it->a_path)
    free (it->v_path);
  free (it->a_path);
  free (it->label);
  free (it->error);
}

void
udml_data_list_clear (UdmlDataList * list)
{
  if (!list)
    return;
  for (int i = 0; i < list->n_items; i++)
    item_free (&list->items[i]);
  free (list->items);
  free (list->origin);
  memset (list, 0, sizeof *list);
}

int
udml_data_list_count_bad (const UdmlDataList * list)
{
  int n = 0;
  for (int i = 0; i < list->n_items; i++)
    n += list->items[i].error != NULL;
  return n;
}

static UdmlDataItem *
list_add (UdmlDataList * list, int *cap)
{
  if (list->n_items == *cap) {
    int nc = *cap ? *cap * 2 : 256;
    UdmlDataItem *ni = realloc (list->items, (size_t) nc * sizeof *ni);
    if (!ni)
      return NULL;
    list->items = ni;
    *cap = nc;
  }
  UdmlDataItem *it = &list->items[list->n_items++];
  memset (it, 0, sizeof *it);
  it->y = -1;
  it->end_s = -1.0;
  return it;
}

/* Returns 0 when the header names a usable layout. */
static int
parse_header (char **f, int nf, Columns * c)
{
  c->path = c->audio = c->video = c->label = c->start = c->end = -1;
  for (int i = 0; i < nf; i++) {
    if (strcmp (f[i], "path") == 0)
      c->path = i;
    else if (strcmp (f[i], "audio") == 0)
      c->audio = i;
    else if (strcmp (f[i], "video") == 0)
      c->video = i;
    else if (strcmp (f[i], "label") == 0)
      c->label = i;
    else if (strcmp (f[i], "start") == 0)
      c->start = i;
    else if (strcmp (f[i], "end") == 0)
      c->end = i;
  }
  c->n = nf;
  return c->label < 0 || (c->path < 0 && (c->audio < 0 || c->video < 0))
      || (c->start < 0) != (c->end < 0);
}

/* A time in seconds: a finite number >= 0 and nothing else. */
static int
parse_seconds (const char *s, double *out)
{
  char *end;
  errno = 0;
  *out = strtod (s, &end);
  return *s == '\0' || *end != '\0' || errno || !(*out >= 0)
      || *out > 1e9 ? -1 : 0;
}

/* The segment of a row into it, or the reason in it->error. */
static void
parse_segment (UdmlDataItem * it, char **f, const Columns * c)
{
  double s, e;
  if (parse_seconds (f[c->start], &s))
    it->error = udml_data_printf ("start '%s' is not a time in seconds >= 0",
        f[c->start]);
  else if (parse_seconds (f[c->end], &e))
    it->error = udml_data_printf ("end '%s' is not a time in seconds >= 0",
        f[c->end]);
  else if (e <= s)
    it->error = udml_data_printf ("end %g s is not after start %g s", e, s);
  else {
    it->start_s = s;
    it->end_s = e;
  }
}

/* Fills one item from a data row; -1 when out of memory. */
static int
parse_row (UdmlDataItem * it, char **f, int nf, const Columns * c,
    const char *dir)
{
  if (nf < c->n) {
    it->a_path = udml_data_strdup (nf > 0 ? f[0] : "");
    it->v_path = it->a_path;
    it->label = udml_data_strdup ("");
    it->error = udml_data_printf ("expected %d fields, got %d", c->n, nf);
    return it->a_path && it->label && it->error ? 0 : -1;
  }
  if (c->path >= 0) {
    it->a_path = udml_data_resolve (dir, f[c->path]);
    it->v_path = it->a_path;
  } else {
    it->a_path = udml_data_resolve (dir, f[c->audio]);
    it->v_path = udml_data_resolve (dir, f[c->video]);
  }
  it->label = udml_data_strdup (f[c->label]);
  if (!it->a_path || !it->v_path || !it->label)
    return -1;
  if (c->start >= 0) {
    parse_segment (it, f, c);
    if (it->start_s == 0 && it->end_s < 0 && !it->error)
      return -1;
  }
  return 0;
}

/* Cuts the next line off *save (in place); NULL at the end. */
static char *
next_line (char **save)
{
  char *line = *save;
  if (!line)
    return NULL;
  char *nl = strchr (line, '\n');
  if (nl) {
    *nl = '\0';
    *save = nl + 1;
  } else {
    *save = NULL;
    if (*line == '\0')
      return NULL;
  }
  size_t l = strlen (line);
  if (l > 0 && line[l - 1] == '\r')
    line[--l] = '\0';
  return line;
}

static UdmlStatus
parse_lines (UdmlDataList * list, char *text, const char *dir, UdmlError * err)
{
  Columns cols = { -1, -1, -1, -1, -1, -1, 0 };
  int have_header = 0, cap = 0, lineno = 0;
  char *save = text, *line;

  while ((line = next_line (&save)) != NULL) {
    lineno++;
    /* a UTF-8 byte order mark on the header */
    if (lineno == 1 && strncmp (line, "\xef\xbb\xbf", 3) == 0)
      line += 3;
    const char *q = line;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q == '\0' || *q == '#')
      continue;

    char *f[MAX_FIELDS];
    int nf = split_csv (line, f, MAX_FIELDS);
    if (nf > MAX_FIELDS)
      nf = MAX_FIELDS;
    if (!have_header) {
      if (parse_header (f, nf, &cols))
        return udml_error_set (err, UDML_ERR_FORMAT,
            "%s:%d: header must be `path,label` or `audio,video,label`, "
            "optionally with `start,end`", list->origin, lineno);
      have_header = 1;
      continue;
    }
    UdmlDataItem *it = list_add (list, &cap);
    if (!it)
      goto nomem;
    it->line = lineno;
    if (parse_row (it, f, nf, &cols, dir))
      goto nomem;
  }
  if (!have_header)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: empty manifest (no header, no rows)", list->origin);
  if (list->n_items == 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: manifest has a header but no rows", list->origin);
  return UDML_OK;
nomem:
  return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory",
      list->origin);
}

UdmlStatus
udml_data_list_parse_manifest (UdmlDataList * list, const char *origin,
    const char *text, size_t len, UdmlError * err)
{
  UdmlStatus st = UDML_ERR_NOMEM;
  char *copy = malloc (len + 1), *dir = NULL;

  memset (list, 0, sizeof *list);
  list->origin = udml_data_strdup (origin);
  dir = udml_data_dir_of (origin);
  if (!copy || !list->origin || !dir) {
    udml_error_set (err, st, "%s: out of memory", origin);
    goto out;
  }
  memcpy (copy, text, len);
  copy[len] = '\0';
  list->digest = udml_data_hash (UDML_DATA_HASH_INIT, text, len);
  st = parse_lines (list, copy, dir, err);
out:
  if (st != UDML_OK)
    udml_data_list_clear (list);
  free (copy);
  free (dir);
  return st;
}

UdmlStatus
udml_data_list_read_manifest (UdmlDataList * list, const char *path,
    UdmlError * err)
{
  size_t len = 0;
  char *text = udml_data_read_file (path, &len);

  memset (list, 0, sizeof *list);
  if (!text)
    /* errno straight from the read: nothing may run in between */
    return udml_error_set (err, UDML_ERR_IO, "%s: cannot read manifest: %s",
        path, strerror (errno));
  UdmlStatus st = udml_data_list_parse_manifest (list, path, text, len, err);
  free (text);
  return st;
}

static int
label_index (const UdmlConfig * cfg, const char *label)
{
  for (int k = 0; k < cfg->n_classes; k++)
    if (strcmp (cfg->labels[k], label) == 0)
      return k;
  return -1;
}

UdmlStatus
udml_data_list_bind (UdmlDataList * list, const UdmlConfig * cfg,
    UdmlError * err)
{
  char known[256] = "";
  for (int k = 0; k < cfg->n_classes && strlen (known) < 200; k++) {
    strcat (known, k ? "," : "");
    strncat (known, cfg->labels[k], 32);
  }
  for (int i = 0; i < list->n_items; i++) {
    UdmlDataItem *it = &list->items[i];
    it->y = label_index (cfg, it->label);
    if (it->y >= 0 || it->error)
      continue;
    it->error = udml_data_printf ("unknown label '%s' (the model's labels: %s)",
        it->label, known);
    if (!it->error)
      return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory",
          list->origin);
  }
  return UDML_OK;
}
