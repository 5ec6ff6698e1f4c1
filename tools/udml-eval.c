/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-eval — the evaluation protocol of method.md §6 for one or several
 * models on a test manifest: clean, table-3 (Gaussian / salt-and-pepper at
 * e = 5, 10 on each modality independently with p = 0.5) and the
 * weight-vs-noise sweeps (Fig. 1a / Fig. 3), as a table, JSON, CSV and SVG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "eval-degrade.h"
#include "eval-windows.h"
#include "plot.h"
#include "tool.h"
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
  PROTO_DEGRADE = 1 << 4,       /* eval-degrade.c */
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
  DegradeResults deg;
} ModelEval;

/* Runs the model over all n samples in batches; inputs[m] are N x F_m. */
static int
run_all (UdmlInfer * inf, const UdmlFeatureSet * set, float *const *x,
    int batch, UdmlInferMode mode, UdmlResult * res)
{
  UdmlError err = { 0 };
  for (int i = 0; i < set->n; i += batch) {
    int nb = set->n - i < batch ? set->n - i : batch;
    const float *in[UDML_MAX_MODALITIES] = { 0 };
    for (int m = 0; m < set->n_mod; m++)
      in[m] = x[m] + (size_t) i *set->F[m];
    if (udml_infer_run (inf, nb, in, NULL, mode, res + i, &err) != UDML_OK) {
      tool_error ("inference failed: %s", err.msg);
      return -1;
    }
  }
  return 0;
}

/* Accuracy, macro-F1 and unimodal accuracies, over all samples. */
static void
metrics (const UdmlFeatureSet * set, const UdmlResult * res, int K, double *acc,
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
copy_clean (const UdmlFeatureSet * set, float **work)
{
  for (int m = 0; m < set->n_mod; m++)
    memcpy (work[m], set->x[m], (size_t) set->n * set->F[m] * sizeof (float));
}

/* Mean weights, alphas and noise estimates of one sweep point. */
static void
sweep_average (SweepPoint * p, const UdmlFeatureSet * set,
    const UdmlResult * res, int M)
{
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

static void
json_double (JsonBuilder * b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_double_value (b, v);
}

static void
json_string (JsonBuilder * b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

static int
eval_model (ModelEval * me, const UdmlFeatureSet * set, int protos,
    uint64_t seed, int batch, UdmlInferMode mode, int quiet,
    const WindowsOut * wo)
{
  const UdmlConfig *cfg = me->cfg;
  UdmlError err = { 0 };
  UdmlInfer *inf = udml_infer_new (me->model, batch, &err);
  UdmlResult *res = malloc ((size_t) set->n * sizeof *res);
  float *work[UDML_MAX_MODALITIES] = { 0 };
  float *xs[UDML_MAX_MODALITIES];
  int ret = -1, M = cfg->n_modalities;
  double t0 = tool_now ();

  if (!inf) {
    tool_error ("%s: %s", me->path, err.msg);
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
            /* one field for all channels (RGB, stacked frames), as training */
            udml_noise_gaussian_planes (cfg->mod[m].kind, x,
                cfg->mod[m].in_c, set->F[m] / (size_t) cfg->mod[m].in_c,
                cd->e, &rng);
        }
    }
    if (run_all (inf, set, work, batch, mode, res))
      goto out;
    if (cd->salt < 0 && wo && eval_write_windows (wo, me->path, cfg, set, res))
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
        udml_noise_gaussian_planes (kind, work[sm] + (size_t) i * set->F[sm],
            cfg->mod[sm].in_c, set->F[sm] / (size_t) cfg->mod[sm].in_c, level,
            &rng);
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
      sweep_average (p, set, res, M);
    }
    if (!quiet)
      tool_note ("%s: %s sweep done (%.0f s)", me->path,
          cfg->mod[sm].name, tool_now () - t0);
  }
  ret = 0;
  goto out;

nomem:
  tool_error ("out of memory");
out:
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (work[m]);
  free (res);
  udml_infer_free (inf);
  return ret;
}

static void
json_results (JsonBuilder * b, const ModelEval * me)
{
  const UdmlConfig *cfg = me->cfg;
  int ia = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  int iv = udml_config_find (cfg, UDML_MODALITY_VIDEO);
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  for (int r = 0; r < me->n_res; r++) {
    const CondResult *c = &me->res[r];
    json_builder_begin_object (b);
    json_string (b, "condition", c->condition);
    json_double (b, "accuracy", c->accuracy);
    json_double (b, "macro_f1", c->macro_f1);
    if (ia >= 0)
      json_double (b, "accuracy_audio", c->uni[ia]);
    if (iv >= 0)
      json_double (b, "accuracy_video", c->uni[iv]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
json_sweep (JsonBuilder * b, const ModelEval * me)
{
  const UdmlConfig *cfg = me->cfg;
  json_builder_set_member_name (b, "sweep");
  json_builder_begin_array (b);
  for (int s = 0; s < me->n_sweep; s++) {
    const SweepPoint *p = &me->sweep[s];
    json_builder_begin_object (b);
    json_string (b, "modality", cfg->mod[p->modality].name);
    json_builder_set_member_name (b, "level");
    json_builder_add_int_value (b, p->level);
    json_double (b, "accuracy", p->accuracy);
    json_double (b, "macro_f1", p->macro_f1);
    eval_json_mods (b, "weight", cfg, p->weight);
    eval_json_mods (b, "uncertainty_weight", cfg, p->uncertainty_weight);
    eval_json_mods (b, "alpha", cfg, p->alpha);
    eval_json_mods (b, "noise", cfg, p->noise);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

/* One JSON object on one line. */
static void
print_json (FILE * f, ModelEval * me, int n, const char *test, int n_test,
    uint64_t seed, const char *mode)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_string (b, "test", test);
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, n_test);
  json_builder_set_member_name (b, "seed");
  json_builder_add_int_value (b, (gint64) seed);
  json_string (b, "mode", mode);
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (int k = 0; k < n; k++) {
    json_builder_begin_object (b);
    json_string (b, "model", me[k].path);
    json_string (b, "policy", udml_policy_name (me[k].cfg->policy));
    json_results (b, &me[k]);
    json_sweep (b, &me[k]);
    if (me[k].deg.pts)
      eval_degrade_json (b, me[k].cfg, &me[k].deg);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  JsonGenerator *gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  gsize len = 0;
  json_generator_set_root (gen, root);
  char *text = json_generator_to_data (gen, &len);
  fwrite (text, 1, len, f);
  fputc ('\n', f);
  g_free (text);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
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
    eval_degrade_print (f, cfg, &me[k].deg);
  }
}

static int
write_csv (const char *path, ModelEval * me, int n)
{
  FILE *f = fopen (path, "w");
  if (!f) {
    tool_error ("%s: %s", path, strerror (errno));
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
    tool_error ("%s: write failed", path);
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
    tool_error ("%s: no sweep to plot (use --protocol sweep-video, "
        "sweep-audio or all)", path);
    return -1;
  }
  PlotAxes ax = {
    "Weight of the noisy modality vs its noise level",
    "noise level of that modality (1 = clean, 11 = pure noise)",
    "mean weight w/M", 1, 11, 0, 1, 1, 0.1, 760, 440,
  };
  if (plot_svg (path, &ax, s, ns, msg, sizeof msg)) {
    tool_error ("%s", msg);
    return -1;
  }
  return 0;
}

typedef struct
{
  char **models;                /* MODEL... then TEST.csv (transfer full) */
  int n_models;
  const char *test;
  gboolean json, quiet, skip_bad, no_cache;
  int protos;
  char *plot, *plot_video, *plot_audio, *csv, *cache_dir, *plot_dir;
  char *windows;
  const char *mode_name;
  long threads, batch;
  int64_t hop_ns;               /* 0: each model's hop */
  uint64_t seed;
  UdmlInferMode mode;
} EvalOptions;

static const char *const mode_names[] =
    { "as-trained", "no-dependency", "no-uncertainty", "static" };

static int
parse_protocols (char **names)
{
  int protos = 0;
  for (; names && *names; names++) {
    const char *v = *names;
    if (strcmp (v, "clean") == 0)
      protos |= PROTO_CLEAN;
    else if (strcmp (v, "table3") == 0)
      protos |= PROTO_CLEAN | PROTO_TABLE3;
    else if (strcmp (v, "sweep-video") == 0)
      protos |= PROTO_SWEEP_VIDEO;
    else if (strcmp (v, "sweep-audio") == 0)
      protos |= PROTO_SWEEP_AUDIO;
    else if (strcmp (v, "degradations") == 0)
      protos |= PROTO_DEGRADE;
    else if (strcmp (v, "all") == 0)
      protos |= PROTO_CLEAN | PROTO_TABLE3 | PROTO_SWEEP_VIDEO
          | PROTO_SWEEP_AUDIO | PROTO_DEGRADE;
    else
      tool_usage_error ("--protocol: unknown '%s' (clean, table3, "
          "sweep-video, sweep-audio, degradations, all)", v);
  }
  return protos ? protos
      : PROTO_CLEAN | PROTO_TABLE3 | PROTO_SWEEP_VIDEO | PROTO_SWEEP_AUDIO;
}

static void
parse_values (EvalOptions * o, char **protocols, const char *seed,
    const char *threads, const char *batch, const char *mode, const char *hop)
{
  o->protos = parse_protocols (protocols);
  if (hop) {
    double h;
    /* the element's window-hop floor */
    tool_opt_double ("--hop", hop, 0.01, 60, "seconds in [0.01, 60]", &h);
    o->hop_ns = (int64_t) (h * 1e9 + 0.5);
  }
  if (seed) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull (seed, &end, 10);
    if (errno || *end || end == seed || seed[0] == '-' || v > INT64_MAX)
      tool_usage_error ("--seed: '%s' is not a number in [0, 2^63)", seed);
    o->seed = v;
  }
  tool_opt_long ("--threads", threads, 1, 4096, &o->threads);
  tool_opt_long ("--batch", batch, 1, 4096, &o->batch);
  if (mode) {
    int found = -1;
    for (int k = 0; k < 4; k++)
      if (strcmp (mode, mode_names[k]) == 0)
        found = k;
    if (found < 0)
      tool_usage_error ("--mode: unknown '%s'", mode);
    o->mode = (UdmlInferMode) found;
    o->mode_name = mode_names[found];
  }
}

static void
parse_options (int argc, char **argv, EvalOptions * o)
{
  char **protocols = NULL, *seed = NULL, *threads = NULL, *batch = NULL;
  char *mode = NULL, *hop = NULL;
  const GOptionEntry entries[] = {
    {"protocol", 0, 0, G_OPTION_ARG_STRING_ARRAY, &protocols,
          "clean, table3, sweep-video, sweep-audio, degradations or all; "
          "repeatable (default: all but degradations)",
        "P"},
    {"hop", 0, 0, G_OPTION_ARG_STRING, &hop,
          "step between the windows of a test clip (the model's hop, "
          "udmlfuse's default window-hop)",
        "SECONDS"},
    {"seed", 0, 0, G_OPTION_ARG_STRING, &seed,
        "seed of the corruption draws (20240607); printed", "S"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &o->json,
        "print one JSON object instead of tables", NULL},
    {"csv", 0, 0, G_OPTION_ARG_FILENAME, &o->csv, "write the sweeps as CSV",
        "FILE"},
    {"plot", 0, 0, G_OPTION_ARG_FILENAME, &o->plot,
        "draw weight vs noise level of every model as SVG", "FILE"},
    {"plot-video", 0, 0, G_OPTION_ARG_FILENAME, &o->plot_video,
        "the same for the video sweep only", "FILE"},
    {"plot-audio", 0, 0, G_OPTION_ARG_FILENAME, &o->plot_audio,
        "the same for the audio sweep only", "FILE"},
    {"windows", 0, 0, G_OPTION_ARG_FILENAME, &o->windows,
          "write every clean window's result as JSON Lines, keyed as "
          "udmlfuse's records (window k of a row starts at the row's start "
          "+ k * hop, in the clip's stream time)",
        "FILE"},
    {"plot-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->plot_dir,
        "degradations: one SVG per kind, DIR/degrade-KIND.svg", "DIR"},
    {"mode", 0, 0, G_OPTION_ARG_STRING, &mode, "inference terms: as-trained, "
          "no-dependency, no-uncertainty, static (as-trained)", "M"},
    {"threads", 0, 0, G_OPTION_ARG_STRING, &threads, "BLAS threads (1)", "T"},
    {"batch", 0, 0, G_OPTION_ARG_STRING, &batch, "inference batch (64)", "B"},
    {"skip-bad", 0, 0, G_OPTION_ARG_NONE, &o->skip_bad,
        "skip bad manifest rows (reported) instead of stopping", NULL},
    {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->cache_dir,
        "where feature caches go (the manifest's directory)", "DIR"},
    {"no-cache", 0, 0, G_OPTION_ARG_NONE, &o->no_cache, "always decode", NULL},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "no progress output", NULL},
    {NULL}
  };

  memset (o, 0, sizeof *o);
  o->threads = 1;
  o->batch = 64;
  o->seed = DEFAULT_SEED;
  o->mode = UDML_INFER_AS_TRAINED;
  o->mode_name = mode_names[0];
  o->models = tool_parse (entries, "MODEL... TEST.csv",
      "Evaluates models on a test manifest with the protocol of method.md 6.",
      NULL, argc, argv);
  parse_values (o, protocols, seed, threads, batch, mode, hop);
  g_strfreev (protocols);
  g_free (seed);
  g_free (threads);
  g_free (batch);
  g_free (mode);
  g_free (hop);

  int n_pos = (int) g_strv_length (o->models);
  if (n_pos < 2)
    tool_usage_error ("need at least one MODEL and the TEST.csv manifest");
  if (n_pos > MAX_MODELS + 1)
    tool_usage_error ("at most %d models", MAX_MODELS);
  o->n_models = n_pos - 1;
  o->test = o->models[n_pos - 1];
  if ((o->plot || o->plot_video || o->plot_audio || o->csv)
      && !(o->protos & (PROTO_SWEEP_VIDEO | PROTO_SWEEP_AUDIO)))
    tool_usage_error ("--plot/--csv need a sweep protocol");
  if (o->plot_dir && !(o->protos & PROTO_DEGRADE))
    tool_usage_error ("--plot-dir needs --protocol degradations (or all)");
  if (o->windows && !(o->protos & PROTO_CLEAN))
    tool_usage_error ("--windows needs the clean protocol (clean, table3 "
        "or all)");
}

static void
options_clear (EvalOptions * o)
{
  g_strfreev (o->models);
  g_free (o->plot);
  g_free (o->plot_video);
  g_free (o->plot_audio);
  g_free (o->csv);
  g_free (o->cache_dir);
  g_free (o->plot_dir);
  g_free (o->windows);
}

/* Every output file, before any evaluation. */
static int
check_outputs (const EvalOptions * o)
{
  const char *opts[] = { "--csv", "--plot", "--plot-video", "--plot-audio",
    "--windows"
  };
  const char *paths[] = { o->csv, o->plot, o->plot_video, o->plot_audio,
    o->windows
  };
  for (int i = 0; i < 5; i++)
    if (paths[i] && tool_check_output (opts[i], paths[i]))
      return -1;
  return 0;
}

static int
load_models (ModelEval * me, const EvalOptions * o)
{
  for (int k = 0; k < o->n_models; k++) {
    UdmlError err = { 0 };
    me[k].path = o->models[k];
    if (udml_model_load (me[k].path, &me[k].model, &err) != UDML_OK) {
      tool_error ("%s", err.msg);
      return -1;
    }
    me[k].cfg = udml_model_config (me[k].model);
    if (udml_data_check_config (me[k].cfg, &err) != UDML_OK) {
      tool_error ("%s: model built for other features than media give: %s",
          me[k].path, err.msg);
      return -1;
    }
    if (udml_config_find (me[k].cfg, UDML_MODALITY_AUDIO) < 0
        && udml_config_find (me[k].cfg, UDML_MODALITY_VIDEO) < 0) {
      tool_error ("%s: model has no audio or video modality", me[k].path);
      return -1;
    }
  }
  return 0;
}

/* Features per distinct feature configuration (models usually share one),
 * with the list each came from. */
static int
load_sets (ModelEval * me, const EvalOptions * o, UdmlFeatureSet * sets,
    UdmlDataList * lists, int *n_sets)
{
  ToolDataOptions dopt = { o->skip_bad, o->cache_dir, o->no_cache, o->quiet,
    o->hop_ns
  };
  for (int k = 0; k < o->n_models; k++) {
    uint64_t key = udml_data_config_key (me[k].cfg);
    int found = -1;
    for (int j = 0; j < k && found < 0; j++)
      if (udml_data_config_key (me[j].cfg) == key)
        found = me[j].set_index;
    if (found >= 0) {
      me[k].set_index = found;
      continue;
    }
    udml_feature_set_init (&sets[*n_sets], me[k].cfg);
    me[k].set_index = (*n_sets)++;
    if (tool_read_list (o->test, &lists[*n_sets - 1])
        || tool_extract (&lists[*n_sets - 1], me[k].cfg, &dopt,
            &sets[*n_sets - 1])) {
      tool_error ("%s: cannot evaluate model %s on this manifest", o->test,
          me[k].path);
      return -1;
    }
  }
  return 0;
}

static int
write_outputs (const EvalOptions * o, ModelEval * me, int n_test)
{
  if (o->json)
    print_json (stdout, me, o->n_models, o->test, n_test, o->seed,
        o->mode_name);
  else
    print_text (stdout, me, o->n_models, o->test, n_test, o->seed,
        o->mode_name);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    tool_error ("writing the results failed: %s", strerror (errno));
    return -1;
  }
  if (o->csv && write_csv (o->csv, me, o->n_models))
    return -1;
  if (o->plot && write_plot (o->plot, me, o->n_models, -1))
    return -1;
  if (o->plot_video
      && write_plot (o->plot_video, me, o->n_models, UDML_MODALITY_VIDEO))
    return -1;
  if (o->plot_audio
      && write_plot (o->plot_audio, me, o->n_models, UDML_MODALITY_AUDIO))
    return -1;
  if (o->plot_dir) {
    const char *paths[MAX_MODELS];
    const UdmlConfig *cfgs[MAX_MODELS];
    DegradeResults r[MAX_MODELS];
    for (int k = 0; k < o->n_models; k++) {
      paths[k] = me[k].path;
      cfgs[k] = me[k].cfg;
      r[k] = me[k].deg;
    }
    if (eval_degrade_plots (o->plot_dir, paths, cfgs, r, o->n_models))
      return -1;
  }
  return 0;
}

/* The degradations protocol of every model (eval-degrade.c). */
static int
eval_degradations (ModelEval * me, const EvalOptions * o,
    const UdmlFeatureSet * sets)
{
  ToolDataOptions dopt =
      { o->skip_bad, o->cache_dir, o->no_cache, o->quiet, o->hop_ns };
  int ret = 0;
  for (int k = 0; k < o->n_models && !ret; k++) {
    UdmlWaveSet waves;
    const UdmlFeatureSet *set = &sets[me[k].set_index];
    ret = eval_degrade_load (o->test, me[k].cfg, &dopt, &waves);
    if (!ret && waves.pcm && waves.n != set->n) {
      /* one waveform per feature row, unless the two extractions disagree */
      tool_warning ("%s: %d feature rows but %d waveforms: the audio kinds "
          "are left out", o->test, set->n, waves.n);
      udml_wave_set_clear (&waves);
    }
    if (!ret)
      ret = eval_degrade_run (me[k].path, me[k].model, set,
          waves.pcm ? &waves : NULL, o->seed, (int) o->batch, o->mode,
          o->quiet, &me[k].deg);
    udml_wave_set_clear (&waves);
  }
  return ret;
}

int
main (int argc, char **argv)
{
  EvalOptions o;
  UdmlFeatureSet sets[MAX_MODELS];
  UdmlDataList lists[MAX_MODELS];
  int n_sets = 0, ret = 1;
  ModelEval *me = NULL;
  FILE *wf = NULL;

  tool_init (PROG);
  parse_options (argc, argv, &o);
  memset (sets, 0, sizeof sets);
  memset (lists, 0, sizeof lists);
  if (check_outputs (&o))
    goto out;
  udml_set_log_func (tool_log, NULL);
  udml_set_num_threads ((int) o.threads);
  me = calloc (o.n_models, sizeof *me);
  if (!me) {
    tool_error ("out of memory");
    goto out;
  }
  if (load_models (me, &o) || load_sets (me, &o, sets, lists, &n_sets))
    goto out;
  if (o.windows && !(wf = fopen (o.windows, "w"))) {
    tool_error ("--windows %s: %s", o.windows, strerror (errno));
    goto out;
  }

  if (!o.quiet)
    tool_note ("corruption seed %llu", (unsigned long long) o.seed);
  for (int k = 0; k < o.n_models; k++) {
    WindowsOut wo = { wf, &lists[me[k].set_index],
      o.hop_ns > 0 ? o.hop_ns : me[k].cfg->features.hop_ns
    };
    if (eval_model (&me[k], &sets[me[k].set_index], o.protos, o.seed,
            (int) o.batch, o.mode, o.quiet, wf ? &wo : NULL))
      goto out;
  }
  if (wf) {
    /* fclose reports only the last flush; earlier flushes set ferror */
    int bad = ferror (wf) | fclose (wf);
    wf = NULL;
    if (bad) {
      tool_error ("--windows %s: write failed", o.windows);
      goto out;
    }
  }
  if ((o.protos & PROTO_DEGRADE) && eval_degradations (me, &o, sets))
    goto out;
  if (write_outputs (&o, me, sets[0].n))
    goto out;
  ret = 0;

out:
  for (int k = 0; me && k < o.n_models; k++) {
    udml_model_free (me[k].model);
    eval_degrade_clear (&me[k].deg);
  }
  for (int s = 0; s < n_sets; s++) {
    udml_feature_set_clear (&sets[s]);
    udml_data_list_clear (&lists[s]);
  }
  if (wf)
    fclose (wf);
  free (me);
  options_clear (&o);
  return tool_finish (ret);
}
