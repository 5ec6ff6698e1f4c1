/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-featcache.c — libFuzzer target for the feature-cache reader
 * (udml_data_cache_read) on the bound list of fuzz-featcache.h.
 *
 * Input: one mode byte, then the cache file. Mode bit 0 writes the right
 * magic and key and recomputes the FNV-1a trailer, so mutations reach the
 * item table and the feature arrays. The file is a memfd opened by path, so
 * the reader's own open/read path runs. */
#include "fuzz-featcache.h"

#include <math.h>

static FuzzFeatcache fc;
static FuzzFile file;

static void
cleanup (void)
{
  fuzz_featcache_clear (&fc);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_quiet ();
  if (fuzz_featcache_setup (&fc) != 0 || fuzz_file_open (&file) != 0)
    fuzz_fail ("harness setup or scratch file write failed");
  atexit (cleanup);
  return 0;
}

/* True when the items' errors are still the bound list's. */
static int
list_untouched (void)
{
  for (int i = 0; i < FUZZ_FC_ITEMS; i++) {
    const char *e = fc.list.items[i].error, *o = fc.errors[i];
    if ((e == NULL) != (o == NULL) || (e && strcmp (e, o) != 0))
      return 0;
  }
  return 1;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  UdmlFeatureSet set;
  UdmlError err = { 0 };
  UdmlStatus st;
  uint8_t *scratch;
  size_t n;
  int fix;
  int gi = 0;

  scratch = fuzz_payload (data, size, &n, &fix);
  if (!scratch)
    return 0;
  if (fix)
    fuzz_fix_featcache (&fc, scratch, n);
  if (fuzz_file_set (&file, scratch, n) != 0)
    fuzz_fail ("harness setup or scratch file write failed");

  st = udml_data_cache_read (file.path, fc.key, &fc.list, &fc.cfg, &set, &err);
  if (st != UDML_OK) {
    /* a rejected cache changes nothing */
    if (set.n != 0 || !list_untouched ())
      fuzz_fail ("rejected feature cache left features or item errors");
    udml_feature_set_clear (&set);
    return 0;
  }
  /* what the trainer relies on: one row per window of each usable item,
   * each label the item's bound label (so in [0, K)), finite features */
  for (int i = 0; i < FUZZ_FC_ITEMS; i++) {
    const UdmlDataItem *it = &fc.list.items[i];
    if (it->error)
      continue;
    if (it->n_windows < 0 || gi + it->n_windows > set.n)
      fuzz_fail ("feature cache rows differ from the usable items' windows");
    for (int w = 0; w < it->n_windows; w++, gi++) {
      if (set.y[gi] < 0 || set.y[gi] >= fc.cfg.n_classes)
        fuzz_fail ("feature cache gave a label outside the model's classes");
      if (set.y[gi] != it->y)
        fuzz_fail ("feature cache gave a label other than the item's");
    }
  }
  if (gi != set.n)
    fuzz_fail ("feature cache rows differ from the usable items' windows");
  for (int m = 0; m < set.n_mod; m++)
    for (size_t j = 0; j < (size_t) set.n * set.F[m]; j++)
      if (!isfinite (set.x[m][j]))
        fuzz_fail ("feature cache gave a non-finite feature");
  udml_feature_set_clear (&set);
  if (fuzz_featcache_restore (&fc) != 0)
    fuzz_fail ("harness setup or scratch file write failed");
  return 0;
}
