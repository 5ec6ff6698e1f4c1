/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* forward.c — the forward pass shared by the trainer and inference
 * (method.md §1): encoders, embedding heads, estimator, weights, fusion.
 *
 * N batch, C channels, H, W spatial, HW = H*W, K classes, M modalities,
 * F input size, Hd estimator hidden width.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"

/* Stream tags keep the eps and dropout sequences of one step apart. */
#define STREAM_EPS 0x45505300ULL
#define STREAM_DROP 0x44524f00ULL

/* Sum of a row, 8 float lanes then double (vectorises, little rounding). */
static double
row_sum (const float *x, int n, float m)
{
  float acc[8] = { 0 };
  double s = 0.0;
  int i = 0;

  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += x[i + j] - m;
  for (; i < n; i++)
    s += x[i] - m;
  for (int j = 0; j < 8; j++)
    s += acc[j];
  return s;
}

static double
row_sq_dev (const float *x, int n, float m)
{
  float acc[8] = { 0 };
  double s = 0.0;
  int i = 0;

  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += (x[i + j] - m) * (x[i + j] - m);
  for (; i < n; i++)
    s += (double) (x[i] - m) * (x[i] - m);
  for (int j = 0; j < 8; j++)
    s += acc[j];
  return s;
}

/* Training batch norm over a batch split across workers: the per-channel
 * sums (then the squared deviations from the full-batch mean) are summed
 * over all workers, so every worker normalises with the statistics of the
 * whole batch, as udml_batchnorm_forward_train over it would. */
static void
bn_train (float *out, float *mean, float *rstd, float *run_mean,
    float *run_var, const float *in, const float *gamma, const float *beta,
    int n, int C, int HW, int relu, const UdmlForward * fw)
{
  double M = (double) fw->n_global * HW, *s = fw->red;

  if (!fw->sync) {
    (relu ? udml_batchnorm_relu_forward_train :
        udml_batchnorm_forward_train) (out, mean, rstd, run_mean, run_var, in,
        gamma, beta, n, C, HW);
    return;
  }
  for (int c = 0; c < C; c++) {
    s[c] = 0.0;
    for (int i = 0; i < n; i++)
      s[c] += row_sum (in + ((size_t) i * C + c) * HW, HW, 0.0f);
  }
  udml_sync_sum (fw->sync, fw->worker, s, C);
  for (int c = 0; c < C; c++)
    mean[c] = (float) (s[c] / M);
  for (int c = 0; c < C; c++) {
    s[c] = 0.0;
    for (int i = 0; i < n; i++)
      s[c] += row_sq_dev (in + ((size_t) i * C + c) * HW, HW, mean[c]);
  }
  udml_sync_sum (fw->sync, fw->worker, s, C);
  for (int c = 0; c < C; c++) {
    double var = s[c] / M;
    float r = (float) (1.0 / sqrt (var + UDML_BN_EPS));
    float scale = gamma ? r * gamma[c] : r;
    float shift = (beta ? beta[c] : 0.0f) - mean[c] * scale;

    rstd[c] = r;
    for (int i = 0; i < n; i++)
      udml_affine (out + ((size_t) i * C + c) * HW,
          in + ((size_t) i * C + c) * HW, HW, scale, shift, relu);
    if (run_mean && fw->worker == 0) {
      double uvar = M > 1 ? s[c] / (M - 1) : var;
      run_mean[c] =
          (1.0f - UDML_BN_MOMENTUM) * run_mean[c] + UDML_BN_MOMENTUM * mean[c];
      run_var[c] = (1.0f - UDML_BN_MOMENTUM) * run_var[c]
          + UDML_BN_MOMENTUM * (float) uvar;
    }
  }
}

size_t
udml_model_sync_scratch (const UdmlModel * model)
{
  int c = 1;

  for (int m = 0; m < model->cfg.n_modalities; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    for (int i = 0; i < lay->n_stages; i++)
      c = lay->enc[i].co > c ? lay->enc[i].co : c;
    c = lay->C > c ? lay->C : c;
  }
  return 2 * (size_t) c;
}

/* Position in a stream of normals as udml_rng_fill_normal draws them:
 * element e is component e % 2 of Box-Muller pair e / 2, each pair two
 * u64 draws. Skipping a pair costs two draws and no maths, so a worker
 * can take its rows of a batch from the stream of the whole batch. */
typedef struct
{
  UdmlRng rng;
  int64_t next;                 /* pair the rng produces next */
  int64_t have;                 /* pair in a, b (-1: none) */
  double a, b;
} NormalCursor;

static float
normal_at (NormalCursor * c, int64_t e)
{
  int64_t pair = e / 2;

  if (pair != c->have) {
    double u1, u2, r;
    for (; c->next < pair; c->next++) {
      udml_rng_u64 (&c->rng);
      udml_rng_u64 (&c->rng);
    }
    /* the Box-Muller of rng.c, on (0,1] x [0,1) doubles */
    u1 = ((udml_rng_u64 (&c->rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    u2 = (udml_rng_u64 (&c->rng) >> 11) * (1.0 / 9007199254740992.0);
    r = sqrt (-2.0 * log (u1));
    c->a = r * cos (6.283185307179586 * u2);
    c->b = r * sin (6.283185307179586 * u2);
    c->have = pair;
    c->next = pair + 1;
  }
  return (float) (e % 2 ? c->b : c->a);
}

void
udml_model_draw (const UdmlModel * model, int m, const int *rows, int n,
    uint64_t seed, uint64_t stream, float *eps, float *mask)
{
  const UdmlModLayout *lay = &model->lay[m];
  int64_t chw = (int64_t) lay->C * lay->h * lay->w, Hd =
      model->cfg.est_hidden, pos = 0;
  float keep = 1.0f / (1.0f - UDML_EST_DROPOUT);
  NormalCursor c;
  UdmlRng rng;

  udml_rng_seed (&c.rng, seed, stream ^ (STREAM_EPS + (uint64_t) m));
  c.next = 0;
  c.have = -1;
  for (int i = 0, k; i < n; i = k) {
    int64_t e0 = rows[i] * chw, e1;
    for (k = i + 1; k < n && rows[k] == rows[k - 1] + 1; k++);
    e1 = rows[k - 1] * chw + chw;
    if (e0 % 2 == 0 && e0 / 2 > c.have) {
      /* a run from a pair boundary: the fill itself, from that pair on */
      for (; c.next < e0 / 2; c.next++) {
        udml_rng_u64 (&c.rng);
        udml_rng_u64 (&c.rng);
      }
      udml_rng_fill_normal (&c.rng, eps + i * chw, (size_t) (e1 - e0));
      c.next = (e1 + 1) / 2;
      c.have = -1;
      continue;
    }
    for (int64_t e = e0; e < e1; e++)
      eps[i * chw + (e - e0)] = normal_at (&c, e);
  }
  /* the draws of udml_dropout_forward: one uniform per element */
  udml_rng_seed (&rng, seed, stream ^ (STREAM_DROP + (uint64_t) m));
  for (int i = 0; i < n; i++) {
    for (; pos < rows[i] * Hd; pos++)
      udml_rng_u64 (&rng);
    for (int64_t j = 0; j < Hd; j++, pos++)
      mask[i * Hd + j] =
          udml_rng_uniform (&rng) < UDML_EST_DROPOUT ? 0.0f : keep;
  }
}

/* out = BN (conv (in)), then max (out, 0) in the same pass when relu. */
static void
conv_bn_forward (UdmlModel * model, const UdmlConvBn * cb, float *conv,
    float *out, float *mean, float *rstd, float *col, const float *in, int n,
    int relu, const UdmlForward * fw)
{
  int hw = cb->h * cb->wd;
  const float *b =
      cb->b >= 0 ? udml_model_tensor_ptr (model, cb->b, NULL) : NULL;

  udml_conv2d_forward (conv, col, in, udml_model_tensor_ptr (model, cb->w,
          NULL), b, n, cb->ci, cb->co, cb->h, cb->wd, cb->k);
  if (fw->train)
    bn_train (out, mean, rstd,
        fw->update_stats ? udml_model_tensor_ptr (model, cb->run_mean,
            NULL) : NULL, fw->update_stats ? udml_model_tensor_ptr (model,
            cb->run_var, NULL) : NULL, conv, udml_model_tensor_ptr (model,
            cb->gamma, NULL), udml_model_tensor_ptr (model, cb->beta, NULL), n,
        cb->co, hw, relu, fw);
  else
    (relu ? udml_batchnorm_relu_forward_eval :
        udml_batchnorm_forward_eval) (out, conv, udml_model_tensor_ptr (model,
            cb->gamma, NULL), udml_model_tensor_ptr (model, cb->beta, NULL),
        udml_model_tensor_ptr (model, cb->run_mean, NULL),
        udml_model_tensor_ptr (model, cb->run_var, NULL), n, cb->co, hw);
}

static void
modality_forward (UdmlModel * model, UdmlWork * ws, int m, int n,
    const UdmlForward * fw)
{
  const UdmlModLayout *lay = &model->lay[m];
  UdmlModWork *mw = &ws->mod[m];
  const float *in = mw->x;
  int C = lay->C, hw = lay->h * lay->w, Hd = model->cfg.est_hidden;
  size_t chw = (size_t) C * hw, total = (size_t) n *chw;
  UdmlRng rng;

  for (int i = 0; i < lay->n_stages; i++) {
    const UdmlConvBn *cb = &lay->enc[i];

    conv_bn_forward (model, cb, mw->conv[i], mw->act[i], mw->bn_mean[i],
        mw->bn_rstd[i], ws->col, in, n, 1, fw);
    if (i < lay->n_stages - 1) {
      udml_maxpool2_forward (mw->pool[i], mw->act[i], n, cb->co, cb->h, cb->wd);
      in = mw->pool[i];
    } else {
      in = mw->act[i];
    }
  }

  /* Gaussian embedding: mu = BN(conv1x1 X), l = clamp(BN(conv1x1 X)) */
  conv_bn_forward (model, &lay->mu, mw->mu_conv, mw->mu, mw->mu_mean,
      mw->mu_rstd, ws->col, in, n, 0, fw);
  conv_bn_forward (model, &lay->lv, mw->lv_conv, mw->lv, mw->lv_mean,
      mw->lv_rstd, ws->col, in, n, 0, fw);
  for (size_t j = 0; j < total; j++) {
    float l = mw->lv[j];
    l = l < -UDML_LOGVAR_CLAMP ? -UDML_LOGVAR_CLAMP : l >
        UDML_LOGVAR_CLAMP ? UDML_LOGVAR_CLAMP : l;
    mw->l[j] = l;
    mw->sd[j] = expf (0.5f * l);
  }
  if (fw->train) {
    if (!fw->drawn) {
      udml_rng_seed (&rng, fw->seed, fw->stream ^ (STREAM_EPS + (uint64_t) m));
      udml_rng_fill_normal (&rng, mw->eps, total);
    }
    for (size_t j = 0; j < total; j++)
      mw->z[j] = mw->mu[j] + mw->eps[j] * mw->sd[j];
  } else {
    memcpy (mw->z, mw->mu, total * sizeof (float));
  }
  udml_gap_forward (mw->f, mw->z, n, C, hw);

  /* detached estimator input and pe uncertainty */
  udml_gap_forward (mw->s, mw->sd, n, C, hw);
  for (int i = 0; i < n; i++) {
    double acc = 0.0;
    const float *sd = mw->sd + i * chw;
    for (size_t j = 0; j < chw; j++)
      acc += (double) sd[j] * sd[j];
    mw->pe[i] = (float) log (acc / (double) chw);
  }
  if (fw->freeze == UDML_FREEZE_RECORD) {
    memcpy (ws->frozen_s[m], mw->s, (size_t) n * C * sizeof (float));
    memcpy (ws->frozen_pe[m], mw->pe, (size_t) n * sizeof (float));
  } else if (fw->freeze == UDML_FREEZE_USE) {
    memcpy (mw->s, ws->frozen_s[m], (size_t) n * C * sizeof (float));
    memcpy (mw->pe, ws->frozen_pe[m], (size_t) n * sizeof (float));
  }

  /* Normalising the estimator input is a reparameterisation of fc1 (it
   * folds into it): raw, s varies by a few per cent around its mean and SGD
   * barely moves the readout; at unit scale exp(g/2) overshoots and sticks
   * near 0. The scale sits between (docs/method.md). */
  if (model->cfg.est_norm > 0.0f) {
    float *run_mean = udml_model_tensor_ptr (model, lay->est_mean, NULL);
    float *run_var = udml_model_tensor_ptr (model, lay->est_var, NULL);
    if (fw->train)
      bn_train (mw->sn, mw->sn_mean, mw->sn_rstd,
          fw->update_stats ? run_mean : NULL, run_var, mw->s, NULL, NULL, n,
          C, 1, 0, fw);
    else
      udml_batchnorm_forward_eval (mw->sn, mw->s, NULL, NULL, run_mean,
          run_var, n, C, 1);
    for (size_t j = 0; j < (size_t) n * C; j++)
      mw->sn[j] *= model->cfg.est_norm;
  }

  /* estimator: Linear -> ReLU -> Dropout -> Linear (method.md §1) */
  udml_linear_forward (mw->h1, mw->sn, udml_model_tensor_ptr (model, lay->fc1_w,
          NULL), udml_model_tensor_ptr (model, lay->fc1_b, NULL), n, C, Hd);
  udml_relu_forward (mw->h1r, mw->h1, (size_t) n * Hd);
  if (fw->train && fw->drawn) {
    for (size_t j = 0; j < (size_t) n * Hd; j++)
      mw->h1d[j] = mw->h1r[j] * mw->mask[j];
  } else if (fw->train) {
    udml_rng_seed (&rng, fw->seed, fw->stream ^ (STREAM_DROP + (uint64_t) m));
    udml_dropout_forward (mw->h1d, mw->mask, mw->h1r, (size_t) n * Hd,
        UDML_EST_DROPOUT, &rng);
  } else {
    memcpy (mw->h1d, mw->h1r, (size_t) n * Hd * sizeof (float));
  }
  udml_linear_forward (mw->g, mw->h1d, udml_model_tensor_ptr (model, lay->fc2_w,
          NULL), udml_model_tensor_ptr (model, lay->fc2_b, NULL), n, Hd, 1);
}

void
udml_model_forward (UdmlModel * model, UdmlWork * ws, int n,
    const UdmlForward * fw)
{
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes, feat = model->feat;
  const float *hw_ = udml_model_tensor_ptr (model, model->head_w, NULL);
  const float *hb = udml_model_tensor_ptr (model, model->head_b, NULL);

  for (int m = 0; m < M; m++)
    modality_forward (model, ws, m, n, fw);

  /* weights and the scaled concatenation */
  memset (ws->cat, 0, (size_t) n * feat * sizeof (float));
  for (int m = 0; m < M; m++)
    memset (ws->cat_m[m], 0, (size_t) n * feat * sizeof (float));
  for (int i = 0; i < n; i++) {
    float *w = ws->w + i * M, *unc = ws->unc + i * M;
    const uint8_t *present = ws->present + i * M;

    for (int m = 0; m < M; m++)
      unc[m] = fw->wt.unc == UDML_UNC_PE ? ws->mod[m].pe[i]
          : fw->wt.unc == UDML_UNC_ESTIMATOR ? ws->mod[m].g[i] : 0.0f;
    udml_weights_compute (w, unc, fw->dep, present, M, &fw->wt);
    for (int m = 0; m < M; m++) {
      const UdmlModLayout *lay = &model->lay[m];
      const float *f = ws->mod[m].f + (size_t) i * lay->C;
      float *dst = ws->cat + (size_t) i * feat + lay->slot;
      float *dst_m = ws->cat_m[m] + (size_t) i * feat + lay->slot;
      float c = udml_feature_scale (model, w[m]);

      if (!present[m])
        continue;
      for (int j = 0; j < lay->C; j++) {
        dst[j] = c * f[j];
        dst_m[j] = dst[j];
      }
    }
  }
  udml_linear_forward (ws->o, ws->cat, hw_, hb, n, feat, K);
  for (int m = 0; m < M; m++)
    udml_linear_forward (ws->o_m[m], ws->cat_m[m], hw_, hb, n, feat, K);
}
