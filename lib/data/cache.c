/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cache.c — the on-disk feature cache (layout in udml-data.h).
 *
 * The reader trusts nothing but the checksum's absence of accidents: a
 * file with a valid checksum can still be crafted, so every field is
 * checked against the list and the model before any of it is used. */
#include "data-internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC "UDMLFC02"
#define CACHE_VERSION_TAG "udml-featcache-3"
#define MAX_ERROR_LEN 4096

static uint64_t
hash_int (uint64_t h, int64_t v)
{
  return udml_data_hash (h, &v, sizeof v);
}

uint64_t
udml_data_cache_key (const UdmlDataList * list, const UdmlConfig * cfg,
    int64_t hop_ns)
{
  uint64_t h = UDML_DATA_HASH_INIT;
  h = udml_data_hash (h, CACHE_VERSION_TAG, sizeof CACHE_VERSION_TAG);
  h = hash_int (h, (int64_t) list->digest);
  h = hash_int (h, (int64_t) udml_data_config_key (cfg));
  h = hash_int (h, hop_ns);
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    h = udml_data_hash (h, &it->start_s, sizeof it->start_s);
    h = udml_data_hash (h, &it->end_s, sizeof it->end_s);
  }
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    const char *paths[2] = { it->a_path, it->v_path };
    for (int j = 0; j < (paths[0] == paths[1] ? 1 : 2); j++) {
      struct stat st;
      if (stat (paths[j], &st) == 0) {
        h = hash_int (h, st.st_size);
        h = hash_int (h, st.st_mtim.tv_sec);
        h = hash_int (h, st.st_mtim.tv_nsec);
      } else {
        h = hash_int (h, -1);
      }
    }
  }
  return h;
}

/* ---------------------------------------------------------------- reader */

typedef struct
{
  const unsigned char *p;
  size_t n, pos;
} Reader;

static int
rd (Reader * r, void *dst, size_t n)
{
  if (n > r->n - r->pos)
    return -1;
  memcpy (dst, r->p + r->pos, n);
  r->pos += n;
  return 0;
}

#define BAD(...) do { st = udml_error_set (err, UDML_ERR_FORMAT, __VA_ARGS__); \
    goto out; } while (0)

/* The header: magic, key and shapes. */
static UdmlStatus
read_head (Reader * r, const char *path, uint64_t key,
    const UdmlDataList * list, const UdmlFeatureSet * set, UdmlError * err)
{
  UdmlStatus st = UDML_OK;
  char magic[8];
  uint64_t k;
  uint32_t n_items = 0, n_mod = 0, F = 0;

  if (rd (r, magic, 8) || memcmp (magic, CACHE_MAGIC, 8))
    BAD ("%s: not a feature cache", path);
  if (rd (r, &k, 8) || k != key)
    BAD ("%s: stale (other data or features)", path);
  if (rd (r, &n_items, 4) || n_items != (uint32_t) list->n_items)
    BAD ("%s: %u items, the list has %d", path, n_items, list->n_items);
  if (rd (r, &n_mod, 4) || n_mod != (uint32_t) set->n_mod)
    BAD ("%s: %u modalities, the model has %d", path, n_mod, set->n_mod);
  for (int m = 0; m < set->n_mod; m++)
    if (rd (r, &F, 4) || F != set->F[m])
      BAD ("%s: modality %d has input size %u, the model %zu", path, m, F,
          set->F[m]);
out:
  return st;
}

static int
alloc_rows (UdmlFeatureSet * set, int n)
{
  size_t rows = (size_t) (n > 0 ? n : 1);
  for (int m = 0; m < set->n_mod; m++)
    if (!(set->x[m] = malloc (rows * set->F[m] * sizeof (float))))
      return -1;
  return (set->y = malloc (rows * sizeof (int))) ? 0 : -1;
}

/* The per-item table: errors into errs, window counts into wins, labels
 * into set->y (allocated here, once the row count is known to fit). */
static UdmlStatus
read_items (Reader * r, const char *path, const UdmlDataList * list,
    int K, char **errs, int *wins, UdmlFeatureSet * set, UdmlError * err)
{
  UdmlStatus st = UDML_OK;
  int32_t *labs = calloc ((size_t) list->n_items + 1, sizeof *labs);
  uint64_t rows = 0, row_bytes = 0;
  if (!labs)
    return udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    int32_t line, lab;
    uint32_t l, nw;
    if (rd (r, &line, 4) || rd (r, &lab, 4) || rd (r, &nw, 4)
        || rd (r, &l, 4))
      BAD ("%s: truncated item table", path);
    if (line != it->line)
      BAD ("%s: item %d is line %d, the list's line %d", path, i, line,
          it->line);
    if (l > MAX_ERROR_LEN || l > r->n - r->pos)
      BAD ("%s: item %d: error text of %u bytes", path, i, l);
    if (l > 0) {
      if (lab != -1 || nw != 0)
        BAD ("%s: item %d: label %d, %u windows on a bad item", path, i, lab,
            nw);
      errs[i] = malloc (l + 1);
      if (!errs[i]) {
        st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
        goto out;
      }
      rd (r, errs[i], l);
      errs[i][l] = '\0';
      continue;
    }
    /* a usable item keeps the label its row binds to: in [0, K) */
    if (lab < 0 || lab >= K || it->error || lab != it->y)
      BAD ("%s: item %d (line %d): label %d, the list says %d (K = %d)", path,
          i, it->line, lab, it->error ? -1 : it->y, K);
    labs[i] = lab;
    wins[i] = (int) (nw > (uint32_t) INT32_MAX ? INT32_MAX : nw);
    rows += nw;
  }
  /* the rows must be in the file: no allocation on a forged count */
  for (int m = 0; m < set->n_mod; m++)
    row_bytes += set->F[m] * sizeof (float);
  if (rows > (uint64_t) INT32_MAX || rows * row_bytes > r->n - r->pos)
    BAD ("%s: %" PRIu64 " feature rows, the file holds fewer", path, rows);
  if (alloc_rows (set, (int) rows)) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < list->n_items; i++)
    for (int w = 0; w < (errs[i] ? 0 : wins[i]); w++)
      set->y[set->n++] = labs[i];
out:
  free (labs);
  return st;
}

/* The feature arrays, each value finite. */
static UdmlStatus
read_features (Reader * r, const char *path, UdmlFeatureSet * set,
    UdmlError * err)
{
  UdmlStatus st = UDML_OK;
  for (int m = 0; m < set->n_mod; m++) {
    size_t count = (size_t) set->n * set->F[m];
    if (rd (r, set->x[m], count * sizeof (float)))
      BAD ("%s: truncated features", path);
    for (size_t j = 0; j < count; j++)
      if (!isfinite (set->x[m][j]))
        BAD ("%s: modality %d: non-finite feature at %zu", path, m, j);
  }
  if (r->pos != r->n)
    BAD ("%s: %zu bytes after the features", path, r->n - r->pos);
out:
  return st;
}

UdmlStatus
udml_data_cache_read (const char *path, uint64_t key, UdmlDataList * list,
    const UdmlConfig * cfg, UdmlFeatureSet * out, UdmlError * err)
{
  size_t len = 0;
  char *buf = udml_data_read_file (path, &len);
  char **errs = NULL;
  int *wins = NULL;
  uint64_t sum;
  UdmlStatus st = UDML_OK;

  udml_feature_set_init (out, cfg);
  if (!buf)
    return udml_error_set (err, UDML_ERR_IO, "%s: no cache", path);
  if (len < 16)
    BAD ("%s: truncated", path);
  memcpy (&sum, buf + len - 8, 8);
  if (udml_data_hash (UDML_DATA_HASH_INIT, buf, len - 8) != sum)
    BAD ("%s: checksum mismatch", path);
  errs = calloc ((size_t) list->n_items + 1, sizeof *errs);
  wins = calloc ((size_t) list->n_items + 1, sizeof *wins);
  if (!errs || !wins) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
    goto out;
  }
  Reader r = { (const unsigned char *) buf, len - 8, 0 };
  if ((st = read_head (&r, path, key, list, out, err)) != UDML_OK
      || (st = read_items (&r, path, list, cfg->n_classes, errs, wins, out,
              err)) != UDML_OK
      || (st = read_features (&r, path, out, err)) != UDML_OK)
    goto out;
  /* valid: only now replace the parse-time errors */
  for (int i = 0; i < list->n_items; i++) {
    free (list->items[i].error);
    list->items[i].error = errs[i];
    list->items[i].n_windows = errs[i] ? 0 : wins[i];
    errs[i] = NULL;
  }
out:
  if (errs)
    for (int i = 0; i < list->n_items; i++)
      free (errs[i]);
  free (errs);
  free (wins);
  free (buf);
  if (st != UDML_OK) {
    udml_feature_set_clear (out);
    udml_feature_set_init (out, cfg);
  }
  return st;
}

#undef BAD

/* ---------------------------------------------------------------- writer */

typedef struct
{
  FILE *f;
  uint64_t sum;
  int bad;
} Writer;

static void
put (Writer * w, const void *p, size_t n)
{
  if (w->bad || n == 0)
    return;
  if (fwrite (p, 1, n, w->f) != n)
    w->bad = 1;
  w->sum = udml_data_hash (w->sum, p, n);
}

static void
write_body (Writer * w, uint64_t key, const UdmlDataList * list,
    const UdmlFeatureSet * set)
{
  uint32_t n_items = (uint32_t) list->n_items, n_mod = (uint32_t) set->n_mod;
  put (w, CACHE_MAGIC, 8);
  put (w, &key, 8);
  put (w, &n_items, 4);
  put (w, &n_mod, 4);
  for (int m = 0; m < set->n_mod; m++) {
    uint32_t F = (uint32_t) set->F[m];
    put (w, &F, 4);
  }
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    int32_t line = it->line;
    int32_t lab = it->error ? -1 : it->y;
    uint32_t nw = it->error ? 0 : (uint32_t) it->n_windows;
    uint32_t l = it->error ? (uint32_t) strlen (it->error) : 0;
    if (l > MAX_ERROR_LEN)
      l = MAX_ERROR_LEN;
    put (w, &line, 4);
    put (w, &lab, 4);
    put (w, &nw, 4);
    put (w, &l, 4);
    put (w, it->error, l);
  }
  for (int m = 0; m < set->n_mod; m++)
    put (w, set->x[m], (size_t) set->n * set->F[m] * sizeof (float));
}

/* Creates the folders of path's directory that do not exist yet, so a
 * fresh --cache-dir works. */
static void
make_parents (const char *path)
{
  char *dir = udml_data_strdup (path);
  if (!dir)
    return;
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    mkdir (dir, 0777);          /* EEXIST is fine; fopen reports the rest */
    *p = '/';
  }
  free (dir);
}

UdmlStatus
udml_data_cache_write (const char *path, uint64_t key,
    const UdmlDataList * list, const UdmlFeatureSet * set, UdmlError * err)
{
  int rows = 0;
  for (int i = 0; i < list->n_items; i++)
    rows += list->items[i].error ? 0 : list->items[i].n_windows;
  if (rows != set->n)
    return udml_error_set (err, UDML_ERR_ARG,
        "%s: %d feature rows for %d windows of the usable items", path,
        set->n, rows);
  make_parents (path);
  char *tmp = udml_data_printf ("%s.tmp.%ld", path, (long) getpid ());
  Writer w = { tmp ? fopen (tmp, "wb") : NULL, UDML_DATA_HASH_INIT, 0 };
  int ok = 0;
  if (!w.f)
    goto out;
  write_body (&w, key, list, set);
  if (!w.bad && fwrite (&w.sum, 1, 8, w.f) == 8 && fflush (w.f) == 0
      && fsync (fileno (w.f)) == 0)
    ok = 1;
out:
  if (w.f && fclose (w.f) != 0)
    ok = 0;
  if (ok && rename (tmp, path) != 0)
    ok = 0;
  if (!ok && tmp)
    unlink (tmp);
  free (tmp);
  return ok ? UDML_OK : udml_error_set (err, UDML_ERR_IO,
      "%s: cannot write the feature cache", path);
}
