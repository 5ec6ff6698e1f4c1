/* fuzz-manifest.c — libFuzzer target for the manifest (CSV) parser.
 *
 * Input: the manifest text. The rows name files relative to an empty
 * directory, so nothing is decoded; the target exercises the header and
 * field splitting, label lookup and the bad-row reports. The parser is
 * reached through its public entry point only, so moving it keeps this
 * target one include and one call. */
#include "fuzz-common.h"
#include "manifest.h"

static char *dir;
static char path[4096];
static UdmlConfig cfg;
static ManifestOptions opt;

static void
cleanup (void)
{
  fuzz_rmdir (dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_quiet ();
  fuzz_tiny_config (&cfg);
  dir = fuzz_tmpdir ();
  if (!dir)
    fuzz_fail ("harness setup or scratch file write failed");
  atexit (cleanup);
  snprintf (path, sizeof path, "%s/m.csv", dir);
  opt.prog = "udml-fuzz";
  opt.skip_bad = 1;
  opt.no_cache = 1;
  opt.quiet = 1;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  FeatureSet set;

  if (fuzz_write_file (path, data, size) != 0)
    fuzz_fail ("harness setup or scratch file write failed");
  feature_set_init (&set, &cfg);
  manifest_load_features (path, &cfg, &opt, &set);
  for (int i = 0; i < set.n; i++)
    if (set.y[i] < 0 || set.y[i] >= cfg.n_classes)
      fuzz_fail ("manifest row with a label outside the model's classes");
  feature_set_clear (&set);
  return 0;
}
