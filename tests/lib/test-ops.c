/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-ops.c — kernel checks:
 *  (a) every backward against central finite differences of its forward,
 *      with scalar loss L = sum (r * out), r random; gradients start from a
 *      nonzero value so the accumulation (+=) is checked too;
 *  (b) the BLAS kernels against their naive *_ref twins on odd shapes,
 *      forward and backward, including N = 1 and H = 1.
 * Exit status is the verdict; every failure prints the max error and where.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#undef I                        /* <complex.h> via OpenBLAS; ops.h uses I */

#include "ops.h"
#include "../common/udml-test.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t test_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: test data only, independent of the library RNG */
static double
urand (void)
{
  uint64_t z = (test_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (z >> 11) * (1.0 / 9007199254740992.0);
}

static void
fill (float *x, size_t n, float lo, float hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (lo + (hi - lo) * urand ());
}

static float *
falloc (size_t n)
{
  return xcalloc (n, sizeof (float));
}

static float *
fdup (const float *x, size_t n)
{
  float *p = falloc (n);
  memcpy (p, x, n * sizeof (float));
  return p;
}

/* Scalar loss as a function of the current buffers. */
typedef double (*LossFunc) (void *ctx);

static double
dot_r (const float *r, const float *y, size_t n)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double) r[i] * y[i];
  return s;
}

/* Compares grad - grad0 (the accumulated part) with central differences of
 * loss with respect to x, element by element. */
static void
fd_check (const char *what, float *x, size_t n, const float *grad,
    const float *grad0, LossFunc loss, void *ctx, float h, double atol,
    double rtol)
{
  double *num = xmalloc (n * sizeof (double));
  float *ana = falloc (n);

  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    float xp = v + h, xm = v - h;
    x[i] = xp;
    double lp = loss (ctx);
    x[i] = xm;
    double lm = loss (ctx);
    x[i] = v;
    num[i] = (lp - lm) / ((double) xp - xm);
    ana[i] = grad[i] - (grad0 ? grad0[i] : 0.0f);
  }
  check_close (what, ana, num, n, atol, rtol);
  free (num);
  free (ana);
}

/* ------------------------------------------------------------------ conv2d */

typedef struct
{
  float *out, *col, *in, *w, *b, *r;
  int N, Ci, Co, H, W, k;
} ConvCtx;

static double
conv_loss (void *p)
{
  ConvCtx *c = p;
  udml_conv2d_forward (c->out, c->col, c->in, c->w, c->b, c->N, c->Ci, c->Co,
      c->H, c->W, c->k);
  return dot_r (c->r, c->out, (size_t) c->N * c->Co * c->H * c->W);
}

static void
test_conv_grad (int N, int Ci, int Co, int H, int W, int k)
{
  size_t ni = (size_t) N * Ci * H * W;
  size_t no = (size_t) N * Co * H * W;
  size_t nw = (size_t) Co * Ci * k * k;
  ConvCtx c = { falloc (no), falloc (udml_conv2d_workspace (Ci, H, W, k)),
    falloc (ni), falloc (nw), falloc (Co), falloc (no), N, Ci, Co, H, W, k
  };
  float *din = falloc (ni), *dw = falloc (nw), *db = falloc (Co);
  float *din0, *dw0, *db0;
  char name[128];

  fill (c.in, ni, -1, 1);
  fill (c.w, nw, -0.5, 0.5);
  fill (c.b, Co, -0.5, 0.5);
  fill (c.r, no, -1, 1);
  fill (din, ni, -1, 1);
  fill (dw, nw, -1, 1);
  fill (db, Co, -1, 1);
  din0 = fdup (din, ni);
  dw0 = fdup (dw, nw);
  db0 = fdup (db, Co);

  conv_loss (&c);
  udml_conv2d_backward (din, dw, db, c.col, c.r, c.in, c.w, N, Ci, Co, H, W, k);

  /* conv is linear, so rounding is the only FD error */
  snprintf (name, sizeof name, "conv%d fd din  N%d Ci%d Co%d %dx%d", k, N, Ci,
      Co, H, W);
  fd_check (name, c.in, ni, din, din0, conv_loss, &c, 1e-2f, 2e-3, 2e-3);
  snprintf (name, sizeof name, "conv%d fd dw   N%d Ci%d Co%d %dx%d", k, N, Ci,
      Co, H, W);
  fd_check (name, c.w, nw, dw, dw0, conv_loss, &c, 1e-2f, 2e-3, 2e-3);
  snprintf (name, sizeof name, "conv%d fd db   N%d Ci%d Co%d %dx%d", k, N, Ci,
      Co, H, W);
  fd_check (name, c.b, Co, db, db0, conv_loss, &c, 1e-2f, 2e-3, 2e-3);

  free (c.out);
  free (c.col);
  free (c.in);
  free (c.w);
  free (c.b);
  free (c.r);
  free (din);
  free (dw);
  free (db);
  free (din0);
  free (dw0);
  free (db0);
}

/* BLAS vs naive, forward and backward (with and without bias, and with
 * some gradient pointers NULL). */
static void
test_conv_ref (int N, int Ci, int Co, int H, int W, int k)
{
  size_t ni = (size_t) N * Ci * H * W;
  size_t no = (size_t) N * Co * H * W;
  size_t nw = (size_t) Co * Ci * k * k;
  float *in = falloc (ni), *w = falloc (nw), *b = falloc (Co), *g = falloc (no);
  float *col = falloc (udml_conv2d_workspace (Ci, H, W, k));
  float *o1 = falloc (no), *o2 = falloc (no);
  float *din1 = falloc (ni), *dw1 = falloc (nw), *db1 = falloc (Co);
  float *din2, *dw2, *db2;
  char name[128];
  /* sums of Ci*k*k products of O(1) terms, in a different order */
  double atol = 1e-5 * Ci * k * k, rtol = 1e-5;
  double gtol = 1e-5 * (double) Co * k * k * N * H * W / (H < 8 ? 1 : 8);

  fill (in, ni, -1, 1);
  fill (w, nw, -1, 1);
  fill (b, Co, -1, 1);
  fill (g, no, -1, 1);
  fill (o1, no, 5, 6);          /* forward must overwrite, not accumulate */
  fill (din1, ni, -1, 1);
  fill (dw1, nw, -1, 1);
  fill (db1, Co, -1, 1);
  din2 = fdup (din1, ni);
  dw2 = fdup (dw1, nw);
  db2 = fdup (db1, Co);

  for (int bias = 0; bias < 2; bias++) {
    udml_conv2d_forward (o1, col, in, w, bias ? b : NULL, N, Ci, Co, H, W, k);
    udml_conv2d_forward_ref (o2, in, w, bias ? b : NULL, N, Ci, Co, H, W, k);
    snprintf (name, sizeof name, "conv%d blas=ref fwd%s N%d Ci%d Co%d %dx%d",
        k, bias ? "+b" : "", N, Ci, Co, H, W);
    check_close (name, o1, o2, no, atol, rtol);
  }

  udml_conv2d_backward (din1, dw1, db1, col, g, in, w, N, Ci, Co, H, W, k);
  udml_conv2d_backward_ref (din2, dw2, db2, g, in, w, N, Ci, Co, H, W, k);
  snprintf (name, sizeof name, "conv%d blas=ref din N%d Ci%d Co%d %dx%d", k, N,
      Ci, Co, H, W);
  check_close (name, din1, din2, ni, 1e-5 * Co * k * k, rtol);
  snprintf (name, sizeof name, "conv%d blas=ref dw  N%d Ci%d Co%d %dx%d", k, N,
      Ci, Co, H, W);
  check_close (name, dw1, dw2, nw, gtol, rtol);
  snprintf (name, sizeof name, "conv%d blas=ref db  N%d Ci%d Co%d %dx%d", k, N,
      Ci, Co, H, W);
  check_close (name, db1, db2, Co, gtol, rtol);

  /* NULL gradients are skipped; the others are unaffected */
  udml_conv2d_backward (NULL, dw1, NULL, col, g, in, w, N, Ci, Co, H, W, k);
  udml_conv2d_backward_ref (NULL, dw2, NULL, g, in, w, N, Ci, Co, H, W, k);
  udml_conv2d_backward (din1, NULL, NULL, col, g, in, w, N, Ci, Co, H, W, k);
  udml_conv2d_backward_ref (din2, NULL, NULL, g, in, w, N, Ci, Co, H, W, k);
  snprintf (name, sizeof name, "conv%d blas=ref partial din N%d %dx%d", k, N, H,
      W);
  check_close (name, din1, din2, ni, 2e-5 * Co * k * k, rtol);
  snprintf (name, sizeof name, "conv%d blas=ref partial dw  N%d %dx%d", k, N, H,
      W);
  check_close (name, dw1, dw2, nw, 2 * gtol, rtol);

  free (in);
  free (w);
  free (b);
  free (g);
  free (col);
  free (o1);
  free (o2);
  free (din1);
  free (dw1);
  free (db1);
  free (din2);
  free (dw2);
  free (db2);
}

/* ------------------------------------------------------------------ linear */

typedef struct
{
  float *out, *in, *w, *b, *r;
  int N, I, O;
} LinCtx;

static double
lin_loss (void *p)
{
  LinCtx *c = p;
  udml_linear_forward (c->out, c->in, c->w, c->b, c->N, c->I, c->O);
  return dot_r (c->r, c->out, (size_t) c->N * c->O);
}

static void
test_linear (int N, int I, int O)
{
  size_t ni = (size_t) N * I;
  size_t no = (size_t) N * O;
  size_t nw = (size_t) O * I;
  LinCtx c =
      { falloc (no), falloc (ni), falloc (nw), falloc (O), falloc (no), N, I,
    O
  };
  float *din = falloc (ni), *dw = falloc (nw), *db = falloc (O);
  float *din0, *dw0, *db0, *din2, *dw2, *db2, *o2 = falloc (no);
  char name[128];

  fill (c.in, ni, -1, 1);
  fill (c.w, nw, -1, 1);
  fill (c.b, O, -1, 1);
  fill (c.r, no, -1, 1);
  fill (din, ni, -1, 1);
  fill (dw, nw, -1, 1);
  fill (db, O, -1, 1);
  din0 = fdup (din, ni);
  dw0 = fdup (dw, nw);
  db0 = fdup (db, O);
  din2 = fdup (din, ni);
  dw2 = fdup (dw, nw);
  db2 = fdup (db, O);

  lin_loss (&c);
  udml_linear_forward_ref (o2, c.in, c.w, c.b, N, I, O);
  snprintf (name, sizeof name, "linear blas=ref fwd N%d I%d O%d", N, I, O);
  check_close (name, c.out, o2, no, 1e-5 * I, 1e-5);
  udml_linear_forward (c.out, c.in, c.w, NULL, N, I, O);
  udml_linear_forward_ref (o2, c.in, c.w, NULL, N, I, O);
  snprintf (name, sizeof name, "linear blas=ref fwd nobias N%d I%d O%d", N, I,
      O);
  check_close (name, c.out, o2, no, 1e-5 * I, 1e-5);

  udml_linear_backward (din, dw, db, c.r, c.in, c.w, N, I, O);
  udml_linear_backward_ref (din2, dw2, db2, c.r, c.in, c.w, N, I, O);
  snprintf (name, sizeof name, "linear blas=ref din N%d I%d O%d", N, I, O);
  check_close (name, din, din2, ni, 1e-5 * O, 1e-5);
  snprintf (name, sizeof name, "linear blas=ref dw  N%d I%d O%d", N, I, O);
  check_close (name, dw, dw2, nw, 1e-5 * N, 1e-5);
  snprintf (name, sizeof name, "linear blas=ref db  N%d I%d O%d", N, I, O);
  check_close (name, db, db2, O, 1e-5 * N, 1e-5);

  snprintf (name, sizeof name, "linear fd din N%d I%d O%d", N, I, O);
  fd_check (name, c.in, ni, din, din0, lin_loss, &c, 1e-2f, 2e-3, 2e-3);
  snprintf (name, sizeof name, "linear fd dw  N%d I%d O%d", N, I, O);
  fd_check (name, c.w, nw, dw, dw0, lin_loss, &c, 1e-2f, 2e-3, 2e-3);
  snprintf (name, sizeof name, "linear fd db  N%d I%d O%d", N, I, O);
  fd_check (name, c.b, O, db, db0, lin_loss, &c, 1e-2f, 2e-3, 2e-3);

  free (c.out);
  free (c.in);
  free (c.w);
  free (c.b);
  free (c.r);
  free (o2);
  free (din);
  free (dw);
  free (db);
  free (din0);
  free (dw0);
  free (db0);
  free (din2);
  free (dw2);
  free (db2);
}

/* --------------------------------------------------------------- batchnorm */

typedef struct
{
  float *out, *mean, *rstd, *in, *gamma, *beta, *r;
  int N, C, HW;
} BnCtx;

static double
bn_loss (void *p)
{
  BnCtx *c = p;
  udml_batchnorm_forward_train (c->out, c->mean, c->rstd, NULL, NULL, c->in,
      c->gamma, c->beta, c->N, c->C, c->HW);
  return dot_r (c->r, c->out, (size_t) c->N * c->C * c->HW);
}

static void
test_batchnorm (int N, int C, int HW)
{
  size_t n = (size_t) N * C * HW;
  BnCtx c = { falloc (n), falloc (C), falloc (C), falloc (n), falloc (C),
    falloc (C), falloc (n), N, C, HW
  };
  float *din = falloc (n), *dg = falloc (C), *dbt = falloc (C);
  float *din0, *dg0, *db0, *rm = falloc (C), *rv = falloc (C), *rm0, *rv0;
  double *want = xmalloc (n * sizeof (double));
  double *wm = xmalloc (C * sizeof (double)), *wv =
      xmalloc (C * sizeof (double));
  char name[128];

  /* channel offsets so the mean matters */
  for (size_t i = 0; i < n; i++)
    c.in[i] = (float) (urand () * 2 - 1 + ((i / HW) % C) * 0.7);
  fill (c.gamma, C, 0.5, 1.5);
  fill (c.beta, C, -0.5, 0.5);
  fill (c.r, n, -1, 1);
  fill (din, n, -1, 1);
  fill (dg, C, -1, 1);
  fill (dbt, C, -1, 1);
  fill (rm, C, -1, 1);
  fill (rv, C, 0.5, 2);
  din0 = fdup (din, n);
  dg0 = fdup (dg, C);
  db0 = fdup (dbt, C);
  rm0 = fdup (rm, C);
  rv0 = fdup (rv, C);

  /* forward against double statistics */
  udml_batchnorm_forward_train (c.out, c.mean, c.rstd, rm, rv, c.in, c.gamma,
      c.beta, N, C, HW);
  for (int ch = 0; ch < C; ch++) {
    double s = 0, ss = 0, M = (double) N * HW;
    for (int b = 0; b < N; b++)
      for (int i = 0; i < HW; i++)
        s += c.in[((size_t) b * C + ch) * HW + i];
    wm[ch] = s / M;
    for (int b = 0; b < N; b++)
      for (int i = 0; i < HW; i++) {
        double d = c.in[((size_t) b * C + ch) * HW + i] - wm[ch];
        ss += d * d;
      }
    wv[ch] = ss / M;
    for (int b = 0; b < N; b++)
      for (int i = 0; i < HW; i++) {
        size_t j = ((size_t) b * C + ch) * HW + i;
        want[j] = (c.in[j] - wm[ch]) / sqrt (wv[ch] + UDML_BN_EPS) * c.gamma[ch]
            + c.beta[ch];
      }
  }
  snprintf (name, sizeof name, "batchnorm train fwd N%d C%d HW%d", N, C, HW);
  check_close (name, c.out, want, n, 1e-5, 1e-5);
  for (int ch = 0; ch < C; ch++) {
    double M = (double) N * HW;
    want[ch] = 0.9 * rm0[ch] + 0.1 * wm[ch];
    want[C + ch] = 0.9 * rv0[ch] + 0.1 * wv[ch] * M / (M - 1);
  }
  snprintf (name, sizeof name, "batchnorm running mean N%d C%d HW%d", N, C, HW);
  check_close (name, rm, want, C, 1e-6, 1e-5);
  snprintf (name, sizeof name, "batchnorm running var  N%d C%d HW%d", N, C, HW);
  check_close (name, rv, want + C, C, 1e-6, 1e-5);

  /* eval with the running statistics */
  udml_batchnorm_forward_eval (c.out, c.in, c.gamma, c.beta, rm, rv, N, C, HW);
  for (size_t j = 0; j < n; j++) {
    int ch = (j / HW) % C;
    want[j] = (c.in[j] - rm[ch]) / sqrt (rv[ch] + UDML_BN_EPS) * c.gamma[ch]
        + c.beta[ch];
  }
  snprintf (name, sizeof name, "batchnorm eval fwd N%d C%d HW%d", N, C, HW);
  check_close (name, c.out, want, n, 1e-5, 1e-5);
  {
    float *t = fdup (c.in, n);
    udml_batchnorm_forward_eval (t, t, c.gamma, c.beta, rm, rv, N, C, HW);
    snprintf (name, sizeof name, "batchnorm eval in place N%d C%d HW%d", N, C,
        HW);
    check_close (name, t, want, n, 1e-5, 1e-5);
    free (t);
  }

  bn_loss (&c);
  udml_batchnorm_backward (din, dg, dbt, c.r, c.in, c.mean, c.rstd, c.gamma, N,
      C, HW);
  snprintf (name, sizeof name, "batchnorm fd din    N%d C%d HW%d", N, C, HW);
  fd_check (name, c.in, n, din, din0, bn_loss, &c, 1e-2f, 5e-3, 1e-2);
  snprintf (name, sizeof name, "batchnorm fd dgamma N%d C%d HW%d", N, C, HW);
  fd_check (name, c.gamma, C, dg, dg0, bn_loss, &c, 1e-2f, 5e-3, 1e-2);
  snprintf (name, sizeof name, "batchnorm fd dbeta  N%d C%d HW%d", N, C, HW);
  fd_check (name, c.beta, C, dbt, db0, bn_loss, &c, 1e-2f, 5e-3, 1e-2);

  free (c.out);
  free (c.mean);
  free (c.rstd);
  free (c.in);
  free (c.gamma);
  free (c.beta);
  free (c.r);
  free (din);
  free (dg);
  free (dbt);
  free (din0);
  free (dg0);
  free (db0);
  free (rm);
  free (rv);
  free (rm0);
  free (rv0);
  free (want);
  free (wm);
  free (wv);
}

/* ------------------------------------------------------- relu, pool, gap */

typedef struct
{
  float *out, *in, *r;
  int N, C, H, W;
  int op;                       /* 0 relu, 1 maxpool, 2 gap */
} ElemCtx;

static double
elem_loss (void *p)
{
  ElemCtx *c = p;
  size_t n = (size_t) c->N * c->C * c->H * c->W;
  switch (c->op) {
    case 0:
      udml_relu_forward (c->out, c->in, n);
      return dot_r (c->r, c->out, n);
    case 1:
      udml_maxpool2_forward (c->out, c->in, c->N, c->C, c->H, c->W);
      return dot_r (c->r, c->out,
          (size_t) c->N * c->C * (c->H / 2) * (c->W / 2));
    default:
      udml_gap_forward (c->out, c->in, c->N, c->C, c->H * c->W);
      return dot_r (c->r, c->out, (size_t) c->N * c->C);
  }
}

static void
test_elementwise (void)
{
  int N = 2, C = 3, H = 7, W = 9;       /* odd: maxpool drops the last row/col */
  size_t n = (size_t) N * C * H * W;
  ElemCtx c = { falloc (n), falloc (n), falloc (n), N, C, H, W, 0 };
  float *din = falloc (n), *din0;
  double *want = xmalloc (n * sizeof (double));
  int Ho = H / 2, Wo = W / 2;

  /* relu: keep inputs away from the kink */
  for (size_t i = 0; i < n; i++) {
    double v = 0.1 + urand ();
    c.in[i] = (float) (urand () < 0.5 ? -v : v);
  }
  fill (c.r, n, -1, 1);
  fill (din, n, -1, 1);
  din0 = fdup (din, n);
  elem_loss (&c);
  for (size_t i = 0; i < n; i++)
    want[i] = c.in[i] > 0 ? c.in[i] : 0.0;
  check_close ("relu fwd", c.out, want, n, 0, 0);
  {
    float *t = fdup (c.in, n);  /* in place must give the same */
    udml_relu_forward (t, t, n);
    check_close ("relu fwd in place", t, want, n, 0, 0);
    free (t);
  }
  udml_relu_backward (din, c.r, c.out, n);
  fd_check ("relu fd din", c.in, n, din, din0, elem_loss, &c, 1e-2f, 1e-4,
      1e-4);

  /* maxpool: distinct values at least 0.05 apart (no ties), h = 1e-2 */
  c.op = 1;
  for (size_t i = 0; i < n; i++)
    c.in[i] = (float) (0.05 * i);
  for (size_t i = n - 1; i > 0; i--) {  /* shuffle */
    size_t j = (size_t) (urand () * (i + 1));
    float t = c.in[i];
    c.in[i] = c.in[j];
    c.in[j] = t;
  }
  fill (din, n, -1, 1);
  memcpy (din0, din, n * sizeof (float));
  elem_loss (&c);
  for (int nc = 0; nc < N * C; nc++)
    for (int y = 0; y < Ho; y++)
      for (int x = 0; x < Wo; x++) {
        const float *p = c.in + (size_t) nc * H * W + 2 * y * W + 2 * x;
        want[(nc * Ho + y) * Wo + x] =
            fmax (fmax (p[0], p[1]), fmax (p[W], p[W + 1]));
      }
  check_close ("maxpool fwd", c.out, want, (size_t) N * C * Ho * Wo, 0, 0);
  udml_maxpool2_backward (din, c.r, c.in, N, C, H, W);
  fd_check ("maxpool fd din", c.in, n, din, din0, elem_loss, &c, 1e-2f, 1e-4,
      1e-4);

  /* ties: the whole gradient goes to the first maximum, once */
  {
    float tin[8] = { 1, 1, 0, 2, 1, 0, 0, 2 };  /* 2 x 4: windows (1,1,1,0), (0,2,0,2) */
    float tg[2] = { 3, 5 }, tdin[8] = { 0 };
    double twant[8] = { 3, 0, 0, 5, 0, 0, 0, 0 };
    udml_maxpool2_backward (tdin, tg, tin, 1, 1, 2, 4);
    check_close ("maxpool ties -> first max", tdin, twant, 8, 0, 0);
  }

  /* gap */
  c.op = 2;
  fill (c.in, n, -1, 1);
  fill (din, n, -1, 1);
  memcpy (din0, din, n * sizeof (float));
  elem_loss (&c);
  for (int nc = 0; nc < N * C; nc++) {
    double s = 0;
    for (int i = 0; i < H * W; i++)
      s += c.in[(size_t) nc * H * W + i];
    want[nc] = s / (H * W);
  }
  check_close ("gap fwd", c.out, want, (size_t) N * C, 1e-6, 1e-6);
  udml_gap_backward (din, c.r, N, C, H * W);
  fd_check ("gap fd din", c.in, n, din, din0, elem_loss, &c, 1e-2f, 1e-4, 1e-3);

  free (c.out);
  free (c.in);
  free (c.r);
  free (din);
  free (din0);
  free (want);
}

/* ----------------------------------------------------------------- dropout */

typedef struct
{
  float *out, *mask, *in, *r;
  size_t n;
} DropCtx;

/* Forward with the mask held fixed (as the backward sees it). */
static double
drop_loss (void *p)
{
  DropCtx *c = p;
  for (size_t i = 0; i < c->n; i++)
    c->out[i] = c->in[i] * c->mask[i];
  return dot_r (c->r, c->out, c->n);
}

static void
test_dropout (void)
{
  size_t n = 20000;
  float p = 0.1f, keep = 1.0f / (1.0f - p);
  DropCtx c = { falloc (n), falloc (n), falloc (n), falloc (n), n };
  float *out2 = falloc (n), *mask2 = falloc (n), *din = falloc (n), *din0;
  double *want = xmalloc (n * sizeof (double));
  UdmlRng rng;
  size_t dropped = 0, bad = 0;

  fill (c.in, n, -1, 1);
  fill (c.r, n, -1, 1);
  fill (din, n, -1, 1);
  din0 = fdup (din, n);

  udml_rng_seed (&rng, 1234, 7);
  udml_dropout_forward (c.out, c.mask, c.in, n, p, &rng);
  for (size_t i = 0; i < n; i++) {
    if (c.mask[i] == 0.0f)
      dropped++;
    else if (c.mask[i] != keep)
      bad++;
    want[i] = (double) c.in[i] * c.mask[i];
  }
  CHECK (bad == 0, "dropout mask: %zu values neither 0 nor 1/(1-p)", bad);
  check_close ("dropout fwd = in * mask", c.out, want, n, 0, 1e-7);
  /* binomial: 5 standard deviations */
  check_scalar ("dropout drop fraction", (double) dropped / n, p,
      5 * sqrt (p * (1 - p) / n), 0);

  udml_rng_seed (&rng, 1234, 7);
  udml_dropout_forward (out2, mask2, c.in, n, p, &rng);
  check_close ("dropout same seed same mask", mask2, c.mask, n, 0, 0);

  udml_dropout_forward (out2, mask2, c.in, n, 0.0f, NULL);
  check_close ("dropout p=0 identity", out2, c.in, n, 0, 0);

  udml_dropout_backward (din, c.r, c.mask, n);
  fd_check ("dropout fd din (fixed mask)", c.in, 2000, din, din0, drop_loss, &c,
      1e-2f, 1e-4, 1e-4);

  free (c.out);
  free (c.mask);
  free (c.in);
  free (c.r);
  free (out2);
  free (mask2);
  free (din);
  free (din0);
  free (want);
}

/* ------------------------------------------------------------------ losses */

typedef struct
{
  float *probs, *logits, *mu, *lv, *prior, *pred, *target;
  int *y;
  int N, K, F;
  float scale;
} LossCtx;

static double
xent_loss (void *p)
{
  LossCtx *c = p;
  return c->scale * (double) udml_xent_forward (c->probs, c->logits, c->y, c->N,
      c->K);
}

static double
kl_loss (void *p)
{
  LossCtx *c = p;
  return c->scale * (double) udml_gauss_kl_forward (c->mu, c->lv, c->prior,
      c->N, c->F);
}

static double
mse_loss (void *p)
{
  LossCtx *c = p;
  return c->scale * (double) udml_mse_forward (c->pred, c->target, c->N);
}

static void
test_losses (void)
{
  int N = 5, K = 7, F = 6;
  int y[5] = { 0, 6, 3, 3, 1 };
  LossCtx c = { falloc (N * K), falloc (N * K), falloc (N * F), falloc (N * F),
    falloc (N), falloc (N), falloc (N), y, N, K, F, 0.7f
  };
  float *d1 = falloc (N * K), *d2 = falloc (N * F), *d0, *d20;
  double want;

  /* xent: value against a direct double evaluation, then gradient */
  fill (c.logits, N * K, -3, 3);
  c.logits[2] = 60.0f;          /* large logit: max subtraction must hold */
  want = 0;
  for (int n = 0; n < N; n++) {
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < K; j++)
      mx = fmax (mx, c.logits[n * K + j]);
    for (int j = 0; j < K; j++)
      s += exp (c.logits[n * K + j] - mx);
    want += log (s) + mx - c.logits[n * K + y[n]];
  }
  check_scalar ("xent fwd", udml_xent_forward (c.probs, c.logits, y, N, K),
      want / N, 1e-5, 1e-5);
  fill (d1, N * K, -1, 1);
  d0 = fdup (d1, N * K);
  udml_xent_backward (d1, c.probs, y, N, K, c.scale);
  fd_check ("xent fd dlogits", c.logits, N * K, d1, d0, xent_loss, &c, 1e-2f,
      2e-4, 1e-2);

  /* gauss_kl: value with logvar near both clamp ends and mixed priors */
  fill (c.mu, N * F, -2, 2);
  fill (c.lv, N * F, -3, 3);
  c.lv[1] = -9.5f;
  c.lv[2] = 9.0f;
  for (int n = 0; n < N; n++)
    c.prior[n] = (float) (1 + n * 2);
  want = 0;
  for (int n = 0; n < N; n++)
    for (int j = 0; j < F; j++) {
      double e = exp (c.lv[n * F + j]), t = c.prior[n], m = c.mu[n * F + j];
      want += 0.5 * (e / t + m * m / t - log ((e + 1e-8) / t) - 1);
    }
  check_scalar ("gauss_kl fwd", udml_gauss_kl_forward (c.mu, c.lv, c.prior, N,
          F), want / N, 1e-5, 1e-5);
  /* the fast log path against the direct twin, l across both branches
   * (u = 1e-8 / e^l below and above 1e-3) and past the clamp */
  {
    int Fr = 75;
    float *mu = falloc (2 * Fr), *lv = falloc (2 * Fr), pr[2] = { 1.0f, 7.0f };
    fill (mu, 2 * Fr, -2, 2);
    for (int j = 0; j < 2 * Fr; j++)
      lv[j] = -25.0f + 37.0f * j / (2 * Fr - 1);
    check_scalar ("gauss_kl fwd = ref, l in [-25, 12]",
        udml_gauss_kl_forward (mu, lv, pr, 2, Fr),
        udml_gauss_kl_forward_ref (mu, lv, pr, 2, Fr), 1e-6, 1e-6);
    for (int j = 0; j < 2 * Fr; j++)
      lv[j] = -11.6f + 0.2f * j / (2 * Fr - 1);
    check_scalar ("gauss_kl fwd = ref, l near the branch",
        udml_gauss_kl_forward (mu, lv, pr, 2, Fr),
        udml_gauss_kl_forward_ref (mu, lv, pr, 2, Fr), 1e-6, 1e-6);
    free (mu);
    free (lv);
  }
  /* gradient at the extremes against the closed form (the float loss is
   * too coarse there for differences) */
  {
    double *wmu = xmalloc (N * F * sizeof (double)), *wlv =
        xmalloc (N * F * sizeof (double));
    memset (d1, 0, N * F * sizeof (float));
    memset (d2, 0, N * F * sizeof (float));
    udml_gauss_kl_backward (d1, d2, c.mu, c.lv, c.prior, N, F, c.scale);
    for (int n = 0; n < N; n++)
      for (int j = 0; j < F; j++) {
        double e = exp (c.lv[n * F + j]), t = c.prior[n];
        wmu[n * F + j] = c.scale * c.mu[n * F + j] / t / N;
        wlv[n * F + j] = c.scale * 0.5 * (e / t - e / (e + 1e-8)) / N;
      }
    check_close ("gauss_kl dmu closed form", d1, wmu, N * F, 1e-6, 1e-5);
    check_close ("gauss_kl dlogvar closed form", d2, wlv, N * F, 1e-6, 1e-4);
    free (wmu);
    free (wlv);
  }
  /* finite differences on moderate values */
  fill (c.lv, N * F, -1.5, 1.5);
  fill (d1, N * F, -1, 1);
  fill (d2, N * F, -1, 1);
  free (d0);
  d0 = fdup (d1, N * F);
  d20 = fdup (d2, N * F);
  udml_gauss_kl_backward (d1, d2, c.mu, c.lv, c.prior, N, F, c.scale);
  fd_check ("gauss_kl fd dmu", c.mu, N * F, d1, d0, kl_loss, &c, 1e-2f, 2e-4,
      2e-3);
  fd_check ("gauss_kl fd dlogvar", c.lv, N * F, d2, d20, kl_loss, &c, 1e-2f,
      2e-4, 2e-3);

  /* mse */
  fill (c.pred, N, -2, 2);
  fill (c.target, N, -2, 2);
  want = 0;
  for (int n = 0; n < N; n++)
    want +=
        ((double) c.pred[n] - c.target[n]) * ((double) c.pred[n] - c.target[n]);
  check_scalar ("mse fwd", udml_mse_forward (c.pred, c.target, N), want / N,
      1e-6, 1e-6);
  fill (d1, N, -1, 1);
  memcpy (d0, d1, N * sizeof (float));
  udml_mse_backward (d1, c.pred, c.target, N, c.scale);
  fd_check ("mse fd dpred", c.pred, N, d1, d0, mse_loss, &c, 1e-2f, 1e-4, 1e-3);

  free (c.probs);
  free (c.logits);
  free (c.mu);
  free (c.lv);
  free (c.prior);
  free (c.pred);
  free (c.target);
  free (d1);
  free (d2);
  free (d0);
  free (d20);
}

/* ----------------------------------------------------- fused and _set */

/* The fused and writing kernels against the accumulating ones they replace:
 * zero, then ReLU backward, BN backward, pool backward, conv backward.  The
 * _set outputs start as garbage, so a missed element shows. */
static void
test_fused (int N, int C, int H, int W)
{
  size_t HW = (size_t) H * W, n = (size_t) N *C * HW;
  float *in = falloc (n), *g = falloc (n), *gam = falloc (C), *bet = falloc (C);
  float *mean = falloc (C), *rstd = falloc (C), *rm = falloc (C),
      *rv = falloc (C);
  float *y0 = falloc (n), *y1 = falloc (n), *t = falloc (n);
  float *d0 = falloc (n), *d1 = falloc (n);
  float *dg0 = falloc (C), *db0 = falloc (C), *dg1 = falloc (C),
      *db1 = falloc (C);
  float *w = falloc ((size_t) C * C * 9), *dw0 = falloc ((size_t) C * C * 9),
      *dw1 = falloc ((size_t) C * C * 9), *col = falloc (C * 9 * HW);
  char what[96];

  fill (in, n, -2, 2);
  fill (g, n, -1, 1);
  fill (gam, C, 0.5f, 1.5f);
  fill (bet, C, -0.5f, 0.5f);
  fill (rm, C, -0.2f, 0.2f);
  fill (rv, C, 0.5f, 2.0f);
  fill (w, (size_t) C * C * 9, -0.5f, 0.5f);

  /* forward: BN + ReLU in one pass, training and eval */
  udml_batchnorm_forward_train (y0, mean, rstd, NULL, NULL, in, gam, bet, N, C,
      HW);
  udml_relu_forward (y0, y0, n);
  udml_batchnorm_relu_forward_train (y1, mean, rstd, NULL, NULL, in, gam, bet,
      N, C, HW);
  snprintf (what, sizeof what, "bn_relu_forward_train %dx%dx%dx%d", N, C, H, W);
  check_close (what, y1, y0, n, 0.0, 0.0);
  udml_batchnorm_forward_eval (t, in, gam, bet, rm, rv, N, C, HW);
  udml_relu_forward (t, t, n);
  udml_batchnorm_relu_forward_eval (d1, in, gam, bet, rm, rv, N, C, HW);
  snprintf (what, sizeof what, "bn_relu_forward_eval %dx%dx%dx%d", N, C, H, W);
  check_close (what, d1, t, n, 0.0, 0.0);

  /* backward through ReLU and BN: y0 is the ReLU output */
  memset (t, 0, n * sizeof (float));
  udml_relu_backward (t, g, y0, n);
  memset (d0, 0, n * sizeof (float));
  udml_batchnorm_backward (d0, dg0, db0, t, in, mean, rstd, gam, N, C, HW);
  fill (d1, n, 1e6f, 2e6f);
  udml_batchnorm_relu_backward_set (d1, dg1, db1, g, y0, in, mean, rstd, gam,
      N, C, HW);
  snprintf (what, sizeof what, "bn_relu_backward_set din %dx%dx%dx%d", N, C, H,
      W);
  check_close (what, d1, d0, n, 0.0, 0.0);
  snprintf (what, sizeof what, "bn_relu_backward_set dgamma %dx%d", N, C);
  check_close (what, dg1, dg0, C, 0.0, 0.0);
  snprintf (what, sizeof what, "bn_relu_backward_set dbeta %dx%d", N, C);
  check_close (what, db1, db0, C, 0.0, 0.0);

  /* max pool backward (odd H, W: the last row and column get 0) */
  memset (d0, 0, n * sizeof (float));
  udml_maxpool2_backward (d0, g, in, N, C, H, W);
  fill (d1, n, 1e6f, 2e6f);
  udml_maxpool2_backward_set (d1, g, in, N, C, H, W);
  snprintf (what, sizeof what, "maxpool2_backward_set %dx%dx%dx%d", N, C, H, W);
  check_close (what, d1, d0, n, 0.0, 0.0);

  /* conv backward, both kernel sizes */
  for (int k = 1; k <= 3; k += 2) {
    memset (d0, 0, n * sizeof (float));
    udml_conv2d_backward (d0, dw0, NULL, col, g, in, w, N, C, C, H, W, k);
    fill (d1, n, 1e6f, 2e6f);
    udml_conv2d_backward_set (d1, dw1, NULL, col, g, in, w, N, C, C, H, W, k);
    snprintf (what, sizeof what, "conv2d_backward_set k=%d %dx%dx%dx%d", k, N,
        C, H, W);
    check_close (what, d1, d0, n, 0.0, 0.0);
    check_close (what, dw1, dw0, (size_t) C * C * k * k, 0.0, 0.0);
  }

  free (in);
  free (g);
  free (gam);
  free (bet);
  free (mean);
  free (rstd);
  free (rm);
  free (rv);
  free (y0);
  free (y1);
  free (t);
  free (d0);
  free (d1);
  free (dg0);
  free (db0);
  free (dg1);
  free (db1);
  free (w);
  free (dw0);
  free (dw1);
  free (col);
}

int
main (void)
{
  openblas_set_num_threads (1);

  /* (a) finite differences */
  test_conv_grad (2, 3, 4, 5, 6, 3);
  test_conv_grad (2, 3, 4, 5, 6, 1);
  test_conv_grad (1, 2, 3, 1, 4, 3);
  test_linear (3, 5, 4);
  test_batchnorm (3, 4, 5);
  test_batchnorm (1, 2, 7);
  test_batchnorm (2, 3, 29);    /* HW past the 8-wide blocks */
  test_elementwise ();
  test_dropout ();
  test_losses ();

  /* (b) BLAS vs naive on odd shapes */
  test_conv_ref (3, 5, 7, 9, 11, 3);
  test_conv_ref (3, 5, 7, 9, 11, 1);
  test_conv_ref (1, 5, 7, 1, 11, 3);
  test_conv_ref (1, 4, 6, 9, 1, 3);
  test_conv_ref (1, 1, 16, 64, 101, 3);
  test_conv_ref (2, 64, 128, 8, 12, 1);
  test_conv_ref (2, 3, 5, 2, 2, 3);     /* rows shorter than the padding */
  test_conv_ref (3, 2, 3, 7, 2, 3);
  test_conv_ref (2, 64, 128, 8, 12, 3); /* the deep layers' short rows */
  test_linear (1, 128, 64);
  test_linear (13, 33, 10);

  /* (c) fused and writing kernels against the ones they replace */
  test_fused (2, 3, 7, 9);
  test_fused (3, 4, 6, 11);     /* HW past the 8-wide blocks, even H */
  test_fused (1, 2, 1, 3);      /* rows shorter than the padding */

  return test_summary ("test-ops");
}
