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

/* A cache in the layout of tools/manifest.c for the fixed manifest: rows
 * marked good (with a label) or bad (with a message). */
static void
seed_featcache (const FuzzFeatcache * fc, const char *name, const int *good)
{
  uint8_t *b = NULL;
  size_t n = 0, cap = 0;
  uint32_t n_rows = FUZZ_FC_ROWS, n_mod = fc->cfg.n_modalities;
  int n_good = 0;
  uint64_t sum;

#define PUT(src, len) do { \
    if (n + (len) > cap) { \
      cap = (n + (len)) * 2; \
      if (!(b = realloc (b, cap))) die ("out of memory", NULL); \
    } \
    memcpy (b + n, (src), (len)); n += (len); } while (0)
  PUT (FUZZ_FC_MAGIC, 8);
  PUT (&fc->key, 8);
  PUT (&n_rows, 4);
  PUT (&n_mod, 4);
  for (int m = 0; m < fc->cfg.n_modalities; m++) {
    uint32_t F = (uint32_t) udml_config_input_size (&fc->cfg, m);
    PUT (&F, 4);
  }
  for (int i = 0; i < FUZZ_FC_ROWS; i++) {
    int32_t line = fuzz_fc_lines[i], lab = good[i] ? i % 3 : -1;
    const char *msg = good[i] ? "" : "No such file or directory";
    uint32_t l = (uint32_t) strlen (msg);
    PUT (&line, 4);
    PUT (&lab, 4);
    PUT (&l, 4);
    PUT (msg, l);
    n_good += good[i] != 0;
  }
  for (int m = 0; m < fc->cfg.n_modalities; m++)
    for (size_t j = 0; j < n_good * udml_config_input_size (&fc->cfg, m); j++) {
      float v = (float) j * 0.25f - (float) m;
      PUT (&v, 4);
    }
  sum = manifest_hash (MANIFEST_HASH_INIT, b, n);
  PUT (&sum, 8);
#undef PUT
  put_seed (name, b, n);
  free (b);
}

static void
seeds_featcache (void)
{
  FuzzFeatcache fc;
  static const int all_bad[FUZZ_FC_ROWS] = { 0 };
  static const int mixed[FUZZ_FC_ROWS] = { 1, 0, 1, 0 };
  static const int good3[FUZZ_FC_ROWS] = { 1, 1, 1, 0 };
  uint8_t *b;
  size_t n;

  if (fuzz_featcache_setup (&fc) != 0)
    die ("cannot set up the manifest and its cache", NULL);
  /* the loader's own cache of the manifest: every row bad */
  b = slurp (fc.cache, &n);
  put_seed ("featcache-written", b, n);
  free (b);
  seed_featcache (&fc, "featcache-all-bad", all_bad);
  seed_featcache (&fc, "featcache-mixed", mixed);
  seed_featcache (&fc, "featcache-good3", good3);
  fuzz_rmdir (fc.dir);
  free (fc.dir);
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
