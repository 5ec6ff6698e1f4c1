/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backward.c — the backward of forward.c, in reverse order; accumulates
 * into a gradient arena laid out like the parameters.
 *
 * N batch, C channels, H, W spatial, HW = H*W, K classes, M modalities,
 * F input size, Hd estimator hidden width.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"

/* udml_batchnorm_relu_backward_set over a batch split across workers:
 * each worker accumulates its own part of dgamma and dbeta (the gradient
 * arenas are summed later), while dx needs sum dy and sum dy xhat over the
 * whole batch: dx = gamma rstd / M (M dy - sum dy - xhat sum (dy xhat)).
 * dy is dout masked by relu_out > 0 (relu_out NULL: no ReLU); din written. */
static void
bn_backward (float *din, float *dgamma, float *dbeta, const float *dout,
    const float *relu_out, const float *in, const float *mean,
    const float *rstd, const float *gamma, int n, int C, int HW,
    const UdmlForward * fw)
{
  double M = (double) fw->n_global * HW, *s = fw->red;

  if (!fw->sync) {
    udml_batchnorm_relu_backward_set (din, dgamma, dbeta, dout, relu_out, in,
        mean, rstd, gamma, n, C, HW);
    return;
  }
  for (int c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (int i = 0; i < n; i++) {
      size_t off = ((size_t) i * C + c) * HW;
      udml_bn_backward_sums (&sdy, &sdyx, dout + off,
          relu_out ? relu_out + off : NULL, in + off, mean[c], HW);
    }
    s[c] = sdy;
    s[C + c] = sdyx * rstd[c];  /* sum dy xhat */
    if (dbeta)
      dbeta[c] += (float) s[c];
    if (dgamma)
      dgamma[c] += (float) s[C + c];
  }
  udml_sync_sum (fw->sync, fw->worker, s, 2 * (size_t) C);
  if (!din)
    return;
  for (int c = 0; c < C; c++) {
    float k = (float) (gamma[c] * rstd[c] / M), fM = (float) M;
    float a = (float) s[c], bq = (float) (s[C + c] * rstd[c]);
    for (int i = 0; i < n; i++) {
      size_t off = ((size_t) i * C + c) * HW;
      udml_bn_backward_apply (din + off, dout + off,
          relu_out ? relu_out + off : NULL, in + off, mean[c], k, fM, a, bq,
          HW, 1);
    }
  }
}

/* A 1x1 head: dconv (scratch) from BN, then d(input) into din, written
 * when set, else added. */
static void
conv_bn_backward (UdmlModel * model, const UdmlConvBn * cb, float *grads,
    float *din, float *dconv, const float *dout, const float *conv,
    const float *mean, const float *rstd, float *col, const float *in, int n,
    int set, const UdmlForward * fw)
{
  bn_backward (dconv, udml_model_tensor_ptr (model, cb->gamma,
          grads), udml_model_tensor_ptr (model, cb->beta, grads), dout, NULL,
      conv, mean, rstd, udml_model_tensor_ptr (model, cb->gamma, NULL), n,
      cb->co, cb->h * cb->wd, fw);
  (set ? udml_conv2d_backward_set : udml_conv2d_backward) (din,
      udml_model_tensor_ptr (model, cb->w, grads),
      cb->b >= 0 ? udml_model_tensor_ptr (model, cb->b, grads) : NULL, col,
      dconv, in, udml_model_tensor_ptr (model, cb->w, NULL), n, cb->ci, cb->co,
      cb->h, cb->wd, cb->k);
}

static void
modality_backward (UdmlModel * model, UdmlWork * ws, int m, int n,
    const UdmlForward * fw, float *grads, const float *df)
{
  const UdmlModLayout *lay = &model->lay[m];
  UdmlModWork *mw = &ws->mod[m];
  int C = lay->C, hw = lay->h * lay->w, Hd = model->cfg.est_hidden, S =
      lay->n_stages;
  float *a = ws->ga, *b = ws->gb, *dmu = ws->dmu[m], *dl = ws->dl[m];
  const float *X = mw->act[S - 1];

  /* estimator, reverse order; its input is detached (no din) */
  memset (ws->dh, 0, (size_t) n * Hd * sizeof (float));
  udml_linear_backward (ws->dh, udml_model_tensor_ptr (model, lay->fc2_w,
          grads), udml_model_tensor_ptr (model, lay->fc2_b, grads), ws->dg[m],
      mw->h1d, udml_model_tensor_ptr (model, lay->fc2_w, NULL), n, Hd, 1);
  memset (ws->dh2, 0, (size_t) n * Hd * sizeof (float));
  if (fw->train)
    udml_dropout_backward (ws->dh2, ws->dh, mw->mask, (size_t) n * Hd);
  else
    memcpy (ws->dh2, ws->dh, (size_t) n * Hd * sizeof (float));
  memset (ws->dh, 0, (size_t) n * Hd * sizeof (float));
  udml_relu_backward (ws->dh, ws->dh2, mw->h1r, (size_t) n * Hd);
  udml_linear_backward (NULL, udml_model_tensor_ptr (model, lay->fc1_w, grads),
      udml_model_tensor_ptr (model, lay->fc1_b, grads), ws->dh, mw->sn,
      udml_model_tensor_ptr (model, lay->fc1_w, NULL), n, C, Hd);

  /* f = GAP(z), z = mu + eps * exp(l/2); dz = df / HW at every position */
  for (size_t nc = 0; nc < (size_t) n * C; nc++) {
    float g = df[nc] / hw;
    for (size_t j = nc * hw; j < (nc + 1) * hw; j++) {
      dmu[j] += g;
      if (fw->train)
        dl[j] += g * mw->eps[j] * mw->sd[j] * 0.5f;
      /* the clamp passes no gradient where active */
      if (mw->lv[j] < -UDML_LOGVAR_CLAMP || mw->lv[j] > UDML_LOGVAR_CLAMP)
        dl[j] = 0.0f;
    }
  }

  /* both heads into dX (a): the first writes it, the second adds */
  conv_bn_backward (model, &lay->mu, grads, a, b, dmu, mw->mu_conv, mw->mu_mean,
      mw->mu_rstd, ws->col, X, n, 1, fw);
  conv_bn_backward (model, &lay->lv, grads, a, b, dl, mw->lv_conv, mw->lv_mean,
      mw->lv_rstd, ws->col, X, n, 0, fw);

  /* encoder, last stage first; a holds the gradient of the stage output.
   * Every kernel here writes its din, so nothing is zeroed first. */
  for (int i = S - 1; i >= 0; i--) {
    const UdmlConvBn *cb = &lay->enc[i];
    const float *in = i > 0 ? mw->pool[i - 1] : mw->x;
    float *t;

    if (i < S - 1) {
      udml_maxpool2_backward_set (b, a, mw->act[i], n, cb->co, cb->h, cb->wd);
      t = a;
      a = b;
      b = t;
    }
    /* a: d(ReLU out); d(conv out) into b through the ReLU mask and BN,
     * then d(input) into a */
    bn_backward (b, udml_model_tensor_ptr (model, cb->gamma, grads),
        udml_model_tensor_ptr (model, cb->beta, grads), a, mw->act[i],
        mw->conv[i], mw->bn_mean[i], mw->bn_rstd[i],
        udml_model_tensor_ptr (model, cb->gamma, NULL), n, cb->co,
        cb->h * cb->wd, fw);
    udml_conv2d_backward_set (i > 0 ? a : NULL, udml_model_tensor_ptr (model,
            cb->w, grads), NULL, ws->col, b, in, udml_model_tensor_ptr (model,
            cb->w, NULL), n, cb->ci, cb->co, cb->h, cb->wd, 3);
  }
}

void
udml_model_backward (UdmlModel * model, UdmlWork * ws, int n,
    const UdmlForward * fw, float *grads)
{
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes, feat = model->feat;
  float *hw_ = udml_model_tensor_ptr (model, model->head_w, NULL);
  float *dhw = udml_model_tensor_ptr (model, model->head_w, grads);
  float *dhb = udml_model_tensor_ptr (model, model->head_b, grads);

  /* head: o = W cat + b, o_m = W cat_m + b */
  memset (ws->dcat, 0, (size_t) n * feat * sizeof (float));
  udml_linear_backward (ws->dcat, dhw, dhb, ws->do_, ws->cat, hw_, n, feat, K);
  for (int m = 0; m < M; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    memset (ws->dtmp, 0, (size_t) n * feat * sizeof (float));
    udml_linear_backward (ws->dtmp, dhw, dhb, ws->do_m[m], ws->cat_m[m], hw_, n,
        feat, K);
    for (int i = 0; i < n; i++)
      for (int j = 0; j < lay->C; j++)
        ws->dcat[(size_t) i * feat + lay->slot + j] +=
            ws->dtmp[(size_t) i * feat + lay->slot + j];
  }

  /* scaled features f~_m = c(w_m) f_m: dL/df_m = c dL/df~_m, G_m = f . dL/df~_m
   * (dtmp reused for dL/df, packed N x C per modality in slot order) */
  for (int i = 0; i < n; i++) {
    const float *w = ws->w + i * M;
    const uint8_t *present = ws->present + i * M;
    float *G = ws->G + i * M;

    for (int m = 0; m < M; m++) {
      const UdmlModLayout *lay = &model->lay[m];
      const float *f = ws->mod[m].f + (size_t) i * lay->C;
      const float *dft = ws->dcat + (size_t) i * feat + lay->slot;
      float *df = ws->dtmp + (size_t) n * lay->slot + (size_t) i * lay->C;
      float c = udml_feature_scale (model, w[m]);
      double acc = 0.0;

      for (int j = 0; j < lay->C; j++) {
        acc += (double) f[j] * dft[j];
        df[j] = present[m] ? c * dft[j] : 0.0f;
      }
      G[m] = present[m] ? (float) acc : 0.0f;
    }
    /* w = M softmax(u), u_m = -g_m - ln D_m: dL/dg_k = -M p_k (G_k - sum_m p_m G_m)
     * (reference-code §3, backward through the weights) */
    if (fw->unc_grad && !fw->wt.is_static && fw->wt.unc == UDML_UNC_ESTIMATOR) {
      double mean = 0.0;
      for (int m = 0; m < M; m++)
        if (present[m])
          mean += (double) w[m] / M * G[m];
      for (int m = 0; m < M; m++)
        if (present[m])
          ws->dg[m][i] -= (float) (w[m] * (G[m] - mean));
    }
  }

  for (int m = M - 1; m >= 0; m--)
    modality_backward (model, ws, m, n, fw, grads,
        ws->dtmp + (size_t) n * model->lay[m].slot);
}
