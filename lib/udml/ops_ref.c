/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ops_ref.c — naive loop twins of the BLAS-backed kernels in ops.c, kept
 * as simple as possible: they are the tests' reference. */
#include <math.h>

#include "ops.h"

void
udml_conv2d_forward_ref (float *out, const float *in, const float *w,
    const float *b, int N, int Ci, int Co, int H, int W, int k)
{
  int p = k / 2;

  for (int n = 0; n < N; n++)
    for (int co = 0; co < Co; co++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          float s = b ? b[co] : 0.0f;
          for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                int sy = y + ky - p, sx = x + kx - p;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                  continue;
                s += w[((co * Ci + ci) * k + ky) * k + kx]
                    * in[((n * Ci + ci) * H + sy) * W + sx];
              }
          out[((n * Co + co) * H + y) * W + x] = s;
        }
}

void
udml_conv2d_backward_ref (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int Ci, int Co, int H, int W, int k)
{
  int p = k / 2;

  for (int n = 0; n < N; n++)
    for (int co = 0; co < Co; co++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          float g = dout[((n * Co + co) * H + y) * W + x];
          if (db)
            db[co] += g;
          for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                int sy = y + ky - p, sx = x + kx - p;
                int wi = ((co * Ci + ci) * k + ky) * k + kx;
                int ii = ((n * Ci + ci) * H + sy) * W + sx;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W)
                  continue;
                if (dw)
                  dw[wi] += g * in[ii];
                if (din)
                  din[ii] += g * w[wi];
              }
        }
}

void
udml_linear_forward_ref (float *out, const float *in, const float *w,
    const float *b, int N, int I, int O)
{
  for (int n = 0; n < N; n++)
    for (int o = 0; o < O; o++) {
      float s = b ? b[o] : 0.0f;
      for (int i = 0; i < I; i++)
        s += w[o * I + i] * in[n * I + i];
      out[n * O + o] = s;
    }
}

void
udml_linear_backward_ref (float *din, float *dw, float *db, const float *dout,
    const float *in, const float *w, int N, int I, int O)
{
  for (int n = 0; n < N; n++)
    for (int o = 0; o < O; o++) {
      float g = dout[n * O + o];
      if (db)
        db[o] += g;
      for (int i = 0; i < I; i++) {
        if (dw)
          dw[o * I + i] += g * in[n * I + i];
        if (din)
          din[n * I + i] += g * w[o * I + i];
      }
    }
}

float
udml_gauss_kl_forward_ref (const float *mu, const float *logvar,
    const float *prior, int N, int F)
{
  double total = 0.0;

  for (int n = 0; n < N; n++)
    for (int j = 0; j < F; j++) {
      double e = exp ((double) logvar[n * F + j]), t = prior[n];
      double m = mu[n * F + j];
      total += 0.5 * (e / t + m * m / t - log ((e + 1e-8) / t) - 1.0);
    }
  return (float) (total / N);
}
