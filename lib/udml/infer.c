/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* infer.c — batched inference (method.md §1): z = mu, BN running
 * statistics, no dropout; absent modalities leave the softmax and their
 * head slot is zeroed. The workspace is allocated once in udml_infer_new.
 * Dimensions: the glossary in udml.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct UdmlInfer
{
  UdmlModel *model;             /* only read: eval mode touches no state */
  UdmlWork ws;
};

UdmlInfer *
udml_infer_new (const UdmlModel * model, int max_batch, UdmlError * err)
{
  UdmlInfer *inf;

  if (!model) {
    udml_error_set (err, UDML_ERR_ARG, "infer: no model");
    return NULL;
  }
  if (max_batch < 1) {
    udml_error_set (err, UDML_ERR_ARG, "infer: max_batch %d < 1", max_batch);
    return NULL;
  }
  inf = calloc (1, sizeof *inf);
  if (!inf) {
    udml_error_set (err, UDML_ERR_NOMEM, "infer: out of memory");
    return NULL;
  }
  inf->model = (UdmlModel *) model;
  if (udml_work_init (&inf->ws, model, max_batch, 0, err) != UDML_OK) {
    free (inf);
    return NULL;
  }
  return inf;
}

void
udml_infer_free (UdmlInfer * inf)
{
  if (!inf)
    return;
  udml_work_clear (&inf->ws);
  free (inf);
}

static int
argmax (const float *x, int K)
{
  int best = 0;

  for (int k = 1; k < K; k++)
    if (x[k] > x[best])
      best = k;
  return best;
}

UdmlStatus
udml_infer_run (UdmlInfer * inf, int n, const float *const inputs[],
    const uint8_t * present, UdmlInferMode mode, UdmlResult * out,
    UdmlError * err)
{
  UdmlModel *model;
  UdmlWork *ws;
  const UdmlConfig *cfg;
  int M, K;
  UdmlForward fw;
  UdmlUncSource report;

  if (!inf || !inputs || !out)
    return udml_error_set (err, UDML_ERR_ARG, "infer: NULL %s",
        !inf ? "workspace" : !inputs ? "inputs" : "results");
  model = inf->model;
  ws = &inf->ws;
  cfg = &model->cfg;
  M = cfg->n_modalities;
  K = cfg->n_classes;
  if (n < 1 || n > ws->max_n)
    return udml_error_set (err, UDML_ERR_ARG,
        "infer: batch of %d, planned for 1..%d", n, ws->max_n);
  if ((int) mode < UDML_INFER_AS_TRAINED || mode > UDML_INFER_STATIC)
    return udml_error_set (err, UDML_ERR_ARG, "infer: mode %d unknown",
        (int) mode);

  for (int m = 0; m < M; m++) {
    size_t F = model->lay[m].F;
    if (inputs[m])
      udml_model_standardise (model, ws->mod[m].x, inputs[m], m,
          (size_t) n * F);
    else
      memset (ws->mod[m].x, 0, (size_t) n * F * sizeof (float));
    for (int i = 0; i < n; i++)
      ws->present[i * M + m] = inputs[m] && (!present || present[i * M + m]);
  }

  memset (&fw, 0, sizeof fw);
  fw.wt = udml_weighting_infer (cfg->policy, mode);
  fw.dep = model->dep;
  udml_model_forward (model, ws, n, &fw);

  /* the reported uncertainty share uses the policy's own source */
  report = cfg->policy == UDML_POLICY_PE || cfg->policy == UDML_POLICY_UDML_NUE
      ? UDML_UNC_PE : UDML_UNC_ESTIMATOR;

  for (int i = 0; i < n; i++) {
    UdmlResult *r = &out[i];
    const float *o = ws->o + (size_t) i * K;
    const uint8_t *pres = ws->present + i * M;
    const float *w = ws->w + i * M;
    double mx = o[0], sum = 0.0, wsum = 0.0, dsum = 0.0, umx = -INFINITY, usum =
        0.0;
    int np = 0;

    memset (r, 0, sizeof *r);
    for (int m = 0; m < M; m++)
      if (pres[m]) {
        np++;
        wsum += w[m];
        dsum += model->dep[m];
        double u =
            -(report == UDML_UNC_PE ? ws->mod[m].pe[i] : ws->mod[m].g[i]);
        if (u > umx)
          umx = u;
      }
    if (np == 0) {
      /* nothing to fuse: no decision */
      r->label = -1;
      for (int m = 0; m < M; m++)
        r->mod[m].label = -1;
      continue;
    }
    for (int k = 0; k < K; k++)
      if (o[k] > mx)
        mx = o[k];
    for (int k = 0; k < K; k++)
      sum += exp ((double) o[k] - mx);
    for (int k = 0; k < K; k++)
      r->probs[k] = (float) (exp ((double) o[k] - mx) / sum);
    r->label = argmax (o, K);
    r->confidence = r->probs[r->label];

    for (int m = 0; m < M; m++)
      if (pres[m])
        usum +=
            exp (-(report ==
                UDML_UNC_PE ? ws->mod[m].pe[i] : ws->mod[m].g[i]) - umx);
    for (int m = 0; m < M; m++) {
      UdmlModalityResult *mr = &r->mod[m];
      if (!pres[m]) {
        mr->label = -1;
        continue;
      }
      double unc = report == UDML_UNC_PE ? ws->mod[m].pe[i] : ws->mod[m].g[i];
      mr->present = 1;
      mr->noise = expf (0.5f * ws->mod[m].g[i]);
      mr->alpha = dsum > 0.0 ? (float) (model->dep[m] / dsum) : 0.0f;
      mr->uncertainty_weight = (float) (exp (-unc - umx) / usum);
      mr->weight = wsum > 0.0 ? (float) (w[m] / wsum) : 0.0f;
      mr->label = argmax (ws->o_m[m] + (size_t) i * K, K);
    }
  }
  return UDML_OK;
}
