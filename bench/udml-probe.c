/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-probe — how much noise-level information each layer of a trained
 * model carries, as seen by the method's estimator.
 *
 * For each modality and each site (the global-average-pooled output of
 * every encoder stage, the pooled mean mu and the estimator's own input
 * GAP(std)), the probe extracts pooled features of the training and
 * validation clips at every Gaussian noise level 1..11 (method.md §3, on
 * that modality only), fits a fresh estimator of the method's shape
 * (Linear C->Hd -> ReLU -> Linear Hd->1, sigma-hat = exp(g/2), MSE against
 * the level, levels drawn as in stage 2: half clean) to convergence with
 * Adam on the frozen training features, and prints its mean sigma-hat per
 * level on the validation clips next to the model's own estimator.
 *
 * Inputs are standardised per channel, so the probe measures what a site
 * carries, not how its scale suits SGD.  "implied clean video weight" is
 * w_video / M for clean input with both sigma-hats from the same row and
 * the model's saved dependencies (method.md §1).
 *
 * Usage: udml-probe [--epochs N] [--seed S] [--cache-dir DIR]
 *                   MODEL TRAIN.csv VAL.csv
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#undef I                        /* <complex.h> via OpenBLAS */

#include "udml.h"
#include "model.h"
#include "ops.h"
#include "udml-data.h"

#define LEVELS 11
#define MAX_SITES (UDML_MAX_STAGES + 2)
#define BATCH 64
#define FWD_BATCH 128

/* Pooled features of one modality at one site: x[level][i * C + c]. */
typedef struct
{
  char name[32];
  int C;
  float *x[LEVELS + 1];
} Site;

typedef struct
{
  int n_sites;
  Site site[MAX_SITES];
  float *g[LEVELS + 1];         /* the model's own estimator output, N */
} ModProbe;

static void
die (const char *what, const char *msg)
{
  fprintf (stderr, "udml-probe: error: %s: %s\n", what, msg);
  exit (1);
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size);
  if (!p)
    die ("memory", "out of memory");
  return p;
}

static void
probe_init (ModProbe * mp, const UdmlModel * model, int m, int n)
{
  const UdmlModLayout *lay = &model->lay[m];

  memset (mp, 0, sizeof *mp);
  for (int s = 0; s < lay->n_stages; s++) {
    Site *st = &mp->site[mp->n_sites++];
    snprintf (st->name, sizeof st->name, "stage %d (%d ch)", s + 1,
        lay->enc[s].co);
    st->C = lay->enc[s].co;
  }
  snprintf (mp->site[mp->n_sites].name, sizeof mp->site[0].name, "GAP(mu)");
  mp->site[mp->n_sites++].C = lay->C;
  snprintf (mp->site[mp->n_sites].name, sizeof mp->site[0].name, "GAP(std)");
  mp->site[mp->n_sites++].C = lay->C;
  for (int s = 0; s < mp->n_sites; s++)
    for (int L = 1; L <= LEVELS; L++)
      mp->site[s].x[L] = xcalloc ((size_t) n * mp->site[s].C, sizeof (float));
  for (int L = 1; L <= LEVELS; L++)
    mp->g[L] = xcalloc (n, sizeof (float));
}

static void
probe_clear (ModProbe * mp)
{
  for (int s = 0; s < mp->n_sites; s++)
    for (int L = 1; L <= LEVELS; L++)
      free (mp->site[s].x[L]);
  for (int L = 1; L <= LEVELS; L++)
    free (mp->g[L]);
}

/* Runs the model on every clip of set with noise level L on modality m and
 * stores the pooled features of every site. */
static void
extract (UdmlModel * model, UdmlWork * ws, const UdmlFeatureSet * set, int m,
    int L, uint64_t seed, float *noisy, ModProbe * mp)
{
  const UdmlConfig *cfg = udml_model_config (model);
  const UdmlModalitySpec *spec = &cfg->mod[m];
  const UdmlModLayout *lay = &model->lay[m];
  UdmlForward fw = {
    .wt = udml_weighting_infer (cfg->policy, UDML_INFER_AS_TRAINED),
    .dep = model->dep,
  };
  size_t plane = (size_t) spec->in_h * spec->in_w;

  for (int b0 = 0; b0 < set->n; b0 += FWD_BATCH) {
    int nb = set->n - b0 < FWD_BATCH ? set->n - b0 : FWD_BATCH;
    for (int k = 0; k < cfg->n_modalities; k++) {
      const float *src = set->x[k] + (size_t) b0 * set->F[k];
      if (k == m) {
        memcpy (noisy, src, (size_t) nb * set->F[k] * sizeof (float));
        for (int i = 0; i < nb; i++) {
          UdmlRng rng;
          udml_rng_seed (&rng, seed,
              ((uint64_t) L << 32) | (uint64_t) (b0 + i));
          udml_noise_gaussian_planes (spec->kind,
              noisy + (size_t) i * set->F[k], spec->in_c, plane, L, &rng);
        }
        src = noisy;
      }
      udml_model_standardise (model, ws->mod[k].x, src, k,
          (size_t) nb * set->F[k]);
    }
    memset (ws->present, 1, (size_t) nb * cfg->n_modalities);
    udml_model_forward (model, ws, nb, &fw);

    const UdmlModWork *mw = &ws->mod[m];
    int s = 0;
    for (; s < lay->n_stages; s++)
      udml_gap_forward (mp->site[s].x[L] + (size_t) b0 * mp->site[s].C,
          mw->act[s], nb, lay->enc[s].co, lay->enc[s].h * lay->enc[s].wd);
    udml_gap_forward (mp->site[s++].x[L] + (size_t) b0 * lay->C, mw->mu, nb,
        lay->C, lay->h * lay->w);
    memcpy (mp->site[s].x[L] + (size_t) b0 * lay->C, mw->s,
        (size_t) nb * lay->C * sizeof (float));
    memcpy (mp->g[L] + b0, mw->g, (size_t) nb * sizeof (float));
  }
}

/* ------------------------------------------------------------- the fit */

typedef struct
{
  int C, H;
  float *w1, *b1, *w2, *b2;     /* H x C, H, H, 1: one packed array */
  float *mom, *var;             /* Adam moments over the packed parameters */
  float *grad;
  float *mean, *rstd;           /* per-channel input standardisation */
  float *xb, *h, *dh;           /* BATCH x C, BATCH x H, BATCH x H */
} Probe;

static size_t
probe_n_params (const Probe * p)
{
  return (size_t) p->H * p->C + 2 * (size_t) p->H + 1;
}

static void
probe_alloc (Probe * p, int C, int H)
{
  p->C = C;
  p->H = H;
  size_t np = probe_n_params (p);
  p->w1 = xcalloc (np, sizeof (float));
  p->b1 = p->w1 + (size_t) H *C;
  p->w2 = p->b1 + H;
  p->b2 = p->w2 + H;
  p->mom = xcalloc (np, sizeof (float));
  p->var = xcalloc (np, sizeof (float));
  p->grad = xcalloc (np, sizeof (float));
  p->mean = xcalloc (C, sizeof (float));
  p->rstd = xcalloc (C, sizeof (float));
  p->xb = xcalloc ((size_t) BATCH * C, sizeof (float));
  p->h = xcalloc ((size_t) BATCH * H, sizeof (float));
  p->dh = xcalloc ((size_t) BATCH * H, sizeof (float));
}

static void
probe_free (Probe * p)
{
  free (p->w1);
  free (p->mom);
  free (p->var);
  free (p->grad);
  free (p->mean);
  free (p->rstd);
  free (p->xb);
  free (p->h);
  free (p->dh);
}

/* Stage 2 draws each level with probability 1/2 [L = 1] + 1/22. */
static double
level_prob (int L)
{
  return (L == 1 ? 0.5 : 0.0) + 0.5 / LEVELS;
}

static int
draw_level (UdmlRng * rng)
{
  if (udml_rng_uniform (rng) < 0.5f)
    return 1;
  int L = 1 + (int) (udml_rng_uniform (rng) * LEVELS);
  return L > LEVELS ? LEVELS : L;
}

/* Input statistics under the stage-2 level distribution. */
static void
probe_standardiser (Probe * p, const Site * st, int n)
{
  int C = p->C;
  double *s1 = xcalloc (C, sizeof (double)), *s2 = xcalloc (C, sizeof (double));
  for (int L = 1; L <= LEVELS; L++)
    for (int i = 0; i < n; i++)
      for (int c = 0; c < C; c++) {
        double v = st->x[L][(size_t) i * C + c];
        s1[c] += level_prob (L) * v;
        s2[c] += level_prob (L) * v * v;
      }
  for (int c = 0; c < C; c++) {
    double mean = s1[c] / n, var = s2[c] / n - mean * mean;
    p->mean[c] = (float) mean;
    p->rstd[c] = (float) (1.0 / sqrt (fmax (var, 0.0) + 1e-10));
  }
  free (s1);
  free (s2);
}

static void
load_batch (Probe * p, const float *rows[], int nb)
{
  for (int i = 0; i < nb; i++)
    for (int c = 0; c < p->C; c++)
      p->xb[(size_t) i * p->C + c] = (rows[i][c] - p->mean[c]) * p->rstd[c];
}

/* g for the nb rows in p->xb; keeps the ReLU outputs in p->h. */
static void
probe_forward (Probe * p, int nb, float *g)
{
  int H = p->H;
  for (int i = 0; i < nb; i++)
    memcpy (p->h + (size_t) i * H, p->b1, H * sizeof (float));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, nb, H, p->C, 1.0f,
      p->xb, p->C, p->w1, p->C, 1.0f, p->h, H);
  for (int i = 0; i < nb; i++) {
    double acc = *p->b2;
    for (int j = 0; j < H; j++) {
      float *hj = &p->h[(size_t) i * H + j];
      *hj = *hj > 0.0f ? *hj : 0.0f;
      acc += p->w2[j] * *hj;
    }
    g[i] = (float) acc;
  }
}

static void
probe_fit (Probe * p, const Site * st, int n, int epochs, uint64_t seed)
{
  const double lr = 1e-3, b1 = 0.9, b2 = 0.999, lambda = 0.1;
  size_t np = probe_n_params (p);
  int H = p->H, C = p->C, steps = epochs * ((n + BATCH - 1) / BATCH);
  const float *rows[BATCH];
  int lv[BATCH];
  float g[BATCH];
  UdmlRng rng;

  udml_rng_seed (&rng, seed, 1);
  for (size_t k = 0; k < (size_t) H * C; k++)
    p->w1[k] = udml_rng_normal (&rng) / sqrtf ((float) C);
  memset (p->b1, 0, (2 * (size_t) H + 1) * sizeof (float));
  memset (p->mom, 0, np * sizeof (float));
  memset (p->var, 0, np * sizeof (float));

  for (int t = 1; t <= steps; t++) {
    for (int i = 0; i < BATCH; i++) {
      int r = (int) (udml_rng_uniform (&rng) * n);
      lv[i] = draw_level (&rng);
      rows[i] = st->x[lv[i]] + (size_t) (r < n ? r : n - 1) * C;
    }
    load_batch (p, rows, BATCH);
    probe_forward (p, BATCH, g);

    /* d/dg of lambda (sigma - L)^2 with sigma = exp(g/2), batch mean */
    float *gw1 = p->grad, *gb1 = gw1 + (size_t) H * C, *gw2 = gb1 + H;
    float *gb2 = gw2 + H;
    memset (p->grad, 0, np * sizeof (float));
    for (int i = 0; i < BATCH; i++) {
      double sg = exp (g[i] / 2.0);
      float dg = (float) (lambda * (sg - lv[i]) * sg / BATCH);
      *gb2 += dg;
      for (int j = 0; j < H; j++) {
        float hj = p->h[(size_t) i * H + j];
        gw2[j] += dg * hj;
        p->dh[(size_t) i * H + j] = hj > 0.0f ? dg * p->w2[j] : 0.0f;
        gb1[j] += p->dh[(size_t) i * H + j];
      }
    }
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, H, C, BATCH, 1.0f,
        p->dh, H, p->xb, C, 0.0f, gw1, C);

    double c1 = 1.0 - pow (b1, t), c2 = 1.0 - pow (b2, t);
    for (size_t k = 0; k < np; k++) {
      p->mom[k] = (float) (b1 * p->mom[k] + (1.0 - b1) * p->grad[k]);
      p->var[k] =
          (float) (b2 * p->var[k] + (1.0 - b2) * p->grad[k] * p->grad[k]);
      p->w1[k] -=
          (float) (lr * (p->mom[k] / c1) / (sqrt (p->var[k] / c2) + 1e-8));
    }
  }
}

/* Mean sigma-hat per level of the fitted probe on n rows. */
static void
probe_eval (Probe * p, const Site * st, int n, double *sigma)
{
  const float *rows[BATCH];
  float g[BATCH];

  for (int L = 1; L <= LEVELS; L++) {
    double s = 0.0;
    for (int b0 = 0; b0 < n; b0 += BATCH) {
      int nb = n - b0 < BATCH ? n - b0 : BATCH;
      for (int i = 0; i < nb; i++)
        rows[i] = st->x[L] + (size_t) (b0 + i) * p->C;
      load_batch (p, rows, nb);
      probe_forward (p, nb, g);
      for (int i = 0; i < nb; i++)
        s += exp (g[i] / 2.0);
    }
    sigma[L] = s / n;
  }
}

/* ------------------------------------------------------------------ main */

static void
print_row (const char *name, const double *sigma)
{
  printf ("| %-16s |", name);
  for (int L = 1; L <= LEVELS; L++)
    printf (" %5.2f |", sigma[L]);
  printf ("\n");
}

/* The clips of a manifest; any bad row is named and stops the probe. */
static void
load_clips (const char *manifest, const UdmlConfig * cfg,
    const char *cache_dir, UdmlFeatureSet * set)
{
  UdmlDataList list;
  UdmlExtractReport rep;
  UdmlExtractOptions xo = {.cache_dir = cache_dir };
  UdmlError err = { 0 };

  if (udml_data_list_read_manifest (&list, manifest, &err) != UDML_OK
      || udml_data_list_bind (&list, cfg, &err) != UDML_OK
      || udml_data_extract (&list, cfg, &xo, set, &rep, &err) != UDML_OK)
    die ("data", err.msg);
  for (int i = 0; i < list.n_items; i++)
    if (list.items[i].error)
      fprintf (stderr, "udml-probe: error: %s:%d: %s: %s\n", manifest,
          list.items[i].line, list.items[i].a_path, list.items[i].error);
  udml_data_list_clear (&list);
  if (rep.n_bad)
    die (manifest, "bad rows");
  if (set->n == 0)
    die (manifest, "no usable clips");
}

static void
usage (void)
{
  fprintf (stderr,
      "usage: udml-probe [--epochs N] [--seed S] [--cache-dir DIR] "
      "MODEL TRAIN.csv VAL.csv\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  int epochs = 100;
  uint64_t seed = 1;
  const char *cache_dir = NULL, *pos[3];
  int n_pos = 0;

  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--epochs") && i + 1 < argc)
      epochs = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--seed") && i + 1 < argc)
      seed = strtoull (argv[++i], NULL, 10);
    else if (!strcmp (argv[i], "--cache-dir") && i + 1 < argc)
      cache_dir = argv[++i];
    else if (argv[i][0] == '-' || n_pos == 3)
      usage ();
    else
      pos[n_pos++] = argv[i];
  }
  if (n_pos != 3 || epochs < 1)
    usage ();

  UdmlModel *model;
  UdmlError err;
  if (udml_model_load (pos[0], &model, &err) != UDML_OK)
    die ("model", err.msg);     /* the message names the file */
  const UdmlConfig *cfg = udml_model_config (model);
  if (cfg->policy != UDML_POLICY_UDML && cfg->policy != UDML_POLICY_UDML_MC
      && cfg->policy != UDML_POLICY_UDML_POS)
    die (pos[0], "the model's policy has no noise estimator to compare with");
  openblas_set_num_threads (1);

  UdmlFeatureSet tr, va;
  load_clips (pos[1], cfg, cache_dir, &tr);
  load_clips (pos[2], cfg, cache_dir, &va);

  UdmlWork ws;
  if (udml_work_init (&ws, model, FWD_BATCH, 0, &err) != UDML_OK)
    die ("workspace", err.msg);
  size_t max_f = 0;
  for (int m = 0; m < cfg->n_modalities; m++)
    max_f = tr.F[m] > max_f ? tr.F[m] : max_f;
  float *noisy = xcalloc ((size_t) FWD_BATCH * max_f, sizeof (float));

  int M = cfg->n_modalities, vid = udml_config_find (cfg, UDML_MODALITY_VIDEO);
  /* sigma-hat of clean input per row (0: the model's estimator, 1 + s:
   * the probe on site s) and modality, for the implied weights */
  double clean[MAX_SITES + 1][UDML_MAX_MODALITIES];
  char row_name[MAX_SITES + 1][32] = { "model estimator" };
  int n_rows = MAX_SITES + 1;
  printf ("udml-probe: %s, %d training and %d validation clips, "
      "%d probe epochs, seed %llu\n", pos[0], tr.n, va.n, epochs,
      (unsigned long long) seed);

  for (int m = 0; m < M; m++) {
    ModProbe ptr, pva;
    probe_init (&ptr, model, m, tr.n);
    probe_init (&pva, model, m, va.n);
    for (int L = 1; L <= LEVELS; L++) {
      fprintf (stderr, "\rudml-probe: %s: extracting level %d/%d",
          cfg->mod[m].name, L, LEVELS);
      extract (model, &ws, &tr, m, L, seed, noisy, &ptr);
      extract (model, &ws, &va, m, L, seed + 1, noisy, &pva);
    }
    fprintf (stderr, "\n");

    printf ("\n%s: mean sigma-hat per noise level on the validation clips\n\n"
        "| site             |", cfg->mod[m].name);
    for (int L = 1; L <= LEVELS; L++)
      printf ("   %2d  |", L);
    printf ("\n|------------------|");
    for (int L = 1; L <= LEVELS; L++)
      printf ("-------|");
    printf ("\n");

    double sigma[LEVELS + 1];
    for (int L = 1; L <= LEVELS; L++) {
      double s = 0.0;
      for (int i = 0; i < va.n; i++)
        s += exp (pva.g[L][i] / 2.0);
      sigma[L] = s / va.n;
    }
    clean[0][m] = sigma[1];
    print_row ("model estimator", sigma);

    for (int s = 0; s < ptr.n_sites; s++) {
      Probe p;
      probe_alloc (&p, ptr.site[s].C, cfg->est_hidden);
      probe_standardiser (&p, &ptr.site[s], tr.n);
      probe_fit (&p, &ptr.site[s], tr.n, epochs, seed + 17 * (uint64_t) s);
      probe_eval (&p, &pva.site[s], va.n, sigma);
      print_row (ptr.site[s].name, sigma);
      probe_free (&p);
      clean[1 + s][m] = sigma[1];
      /* rows pair up across modalities by name (stage counts may differ) */
      if (m == 0)
        memcpy (row_name[1 + s], ptr.site[s].name, sizeof row_name[0]);
      else if (strcmp (row_name[1 + s], ptr.site[s].name))
        n_rows = n_rows < 1 + s ? n_rows : 1 + s;
    }
    n_rows = n_rows < 1 + ptr.n_sites ? n_rows : 1 + ptr.n_sites;
    probe_clear (&ptr);
    probe_clear (&pva);
  }

  if (vid >= 0 && M > 1) {
    /* w_m / M = softmax_m(-g_m - ln D_m) with g = 2 ln sigma-hat */
    printf ("\nimplied clean video weight w/M (every modality clean, "
        "saved dependencies), by what the estimator reads:\n\n"
        "| read by          | w/M   |\n|------------------|-------|\n");
    for (int r = 0; r < n_rows; r++) {
      double z[UDML_MAX_MODALITIES], zmax = -INFINITY, sum = 0.0;
      for (int m = 0; m < M; m++) {
        z[m] = -2.0 * log (clean[r][m]) - log (model->dep[m]);
        zmax = fmax (zmax, z[m]);
      }
      for (int m = 0; m < M; m++)
        sum += exp (z[m] - zmax);
      printf ("| %-16s | %.3f |\n", row_name[r], exp (z[vid] - zmax) / sum);
    }
  }

  free (noisy);
  udml_work_clear (&ws);
  udml_feature_set_clear (&tr);
  udml_feature_set_clear (&va);
  udml_model_free (model);
  return 0;
}
