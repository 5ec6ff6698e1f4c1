/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-seeds.c — writes the seed corpus of one fuzz target into a
 * directory, with the library's own writers, so the seeds always follow
 * the current file formats.
 *
 *   fuzz-seeds model|checkpoint|featcache DIR
 *
 * Every seed starts with the mode byte of the targets (bit 0: recompute the
 * checksums); each file is written in both modes. */
#include "fuzz-featcache.h"
#include "internal.h"

static const char *out_dir;
static int n_seeds;

static void
die (const char *what, const UdmlError * err)
{
  fprintf (stderr, "fuzz-seeds: error: %s%s%s\n", what, err ? ": " : "",
      err ? err->msg : "");
  exit (1);
}

/* Writes mode byte + body as DIR/NAME-raw and DIR/NAME-fix. */
static void
put_seed (const char *name, const uint8_t * body, size_t n)
{
  uint8_t *b = malloc (n + 1);
  char path[4096];

  if (!b)
    die ("out of memory", NULL);
  memcpy (b + 1, body, n);
  for (int mode = 0; mode < 2; mode++) {
    b[0] = (uint8_t) mode;
    snprintf (path, sizeof path, "%s/%s-%s", out_dir, name,
        mode ? "fix" : "raw");
    if (fuzz_write_file (path, b, n + 1) != 0)
      die (path, NULL);
    n_seeds++;
  }
  free (b);
}

static uint8_t *
slurp (const char *path, size_t *n)
{
  FILE *f = fopen (path, "rb");
  uint8_t *b;
  long len = 0;

  if (!f || fseek (f, 0, SEEK_END) != 0 || (len = ftell (f)) < 0)
    die (path, NULL);
  rewind (f);
  b = malloc ((size_t) len + 1);
  if (!b || fread (b, 1, (size_t) len, f) != (size_t) len)
    die (path, NULL);
  fclose (f);
  *n = (size_t) len;
  return b;
}

/* Saves model (or a checkpoint of it) to a scratch file and adds it. */
static void
seed_from_model (const char *name, UdmlModel * model, int ckpt)
{
  UdmlError err = { 0 };
  char *dir = fuzz_tmpdir ();
  char path[4096];
  uint8_t *b;
  size_t n;
  UdmlStatus s;

  if (!dir)
    die ("cannot create a scratch directory", NULL);
  snprintf (path, sizeof path, "%s/seed", dir);
  if (ckpt) {
    UdmlCheckpointState st = { 0 };
    size_t np;
    float *p = udml_model_params (model, &np);
    st.seed = 7;
    st.policy = udml_model_config (model)->policy;
    st.epochs = 3;
    st.batch = 4;
    st.epoch = 1;
    st.step = 2;
    st.global_step = 5;
    st.dep[0] = st.dep_ema[0] = 0.5f;
    st.loss_sum = 1.5;
    st.correct_sum = 3;
    st.seen = 8;
    /* any n floats will do as momentum: the parameters */
    s = udml_checkpoint_save (path, model, &st, p, np, &err);
  } else {
    udml_model_set_provenance (model, "seed=1\nsource=fuzz-seeds\n");
    s = udml_model_save (model, path, &err);
  }
  if (s != UDML_OK)
    die ("save", &err);
  b = slurp (path, &n);
  put_seed (name, b, n);
  free (b);
  fuzz_rmdir (dir);
  free (dir);
}

static void
seeds_udml (int ckpt)
{
  UdmlConfig cfg;
  UdmlError err = { 0 };
  UdmlModel *model;

  fuzz_tiny_config (&cfg);
  if (!(model = udml_model_new (&cfg, 1, &err)))
    die ("model", &err);
  seed_from_model (ckpt ? "ckpt-tiny" : "model-tiny", model, ckpt);
  /* the other magic: the loader's "wrong kind of file" path */
  seed_from_model (ckpt ? "ckpt-model" : "model-ckpt", model, !ckpt);
  udml_model_free (model);
  if (ckpt)
    return;
  /* a one-modality static model with other names and shapes */
  cfg.n_modalities = 1;
  cfg.mod[0] = cfg.mod[1];
  cfg.mod[0].n_stages = 1;
  cfg.policy = UDML_POLICY_STATIC;
  cfg.scaling = UDML_SCALING_PAPER;
  if (!(model = udml_model_new (&cfg, 2, &err)))
    die ("model", &err);
  seed_from_model ("model-video", model, 0);
  udml_model_free (model);
}

/* A cache of the fixed list written by the library's writer, with the
 * items marked good (label y[i]) or bad (an error), then the list's own
 * errors put back. A good item's label may be one the reader must refuse. */
static void
seed_featcache (FuzzFeatcache * fc, const char *name, const int *good,
    const int *y)
{
  UdmlFeatureSet set;
  UdmlError err = { 0 };
  char *dir = fuzz_tmpdir ();
  char path[4096];
  uint8_t *b;
  size_t n;

  if (!dir)
    die ("cannot create a scratch directory", NULL);
  udml_feature_set_init (&set, &fc->cfg);
  set.y = malloc (FUZZ_FC_ITEMS * sizeof *set.y);
  for (int m = 0; m < set.n_mod; m++)
    if (!(set.x[m] = malloc (FUZZ_FC_ITEMS * set.F[m] * sizeof (float))))
      die ("out of memory", NULL);
  if (!set.y)
    die ("out of memory", NULL);
  for (int i = 0; i < FUZZ_FC_ITEMS; i++) {
    UdmlDataItem *it = &fc->list.items[i];
    free (it->error);
    it->error = good[i] ? NULL : strdup ("No such file or directory");
    it->n_windows = good[i] ? 1 : 0;
    if (good[i])
      set.y[set.n++] = y[i];
  }
  for (int m = 0; m < set.n_mod; m++)
    for (size_t j = 0; j < set.n * set.F[m]; j++)
      set.x[m][j] = (float) j *0.25f - (float) m;
  snprintf (path, sizeof path, "%s/cache", dir);
  if (udml_data_cache_write (path, fc->key, &fc->list, &set, &err) != UDML_OK)
    die ("cache write", &err);
  b = slurp (path, &n);
  put_seed (name, b, n);
  free (b);
  udml_feature_set_clear (&set);
  if (fuzz_featcache_restore (fc) != 0)
    die ("out of memory", NULL);
  fuzz_rmdir (dir);
  free (dir);
}

static void
seeds_featcache (void)
{
  FuzzFeatcache fc;
  static const int bound[FUZZ_FC_ITEMS] = { 1, 1, 1, 0 };
  static const int all_bad[FUZZ_FC_ITEMS] = { 0 };
  static const int mixed[FUZZ_FC_ITEMS] = { 1, 0, 1, 0 };
  static const int all_good[FUZZ_FC_ITEMS] = { 1, 1, 1, 1 };
  static const int y[FUZZ_FC_ITEMS] = { 0, 1, 2, -1 };
  /* the regression: the unknown label's item cached good with label 100 */
  static const int y_out[FUZZ_FC_ITEMS] = { 0, 1, 2, 100 };

  if (fuzz_featcache_setup (&fc) != 0)
    die ("cannot set up the manifest and its key", NULL);
  seed_featcache (&fc, "featcache-bound", bound, y);
  seed_featcache (&fc, "featcache-all-bad", all_bad, y);
  seed_featcache (&fc, "featcache-mixed", mixed, y);
  seed_featcache (&fc, "label-out-of-range", all_good, y_out);
  fuzz_featcache_clear (&fc);
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: fuzz-seeds model|checkpoint|featcache DIR\n");
    return 2;
  }
  out_dir = argv[2];
  fuzz_quiet ();
  if (!strcmp (argv[1], "model"))
    seeds_udml (0);
  else if (!strcmp (argv[1], "checkpoint"))
    seeds_udml (1);
  else if (!strcmp (argv[1], "featcache"))
    seeds_featcache ();
  else if (strcmp (argv[1], "manifest") != 0) { /* committed files only */
    fprintf (stderr, "fuzz-seeds: unknown target '%s'\n", argv[1]);
    return 2;
  }
  return 0;
}
