/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* model.c — the UDML model: tensor table, parameter arenas, initialisation,
 * the weighting of method.md §1 and the activation workspace. The pass
 * itself is in forward.c and backward.c.
 *
 * Dimensions: the glossary in udml.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "model.h"
#include "ops.h"

/* ------------------------------------------------------------ tensor table */

static int
add_tensor (UdmlModel * model, int trainable, int ndim, const int *dims,
    const char *fmt, const char *prefix, int idx, const char *suffix)
{
  UdmlTensorInfo *t = &model->tensors[model->n_tensors];
  size_t size = 1;

  if (idx >= 0)
    snprintf (t->name, sizeof t->name, fmt, prefix, idx, suffix);
  else if (prefix)
    snprintf (t->name, sizeof t->name, fmt, prefix, suffix);
  else
    snprintf (t->name, sizeof t->name, fmt, suffix);
  t->ndim = ndim;
  for (int d = 0; d < 4; d++) {
    t->dims[d] = d < ndim ? dims[d] : 0;
    if (d < ndim)
      size *= (size_t) dims[d];
  }
  t->size = size;
  t->trainable = trainable;
  if (trainable) {
    t->offset = model->n_params;
    model->n_params += size;
  } else {
    t->offset = model->n_stats;
    model->n_stats += size;
  }
  return model->n_tensors++;
}

/* Trainable part of a conv -> BN block. */
static void
add_conv_bn_params (UdmlModel * model, UdmlConvBn * cb, const char *prefix,
    int stage, const char *part, int bias)
{
  int wd[4] = { cb->co, cb->ci, cb->k, cb->k };
  int cd[1] = { cb->co };
  char name[UDML_TENSOR_NAME_LEN];

  if (stage >= 0)
    snprintf (name, sizeof name, "%s.enc%d", prefix, stage);
  else
    snprintf (name, sizeof name, "%s.%s", prefix, part);
  cb->w = add_tensor (model, 1, 4, wd, "%s.%s", name, -1, "conv.w");
  cb->b = bias ? add_tensor (model, 1, 1, cd, "%s.%s", name, -1, "conv.b") : -1;
  cb->gamma = add_tensor (model, 1, 1, cd, "%s.%s", name, -1, "bn.gamma");
  cb->beta = add_tensor (model, 1, 1, cd, "%s.%s", name, -1, "bn.beta");
}

static void
add_conv_bn_stats (UdmlModel * model, UdmlConvBn * cb, const char *prefix,
    int stage, const char *part)
{
  int cd[1] = { cb->co };
  char name[UDML_TENSOR_NAME_LEN];

  if (stage >= 0)
    snprintf (name, sizeof name, "%s.enc%d", prefix, stage);
  else
    snprintf (name, sizeof name, "%s.%s", prefix, part);
  cb->run_mean = add_tensor (model, 0, 1, cd, "%s.%s", name, -1, "bn.run_mean");
  cb->run_var = add_tensor (model, 0, 1, cd, "%s.%s", name, -1, "bn.run_var");
}

float *
udml_model_tensor_ptr (const UdmlModel * model, int i, float *grad_base)
{
  const UdmlTensorInfo *t = &model->tensors[i];

  if (t->trainable)
    return (grad_base ? grad_base : model->params) + t->offset;
  return grad_base ? NULL : model->stats + t->offset;
}

/* ------------------------------------------------------------ init */

static void
fill_normal (float *x, size_t n, float std, UdmlRng * rng)
{
  udml_rng_fill_normal (rng, x, n);
  for (size_t i = 0; i < n; i++)
    x[i] *= std;
}

static void
fill_const (float *x, size_t n, float v)
{
  for (size_t i = 0; i < n; i++)
    x[i] = v;
}

/* reference-code §1.7: Kaiming-normal (fan_out) convs, default-uniform conv
 * biases, BN gamma 1 / beta 0, running var 1. */
static void
init_conv_bn (UdmlModel * model, const UdmlConvBn * cb, uint64_t seed)
{
  UdmlRng rng;
  const UdmlTensorInfo *tw = &model->tensors[cb->w];
  float *w = udml_model_tensor_ptr (model, cb->w, NULL);

  udml_rng_seed (&rng, seed, (uint64_t) cb->w);
  fill_normal (w, tw->size, sqrtf (2.0f / (float) (cb->co * cb->k * cb->k)),
      &rng);
  if (cb->b >= 0) {
    float *b = udml_model_tensor_ptr (model, cb->b, NULL);
    float bound = 1.0f / sqrtf ((float) (cb->ci * cb->k * cb->k));
    for (int i = 0; i < cb->co; i++)
      b[i] = (2.0f * udml_rng_uniform (&rng) - 1.0f) * bound;
  }
  fill_const (udml_model_tensor_ptr (model, cb->gamma, NULL), cb->co, 1.0f);
  fill_const (udml_model_tensor_ptr (model, cb->beta, NULL), cb->co, 0.0f);
  fill_const (udml_model_tensor_ptr (model, cb->run_mean, NULL), cb->co, 0.0f);
  fill_const (udml_model_tensor_ptr (model, cb->run_var, NULL), cb->co, 1.0f);
}

/* Xavier-normal weights, zero bias. */
static void
init_linear (UdmlModel * model, int wi, int bi, uint64_t seed)
{
  UdmlRng rng;
  const UdmlTensorInfo *t = &model->tensors[wi];

  udml_rng_seed (&rng, seed, (uint64_t) wi);
  fill_normal (udml_model_tensor_ptr (model, wi, NULL), t->size,
      sqrtf (2.0f / (float) (t->dims[0] + t->dims[1])), &rng);
  fill_const (udml_model_tensor_ptr (model, bi, NULL), model->tensors[bi].size,
      0.0f);
}

UdmlModel *
udml_model_new (const UdmlConfig * cfg, uint64_t seed, UdmlError * err)
{
  UdmlModel *model = NULL;
  int cap;

  if (udml_config_validate (cfg, err) != UDML_OK)
    return NULL;
  model = calloc (1, sizeof *model);
  if (!model)
    goto nomem;
  model->cfg = *cfg;
  cap = 2 + cfg->n_modalities * (UDML_MAX_STAGES * 5 + 2 * 6 + 4 + 2);
  model->tensors = calloc ((size_t) cap, sizeof *model->tensors);
  if (!model->tensors)
    goto nomem;

  /* Geometry, then trainable tensors of every modality, then the head,
   * then all running statistics: parameters first (internal.h). */
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *s = &cfg->mod[m];
    UdmlModLayout *lay = &model->lay[m];
    int h = s->in_h, w = s->in_w, ci = s->in_c;

    lay->n_stages = s->n_stages;
    lay->F = udml_config_input_size (cfg, m);
    lay->max_map = 0;
    for (int i = 0; i < s->n_stages; i++) {
      UdmlConvBn *cb = &lay->enc[i];
      size_t map = (size_t) s->channels[i] * h * w;
      cb->ci = ci;
      cb->co = s->channels[i];
      cb->k = 3;
      cb->h = h;
      cb->wd = w;
      if (map > lay->max_map)
        lay->max_map = map;
      ci = cb->co;
      if (i < s->n_stages - 1) {
        h /= 2;
        w /= 2;
      }
    }
    lay->C = ci;
    lay->h = h;
    lay->w = w;
    lay->slot = model->feat;
    model->feat += ci;
    lay->mu = (UdmlConvBn) {
    .ci = ci,.co = ci,.k = 1,.h = h,.wd = w};
    lay->lv = lay->mu;
    for (int i = 0; i < s->n_stages; i++)
      add_conv_bn_params (model, &lay->enc[i], s->name, i, NULL, 0);
    add_conv_bn_params (model, &lay->mu, s->name, -1, "mu", 1);
    add_conv_bn_params (model, &lay->lv, s->name, -1, "logvar", 1);
    {
      int d1[2] = { cfg->est_hidden, ci }, b1[1] = { cfg->est_hidden };
      int d2[2] = { 1, cfg->est_hidden }, b2[1] = { 1 };
      lay->fc1_w =
          add_tensor (model, 1, 2, d1, "%s.%s", s->name, -1, "est.fc1.w");
      lay->fc1_b =
          add_tensor (model, 1, 1, b1, "%s.%s", s->name, -1, "est.fc1.b");
      lay->fc2_w =
          add_tensor (model, 1, 2, d2, "%s.%s", s->name, -1, "est.fc2.w");
      lay->fc2_b =
          add_tensor (model, 1, 1, b2, "%s.%s", s->name, -1, "est.fc2.b");
    }
  }
  {
    int hw[2] = { cfg->n_classes, model->feat }, hb[1] = { cfg->n_classes };
    model->head_w = add_tensor (model, 1, 2, hw, "%s", NULL, -1, "head.w");
    model->head_b = add_tensor (model, 1, 1, hb, "%s", NULL, -1, "head.b");
  }
  for (int m = 0; m < cfg->n_modalities; m++) {
    UdmlModLayout *lay = &model->lay[m];
    for (int i = 0; i < lay->n_stages; i++)
      add_conv_bn_stats (model, &lay->enc[i], cfg->mod[m].name, i, NULL);
    add_conv_bn_stats (model, &lay->mu, cfg->mod[m].name, -1, "mu");
    add_conv_bn_stats (model, &lay->lv, cfg->mod[m].name, -1, "logvar");
    lay->est_mean = lay->est_var = -1;
    if (cfg->est_norm > 0.0f) {
      int cd[1] = { lay->C };
      lay->est_mean = add_tensor (model, 0, 1, cd, "%s.%s", cfg->mod[m].name,
          -1, "est.norm.run_mean");
      lay->est_var = add_tensor (model, 0, 1, cd, "%s.%s", cfg->mod[m].name,
          -1, "est.norm.run_var");
    }
  }

  model->params = calloc (model->n_params, sizeof (float));
  model->stats = calloc (model->n_stats ? model->n_stats : 1, sizeof (float));
  if (!model->params || !model->stats)
    goto nomem;

  for (int m = 0; m < cfg->n_modalities; m++) {
    UdmlModLayout *lay = &model->lay[m];
    for (int i = 0; i < lay->n_stages; i++)
      init_conv_bn (model, &lay->enc[i], seed);
    init_conv_bn (model, &lay->mu, seed);
    init_conv_bn (model, &lay->lv, seed);
    init_linear (model, lay->fc1_w, lay->fc1_b, seed);
    init_linear (model, lay->fc2_w, lay->fc2_b, seed);
    /* sigma-hat = exp(g/2) starts at 1 for every input: a random readout
     * of inputs never seen in stage 1 would start it at e^20 or e^-20,
     * where the estimator loss explodes or stops pulling */
    fill_const (udml_model_tensor_ptr (model, lay->fc2_w, NULL),
        cfg->est_hidden, 0.0f);
    if (cfg->est_norm > 0.0f) {
      fill_const (udml_model_tensor_ptr (model, lay->est_mean, NULL), lay->C,
          0.0f);
      fill_const (udml_model_tensor_ptr (model, lay->est_var, NULL), lay->C,
          1.0f);
    }
    model->dep[m] = 1.0f;
  }
  init_linear (model, model->head_w, model->head_b, seed);
  return model;

nomem:
  udml_model_free (model);
  udml_error_set (err, UDML_ERR_NOMEM, "model: out of memory");
  return NULL;
}

void
udml_model_free (UdmlModel * model)
{
  if (!model)
    return;
  free (model->tensors);
  free (model->params);
  free (model->stats);
  free (model->provenance);
  free (model);
}

/* ------------------------------------------------------------ accessors */

const UdmlConfig *
udml_model_config (const UdmlModel * model)
{
  return &model->cfg;
}

float
udml_model_dependency (const UdmlModel * model, int m)
{
  if (!model || m < 0 || m >= model->cfg.n_modalities)
    return 0.0f;
  return model->dep[m];
}

float
udml_model_alpha (const UdmlModel * model, int m)
{
  double sum = 0.0;

  if (!model || m < 0 || m >= model->cfg.n_modalities)
    return 0.0f;
  for (int k = 0; k < model->cfg.n_modalities; k++)
    sum += model->dep[k];
  if (!(sum > 0.0))
    return 1.0f;
  return (float) (model->cfg.n_modalities * model->dep[m] / sum);
}

void
udml_model_set_dependency (UdmlModel * model, int m, float d)
{
  if (!model || m < 0 || m >= model->cfg.n_modalities)
    return;
  /* D is a mean L1 norm: keep it positive so ln D exists */
  model->dep[m] = d > 1e-12f && isfinite (d) ? d : 1e-12f;
}

const char *
udml_model_provenance (const UdmlModel * model)
{
  return model && model->provenance ? model->provenance : "";
}

void
udml_model_set_provenance (UdmlModel * model, const char *text)
{
  char *copy = NULL;

  if (!model)
    return;
  if (text) {
    size_t len = strlen (text);
    copy = malloc (len + 1);
    if (!copy)
      return;
    memcpy (copy, text, len + 1);
  }
  free (model->provenance);
  model->provenance = copy;
}

void
udml_model_set_normalisation (UdmlModel * model, int m, float mean, float std)
{
  if (!model || m < 0 || m >= model->cfg.n_modalities)
    return;
  model->cfg.mod[m].norm_mean = mean;
  model->cfg.mod[m].norm_std = std > 0.0f ? std : 1.0f;
}

size_t
udml_model_num_params (const UdmlModel * model)
{
  return model ? model->n_params : 0;
}

int
udml_model_num_tensors (const UdmlModel * model)
{
  return model ? model->n_tensors : 0;
}

const char *
udml_model_tensor_name (const UdmlModel * model, int i)
{
  if (!model || i < 0 || i >= model->n_tensors)
    return NULL;
  return model->tensors[i].name;
}

int
udml_model_tensor_dims (const UdmlModel * model, int i, int dims[4])
{
  if (!model || i < 0 || i >= model->n_tensors)
    return 0;
  memcpy (dims, model->tensors[i].dims, 4 * sizeof (int));
  return model->tensors[i].ndim;
}

float *
udml_model_tensor_data (UdmlModel * model, int i)
{
  if (!model || i < 0 || i >= model->n_tensors)
    return NULL;
  return udml_model_tensor_ptr (model, i, NULL);
}

size_t
udml_model_tensor_size (const UdmlModel * model, int i)
{
  if (!model || i < 0 || i >= model->n_tensors)
    return 0;
  return model->tensors[i].size;
}

const float *
udml_model_tensor_values (const UdmlModel * model, int i, size_t *n)
{
  if (n)
    *n = 0;
  if (!model || i < 0 || i >= model->n_tensors)
    return NULL;
  if (n)
    *n = model->tensors[i].size;
  return udml_model_tensor_ptr (model, i, NULL);
}

int
udml_model_tensor_trainable (const UdmlModel * model, int i)
{
  if (!model || i < 0 || i >= model->n_tensors)
    return 0;
  return model->tensors[i].trainable;
}

float *
udml_model_params (UdmlModel * model, size_t *n)
{
  if (n)
    *n = model ? model->n_params : 0;
  return model ? model->params : NULL;
}

void
udml_model_standardise (const UdmlModel * model, float *dst, const float *src,
    int m, size_t count)
{
  float mean = model->cfg.mod[m].norm_mean;
  float inv = 1.0f / model->cfg.mod[m].norm_std;

  for (size_t i = 0; i < count; i++)
    dst[i] = (src[i] - mean) * inv;
}

/* ------------------------------------------------------------ weights */

UdmlWeighting
udml_weighting_train (UdmlPolicy policy, int unc_on)
{
  UdmlWeighting wt = { 0, UDML_UNC_NONE, 0 };

  switch (policy) {
    case UDML_POLICY_STATIC:
      wt.is_static = 1;
      break;
    case UDML_POLICY_PE:
      wt.unc = unc_on ? UDML_UNC_PE : UDML_UNC_NONE;
      break;
    case UDML_POLICY_UDML_NUE:
      wt.unc = unc_on ? UDML_UNC_PE : UDML_UNC_NONE;
      wt.use_dep = 1;
      break;
    case UDML_POLICY_UDML_MC:
      wt.unc = unc_on ? UDML_UNC_ESTIMATOR : UDML_UNC_NONE;
      break;
    case UDML_POLICY_UDML:
    case UDML_POLICY_UDML_POS:
    default:
      wt.unc = unc_on ? UDML_UNC_ESTIMATOR : UDML_UNC_NONE;
      wt.use_dep = 1;
      break;
  }
  return wt;
}

UdmlWeighting
udml_weighting_infer (UdmlPolicy policy, UdmlInferMode mode)
{
  UdmlWeighting wt = udml_weighting_train (policy, 1);

  switch (mode) {
    case UDML_INFER_NO_DEPENDENCY:
      wt.use_dep = 0;
      break;
    case UDML_INFER_NO_UNCERTAINTY:
      wt.unc = UDML_UNC_NONE;
      break;
    case UDML_INFER_STATIC:
      wt.is_static = 1;
      break;
    case UDML_INFER_AS_TRAINED:
    default:
      break;
  }
  return wt;
}

int
udml_weights_compute (float *w, const float *unc, const float *dep,
    const uint8_t * present, int M, const UdmlWeighting * wt)
{
  double u[UDML_MAX_MODALITIES], mx = -INFINITY, sum = 0.0;
  int np = 0;

  for (int m = 0; m < M; m++) {
    w[m] = 0.0f;
    if (!present[m])
      continue;
    np++;
    u[m] = 0.0;
    if (wt->unc != UDML_UNC_NONE)
      u[m] -= unc[m];
    if (wt->use_dep)
      u[m] -= log (dep[m] > 1e-12f ? dep[m] : 1e-12f);
    if (u[m] > mx)
      mx = u[m];
  }
  if (wt->is_static) {
    for (int m = 0; m < M; m++)
      w[m] = present[m] ? 1.0f : 0.0f;
    return np;
  }
  for (int m = 0; m < M; m++)
    if (present[m])
      sum += exp (u[m] - mx);
  for (int m = 0; m < M; m++)
    if (present[m])
      w[m] = (float) (M * exp (u[m] - mx) / sum);
  return np;
}

/* ------------------------------------------------------------ workspace */

#define ALIGN_FLOATS 16

static float *
carve (char **cursor, size_t *total, size_t n_floats)
{
  size_t bytes =
      ((n_floats + ALIGN_FLOATS -
          1) / ALIGN_FLOATS) * ALIGN_FLOATS * sizeof (float);
  float *p = *cursor ? (float *) *cursor : NULL;

  if (bytes == 0)
    bytes = ALIGN_FLOATS * sizeof (float);
  if (*cursor)
    *cursor += bytes;
  *total += bytes;
  return p;
}

static void
work_plan (UdmlWork * ws, const UdmlModel * model, int N, int grad, char *base,
    size_t *total)
{
  char *cur = base;
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes, Hd = cfg->est_hidden;
  size_t col = 1, big = 1;

  *total = 0;
  for (int m = 0; m < M; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    UdmlModWork *mw = &ws->mod[m];
    size_t chw = (size_t) lay->C * lay->h * lay->w;

    mw->x = carve (&cur, total, (size_t) N * lay->F);
    for (int i = 0; i < lay->n_stages; i++) {
      const UdmlConvBn *cb = &lay->enc[i];
      size_t map = (size_t) cb->co * cb->h * cb->wd;
      size_t c = udml_conv2d_workspace (cb->ci, cb->h, cb->wd, 3);
      if (c > col)
        col = c;
      mw->conv[i] = carve (&cur, total, N * map);
      mw->act[i] = carve (&cur, total, N * map);
      mw->pool[i] = i < lay->n_stages - 1
          ? carve (&cur, total,
          (size_t) N * cb->co * (cb->h / 2) * (cb->wd / 2)) : NULL;
      mw->bn_mean[i] = carve (&cur, total, cb->co);
      mw->bn_rstd[i] = carve (&cur, total, cb->co);
    }
    {
      size_t c = udml_conv2d_workspace (lay->C, lay->h, lay->w, 1);
      if (c > col)
        col = c;
    }
    if (lay->max_map > big)
      big = lay->max_map;
    mw->mu_conv = carve (&cur, total, N * chw);
    mw->mu = carve (&cur, total, N * chw);
    mw->mu_mean = carve (&cur, total, lay->C);
    mw->mu_rstd = carve (&cur, total, lay->C);
    mw->lv_conv = carve (&cur, total, N * chw);
    mw->lv = carve (&cur, total, N * chw);
    mw->lv_mean = carve (&cur, total, lay->C);
    mw->lv_rstd = carve (&cur, total, lay->C);
    mw->l = carve (&cur, total, N * chw);
    mw->sd = carve (&cur, total, N * chw);
    mw->eps = carve (&cur, total, N * chw);
    mw->z = carve (&cur, total, N * chw);
    mw->f = carve (&cur, total, (size_t) N * lay->C);
    mw->s = carve (&cur, total, (size_t) N * lay->C);
    mw->sn =
        model->cfg.est_norm > 0.0f ? carve (&cur, total, (size_t) N * lay->C)
        : mw->s;
    mw->sn_mean = carve (&cur, total, lay->C);
    mw->sn_rstd = carve (&cur, total, lay->C);
    mw->h1 = carve (&cur, total, (size_t) N * Hd);
    mw->h1r = carve (&cur, total, (size_t) N * Hd);
    mw->h1d = carve (&cur, total, (size_t) N * Hd);
    mw->mask = carve (&cur, total, (size_t) N * Hd);
    mw->g = carve (&cur, total, N);
    mw->pe = carve (&cur, total, N);
    ws->frozen_s[m] = carve (&cur, total, (size_t) N * lay->C);
    ws->frozen_pe[m] = carve (&cur, total, N);
    ws->cat_m[m] = carve (&cur, total, (size_t) N * model->feat);
    ws->o_m[m] = carve (&cur, total, (size_t) N * K);
    ws->probs_m[m] = carve (&cur, total, (size_t) N * K);
    if (grad) {
      ws->do_m[m] = carve (&cur, total, (size_t) N * K);
      ws->dmu[m] = carve (&cur, total, N * chw);
      ws->dl[m] = carve (&cur, total, N * chw);
      ws->dg[m] = carve (&cur, total, N);
      ws->prior[m] = carve (&cur, total, N);
      ws->sig[m] = carve (&cur, total, N);
      ws->dsig[m] = carve (&cur, total, N);
    }
  }
  ws->cat = carve (&cur, total, (size_t) N * model->feat);
  ws->o = carve (&cur, total, (size_t) N * K);
  ws->probs = carve (&cur, total, (size_t) N * K);
  ws->w = carve (&cur, total, (size_t) N * M);
  ws->unc = carve (&cur, total, (size_t) N * M);
  ws->present = (uint8_t *) carve (&cur, total, ((size_t) N * M + 3) / 4);
  ws->col = carve (&cur, total, col);
  if (grad) {
    ws->do_ = carve (&cur, total, (size_t) N * K);
    ws->dcat = carve (&cur, total, (size_t) N * model->feat);
    ws->dtmp = carve (&cur, total, (size_t) N * model->feat);
    ws->G = carve (&cur, total, (size_t) N * M);
    ws->dh = carve (&cur, total, (size_t) N * Hd);
    ws->dh2 = carve (&cur, total, (size_t) N * Hd);
    ws->ga = carve (&cur, total, N * big);
    ws->gb = carve (&cur, total, N * big);
  }
}

UdmlStatus
udml_work_init (UdmlWork * ws, const UdmlModel * model, int max_n, int grad,
    UdmlError * err)
{
  size_t total = 0;
  char *block;

  memset (ws, 0, sizeof *ws);
  if (max_n < 1)
    return udml_error_set (err, UDML_ERR_ARG, "workspace: batch size %d < 1",
        max_n);
  /* Every buffer is at most max_n times its batch-1 size, so this bound
   * keeps the products in work_plan from wrapping. */
  work_plan (ws, model, 1, grad, NULL, &total);
  if ((size_t) max_n > (SIZE_MAX - 64) / total)
    return udml_error_set (err, UDML_ERR_ARG,
        "workspace: batch size %d too large (%zu bytes per sample)", max_n,
        total);
  work_plan (ws, model, max_n, grad, NULL, &total);
  block = aligned_alloc (64, (total + 63) / 64 * 64);
  if (!block)
    return udml_error_set (err, UDML_ERR_NOMEM,
        "workspace: cannot allocate %zu bytes for batch %d", total, max_n);
  memset (block, 0, total);
  work_plan (ws, model, max_n, grad, block, &total);
  ws->block = block;
  ws->max_n = max_n;
  ws->grad = grad;
  return UDML_OK;
}

size_t
udml_work_bytes (const UdmlModel * model, int n, int grad)
{
  UdmlWork ws;
  size_t total = 0;

  work_plan (&ws, model, n, grad, NULL, &total);
  return total;
}

void
udml_work_clear (UdmlWork * ws)
{
  if (!ws)
    return;
  free (ws->block);
  memset (ws, 0, sizeof *ws);
}
