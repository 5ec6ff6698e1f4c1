/* udml-eval — the evaluation protocol of method.md §6 for one or several
 * models on a test manifest: clean, table-3 (Gaussian / salt-and-pepper at
 * e = 5, 10 on each modality independently with p = 0.5) and the
 * weight-vs-noise sweeps (Fig. 1a / Fig. 3), as a table, JSON, CSV and SVG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "manifest.h"
#include "plot.h"
#include "udml.h"

#define PROG "udml-eval"
#define DEFAULT_SEED 20240607
#define MAX_MODELS 32
#define N_LEVELS UDML_NOISE_LEVELS

enum
{
  PROTO_CLEAN = 1 << 0,
  PROTO_TABLE3 = 1 << 1,
  PROTO_SWEEP_VIDEO = 1 << 2,
  PROTO_SWEEP_AUDIO = 1 << 3,
};

typedef struct
{
  const char *name;
  int salt;                     /* 0 gaussian, 1 salt-and-pepper, -1 clean */
  int e;
} Condition;

static const Condition conditions[] = {
  {"clean", -1, 0},
  {"gaussian-5", 0, 5},
  {"gaussian-10", 0, 10},
  {"salt-5", 1, 5},
  {"salt-10", 1, 10},
};

#define N_CONDITIONS ((int) (sizeof conditions / sizeof conditions[0]))

typedef struct
{
  const char *condition;
  double accuracy, macro_f1;
  double uni[UDML_MAX_MODALITIES];
} CondResult;

typedef struct
{
  int modality;                 /* the corrupted one */
  int level;
  double accuracy, macro_f1;
  double weight[UDML_MAX_MODALITIES];
  double uncertainty_weight[UDML_MAX_MODALITIES];
  double alpha[UDML_MAX_MODALITIES];
  double noise[UDML_MAX_MODALITIES];
} SweepPoint;

typedef struct
{
  const char *path;
  UdmlModel *model;
  const UdmlConfig *cfg;
  int set_index;
  CondResult res[N_CONDITIONS];
  int n_res;
  SweepPoint sweep[UDML_MAX_MODALITIES * N_LEVELS];
  int n_sweep;
} ModelEval;

static void
usage (FILE * f)
{
  fprintf (f,
      "usage: " PROG " [OPTIONS] MODEL... TEST.csv\n"
      "\n"
      "Evaluates models on a test manifest with the protocol of method.md 6.\n"
      "\n"
      "  --protocol P    clean, table3, sweep-video, sweep-audio or all (all)\n"
      "  --seed S        seed of the corruption draws (%d); printed\n"
      "  --json          print one JSON object instead of tables\n"
      "  --csv FILE      write the sweeps as CSV\n"
      "  --plot FILE     draw weight vs noise level of every model as SVG\n"
      "  --plot-video FILE, --plot-audio FILE\n"
      "                  the same for the video (audio) sweep only\n"
      "  --mode M        inference terms: as-trained, no-dependency,\n"
      "                  no-uncertainty, static (as-trained)\n"
      "  --threads T     BLAS threads (1)\n"
      "  --batch B       inference batch (64)\n"
      "  --skip-bad      skip bad manifest rows (reported) instead of stopping\n"
      "  --cache-dir DIR where feature caches go (the manifest's directory)\n"
      "  --no-cache      always decode\n"
      "  --quiet         no progress output\n", DEFAULT_SEED);
}

static void
log_to_stderr (UdmlLogLevel level, const char *msg, void *user)
{
  if (level <= UDML_LOG_WARNING)
    fprintf (stderr, PROG ": %s: %s\n",
        level == UDML_LOG_ERROR ? "error" : "warning", msg);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs the model over all n samples in batches; inputs[m] are N x F_m. */
static int
run_all (UdmlInfer * inf, const FeatureSet * set, float *const *x, int batch,
    UdmlInferMode mode, UdmlResult * res)
{
  UdmlError err = { 0 };
  for (int i = 0; i < set->n; i += batch) {
    int nb = set->n - i < batch ? set->n - i : batch;
    const float *in[UDML_MAX_MODALITIES] = { 0 };
    for (int m = 0; m < set->n_mod; m++)
      in[m] = x[m] + (size_t) i *set->F[m];
    if (udml_infer_run (inf, nb, in, NULL, mode, res + i, &err) != UDML_OK) {
      fprintf (stderr, PROG ": error: inference failed: %s\n", err.msg);
      return -1;
    }
  }
  return 0;
}

/* Accuracy, macro-F1 and unimodal accuracies, over all samples. */
static void
metrics (const FeatureSet * set, const UdmlResult * res, int K, double *acc,
    double *f1, double *uni)
{
  int tp[UDML_MAX_CLASSES] = { 0 }, fp[UDML_MAX_CLASSES] = { 0 };
  int fn[UDML_MAX_CLASSES] = { 0 };
  int correct = 0, ucorrect[UDML_MAX_MODALITIES] = { 0 };
  for (int i = 0; i < set->n; i++) {
    int y = set->y[i], p = res[i].label;
    if (p == y) {
      correct++;
      tp[y]++;
    } else {
      if (p >= 0 && p < K)
        fp[p]++;
      fn[y]++;
    }
    for (int m = 0; m < set->n_mod; m++)
      ucorrect[m] += res[i].mod[m].label == y;
  }
  /* averaged over the classes that occur in the truth or the predictions
   * (as scikit-learn does); a class that is never predicted correctly has
   * F1 = 0, never a division by zero */
  double sum = 0;
  int n_classes = 0;
  for (int k = 0; k < K; k++) {
    int d = 2 * tp[k] + fp[k] + fn[k];
    if (d == 0)
      continue;
    sum += 2.0 * tp[k] / d;
    n_classes++;
  }
  *acc = set->n ? (double) correct / set->n : 0;
  *f1 = n_classes ? sum / n_classes : 0;
  for (int m = 0; m < set->n_mod; m++)
    uni[m] = set->n ? (double) ucorrect[m] / set->n : 0;
}

/* One RNG stream per (protocol, condition, sample, modality), so every
 * model sees the very same corrupted inputs. */
static uint64_t
stream_id (int proto, int cond, int i, int m)
{
  return ((uint64_t) proto << 56) ^ ((uint64_t) cond << 40) ^ ((uint64_t) i <<
      8)
      ^ (uint64_t) m;
}

static void
copy_clean (const FeatureSet * set, float **work)
{
  for (int m = 0; m < set->n_mod; m++)
    memcpy (work[m], set->x[m], (size_t) set->n * set->F[m] * sizeof (float));
}

static int
eval_model (ModelEval * me, const FeatureSet * set, int protos, uint64_t seed,
    int batch, UdmlInferMode mode, int quiet)
{
  const UdmlConfig *cfg = me->cfg;
  UdmlError err = { 0 };
  UdmlInfer *inf = udml_infer_new (me->model, batch, &err);
  UdmlResult *res = malloc ((size_t) set->n * sizeof *res);
  float *work[UDML_MAX_MODALITIES] = { 0 };
  float *xs[UDML_MAX_MODALITIES];
  int ret = -1, M = cfg->n_modalities;
  double t0 = now_s ();

  if (!inf) {
    fprintf (stderr, PROG ": error: %s: %s\n", me->path, err.msg);
    goto out;
  }
  if (!res)
    goto nomem;
  for (int m = 0; m < M; m++) {
    work[m] = malloc ((size_t) set->n * set->F[m] * sizeof (float));
    if (!work[m])
      goto nomem;
  }

  for (int c = 0; c < N_CONDITIONS; c++) {
    const Condition *cd = &conditions[c];
    if (cd->salt < 0 ? !(protos & PROTO_CLEAN) : !(protos & PROTO_TABLE3))
      continue;
    copy_clean (set, work);
    if (cd->salt >= 0) {
      for (int i = 0; i < set->n; i++)
        for (int m = 0; m < M; m++) {
          UdmlRng rng;
          udml_rng_seed (&rng, seed, stream_id (1, c, i, m));
          if (udml_rng_uniform (&rng) >= 0.5f)
            continue;
          float *x = work[m] + (size_t) i * set->F[m];
          if (cd->salt)
            udml_noise_salt (x, set->F[m], cd->e, &rng);
          else
            udml_noise_gaussian (cfg->mod[m].kind, x, set->F[m], cd->e, &rng);
        }
    }
    if (run_all (inf, set, work, batch, mode, res))
      goto out;
    CondResult *r = &me->res[me->n_res++];
    r->condition = cd->name;
    metrics (set, res, cfg->n_classes, &r->accuracy, &r->macro_f1, r->uni);
  }

  for (int sm = 0; sm < M; sm++) {
    UdmlModalityKind kind = cfg->mod[sm].kind;
    if (!(protos & (kind ==
                UDML_MODALITY_VIDEO ? PROTO_SWEEP_VIDEO : PROTO_SWEEP_AUDIO)))
      continue;
    for (int level = 1; level <= N_LEVELS; level++) {
      /* only the swept modality is copied and corrupted */
      memcpy (work[sm], set->x[sm],
          (size_t) set->n * set->F[sm] * sizeof (float));
      for (int i = 0; i < set->n; i++) {
        UdmlRng rng;
        udml_rng_seed (&rng, seed, stream_id (2 + (int) kind, level, i, sm));
        udml_noise_gaussian (kind, work[sm] + (size_t) i * set->F[sm],
            set->F[sm], level, &rng);
      }
      for (int m = 0; m < M; m++)
        xs[m] = m == sm ? work[m] : set->x[m];
      if (run_all (inf, set, xs, batch, mode, res))
        goto out;
      SweepPoint *p = &me->sweep[me->n_sweep++];
      double uni[UDML_MAX_MODALITIES];
      memset (p, 0, sizeof *p);
      p->modality = sm;
      p->level = level;
      metrics (set, res, cfg->n_classes, &p->accuracy, &p->macro_f1, uni);
      for (int i = 0; i < set->n; i++) {
        int present = 0;
        for (int m = 0; m < M; m++)
          present += res[i].mod[m].present != 0;
        for (int m = 0; m < M; m++) {
          p->weight[m] += res[i].mod[m].weight;
          p->uncertainty_weight[m] += res[i].mod[m].uncertainty_weight;
          /* alpha_m = M D_m / sum D: the result holds the share alpha/M */
          p->alpha[m] += res[i].mod[m].alpha * present;
          p->noise[m] += res[i].mod[m].noise;
        }
      }
      for (int m = 0; m < M; m++) {
        p->weight[m] /= set->n;
        p->uncertainty_weight[m] /= set->n;
        p->alpha[m] /= set->n;
        p->noise[m] /= set->n;
      }
    }
    if (!quiet)
      fprintf (stderr, PROG ": %s: %s sweep done (%.0f s)\n", me->path,
          cfg->mod[sm].name, now_s () - t0);
  }
  ret = 0;
  goto out;

nomem:
  fprintf (stderr, PROG ": error: out of memory\n");
out:
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (work[m]);
  free (res);
  udml_infer_free (inf);
  return ret;
}

static void
json_str (FILE * f, const char *s)
{
  fputc ('"', f);
  for (; *s; s++) {
    unsigned char c = *s;
    if (c == '"' || c == '\\')
      fprintf (f, "\\%c", c);
    else if (c < 0x20)
      fprintf (f, "\\u%04x", c);
    else
      fputc (c, f);
  }
  fputc ('"', f);
}

static void
json_mods (FILE * f, const UdmlConfig * cfg, const double *v)
{
  fputc ('{', f);
  for (int m = 0; m < cfg->n_modalities; m++) {
    if (m)
      fputc (',', f);
    json_str (f, cfg->mod[m].name);
    fprintf (f, ":%.6f", v[m]);
  }
  fputc ('}', f);
}

static void
print_json (FILE * f, ModelEval * me, int n, const char *test, int n_test,
    uint64_t seed, const char *mode)
{
  fprintf (f, "{\"test\":");
  json_str (f, test);
  fprintf (f, ",\"samples\":%d,\"seed\":%llu,\"mode\":\"%s\",\"models\":[",
      n_test, (unsigned long long) seed, mode);
  for (int k = 0; k < n; k++) {
    const UdmlConfig *cfg = me[k].cfg;
    int ia = udml_config_find (cfg, UDML_MODALITY_AUDIO);
    int iv = udml_config_find (cfg, UDML_MODALITY_VIDEO);
    fprintf (f, "%s{\"model\":", k ? "," : "");
    json_str (f, me[k].path);
    fprintf (f, ",\"policy\":\"%s\",\"results\":[",
        udml_policy_name (cfg->policy));
    for (int r = 0; r < me[k].n_res; r++) {
      CondResult *c = &me[k].res[r];
      fprintf (f, "%s{\"condition\":\"%s\",\"accuracy\":%.6f,\"macro_f1\":%.6f",
          r ? "," : "", c->condition, c->accuracy, c->macro_f1);
      if (ia >= 0)
        fprintf (f, ",\"accuracy_audio\":%.6f", c->uni[ia]);
      if (iv >= 0)
        fprintf (f, ",\"accuracy_video\":%.6f", c->uni[iv]);
      fputc ('}', f);
    }
    fprintf (f, "],\"sweep\":[");
    for (int s = 0; s < me[k].n_sweep; s++) {
      SweepPoint *p = &me[k].sweep[s];
      fprintf (f, "%s{\"modality\":", s ? "," : "");
      json_str (f, cfg->mod[p->modality].name);
      fprintf (f,
          ",\"level\":%d,\"accuracy\":%.6f,\"macro_f1\":%.6f,\"weight\":",
          p->level, p->accuracy, p->macro_f1);
      json_mods (f, cfg, p->weight);
      fprintf (f, ",\"uncertainty_weight\":");
      json_mods (f, cfg, p->uncertainty_weight);
      fprintf (f, ",\"alpha\":");
      json_mods (f, cfg, p->alpha);
      fprintf (f, ",\"noise\":");
      json_mods (f, cfg, p->noise);
      fputc ('}', f);
    }
    fprintf (f, "]}");
  }
  fprintf (f, "]}\n");
}

static void
print_text (FILE * f, ModelEval * me, int n, const char *test, int n_test,
    uint64_t seed, const char *mode)
{
  fprintf (f, "test %s: %d clips; corruption seed %llu; inference %s\n", test,
      n_test, (unsigned long long) seed, mode);
  for (int k = 0; k < n; k++) {
    const UdmlConfig *cfg = me[k].cfg;
    int M = cfg->n_modalities;
    fprintf (f, "\nmodel %s (policy %s)\n", me[k].path,
        udml_policy_name (cfg->policy));
    if (me[k].n_res) {
      fprintf (f, "  %-12s %8s %8s", "condition", "acc", "macroF1");
      for (int m = 0; m < M; m++)
        fprintf (f, "  acc-%-6s", cfg->mod[m].name);
      fputc ('\n', f);
      for (int r = 0; r < me[k].n_res; r++) {
        CondResult *c = &me[k].res[r];
        fprintf (f, "  %-12s %8.2f %8.2f", c->condition, 100 * c->accuracy,
            100 * c->macro_f1);
        for (int m = 0; m < M; m++)
          fprintf (f, "  %10.2f", 100 * c->uni[m]);
        fputc ('\n', f);
      }
    }
    int last = -1;
    for (int s = 0; s < me[k].n_sweep; s++) {
      SweepPoint *p = &me[k].sweep[s];
      if (p->modality != last) {
        last = p->modality;
        fprintf (f, "  sweep: %s noise\n  %5s %7s", cfg->mod[last].name,
            "level", "acc");
        for (int m = 0; m < M; m++)
          fprintf (f, "  w-%-6s", cfg->mod[m].name);
        for (int m = 0; m < M; m++)
          fprintf (f, "  u-%-6s", cfg->mod[m].name);
        for (int m = 0; m < M; m++)
          fprintf (f, "  a-%-6s", cfg->mod[m].name);
        fputc ('\n', f);
      }
      fprintf (f, "  %5d %7.2f", p->level, 100 * p->accuracy);
      for (int m = 0; m < M; m++)
        fprintf (f, "  %8.4f", p->weight[m]);
      for (int m = 0; m < M; m++)
        fprintf (f, "  %8.4f", p->uncertainty_weight[m]);
      for (int m = 0; m < M; m++)
        fprintf (f, "  %8.4f", p->alpha[m]);
      fputc ('\n', f);
    }
  }
}

static int
write_csv (const char *path, ModelEval * me, int n)
{
  FILE *f = fopen (path, "w");
  if (!f) {
    fprintf (stderr, PROG ": error: %s: %s\n", path, strerror (errno));
    return -1;
  }
  /* one column per modality name of any model; a model without that
   * modality leaves the field empty */
  const char *names[MAX_MODELS * UDML_MAX_MODALITIES];
  int n_names = 0;
  for (int k = 0; k < n; k++)
    for (int m = 0; m < me[k].cfg->n_modalities; m++) {
      int j = 0;
      while (j < n_names && strcmp (names[j], me[k].cfg->mod[m].name) != 0)
        j++;
      if (j == n_names)
        names[n_names++] = me[k].cfg->mod[m].name;
    }
  fprintf (f, "model,policy,noisy_modality,level,accuracy,macro_f1");
  const char *cols[] = { "weight", "uncertainty_weight", "alpha", "noise" };
  for (int c = 0; c < 4; c++)
    for (int j = 0; j < n_names; j++)
      fprintf (f, ",%s_%s", cols[c], names[j]);
  fputc ('\n', f);
  for (int k = 0; k < n; k++) {
    const UdmlConfig *cfg = me[k].cfg;
    for (int s = 0; s < me[k].n_sweep; s++) {
      SweepPoint *p = &me[k].sweep[s];
      fprintf (f, "%s,%s,%s,%d,%.6f,%.6f", me[k].path,
          udml_policy_name (cfg->policy), cfg->mod[p->modality].name, p->level,
          p->accuracy, p->macro_f1);
      const double *v[] =
          { p->weight, p->uncertainty_weight, p->alpha, p->noise };
      for (int c = 0; c < 4; c++)
        for (int j = 0; j < n_names; j++) {
          int m = 0;
          while (m < cfg->n_modalities && strcmp (cfg->mod[m].name, names[j]))
            m++;
          if (m < cfg->n_modalities)
            fprintf (f, ",%.6f", v[c][m]);
          else
            fputc (',', f);
        }
      fputc ('\n', f);
    }
  }
  /* fclose reports only the last flush; earlier flushes set ferror */
  if (ferror (f) | fclose (f)) {
    fprintf (stderr, PROG ": error: %s: write failed\n", path);
    return -1;
  }
  return 0;
}

/* kind < 0: every swept modality; else only sweeps of that kind. */
static int
write_plot (const char *path, ModelEval * me, int n, int kind)
{
  PlotSeries s[MAX_MODELS * UDML_MAX_MODALITIES];
  double xs[MAX_MODELS * UDML_MAX_MODALITIES][N_LEVELS];
  double ys[MAX_MODELS * UDML_MAX_MODALITIES][N_LEVELS];
  char labels[MAX_MODELS * UDML_MAX_MODALITIES][160];
  int ns = 0;
  char msg[512];

  for (int k = 0; k < n; k++) {
    const UdmlConfig *cfg = me[k].cfg;
    const char *base = strrchr (me[k].path, '/');
    base = base ? base + 1 : me[k].path;
    for (int m = 0; m < cfg->n_modalities; m++) {
      int np = 0;
      if (kind >= 0 && (int) cfg->mod[m].kind != kind)
        continue;
      for (int i = 0; i < me[k].n_sweep; i++) {
        SweepPoint *p = &me[k].sweep[i];
        if (p->modality != m || np >= N_LEVELS)
          continue;
        xs[ns][np] = p->level;
        ys[ns][np] = p->weight[m];
        np++;
      }
      if (np == 0)
        continue;
      snprintf (labels[ns], sizeof labels[ns], "%.40s (%s): %s", base,
          udml_policy_name (cfg->policy), cfg->mod[m].name);
      s[ns].label = labels[ns];
      s[ns].n = np;
      s[ns].x = xs[ns];
      s[ns].y = ys[ns];
      s[ns].color = k;
      s[ns].dashed = cfg->mod[m].kind == UDML_MODALITY_AUDIO;
      ns++;
    }
  }
  if (ns == 0) {
    fprintf (stderr,
        PROG ": error: %s: no sweep to plot (use --protocol sweep-video, "
        "sweep-audio or all)\n", path);
    return -1;
  }
  PlotAxes ax = {
    "Weight of the noisy modality vs its noise level",
    "noise level of that modality (1 = clean, 11 = pure noise)",
    "mean weight w/M", 1, 11, 0, 1, 1, 0.1, 760, 440,
  };
  if (plot_svg (path, &ax, s, ns, msg, sizeof msg)) {
    fprintf (stderr, PROG ": error: %s\n", msg);
    return -1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  const char *pos[MAX_MODELS + 1];
  int n_pos = 0, json = 0, quiet = 0, skip_bad = 0, no_cache = 0, protos = 0;
  const char *plot = NULL, *plot_video = NULL, *plot_audio = NULL, *csv =
      NULL, *cache_dir = NULL, *mode_name = "as-trained";
  long threads = 1, batch = 64;
  unsigned long long seed = DEFAULT_SEED;
  UdmlInferMode mode = UDML_INFER_AS_TRAINED;
  ModelEval *me = NULL;
  FeatureSet sets[MAX_MODELS];
  int n_sets = 0, n_models = 0, ret = 1;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
#define IS(name) (strcmp (a, name) == 0)
    if (IS ("--protocol") || IS ("--seed") || IS ("--plot") || IS ("--csv")
        || IS ("--plot-video") || IS ("--plot-audio")
        || IS ("--threads") || IS ("--batch") || IS ("--cache-dir")
        || IS ("--mode")) {
      if (i + 1 >= argc) {
        fprintf (stderr, PROG ": error: %s needs a value\n", a);
        return 2;
      }
      v = argv[++i];
    }
    if (IS ("--help") || IS ("-h")) {
      usage (stdout);
      return 0;
    } else if (IS ("--json"))
      json = 1;
    else if (IS ("--quiet") || IS ("-q"))
      quiet = 1;
    else if (IS ("--skip-bad"))
      skip_bad = 1;
    else if (IS ("--no-cache"))
      no_cache = 1;
    else if (IS ("--protocol")) {
      if (strcmp (v, "clean") == 0)
        protos |= PROTO_CLEAN;
      else if (strcmp (v, "table3") == 0)
        protos |= PROTO_CLEAN | PROTO_TABLE3;
      else if (strcmp (v, "sweep-video") == 0)
        protos |= PROTO_SWEEP_VIDEO;
      else if (strcmp (v, "sweep-audio") == 0)
        protos |= PROTO_SWEEP_AUDIO;
      else if (strcmp (v, "all") == 0)
        protos |=
            PROTO_CLEAN | PROTO_TABLE3 | PROTO_SWEEP_VIDEO | PROTO_SWEEP_AUDIO;
      else {
        fprintf (stderr,
            PROG ": error: --protocol: unknown '%s' (clean, table3, "
            "sweep-video, sweep-audio, all)\n", v);
        return 2;
      }
    } else if (IS ("--seed")) {
      char *end;
      errno = 0;
      seed = strtoull (v, &end, 10);
      if (errno || *end || end == v) {
        fprintf (stderr, PROG ": error: --seed: '%s' is not a number\n", v);
        return 2;
      }
    } else if (IS ("--threads") || IS ("--batch")) {
      char *end;
      long x = strtol (v, &end, 10);
      if (*end || end == v || x < 1 || x > 4096) {
        fprintf (stderr, PROG ": error: %s: '%s' is not a positive integer\n",
            a, v);
        return 2;
      }
      *(IS ("--threads") ? &threads : &batch) = x;
    } else if (IS ("--plot"))
      plot = v;
    else if (IS ("--plot-video"))
      plot_video = v;
    else if (IS ("--plot-audio"))
      plot_audio = v;
    else if (IS ("--csv"))
      csv = v;
    else if (IS ("--cache-dir"))
      cache_dir = v;
    else if (IS ("--mode")) {
      static const char *modes[] =
          { "as-trained", "no-dependency", "no-uncertainty",
        "static"
      };
      int found = -1;
      for (int k = 0; k < 4; k++)
        if (strcmp (v, modes[k]) == 0)
          found = k;
      if (found < 0) {
        fprintf (stderr, PROG ": error: --mode: unknown '%s'\n", v);
        return 2;
      }
      mode = (UdmlInferMode) found;
      mode_name = modes[found];
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf (stderr, PROG ": error: unknown option '%s'\n", a);
      usage (stderr);
      return 2;
    } else {
      if (n_pos == MAX_MODELS + 1) {
        fprintf (stderr, PROG ": error: at most %d models\n", MAX_MODELS);
        return 2;
      }
      pos[n_pos++] = a;
    }
#undef IS
  }
  if (n_pos < 2) {
    fprintf (stderr,
        PROG ": error: need at least one MODEL and the TEST.csv manifest\n");
    usage (stderr);
    return 2;
  }
  if (!protos)
    protos = PROTO_CLEAN | PROTO_TABLE3 | PROTO_SWEEP_VIDEO | PROTO_SWEEP_AUDIO;
  if ((plot || plot_video || plot_audio || csv)
      && !(protos & (PROTO_SWEEP_VIDEO | PROTO_SWEEP_AUDIO))) {
    fprintf (stderr, PROG ": error: --plot/--csv need a sweep protocol\n");
    return 2;
  }
  const char *test = pos[n_pos - 1];
  n_models = n_pos - 1;

  udml_set_log_func (log_to_stderr, NULL);
  udml_set_num_threads ((int) threads);
  me = calloc (n_models, sizeof *me);
  if (!me) {
    fprintf (stderr, PROG ": error: out of memory\n");
    return 1;
  }
  memset (sets, 0, sizeof sets);

  for (int k = 0; k < n_models; k++) {
    UdmlError err = { 0 };
    char msg[512];
    me[k].path = pos[k];
    if (udml_model_load (pos[k], &me[k].model, &err) != UDML_OK) {
      fprintf (stderr, PROG ": error: %s\n", err.msg);
      goto out;
    }
    me[k].cfg = udml_model_config (me[k].model);
    if (manifest_check_config (me[k].cfg, msg, sizeof msg)) {
      fprintf (stderr,
          PROG ": error: %s: model built for other features than media "
          "give: %s\n", pos[k], msg);
      goto out;
    }
    if (udml_config_find (me[k].cfg, UDML_MODALITY_AUDIO) < 0
        && udml_config_find (me[k].cfg, UDML_MODALITY_VIDEO) < 0) {
      fprintf (stderr,
          PROG ": error: %s: model has no audio or video modality\n", pos[k]);
      goto out;
    }
  }

  /* Features per distinct feature configuration (models usually share one). */
  ManifestOptions mo = { PROG, skip_bad, cache_dir, no_cache, quiet };
  for (int k = 0; k < n_models; k++) {
    int found = -1;
    for (int j = 0; j < k && found < 0; j++) {
      int same =
          manifest_config_key (me[j].cfg) == manifest_config_key (me[k].cfg);
      if (same)
        found = me[j].set_index;
    }
    if (found >= 0) {
      me[k].set_index = found;
      continue;
    }
    feature_set_init (&sets[n_sets], me[k].cfg);
    if (manifest_load_features (test, me[k].cfg, &mo, &sets[n_sets])) {
      fprintf (stderr,
          PROG ": error: %s: cannot evaluate model %s on this manifest\n", test,
          pos[k]);
      n_sets++;
      goto out;
    }
    me[k].set_index = n_sets++;
  }

  if (!quiet)
    fprintf (stderr, PROG ": corruption seed %llu\n", seed);
  for (int k = 0; k < n_models; k++)
    if (eval_model (&me[k], &sets[me[k].set_index], protos, seed, (int) batch,
            mode, quiet))
      goto out;

  if (json)
    print_json (stdout, me, n_models, test, sets[0].n, seed, mode_name);
  else
    print_text (stdout, me, n_models, test, sets[0].n, seed, mode_name);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    fprintf (stderr, PROG ": error: writing the results failed\n");
    goto out;
  }
  if (csv && write_csv (csv, me, n_models))
    goto out;
  if (plot && write_plot (plot, me, n_models, -1))
    goto out;
  if (plot_video && write_plot (plot_video, me, n_models, UDML_MODALITY_VIDEO))
    goto out;
  if (plot_audio && write_plot (plot_audio, me, n_models, UDML_MODALITY_AUDIO))
    goto out;
  ret = 0;

out:
  for (int k = 0; k < n_models; k++)
    udml_model_free (me[k].model);
  for (int s = 0; s < n_sets; s++)
    feature_set_clear (&sets[s]);
  free (me);
  return ret;
}
