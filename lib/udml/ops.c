/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ops.c — kernels with forward and backward (see ops.h for shapes).
 *
 * conv2d is im2col + sgemm per image: the workspace holds one image's
 * column matrix (Ci*k*k x HW), and the output is NCHW, so each image is one
 * GEMM  out[n] (Co x HW) = w (Co x Ci*k*k) . col (Ci*k*k x HW).  k = 1 needs
 * no im2col at all.  linear is one GEMM over the whole batch.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>
/* OpenBLAS pulls in <complex.h>, whose macro I clashes with the I
 * (input features) dimension of ops.h. */
#undef I

#include "ops.h"

/* Sum of n floats in 8 independent lanes (vectorisable without
 * -ffast-math; shorter rounding chains than a single accumulator). */
static double
sum_f (const float *x, size_t n)
{
  float acc[8] = { 0 };
  size_t i = 0;
  double s = 0.0;

  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += x[i + j];
  for (; i < n; i++)
    s += x[i];
  for (int j = 0; j < 8; j++)
    s += acc[j];
  return s;
}

/* sum (x - m)^2 */
static double
sum_sq_dev (const float *x, size_t n, float m)
{
  float acc[8] = { 0 };
  size_t i = 0;
  double s = 0.0;

  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) {
      float d = x[i + j] - m;
      acc[j] += d * d;
    }
  for (; i < n; i++) {
    double d = x[i] - m;
    s += d * d;
  }
  for (int j = 0; j < 8; j++)
    s += acc[j];
  return s;
}

/* y = x * scale + shift; y may equal x.  Blocks of 8 load before they
 * store, so the compiler can vectorise without alias checks. */
static void
affine (float *y, const float *x, size_t n, float scale, float shift)
{
  size_t i = 0;

  for (; i + 8 <= n; i += 8) {
    float t[8];
    for (int j = 0; j < 8; j++)
      t[j] = x[i + j] * scale + shift;
    for (int j = 0; j < 8; j++)
      y[i + j] = t[j];
  }
  for (; i < n; i++)
    y[i] = x[i] * scale + shift;
}

/* y = max (x * scale + shift, 0): batch norm and ReLU in one pass. */
static void
affine_relu (float *y, const float *x, size_t n, float scale, float shift)
{
  size_t i = 0;

  for (; i + 8 <= n; i += 8) {
    float t[8];
    for (int j = 0; j < 8; j++) {
      float v = x[i + j] * scale + shift;
      t[j] = v > 0.0f ? v : 0.0f;
    }
    for (int j = 0; j < 8; j++)
      y[i + j] = t[j];
  }
  for (; i < n; i++) {
    float v = x[i] * scale + shift;
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

void
udml_affine (float *y, const float *x, size_t n, float scale, float shift,
    int relu)
{
  (relu ? affine_relu : affine) (y, x, n, scale, shift);
}

/* ------------------------------------------------------------------ conv2d */

/* One image's column matrix; k = 1 does not touch it (col may be NULL). */
size_t
udml_conv2d_workspace (int Ci, int H, int W, int k)
{
  size_t cols = (size_t) H * W;

  return cols * Ci * k * k;
}

/* col: (Ci*k*k) x HW; row (ci, ky, kx) holds in[ci, y+ky-p, x+kx-p] or 0. */
static void
im2col (float *col, const float *in, int Ci, int H, int W, int k)
{
  int p = k / 2;
  size_t HW = (size_t) H * W;

  for (int ci = 0; ci < Ci; ci++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        float *dst = col + ((size_t) (ci * k + ky) * k + kx) * HW;
        const float *src = in + ci * HW;
        int dx = kx - p;
        int x0 = dx < 0 ? -dx : 0;      /* first valid x */
        int x1 = dx > 0 ? W - dx : W;   /* one past last valid x */

        for (int y = 0; y < H; y++, dst += W) {
          int sy = y + ky - p;
          if (sy < 0 || sy >= H || x1 <= x0) {
            memset (dst, 0, W * sizeof (float));
            continue;
          }
          for (int x = 0; x < x0; x++)
            dst[x] = 0.0f;
          memcpy (dst + x0, src + (size_t) sy * W + x0 + dx,
              (x1 - x0) * sizeof (float));
          for (int x = x1; x < W; x++)
            dst[x] = 0.0f;
        }
      }
}

/* Adjoint of im2col: din += scatter (col), or din = scatter (col) when
 * set.  Writing starts from the first tap (ky = kx = 0), whose rows cover
 * din but its last p rows and columns: those are zeroed, the other taps add
 * in the same order as the accumulating form, so both give the same sums. */
static void
col2im (float *din, const float *col, int Ci, int H, int W, int k, int set)
{
  int p = k / 2;
  size_t HW = (size_t) H * W;

  for (int ci = 0; ci < Ci; ci++)
    for (int ky = 0; ky < k; ky++)
      for (int kx = 0; kx < k; kx++) {
        const float *src = col + ((size_t) (ci * k + ky) * k + kx) * HW;
        float *dst = din + ci * HW;
        int dx = kx - p;
        int x0 = dx < 0 ? -dx : 0;
        int x1 = dx > 0 ? W - dx : W;

        if (set && ky == 0 && kx == 0) {
          /* dst[y, x] = src[y + p, x + p] for y < H - p, x < W - p */
          for (int y = 0; y < H; y++) {
            float *d = dst + (size_t) y * W;
            int n = y + p < H && W > p ? W - p : 0;
            if (n > 0)
              memcpy (d, src + (size_t) (y + p) * W + p, n * sizeof (float));
            memset (d + n, 0, (W - n) * sizeof (float));
          }
          continue;
        }
        for (int y = 0; y < H; y++, src += W) {
          int sy = y + ky - p;
          if (sy < 0 || sy >= H)
            continue;
          float *d = dst + (size_t) sy * W + dx;
          for (int x = x0; x < x1; x++)
            d[x] += src[x];
        }
      }
}

void
udml_conv2d_forward (float *out, float *col, const float *in, const float *w,
    const float *b, int N, int Ci, int Co, int H, int W, int k)
{
  int HW = H * W;
  int CK = Ci * k * k;

  for (int n = 0; n < N; n++) {
    float *o = out + (size_t) n * Co * HW;
    const float *x = in + (size_t) n * Ci * HW;
    const float *bmat = x;

    if (k != 1) {
      im2col (col, x, Ci, H, W, k);
      bmat = col;
    }
    if (b) {
      for (int co = 0; co < Co; co++)
        for (int i = 0; i < HW; i++)
          o[(size_t) co * HW + i] = b[co];
    }
    /* o (Co x HW) = w (Co x CK) . col (CK x HW) [+ o] */
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, HW, CK,
        1.0f, w, CK, bmat, HW, b ? 1.0f : 0.0f, o, HW);
  }
}

static void
conv2d_backward (float *din, float *dw, float *db, float *col,
    const float *dout, const float *in, const float *w, int N, int Ci, int Co,
    int H, int W, int k, int set)
{
  int HW = H * W;
  int CK = Ci * k * k;

  for (int n = 0; n < N; n++) {
    const float *g = dout + (size_t) n * Co * HW;
    const float *x = in + (size_t) n * Ci * HW;

    if (db)
      for (int co = 0; co < Co; co++)
        db[co] += (float) sum_f (g + (size_t) co * HW, HW);

    if (dw) {
      const float *bmat = x;
      if (k != 1) {
        im2col (col, x, Ci, H, W, k);
        bmat = col;
      }
      /* dw (Co x CK) += g (Co x HW) . col^T (HW x CK) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Co, CK, HW,
          1.0f, g, HW, bmat, HW, 1.0f, dw, CK);
    }

    if (din) {
      float *dx = din + (size_t) n * Ci * HW;
      if (k == 1) {
        /* dx (Ci x HW) (+)= w^T (Ci x Co) . g (Co x HW) */
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, Ci, HW, Co,
            1.0f, w, Ci, g, HW, set ? 0.0f : 1.0f, dx, HW);
      } else {
        /* dcol (CK x HW) = w^T (CK x Co) . g (Co x HW), then scatter */
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, CK, HW, Co,
            1.0f, w, CK, g, HW, 0.0f, col, HW);
        col2im (dx, col, Ci, H, W, k, set);
      }
    }
  }
}

void
udml_conv2d_backward (float *din, float *dw, float *db, float *col,
    const float *dout, const float *in, const float *w, int N, int Ci, int Co,
    int H, int W, int k)
{
  conv2d_backward (din, dw, db, col, dout, in, w, N, Ci, Co, H, W, k, 0);
}

void
udml_conv2d_backward_set (float *din, float *dw, float *db, float *col,
    const float *dout, const float *in, const float *w, int N, int Ci, int Co,
    int H, int W, int k)
{
  conv2d_backward (din, dw, db, col, dout, in, w, N, Ci, Co, H, W, k, 1);
}

/* ------------------------------------------------------------------ linear */

void
udml_linear_forward (float *out, const float *in, const float *w,
    const float *b, int N, int I, int O)
{
  if (b)
    for (int n = 0; n < N; n++)
      memcpy (out + (size_t) n * O, b, O * sizeof (float));
  /* out (N x O) = in (N x I) . w^T (I x O) [+ out] */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I,
      1.0f, in, I, w, I, b ? 1.0f : 0.0f, out, O);
}

void
udml_linear_backward (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int I, int O)
{
  if (db)
    for (int n = 0; n < N; n++)
      for (int o = 0; o < O; o++)
        db[o] += dout[(size_t) n * O + o];
  /* dw (O x I) += dout^T (O x N) . in (N x I) */
  if (dw)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N,
        1.0f, dout, O, in, I, 1.0f, dw, I);
  /* din (N x I) += dout (N x O) . w (O x I) */
  if (din)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O,
        1.0f, dout, O, w, I, 1.0f, din, I);
}

/* --------------------------------------------------------------- batchnorm */

static void
bn_forward_train (float *out, float *mean, float *rstd,
    float *run_mean, float *run_var, const float *in, const float *gamma,
    const float *beta, int N, int C, int HW, int relu)
{
  double M = (double) N * HW;

  for (int c = 0; c < C; c++) {
    double s = 0.0, ss = 0.0;
    for (int n = 0; n < N; n++)
      s += sum_f (in + ((size_t) n * C + c) * HW, HW);
    float m = (float) (s / M);
    /* two-pass variance: no cancellation for large means */
    for (int n = 0; n < N; n++)
      ss += sum_sq_dev (in + ((size_t) n * C + c) * HW, HW, m);
    double var = ss / M;
    float r = (float) (1.0 / sqrt (var + UDML_BN_EPS));
    float scale = gamma ? r * gamma[c] : r;
    float shift = (beta ? beta[c] : 0.0f) - m * scale;

    mean[c] = m;
    rstd[c] = r;
    for (int n = 0; n < N; n++)
      (relu ? affine_relu : affine) (out + ((size_t) n * C + c) * HW,
          in + ((size_t) n * C + c) * HW, HW, scale, shift);
    if (run_mean) {
      double uvar = M > 1 ? ss / (M - 1) : var;
      run_mean[c] =
          (1.0f - UDML_BN_MOMENTUM) * run_mean[c] + UDML_BN_MOMENTUM * m;
      run_var[c] = (1.0f - UDML_BN_MOMENTUM) * run_var[c]
          + UDML_BN_MOMENTUM * (float) uvar;
    }
  }
}

static void
bn_forward_eval (float *out, const float *in, const float *gamma,
    const float *beta, const float *run_mean, const float *run_var, int N,
    int C, int HW, int relu)
{
  for (int c = 0; c < C; c++) {
    float scale = (gamma ? gamma[c] : 1.0f) / sqrtf (run_var[c] + UDML_BN_EPS);
    float shift = (beta ? beta[c] : 0.0f) - run_mean[c] * scale;
    for (int n = 0; n < N; n++)
      (relu ? affine_relu : affine) (out + ((size_t) n * C + c) * HW,
          in + ((size_t) n * C + c) * HW, HW, scale, shift);
  }
}

void
udml_batchnorm_forward_train (float *out, float *mean, float *rstd,
    float *run_mean, float *run_var, const float *in, const float *gamma,
    const float *beta, int N, int C, int HW)
{
  bn_forward_train (out, mean, rstd, run_mean, run_var, in, gamma, beta, N, C,
      HW, 0);
}

void
udml_batchnorm_relu_forward_train (float *out, float *mean, float *rstd,
    float *run_mean, float *run_var, const float *in, const float *gamma,
    const float *beta, int N, int C, int HW)
{
  bn_forward_train (out, mean, rstd, run_mean, run_var, in, gamma, beta, N, C,
      HW, 1);
}

void
udml_batchnorm_forward_eval (float *out, const float *in, const float *gamma,
    const float *beta, const float *run_mean, const float *run_var, int N,
    int C, int HW)
{
  bn_forward_eval (out, in, gamma, beta, run_mean, run_var, N, C, HW, 0);
}

void
udml_batchnorm_relu_forward_eval (float *out, const float *in,
    const float *gamma, const float *beta, const float *run_mean,
    const float *run_var, int N, int C, int HW)
{
  bn_forward_eval (out, in, gamma, beta, run_mean, run_var, N, C, HW, 1);
}

/* dy of a batch-norm backward row: dout, masked by relu_out > 0 when the
 * ReLU followed.  Unconditional loads, so the select is a vector mask. */
#define BN_DY8(gj, g, o, i) do {                                        \
    memcpy (gj, (g) + (i), sizeof gj);                                  \
    if (o) {                                                            \
      float oj_[8];                                                     \
      memcpy (oj_, (o) + (i), sizeof oj_);                              \
      for (int j_ = 0; j_ < 8; j_++)                                    \
        gj[j_] = oj_[j_] > 0.0f ? gj[j_] : 0.0f;                        \
    }                                                                   \
  } while (0)

void
udml_bn_backward_sums (double *sdy, double *sdyx, const float *dout,
    const float *relu_out, const float *x, float m, int n)
{
  float acc[8] = { 0 }, acc2[8] = { 0 };
  double s = 0.0, t = 0.0;
  int i = 0;

  /* two copies of the loop: the mask test hoisted out of it */
  if (relu_out)
    for (; i + 8 <= n; i += 8) {
      float gj[8];
      BN_DY8 (gj, dout, relu_out, i);
      for (int j = 0; j < 8; j++) {
        acc[j] += gj[j];
        acc2[j] += gj[j] * (x[i + j] - m);
      }
  } else
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) {
        acc[j] += dout[i + j];
        acc2[j] += dout[i + j] * (x[i + j] - m);
      }
  for (; i < n; i++) {
    float gj = !relu_out || relu_out[i] > 0.0f ? dout[i] : 0.0f;
    s += gj;
    t += (double) gj *(x[i] - m);
  }
  for (int j = 0; j < 8; j++) {
    s += acc[j];
    t += acc2[j];
  }
  *sdy += s;
  *sdyx += t;
}

void
udml_bn_backward_apply (float *dx, const float *dout, const float *relu_out,
    const float *x, float m, float k, float fM, float a, float bq, int n,
    int set)
{
  int i = 0;

  for (; i + 8 <= n; i += 8) {
    float gj[8], t[8];
    if (relu_out) {
      BN_DY8 (gj, dout, relu_out, i);
    } else {
      memcpy (gj, dout + i, sizeof gj);
    }
    if (set)
      memset (t, 0, sizeof t);
    else
      memcpy (t, dx + i, sizeof t);
    for (int j = 0; j < 8; j++)
      t[j] += k * (fM * gj[j] - a - (x[i + j] - m) * bq);
    memcpy (dx + i, t, sizeof t);
  }
  for (; i < n; i++) {
    float gj = !relu_out || relu_out[i] > 0.0f ? dout[i] : 0.0f;
    dx[i] = (set ? 0.0f : dx[i]) + k * (fM * gj - a - (x[i] - m) * bq);
  }
}

/* y = gamma xhat + beta, xhat = (x - mean) rstd with batch statistics:
 * dx = gamma rstd / M (M dy - sum dy - xhat sum (dy xhat)).  With relu_out,
 * dy is first masked by the ReLU that followed (relu_out > 0); with set,
 * din is written rather than accumulated. */
static void
bn_backward (float *din, float *dgamma, float *dbeta, const float *dout,
    const float *relu_out, const float *in, const float *mean,
    const float *rstd, const float *gamma, int N, int C, int HW, int set)
{
  double M = (double) N * HW;

  for (int c = 0; c < C; c++) {
    float m = mean[c], r = rstd[c];
    double sdy = 0.0, sdyx = 0.0;

    /* sum dy (x - m) = sum dy x - m sum dy; done directly for accuracy */
    for (int n = 0; n < N; n++) {
      size_t off = ((size_t) n * C + c) * HW;
      udml_bn_backward_sums (&sdy, &sdyx, dout + off,
          relu_out ? relu_out + off : NULL, in + off, m, HW);
    }
    sdyx *= r;                  /* sum dy xhat */

    if (dbeta)
      dbeta[c] += (float) sdy;
    if (dgamma)
      dgamma[c] += (float) sdyx;
    if (din) {
      float k = (float) (gamma[c] * r / M);
      float a = (float) sdy;
      float bq = (float) (sdyx * r);    /* xhat * sdyx = (x - m) * r * sdyx */
      for (int n = 0; n < N; n++) {
        size_t off = ((size_t) n * C + c) * HW;
        udml_bn_backward_apply (din + off, dout + off,
            relu_out ? relu_out + off : NULL, in + off, m, k, (float) M, a, bq,
            HW, set);
      }
    }
  }
}

void
udml_batchnorm_backward (float *din, float *dgamma, float *dbeta,
    const float *dout, const float *in, const float *mean, const float *rstd,
    const float *gamma, int N, int C, int HW)
{
  bn_backward (din, dgamma, dbeta, dout, NULL, in, mean, rstd, gamma, N, C, HW,
      0);
}

void
udml_batchnorm_relu_backward_set (float *din, float *dgamma, float *dbeta,
    const float *dout, const float *relu_out, const float *in,
    const float *mean, const float *rstd, const float *gamma, int N, int C,
    int HW)
{
  bn_backward (din, dgamma, dbeta, dout, relu_out, in, mean, rstd, gamma, N, C,
      HW, 1);
}

/* -------------------------------------------------------------------- relu */

void
udml_relu_forward (float *out, const float *in, size_t n)
{
  size_t i = 0;

  /* blocks of 8 as in affine (): vectorisable even when out == in */
  for (; i + 8 <= n; i += 8) {
    float t[8];
    for (int j = 0; j < 8; j++)
      t[j] = in[i + j] > 0.0f ? in[i + j] : 0.0f;
    for (int j = 0; j < 8; j++)
      out[i + j] = t[j];
  }
  for (; i < n; i++)
    out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void
udml_relu_backward (float *din, const float *dout, const float *out, size_t n)
{
  size_t i = 0;

  /* unconditional loads first, so the select becomes a vector mask */
  for (; i + 8 <= n; i += 8) {
    float g[8], o[8], d[8];
    memcpy (g, dout + i, sizeof g);
    memcpy (o, out + i, sizeof o);
    memcpy (d, din + i, sizeof d);
    for (int j = 0; j < 8; j++)
      d[j] += o[j] > 0.0f ? g[j] : 0.0f;
    memcpy (din + i, d, sizeof d);
  }
  for (; i < n; i++)
    din[i] += out[i] > 0.0f ? dout[i] : 0.0f;
}

/* ----------------------------------------------------------------- maxpool */

void
udml_maxpool2_forward (float *out, const float *in, int N, int C, int H, int W)
{
  int Ho = H / 2, Wo = W / 2;

  for (size_t nc = 0; nc < (size_t) N * C; nc++) {
    const float *x = in + nc * H * W;
    float *y = out + nc * Ho * Wo;
    for (int oy = 0; oy < Ho; oy++) {
      const float *r0 = x + (size_t) (2 * oy) * W;
      const float *r1 = r0 + W;
      /* plain compares: fmaxf's NaN rules cost a libm-style sequence */
      for (int ox = 0; ox < Wo; ox++) {
        float a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
        float b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
        y[oy * Wo + ox] = a > b ? a : b;
      }
    }
  }
}

/* gv to the first maximum of the window (a b / c d) in row-major order, 0
 * to the others.  Branch-free: the argmax of random data is unpredictable. */
static inline void
maxpool2_window_grad (float dw[4], float gv, float a, float b, float c, float d)
{
  float m = a > b ? a : b, m2 = c > d ? c : d;
  m = m > m2 ? m : m2;
  int fa = a == m;
  int fb = (b == m) & !fa;
  int fc = (c == m) & !(fa | fb);
  int fd = !(fa | fb | fc);
  dw[0] = gv * fa;
  dw[1] = gv * fb;
  dw[2] = gv * fc;
  dw[3] = gv * fd;
}

/* With set, din is written, the odd last row and column (outside every
 * window) zeroed. */
static void
maxpool2_backward (float *din, const float *dout, const float *in, int N,
    int C, int H, int W, int set)
{
  int Ho = H / 2, Wo = W / 2;

  for (size_t nc = 0; nc < (size_t) N * C; nc++) {
    const float *x = in + nc * H * W;
    float *dx = din + nc * H * W;
    const float *g = dout + nc * Ho * Wo;
    for (int oy = 0; oy < Ho; oy++) {
      const float *r0 = x + (size_t) (2 * oy) * W;
      const float *r1 = r0 + W;
      float *d0 = dx + (size_t) (2 * oy) * W;
      float *d1 = d0 + W;
      if (set) {
        for (int ox = 0; ox < Wo; ox++) {
          float dw[4];
          maxpool2_window_grad (dw, g[oy * Wo + ox], r0[2 * ox],
              r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]);
          /* + 0: -0 becomes 0, as 0 + gv * 0 does in the += form */
          d0[2 * ox] = dw[0] + 0.0f;
          d0[2 * ox + 1] = dw[1] + 0.0f;
          d1[2 * ox] = dw[2] + 0.0f;
          d1[2 * ox + 1] = dw[3] + 0.0f;
        }
        if (W % 2)
          d0[W - 1] = d1[W - 1] = 0.0f;
        continue;
      }
      for (int ox = 0; ox < Wo; ox++) {
        float dw[4];
        maxpool2_window_grad (dw, g[oy * Wo + ox], r0[2 * ox], r0[2 * ox + 1],
            r1[2 * ox], r1[2 * ox + 1]);
        d0[2 * ox] += dw[0];
        d0[2 * ox + 1] += dw[1];
        d1[2 * ox] += dw[2];
        d1[2 * ox + 1] += dw[3];
      }
    }
    if (set && H % 2)
      memset (dx + (size_t) (H - 1) * W, 0, W * sizeof (float));
  }
}

void
udml_maxpool2_backward (float *din, const float *dout, const float *in, int N,
    int C, int H, int W)
{
  maxpool2_backward (din, dout, in, N, C, H, W, 0);
}

void
udml_maxpool2_backward_set (float *din, const float *dout, const float *in,
    int N, int C, int H, int W)
{
  maxpool2_backward (din, dout, in, N, C, H, W, 1);
}

/* --------------------------------------------------------------------- gap */

void
udml_gap_forward (float *out, const float *in, int N, int C, int HW)
{
  for (size_t nc = 0; nc < (size_t) N * C; nc++)
    out[nc] = (float) (sum_f (in + nc * HW, HW) / HW);
}

void
udml_gap_backward (float *din, const float *dout, int N, int C, int HW)
{
  for (size_t nc = 0; nc < (size_t) N * C; nc++) {
    float g = dout[nc] / HW;
    float *dx = din + nc * HW;
    for (int i = 0; i < HW; i++)
      dx[i] += g;
  }
}

/* ----------------------------------------------------------------- dropout */

void
udml_dropout_forward (float *out, float *mask, const float *in, size_t n,
    float p, UdmlRng * rng)
{
  /* p <= 0 needs no random numbers (rng may then be NULL); p >= 1 drops all */
  float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;

  for (size_t i = 0; i < n; i++) {
    if (p <= 0.0f)
      mask[i] = 1.0f;
    else
      mask[i] = udml_rng_uniform (rng) < p ? 0.0f : keep;
    out[i] = in[i] * mask[i];
  }
}

void
udml_dropout_backward (float *din, const float *dout, const float *mask,
    size_t n)
{
  for (size_t i = 0; i < n; i++)
    din[i] += dout[i] * mask[i];
}

/* ------------------------------------------------------------------ losses */

float
udml_xent_forward (float *probs, const float *logits, const int *y, int N,
    int K)
{
  double loss = 0.0;

  for (int n = 0; n < N; n++) {
    const float *z = logits + (size_t) n * K;
    float *p = probs + (size_t) n * K;
    float mx = z[0];
    double s = 0.0;

    for (int j = 1; j < K; j++)
      mx = z[j] > mx ? z[j] : mx;
    for (int j = 0; j < K; j++) {
      p[j] = expf (z[j] - mx);
      s += p[j];
    }
    for (int j = 0; j < K; j++)
      p[j] = (float) (p[j] / s);
    /* -log softmax(z)[y] = log sum exp (z - mx) - (z[y] - mx) */
    loss += log (s) - (z[y[n]] - mx);
  }
  return (float) (loss / N);
}

void
udml_xent_backward (float *dlogits, const float *probs, const int *y, int N,
    int K, float scale)
{
  float s = scale / N;

  for (int n = 0; n < N; n++) {
    const float *p = probs + (size_t) n * K;
    float *d = dlogits + (size_t) n * K;
    for (int j = 0; j < K; j++)
      d[j] += s * (p[j] - (j == y[n] ? 1.0f : 0.0f));
  }
}

/* KL(N(mu, e^l) || N(0, t)) summed over F, method.md §2. */
float
udml_gauss_kl_forward (const float *mu, const float *logvar, const float *prior,
    int N, int F)
{
  double total = 0.0;

  for (int n = 0; n < N; n++) {
    const float *m = mu + (size_t) n * F;
    const float *l = logvar + (size_t) n * F;
    double t = prior[n], lt = log (t), s = 0.0;
    for (int j = 0; j < F; j++) {
      double e = exp ((double) l[j]);
      /* ln (e + 1e-8) = l + log1p (u), u = 1e-8 / e: for u < 1e-3
       * (l > -11.5) a cubic is within u^4/4 < 3e-13 and saves a log */
      double u = 1e-8 / e;
      double lg = u < 1e-3 ? l[j] + u * (1.0 - u * (0.5 - u / 3.0))
          : log (e + 1e-8);
      s += e / t + (double) m[j] * m[j] / t - (lg - lt) - 1.0;
    }
    total += 0.5 * s;
  }
  return (float) (total / N);
}

/* d/dmu = mu / t; d/dl = (e^l / t - e^l / (e^l + 1e-8)) / 2; both / N. */
void
udml_gauss_kl_backward (float *dmu, float *dlogvar, const float *mu,
    const float *logvar, const float *prior, int N, int F, float scale)
{
  float s = scale / N;

  for (int n = 0; n < N; n++) {
    const float *m = mu + (size_t) n * F;
    const float *l = logvar + (size_t) n * F;
    float it = 1.0f / prior[n];
    if (dmu) {
      float *d = dmu + (size_t) n * F;
      for (int j = 0; j < F; j++)
        d[j] += s * m[j] * it;
    }
    if (dlogvar) {
      float *d = dlogvar + (size_t) n * F;
      for (int j = 0; j < F; j++) {
        float e = expf (l[j]);
        d[j] += 0.5f * s * (e * it - e / (e + 1e-8f));
      }
    }
  }
}

float
udml_mse_forward (const float *pred, const float *target, int N)
{
  double s = 0.0;

  for (int n = 0; n < N; n++) {
    double d = (double) pred[n] - target[n];
    s += d * d;
  }
  return (float) (s / N);
}

void
udml_mse_backward (float *dpred, const float *pred, const float *target, int N,
    float scale)
{
  float s = 2.0f * scale / N;

  for (int n = 0; n < N; n++)
    dpred[n] += s * (pred[n] - target[n]);
}
