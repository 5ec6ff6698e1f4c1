/* noise.c — the noise operators of method.md §3, applied to raw features
 * (before standardisation) so a level means the same for every model. */
#include <math.h>

#include "internal.h"

static inline float
clamp255 (float v)
{
  return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

void
udml_noise_gaussian_planes (UdmlModalityKind kind, float *x, int channels,
    size_t plane, int level, UdmlRng * rng)
{
  if (!x || level <= 1 || channels < 1)
    return;
  if (level > UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS;

  if (kind == UDML_MODALITY_AUDIO) {
    /* log-mel domain: std = level; level 11 replaces by N(0, 11^2) */
    size_t n = plane * (size_t) channels;
    float sd = (float) level;
    for (size_t i = 0; i < n; i++) {
      float e = udml_rng_normal (rng) * sd;
      x[i] = level == UDML_NOISE_LEVELS ? e : x[i] + e;
    }
    return;
  }

  /* pixels 0..255: std = level^2, one field shared by all channels; level 11
   * replaces the frame by saturated noise (25.5 * N(0, 121^2), as the
   * reference), clamped to [0, 255] */
  for (size_t i = 0; i < plane; i++) {
    float e = udml_rng_normal (rng);
    for (int c = 0; c < channels; c++) {
      float *v = x + (size_t) c * plane + i;
      if (level == UDML_NOISE_LEVELS)
        *v = clamp255 (e * 25.5f * 121.0f);
      else
        *v = clamp255 (*v + e * (float) (level * level));
    }
  }
}

void
udml_noise_gaussian (UdmlModalityKind kind, float *x, size_t n, int level,
    UdmlRng * rng)
{
  udml_noise_gaussian_planes (kind, x, 1, n, level, rng);
}

void
udml_noise_salt (float *x, size_t n, int e, UdmlRng * rng)
{
  float lo, hi, p;

  if (!x || n == 0 || e <= 0)
    return;
  lo = hi = x[0];
  for (size_t i = 1; i < n; i++) {
    if (x[i] < lo)
      lo = x[i];
    if (x[i] > hi)
      hi = x[i];
  }
  p = (float) e / 20.0f;
  for (size_t i = 0; i < n; i++) {
    if (udml_rng_uniform (rng) < p)
      x[i] = (udml_rng_u64 (rng) >> 63) ? hi : lo;
  }
}
