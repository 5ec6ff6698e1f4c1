/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* loss.c — the training loss of method.md §2:
 * L = CE(o, y) + gamma sum_m CE(o_m, y) + sum_m beta_m KL_m + lambda sum_m MSE(sigma-hat_m, sigma_m)
 */
#include <math.h>
#include <string.h>

#include "model.h"
#include "ops.h"

void
udml_loss_forward (const UdmlModel * model, UdmlWork * ws, int n, const int *y,
    const uint8_t * levels, const UdmlLossWeights * lw, UdmlLossParts * parts)
{
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes;

  memset (parts, 0, sizeof *parts);
  parts->ce = udml_xent_forward (ws->probs, ws->o, y, n, K);
  for (int m = 0; m < M; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    UdmlModWork *mw = &ws->mod[m];
    int F = lay->C * lay->h * lay->w;

    parts->uni += udml_xent_forward (ws->probs_m[m], ws->o_m[m], y, n, K);
    for (int i = 0; i < n; i++) {
      ws->prior[m][i] = levels ? (float) levels[i * M + m] : 1.0f;
      ws->sig[m][i] = expf (0.5f * mw->g[i]);
    }
    if (lw->beta[m] != 0.0f)
      parts->kl +=
          lw->beta[m] * udml_gauss_kl_forward (mw->mu, mw->l, ws->prior[m], n,
          F);
    if (lw->use_est)
      parts->est += udml_mse_forward (ws->sig[m], ws->prior[m], n);
  }
  parts->total =
      parts->ce + lw->gamma * parts->uni + parts->kl + lw->lambda * parts->est;
  for (int i = 0; i < n; i++) {
    const float *o = ws->o + (size_t) i * K;
    int best = 0;
    for (int k = 1; k < K; k++)
      if (o[k] > o[best])
        best = k;
    parts->correct += best == y[i];
  }
}

void
udml_loss_backward (const UdmlModel * model, UdmlWork * ws, int n, const int *y,
    const UdmlLossWeights * lw)
{
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes;

  memset (ws->do_, 0, (size_t) n * K * sizeof (float));
  udml_xent_backward (ws->do_, ws->probs, y, n, K, 1.0f);
  for (int m = 0; m < M; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    UdmlModWork *mw = &ws->mod[m];
    int F = lay->C * lay->h * lay->w;
    size_t total = (size_t) n * F;

    memset (ws->do_m[m], 0, (size_t) n * K * sizeof (float));
    udml_xent_backward (ws->do_m[m], ws->probs_m[m], y, n, K, lw->gamma);
    memset (ws->dmu[m], 0, total * sizeof (float));
    memset (ws->dl[m], 0, total * sizeof (float));
    if (lw->beta[m] != 0.0f)
      udml_gauss_kl_backward (ws->dmu[m], ws->dl[m], mw->mu, mw->l,
          ws->prior[m], n, F, lw->beta[m]);
    memset (ws->dg[m], 0, (size_t) n * sizeof (float));
    if (lw->use_est) {
      /* sigma-hat = exp(g/2): dL/dg = dL/dsigma-hat * sigma-hat / 2 */
      memset (ws->dsig[m], 0, (size_t) n * sizeof (float));
      udml_mse_backward (ws->dsig[m], ws->sig[m], ws->prior[m], n, lw->lambda);
      for (int i = 0; i < n; i++)
        ws->dg[m][i] = ws->dsig[m][i] * ws->sig[m][i] * 0.5f;
    }
  }
}
