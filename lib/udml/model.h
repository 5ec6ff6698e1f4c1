/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* model.h — private layout of UdmlModel and the shared forward pass
 * (internal to lib/udml; used by model.c, forward.c, backward.c, infer.c,
 * loss.c, train.c).
 *
 * Dimensions: the glossary in udml.h.
 */
#ifndef UDML_MODEL_H
#define UDML_MODEL_H

#include "internal.h"
#include "trainer.h"

#define UDML_TENSOR_NAME_LEN 64
#define UDML_LOGVAR_CLAMP 10.0f          /* l clamped to [-10, 10] (method.md §1) */
#define UDML_EST_DROPOUT 0.1f
#define UDML_DEP_EMA 0.9f

typedef struct {
  char name[UDML_TENSOR_NAME_LEN];
  int ndim;
  int dims[4];
  size_t offset;              /* floats into params (trainable) or stats */
  size_t size;
  int trainable;
} UdmlTensorInfo;

/* Tensor indices of one conv -> BN block. bias < 0 when the conv has none. */
typedef struct {
  int w, b, gamma, beta, run_mean, run_var;
  int ci, co, k, h, wd;       /* conv input channels, output channels, kernel, map H x W */
} UdmlConvBn;

typedef struct {
  int n_stages;
  UdmlConvBn enc[UDML_MAX_STAGES];
  UdmlConvBn mu, lv;          /* 1x1 heads on the last map */
  int fc1_w, fc1_b, fc2_w, fc2_b;
  int est_mean, est_var;      /* estimator input running stats; -1 when est_norm 0 */
  int C, h, w;                /* embedding map C x h x w */
  int slot;                   /* offset of f_m in the concatenated feature */
  size_t F;                   /* input size */
  size_t max_map;             /* largest per-sample map in the encoder */
} UdmlModLayout;

struct UdmlModel {
  UdmlConfig cfg;
  int n_tensors;
  UdmlTensorInfo *tensors;
  float *params;              /* all trainable parameters, one arena */
  size_t n_params;
  float *stats;               /* BN running statistics, one arena */
  size_t n_stats;
  UdmlModLayout lay[UDML_MAX_MODALITIES];
  int head_w, head_b;
  int feat;                   /* concatenated feature width, sum of C_m */
  float dep[UDML_MAX_MODALITIES];   /* saved dependency EMA */
  char *provenance;
  float calibration[UDML_MAX_MODALITIES];   /* clean-noise p99; 0 unknown */
};

/* Pointer to tensor i inside its arena. base: params, a gradient arena
 * laid out like params, or NULL for the model's own. */
float *udml_model_tensor_ptr (const UdmlModel *model, int i, float *grad_base);

/* ---- weighting of the modalities (method.md §1, §5) ---- */

typedef enum {
  UDML_UNC_NONE = 0,          /* no uncertainty term */
  UDML_UNC_ESTIMATOR,         /* g from the estimator (differentiable) */
  UDML_UNC_PE,                /* ln mean(std^2) of the embedding (detached) */
} UdmlUncSource;

typedef struct {
  int is_static;              /* w = 1 */
  UdmlUncSource unc;
  int use_dep;
} UdmlWeighting;

/* The weighting a policy uses in training (unc_on: the uncertainty term has
 * entered the schedule) or at inference under a mode. */
UdmlWeighting udml_weighting_train (UdmlPolicy policy, int unc_on);
UdmlWeighting udml_weighting_infer (UdmlPolicy policy, UdmlInferMode mode);

/* w_m = M softmax_m (u) over present modalities, u_m = -unc_m - ln D_m.
 * w: M values out (0 for absent); share: w/M. unc, dep: M values.
 * present: M flags. Returns the number of present modalities. */
int udml_weights_compute (float *w, const float *unc, const float *dep,
    const uint8_t *present, int M, const UdmlWeighting *wt);

/* Factor on the embedding of a modality of weight w: w (paper) or 1 + w
 * (residual). */
static inline float
udml_feature_scale (const UdmlModel *model, float w)
{
  return model->cfg.scaling == UDML_SCALING_PAPER ? w : 1.0f + w;
}

/* ---- activation workspace, planned once per batch size ---- */

typedef struct {
  float *x;                   /* N x F standardised input */
  float *conv[UDML_MAX_STAGES];   /* N x C x H x W conv output (BN input) */
  float *act[UDML_MAX_STAGES];    /* N x C x H x W BN -> ReLU output */
  float *pool[UDML_MAX_STAGES];   /* N x C x H/2 x W/2 (all but the last stage) */
  float *bn_mean[UDML_MAX_STAGES], *bn_rstd[UDML_MAX_STAGES];   /* C */
  float *mu_conv, *mu, *mu_mean, *mu_rstd;   /* N x C x hw; C; C */
  float *lv_conv, *lv, *lv_mean, *lv_rstd;   /* lv: BN output before the clamp */
  float *l;                   /* N x C x hw, clamped log-variance */
  float *sd;                  /* N x C x hw, exp(l/2) */
  float *eps;                 /* N x C x hw, training noise */
  float *z;                   /* N x C x hw */
  float *f;                   /* N x C pooled z */
  float *s;                   /* N x C pooled std (estimator input, detached) */
  float *sn;                  /* N x C s normalised and scaled (est_norm), else s */
  float *sn_mean, *sn_rstd;   /* C batch statistics of s */
  float *h1;                  /* N x Hd fc1 output */
  float *h1r;                 /* N x Hd after ReLU */
  float *h1d;                 /* N x Hd after dropout */
  float *mask;                /* N x Hd dropout mask */
  float *g;                   /* N estimator output */
  float *pe;                  /* N ln mean(std^2) */
} UdmlModWork;

typedef struct {
  int max_n;
  UdmlModWork mod[UDML_MAX_MODALITIES];
  float *cat;                 /* N x feat, all slots scaled */
  float *cat_m[UDML_MAX_MODALITIES];   /* N x feat, only slot m */
  float *o;                   /* N x K fused logits */
  float *o_m[UDML_MAX_MODALITIES];     /* N x K unimodal logits */
  float *probs;               /* N x K */
  float *probs_m[UDML_MAX_MODALITIES];
  float *w;                   /* N x M weights w_m (sum M) */
  float *unc;                 /* N x M uncertainty entering the weights */
  uint8_t *present;           /* N x M */
  float *col;                 /* im2col scratch */
  /* frozen detached inputs for gradient checks (N x C and N per modality) */
  float *frozen_s[UDML_MAX_MODALITIES];
  float *frozen_pe[UDML_MAX_MODALITIES];

  /* gradient buffers, only with udml_work_init (grad = 1) */
  int grad;
  float *do_;                 /* N x K */
  float *do_m[UDML_MAX_MODALITIES];    /* N x K */
  float *dmu[UDML_MAX_MODALITIES];     /* N x C x hw */
  float *dl[UDML_MAX_MODALITIES];      /* N x C x hw, on the clamped l */
  float *dg[UDML_MAX_MODALITIES];      /* N */
  float *prior[UDML_MAX_MODALITIES];   /* N noise labels as floats (KL prior, MSE target) */
  float *sig[UDML_MAX_MODALITIES];     /* N sigma-hat = exp(g/2) */
  float *dsig[UDML_MAX_MODALITIES];    /* N */
  float *dcat, *dtmp;         /* N x feat */
  float *G;                   /* N x M: dL/dw */
  float *dh, *dh2;            /* N x Hd */
  float *ga, *gb;             /* N x largest map: encoder backward ping-pong */
  void *block;
} UdmlWork;

UdmlStatus udml_work_init (UdmlWork *ws, const UdmlModel *model, int max_n, int grad,
    UdmlError *err);
void udml_work_clear (UdmlWork *ws);

/* Batch split across workers (train.c): the batch statistics of batch
 * norm are summed over every worker of the pass, and over every process
 * through the trainer's reduce hook. */
typedef struct UdmlSync UdmlSync;

/* buf (n doubles) is replaced by its sum over all workers. Every worker of
 * the pass calls it the same number of times with the same n. */
void udml_sync_sum (UdmlSync *sync, int worker, double *buf, size_t n);

typedef struct {
  int train;                  /* batch-stat BN, sampling, dropout */
  int unc_grad;               /* the task loss reaches g through w (backward) */
  int update_stats;           /* update BN running statistics (train only) */
  UdmlWeighting wt;
  const float *dep;           /* M dependency values used in the weights */
  uint64_t seed;              /* eps and dropout draw from (seed, stream) */
  uint64_t stream;
  UdmlFreeze freeze;
  /* batch split (train only): sync NULL = this pass is the whole batch */
  UdmlSync *sync;
  int worker;                 /* this worker's index; only 0 updates running stats */
  int n_global;               /* samples of the whole batch */
  double *red;                /* 2 x largest C doubles of scratch */
  int drawn;                  /* eps and mask already in the workspace */
} UdmlForward;

/* Doubles of reduction scratch a split pass needs (UdmlForward.red). */
size_t udml_model_sync_scratch (const UdmlModel *model);

/* The eps (n x C x hw) and dropout masks (n x Hd) of rows rows[0..n)
 * (ascending) of a batch whose training forward draws them for modality m
 * from (seed, stream): the same numbers those rows get when the forward
 * draws for the whole batch. */
void udml_model_draw (const UdmlModel *model, int m, const int *rows, int n,
    uint64_t seed, uint64_t stream, float *eps, float *mask);

/* Forward pass of n samples whose standardised inputs are in ws->mod[m].x
 * and presence flags in ws->present. Fills every activation, the weights
 * and the logits (ws->o, ws->o_m). */
void udml_model_forward (UdmlModel *model, UdmlWork *ws, int n, const UdmlForward *fw);

/* Backward of the same pass, from the loss gradients already in ws->do_,
 * do_m, dmu, dl and dg (consumed). Accumulates into grads (params layout). */
void udml_model_backward (UdmlModel *model, UdmlWork *ws, int n, const UdmlForward *fw,
    float *grads);

/* ---- losses (loss.c, method.md §2) ---- */

typedef struct {
  float gamma, lambda;
  float beta[UDML_MAX_MODALITIES];
  int use_est;                /* L_est on (stage 2) */
} UdmlLossWeights;

/* Loss of the pass in ws; levels: N x M labels 1..11 (NULL: all clean). */
void udml_loss_forward (const UdmlModel *model, UdmlWork *ws, int n, const int *y,
    const uint8_t *levels, const UdmlLossWeights *lw, UdmlLossParts *parts);
/* Writes (not accumulates) the loss gradients into ws->do_ ... dg. */
void udml_loss_backward (const UdmlModel *model, UdmlWork *ws, int n, const int *y,
    const UdmlLossWeights *lw);

/* Standardises raw inputs into ws: x' = (x - mean) / std. */
void udml_model_standardise (const UdmlModel *model, float *dst, const float *src,
    int m, size_t count);

#endif /* UDML_MODEL_H */
