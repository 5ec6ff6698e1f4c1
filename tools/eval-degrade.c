/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eval-degrade.c — the degradations protocol of udml-eval: every kind of
 * method.md "Degradation kinds" a model can see, on one modality at a
 * time, levels 1..11; video kinds on the raw frames, audio kinds on the
 * window's waveform with log-mel computed again. */
#include "eval-degrade.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot.h"

#define N_LEVELS UDML_NOISE_LEVELS

int
eval_degrade_load (const char *test, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlWaveSet * waves)
{
  memset (waves, 0, sizeof *waves);
  if (udml_config_find (cfg, UDML_MODALITY_AUDIO) < 0)
    return 0;
  return tool_load_waveforms (test, cfg, opt, waves);
}

void
eval_degrade_clear (DegradeResults * r)
{
  free (r->pts);
  memset (r, 0, sizeof *r);
}

/* One stream per (kind, level, sample, modality): every model sees the
 * same degraded inputs; apart from udml-eval's other protocols (tag 7). */
static uint64_t
stream_id (int kind, int level, int i, int m)
{
  return (7ULL << 56) ^ ((uint64_t) kind << 48) ^ ((uint64_t) level << 40)
      ^ ((uint64_t) i << 8) ^ (uint64_t) m;
}

/* Audio kinds act on waveforms: without them only video kinds run. */
static int
evaluated (UdmlDegrade kind, const UdmlConfig * cfg, int m,
    const UdmlWaveSet * waves)
{
  return degrade_visible (kind, cfg, m)
      && (waves || cfg->mod[m].kind != UDML_MODALITY_AUDIO);
}

int
eval_degrade_run (const char *path, const UdmlModel * model,
    const UdmlFeatureSet * set, const UdmlWaveSet * waves, uint64_t seed,
    int batch, UdmlInferMode mode, int quiet, DegradeResults * out)
{
  const UdmlConfig *cfg = udml_model_config (model);
  UdmlError err = { 0 };
  int M = cfg->n_modalities, ret = 1, cap = 0;
  UdmlInfer *inf = udml_infer_new (model, batch, &err);
  UdmlResult *res = malloc ((size_t) batch * sizeof *res);
  float *work = NULL;
  size_t fmax = 0;
  Degrader *dg = NULL;
  double t0 = tool_now ();

  memset (out, 0, sizeof *out);
  if (!inf) {
    tool_error ("%s: %s", path, err.msg);
    goto out;
  }
  for (int m = 0; m < M; m++) {
    fmax = set->F[m] > fmax ? set->F[m] : fmax;
    for (int k = 0; k < UDML_DEGRADE_COUNT; k++)
      cap += evaluated ((UdmlDegrade) k, cfg, m, waves) * N_LEVELS;
  }
  work = malloc ((size_t) (set->n > 0 ? set->n : 1) * fmax * sizeof (float));
  out->pts = calloc (cap > 0 ? cap : 1, sizeof *out->pts);
  if (!res || !work || !out->pts) {
    tool_error ("out of memory");
    goto out;
  }
  if (!(dg = degrader_new (cfg, waves, set->y)))
    goto out;

  for (int m = 0; m < M; m++)
    for (int k = 0; k < UDML_DEGRADE_COUNT; k++) {
      UdmlDegrade kind = (UdmlDegrade) k;
      if (!evaluated (kind, cfg, m, waves))
        continue;
      for (int level = 1; level <= N_LEVELS; level++) {
        DegradePoint *p = &out->pts[out->n++];
        size_t F = set->F[m];
        int correct = 0;
        memcpy (work, set->x[m], (size_t) set->n * F * sizeof (float));
        for (int i = 0; i < set->n; i++) {
          UdmlRng rng;
          udml_rng_seed (&rng, seed, stream_id (k, level, i, m));
          if (degrader_apply (dg, kind, level, m, i, work + (size_t) i * F,
                  &rng, &err) != UDML_OK) {
            tool_error ("%s: %s level %d on %s: %s", path,
                udml_degrade_name (kind), level, cfg->mod[m].name, err.msg);
            goto out;
          }
        }
        p->kind = kind;
        p->modality = m;
        p->level = level;
        for (int i = 0; i < set->n; i += batch) {
          int nb = set->n - i < batch ? set->n - i : batch;
          const float *in[UDML_MAX_MODALITIES] = { 0 };
          for (int j = 0; j < M; j++)
            in[j] = (j == m ? work : set->x[j]) + (size_t) i *set->F[j];
          if (udml_infer_run (inf, nb, in, NULL, mode, res, &err) != UDML_OK) {
            tool_error ("%s: inference failed: %s", path, err.msg);
            goto out;
          }
          for (int s = 0; s < nb; s++) {
            correct += res[s].label == set->y[i + s];
            for (int j = 0; j < M; j++) {
              p->unimodal[j] += res[s].mod[j].label == set->y[i + s];
              p->weight[j] += res[s].mod[j].weight;
              p->noise[j] += res[s].mod[j].noise;
            }
          }
        }
        p->accuracy = set->n ? (double) correct / set->n : 0.0;
        for (int j = 0; j < M && set->n; j++) {
          p->weight[j] /= set->n;
          p->noise[j] /= set->n;
          p->unimodal[j] /= set->n;
        }
      }
      if (!quiet)
        tool_note ("%s: %s on %s done (%.0f s)", path,
            udml_degrade_name (kind), cfg->mod[m].name, tool_now () - t0);
    }
  ret = 0;
out:
  degrader_free (dg);
  udml_infer_free (inf);
  free (res);
  free (work);
  return ret;
}

void
eval_json_mods (JsonBuilder * b, const char *key, const UdmlConfig * cfg,
    const double *v)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_object (b);
  for (int m = 0; m < cfg->n_modalities; m++) {
    json_builder_set_member_name (b, cfg->mod[m].name);
    json_builder_add_double_value (b, v[m]);
  }
  json_builder_end_object (b);
}

void
eval_degrade_json (JsonBuilder * b, const UdmlConfig * cfg,
    const DegradeResults * r)
{
  json_builder_set_member_name (b, "degradations");
  json_builder_begin_array (b);
  for (int i = 0; i < r->n; i++) {
    const DegradePoint *p = &r->pts[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, udml_degrade_name (p->kind));
    json_builder_set_member_name (b, "modality");
    json_builder_add_string_value (b, cfg->mod[p->modality].name);
    json_builder_set_member_name (b, "level");
    json_builder_add_int_value (b, p->level);
    json_builder_set_member_name (b, "accuracy");
    json_builder_add_double_value (b, p->accuracy);
    eval_json_mods (b, "weight", cfg, p->weight);
    eval_json_mods (b, "noise", cfg, p->noise);
    eval_json_mods (b, "unimodal_accuracy", cfg, p->unimodal);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

void
eval_degrade_print (FILE * f, const UdmlConfig * cfg, const DegradeResults * r)
{
  int M = cfg->n_modalities;
  for (int i = 0; i < r->n; i++) {
    const DegradePoint *p = &r->pts[i];
    if (p->level == 1) {
      fprintf (f, "  degradation: %s on %s\n  %5s %7s", udml_degrade_name
          (p->kind), cfg->mod[p->modality].name, "level", "acc");
      for (int m = 0; m < M; m++)
        fprintf (f, "  w-%-6s", cfg->mod[m].name);
      for (int m = 0; m < M; m++)
        fprintf (f, "  s-%-6s", cfg->mod[m].name);
      for (int m = 0; m < M; m++)
        fprintf (f, "  a-%-6s", cfg->mod[m].name);
      fputc ('\n', f);
    }
    fprintf (f, "  %5d %7.2f", p->level, 100 * p->accuracy);
    for (int m = 0; m < M; m++)
      fprintf (f, "  %8.4f", p->weight[m]);
    for (int m = 0; m < M; m++)
      fprintf (f, "  %8.4f", p->noise[m]);
    for (int m = 0; m < M; m++)
      fprintf (f, "  %8.2f", 100 * p->unimodal[m]);
    fputc ('\n', f);
  }
}

#define MAX_SERIES 64

int
eval_degrade_plots (const char *dir, const char *const *paths,
    const UdmlConfig * const *cfgs, const DegradeResults * r, int n_models)
{
  if (g_mkdir_with_parents (dir, 0777) != 0) {
    tool_error ("--plot-dir %s: %s", dir, strerror (errno));
    return 1;
  }
  for (int k = 0; k < UDML_DEGRADE_COUNT; k++) {
    PlotSeries s[MAX_SERIES];
    double xs[MAX_SERIES][N_LEVELS], ys[MAX_SERIES][N_LEVELS];
    char labels[MAX_SERIES][160], msg[512], title[128];
    int ns = 0;

    for (int j = 0; j < n_models; j++) {
      const char *base = strrchr (paths[j], '/');
      base = base ? base + 1 : paths[j];
      for (int i = 0; i < r[j].n && ns + 2 <= MAX_SERIES; i++) {
        const DegradePoint *p = &r[j].pts[i];
        if ((int) p->kind != k || p->level != 1 || i + N_LEVELS > r[j].n)
          continue;
        for (int t = 0; t < 2; t++) {
          for (int l = 0; l < N_LEVELS; l++) {
            xs[ns][l] = l + 1;
            ys[ns][l] = t ? p[l].accuracy : p[l].weight[p->modality];
          }
          snprintf (labels[ns], sizeof labels[ns], "%.40s (%s): %s %s", base,
              udml_policy_name (cfgs[j]->policy),
              cfgs[j]->mod[p->modality].name, t ? "accuracy" : "weight");
          s[ns] = (PlotSeries) {
          labels[ns], N_LEVELS, xs[ns], ys[ns], j, t};
          ns++;
        }
      }
    }
    if (ns == 0)
      continue;
    char *path = g_strdup_printf ("%s/degrade-%s.svg", dir,
        udml_degrade_name ((UdmlDegrade) k));
    snprintf (title, sizeof title, "Degradation '%s': weight of the degraded "
        "modality and accuracy", udml_degrade_name ((UdmlDegrade) k));
    PlotAxes ax = { title, "level (1 = clean, 11 = worst)",
      "mean weight w/M (solid), accuracy (dashed)", 1, 11, 0, 1, 1, 0.1,
      760, 440
    };
    int bad = plot_svg (path, &ax, s, ns, msg, sizeof msg);
    g_free (path);
    if (bad) {
      tool_error ("%s", msg);
      return 1;
    }
  }
  return 0;
}
