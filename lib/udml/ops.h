/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ops.h — kernels with forward and backward (internal to lib/udml).
 *
 * Conventions (llm.c style): outputs first, raw pointers and explicit dims,
 * tensors are row-major NCHW, every backward ACCUMULATES (+=) into its
 * gradient outputs, any gradient pointer may be NULL to skip it.  The
 * *_set variants WRITE (=) their din instead (no zeroing pass before
 * them); their parameter gradients still accumulate. Each
 * BLAS-backed kernel has a naive *_ref twin used by the tests.
 *
 * Dimensions: the glossary in udml.h.
 */
#ifndef UDML_OPS_H
#define UDML_OPS_H

#include <stddef.h>
#include "udml.h"

/* Workspace floats conv2d needs for its im2col buffer. */
size_t udml_conv2d_workspace (int Ci, int H, int W, int k);

/* Stride 1, k = 3 (pad 1) or k = 1 (pad 0); same H, W out.
 * out: N x Co x H x W; in: N x Ci x H x W; w: Co x Ci x k x k; b: Co or NULL;
 * col: udml_conv2d_workspace() floats. */
void udml_conv2d_forward (float *out, float *col, const float *in, const float *w,
    const float *b, int N, int Ci, int Co, int H, int W, int k);
/* din: like in; dw: like w; db: Co. */
void udml_conv2d_backward (float *din, float *dw, float *db, float *col,
    const float *dout, const float *in, const float *w, int N, int Ci, int Co,
    int H, int W, int k);
void udml_conv2d_backward_set (float *din, float *dw, float *db, float *col,
    const float *dout, const float *in, const float *w, int N, int Ci, int Co,
    int H, int W, int k);
void udml_conv2d_forward_ref (float *out, const float *in, const float *w,
    const float *b, int N, int Ci, int Co, int H, int W, int k);
void udml_conv2d_backward_ref (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int Ci, int Co, int H, int W, int k);

/* out = w in + b. out: N x O; in: N x I; w: O x I; b: O or NULL. */
void udml_linear_forward (float *out, const float *in, const float *w, const float *b,
    int N, int I, int O);
void udml_linear_backward (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int I, int O);
void udml_linear_forward_ref (float *out, const float *in, const float *w,
    const float *b, int N, int I, int O);
void udml_linear_backward_ref (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int I, int O);

/* Batch norm over (N, HW) per channel. Training: batch stats (biased var),
 * saves mean/rstd (C each), updates running stats (unbiased var, momentum
 * 0.1) when run_mean != NULL. Eval: running stats. eps = 1e-5.
 * gamma and beta NULL: no affine (scale 1, shift 0). */
#define UDML_BN_EPS 1e-5f
#define UDML_BN_MOMENTUM 0.1f
void udml_batchnorm_forward_train (float *out, float *mean, float *rstd,
    float *run_mean, float *run_var, const float *in, const float *gamma,
    const float *beta, int N, int C, int HW);
void udml_batchnorm_forward_eval (float *out, const float *in, const float *gamma,
    const float *beta, const float *run_mean, const float *run_var, int N, int C, int HW);
void udml_batchnorm_backward (float *din, float *dgamma, float *dbeta,
    const float *dout, const float *in, const float *mean, const float *rstd,
    const float *gamma, int N, int C, int HW);
/* BN followed by ReLU in one pass: out = max (BN (in), 0). */
void udml_batchnorm_relu_forward_train (float *out, float *mean, float *rstd,
    float *run_mean, float *run_var, const float *in, const float *gamma,
    const float *beta, int N, int C, int HW);
void udml_batchnorm_relu_forward_eval (float *out, const float *in,
    const float *gamma, const float *beta, const float *run_mean,
    const float *run_var, int N, int C, int HW);
/* y = x scale + shift, then max (y, 0) when relu; y may equal x.  The
 * apply pass of a batch norm whose statistics come from elsewhere. */
void udml_affine (float *y, const float *x, size_t n, float scale, float shift,
    int relu);
/* Backward of ReLU (BN (in)): dout is the gradient of relu_out, the
 * forward output (NULL: no ReLU, dout is the gradient of BN (in)).
 * din written. */
/* The row loops of the batch-norm backward, for callers that sum the
 * statistics elsewhere (over workers): *sdy += sum dy, *sdyx += sum dy
 * (x - m); then dx (+)= k (fM dy - a - (x - m) bq).  dy = dout masked by
 * relu_out > 0 (NULL: dout).  n floats per row. */
void udml_bn_backward_sums (double *sdy, double *sdyx, const float *dout,
    const float *relu_out, const float *x, float m, int n);
void udml_bn_backward_apply (float *dx, const float *dout, const float *relu_out,
    const float *x, float m, float k, float fM, float a, float bq, int n, int set);
void udml_batchnorm_relu_backward_set (float *din, float *dgamma, float *dbeta,
    const float *dout, const float *relu_out, const float *in, const float *mean,
    const float *rstd, const float *gamma, int N, int C, int HW);

void udml_relu_forward (float *out, const float *in, size_t n);
/* out is the forward output. */
void udml_relu_backward (float *din, const float *dout, const float *out, size_t n);

/* 2x2 stride 2, floor. out: N x C x H/2 x W/2. */
void udml_maxpool2_forward (float *out, const float *in, int N, int C, int H, int W);
void udml_maxpool2_backward (float *din, const float *dout, const float *in, int N,
    int C, int H, int W);
void udml_maxpool2_backward_set (float *din, const float *dout, const float *in,
    int N, int C, int H, int W);

/* Global average pool. out: N x C; in: N x C x HW. */
void udml_gap_forward (float *out, const float *in, int N, int C, int HW);
void udml_gap_backward (float *din, const float *dout, int N, int C, int HW);

/* Inverted dropout: mask holds 0 or 1/(1-p). */
void udml_dropout_forward (float *out, float *mask, const float *in, size_t n, float p,
    UdmlRng *rng);
void udml_dropout_backward (float *din, const float *dout, const float *mask, size_t n);

/* Softmax cross-entropy, batch mean. probs: N x K (written); logits: N x K.
 * Log-softmax with max subtraction. Returns the mean loss. */
float udml_xent_forward (float *probs, const float *logits, const int *y, int N, int K);
/* dlogits += scale * (probs - onehot(y)) / N */
void udml_xent_backward (float *dlogits, const float *probs, const int *y, int N, int K,
    float scale);

/* Gaussian KL per sample, summed over F elements, batch mean:
 * 1/2 sum_j [ e^l/t + mu^2/t - ln((e^l + 1e-8)/t) - 1 ], t = prior[n].
 * mu, logvar: N x F (logvar = the clamped l). */
float udml_gauss_kl_forward (const float *mu, const float *logvar, const float *prior,
    int N, int F);
/* Direct evaluation (a log per element), the test reference. */
float udml_gauss_kl_forward_ref (const float *mu, const float *logvar,
    const float *prior, int N, int F);
void udml_gauss_kl_backward (float *dmu, float *dlogvar, const float *mu,
    const float *logvar, const float *prior, int N, int F, float scale);

/* Mean squared error, batch mean over N values. */
float udml_mse_forward (const float *pred, const float *target, int N);
void udml_mse_backward (float *dpred, const float *pred, const float *target, int N,
    float scale);

#endif /* UDML_OPS_H */
