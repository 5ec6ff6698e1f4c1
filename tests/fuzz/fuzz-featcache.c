/* fuzz-featcache.c — libFuzzer target for the feature-cache reader, through
 * manifest_load_features on the fixed manifest of fuzz-featcache.h.
 *
 * Input: one mode byte, then the cache file. Mode bit 0 writes the right
 * magic and key and recomputes the FNV-1a trailer, so mutations reach the
 * row table and the feature arrays. */
#include "fuzz-featcache.h"

static FuzzFeatcache fc;

static void
cleanup (void)
{
  fuzz_rmdir (fc.dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_quiet ();
  if (fuzz_featcache_setup (&fc) != 0) {
    fuzz_fail ("cannot set up the manifest and its cache");
  }
  atexit (cleanup);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static uint8_t *scratch;
  static size_t scratch_len;
  FeatureSet set;
  size_t n;

  if (size < 1)
    return 0;
  n = size - 1;
  if (n > scratch_len) {
    free (scratch);
    scratch = malloc (n);
    scratch_len = scratch ? n : 0;
    if (!scratch)
      return 0;
  }
  if (n)
    memcpy (scratch, data + 1, n);
  if (data[0] & FUZZ_FIX_CHECKSUMS)
    fuzz_fix_featcache (&fc, scratch, n);
  if (fuzz_write_file (fc.cache, scratch, n) != 0)
    fuzz_fail ("harness setup or scratch file write failed");

  feature_set_init (&set, &fc.cfg);
  manifest_load_features (fc.manifest, &fc.cfg, &fc.opt, &set);
  /* what the trainer relies on: every label indexes the model's classes */
  for (int i = 0; i < set.n; i++)
    if (set.y[i] < 0 || set.y[i] >= fc.cfg.n_classes)
      fuzz_fail ("feature cache gave a label outside the model's classes");
  feature_set_clear (&set);
  return 0;
}
