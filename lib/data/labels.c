/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* labels.c — the label set of a model from its data, and the stratified
 * validation split. */
#include "data-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when s is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int
valid_utf8 (const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  while (*p) {
    unsigned c = *p;
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 :
        (c >> 3) == 30 ? 3 : -1;
    if (n < 0)
      return 0;
    uint32_t cp = n == 0 ? c : c & (0x3f >> n);
    for (int i = 1; i <= n; i++) {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3
            && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    p += n + 1;
  }
  return 1;
}

typedef struct
{
  const char **v;
  int n, cap;
} Names;

static int
names_find (const Names * s, const char *x)
{
  for (int i = 0; i < s->n; i++)
    if (strcmp (s->v[i], x) == 0)
      return i;
  return -1;
}

static int
names_add (Names * s, const char *x)
{
  if (s->n == s->cap) {
    int nc = s->cap ? s->cap * 2 : 64;
    const char **nv = realloc (s->v, (size_t) nc * sizeof *nv);
    if (!nv)
      return -1;
    s->v = nv;
    s->cap = nc;
  }
  s->v[s->n++] = x;
  return 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Appends `'name'` to a bounded list text. */
static void
list_append (char *buf, size_t size, const char *name)
{
  size_t l = strlen (buf);
  if (l + 8 >= size)
    return;
  if (l + strlen (name) + 8 >= size) {
    strcat (buf, l ? ", ..." : "...");
    return;
  }
  snprintf (buf + l, size - l, "%s'%s'", l ? ", " : "", name);
}

/* Every label must be storable: valid UTF-8 of 1..UDML_NAME_LEN-1 bytes. */
static UdmlStatus
check_names (const Names * s, UdmlError * err)
{
  char bad[400] = "";
  int n_bad = 0;
  for (int i = 0; i < s->n; i++) {
    size_t l = strlen (s->v[i]);
    if (l == 0 || l >= UDML_NAME_LEN || !valid_utf8 (s->v[i])) {
      list_append (bad, sizeof bad, s->v[i]);
      n_bad++;
    }
  }
  if (n_bad)
    return udml_error_set (err, UDML_ERR_ARG, "%d label%s not valid UTF-8 of "
        "1 to %d bytes: %s", n_bad, n_bad == 1 ? " is" : "s are",
        UDML_NAME_LEN - 1, bad);
  if (s->n > UDML_MAX_CLASSES)
    return udml_error_set (err, UDML_ERR_ARG, "%d labels, a model holds at "
        "most %d", s->n, UDML_MAX_CLASSES);
  if (s->n < 2)
    return udml_error_set (err, UDML_ERR_ARG, "%d label%s (%s), a model needs "
        "at least 2", s->n, s->n == 1 ? "" : "s", s->n ? s->v[0] : "none");
  return UDML_OK;
}

/* One label per line of text into s (pointers into text, modified). */
static UdmlStatus
parse_labels (char *text, const char *origin, Names * s, UdmlError * err)
{
  int line = 0;
  char *p = text;
  if (strncmp (p, "\xef\xbb\xbf", 3) == 0)
    p += 3;
  while (p && *p) {
    char *nl = strchr (p, '\n');
    line++;
    if (nl)
      *nl = '\0';
    size_t l = strlen (p);
    if (l && p[l - 1] == '\r')
      p[--l] = '\0';
    if (l) {
      if (names_find (s, p) >= 0)
        return udml_error_set (err, UDML_ERR_FORMAT,
            "%s:%d: label '%s' listed twice", origin, line, p);
      if (names_add (s, p))
        return udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
    }
    p = nl ? nl + 1 : NULL;
  }
  return UDML_OK;
}

UdmlStatus
udml_data_choose_labels (UdmlConfig * cfg, const UdmlDataList * const *lists,
    int n_lists, const char *labels_text, const char *labels_origin,
    UdmlError * err)
{
  Names data = { 0 }, fixed = { 0 };
  char *copy = NULL;
  UdmlStatus st = UDML_OK;

  for (int l = 0; l < n_lists; l++)
    for (int i = 0; i < lists[l]->n_items; i++) {
      const UdmlDataItem *it = &lists[l]->items[i];
      if (it->error || names_find (&data, it->label) >= 0)
        continue;
      if (names_add (&data, it->label)) {
        st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
        goto out;
      }
    }
  if (labels_text) {
    const char *origin = labels_origin ? labels_origin : "labels";
    if (!(copy = udml_data_strdup (labels_text))) {
      st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
      goto out;
    }
    if ((st = parse_labels (copy, origin, &fixed, err)) != UDML_OK)
      goto out;
    if (fixed.n == 0) {
      st = udml_error_set (err, UDML_ERR_FORMAT, "%s: no labels", origin);
      goto out;
    }
  } else {
    if (data.n > 0)
      qsort (data.v, (size_t) data.n, sizeof *data.v, cmp_str);
  }
  const Names *use = labels_text ? &fixed : &data;
  if ((st = check_names (use, err)) != UDML_OK)
    goto out;
  cfg->n_classes = use->n;
  memset (cfg->labels, 0, sizeof cfg->labels);
  for (int k = 0; k < use->n; k++)
    memcpy (cfg->labels[k], use->v[k], strlen (use->v[k]) + 1);
out:
  free (data.v);
  free (fixed.v);
  free (copy);
  return st;
}

UdmlStatus
udml_data_list_split (UdmlDataList * list, double fraction,
    UdmlDataList * val, UdmlError * err)
{
  int n = list->n_items, n_keep = 0;
  char *hold = calloc ((size_t) n + 1, 1);
  Names labels = { 0 };
  UdmlStatus st = UDML_OK;

  memset (val, 0, sizeof *val);
  if (!(fraction > 0 && fraction < 1)) {
    free (hold);
    return udml_error_set (err, UDML_ERR_ARG, "validation fraction %g: "
        "expected more than 0 and less than 1", fraction);
  }
  val->origin = udml_data_printf ("%s (validation split)", list->origin);
  val->items = malloc (((size_t) n + 1) * sizeof *val->items);
  if (!hold || !val->origin || !val->items)
    goto nomem;
  for (int i = 0; i < n; i++)
    if (names_find (&labels, list->items[i].label) < 0
        && names_add (&labels, list->items[i].label))
      goto nomem;
  /* within each label, in list order: n_val of its c items, spread evenly */
  for (int k = 0; k < labels.n; k++) {
    int c = 0, j = 0;
    for (int i = 0; i < n; i++)
      c += strcmp (list->items[i].label, labels.v[k]) == 0;
    int n_val = (int) (fraction * c + 0.5);
    if (n_val < 1 && c >= 2)
      n_val = 1;
    if (n_val >= c)
      n_val = c - 1;
    for (int i = 0; i < n && n_val > 0; i++) {
      if (strcmp (list->items[i].label, labels.v[k]) != 0)
        continue;
      hold[i] = (int64_t) (j + 1) * n_val / c > (int64_t) j *n_val / c;
      j++;
    }
  }
  for (int i = 0; i < n; i++) {
    if (hold[i])
      val->items[val->n_items++] = list->items[i];
    else
      list->items[n_keep++] = list->items[i];
  }
  list->n_items = n_keep;
  val->digest = udml_data_hash (list->digest, "val", 4);
  val->digest = udml_data_hash (val->digest, &fraction, sizeof fraction);
  list->digest = udml_data_hash (list->digest, "train", 6);
  list->digest = udml_data_hash (list->digest, &fraction, sizeof fraction);
  goto out;
nomem:
  udml_data_list_clear (val);
  st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
out:
  free (hold);
  free (labels.v);
  return st;
}
