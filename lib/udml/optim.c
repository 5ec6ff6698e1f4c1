/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* optim.c — global-norm clipping and SGD with momentum and weight decay
 * (reference-code §5.1: decay added after clipping, PyTorch SGD semantics). */
#include <math.h>

#include "trainer.h"

double
udml_grad_norm (const float *g, size_t n)
{
  double acc = 0.0;

  for (size_t i = 0; i < n; i++)
    acc += (double) g[i] * g[i];
  return sqrt (acc);
}

double
udml_clip_grad_norm (float *g, size_t n, float max_norm)
{
  double norm = udml_grad_norm (g, n);

  if (max_norm > 0.0f && norm > max_norm) {
    float s = (float) (max_norm / (norm + 1e-6));
    for (size_t i = 0; i < n; i++)
      g[i] *= s;
  }
  return norm;
}

void
udml_sgd_step (float *p, float *buf, const float *g, size_t n, float lr,
    float momentum, float weight_decay)
{
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + weight_decay * p[i];
    buf[i] = momentum * buf[i] + d;
    p[i] -= lr * buf[i];
  }
}
