/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rng.c — xoshiro256** seeded through splitmix64 from (seed, stream), so any
 * (seed, stream) pair names one reproducible sequence. */
#include <math.h>

#include "internal.h"

#define UDML_TWO_PI 6.283185307179586

static uint64_t
splitmix64 (uint64_t * x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

void
udml_rng_seed (UdmlRng * rng, uint64_t seed, uint64_t stream)
{
  uint64_t a = seed, b = stream ^ 0x6a09e667f3bcc909ULL;
  uint64_t mix = splitmix64 (&a) ^ rotl (splitmix64 (&b), 17);

  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&mix);
}

uint64_t
udml_rng_u64 (UdmlRng * rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

float
udml_rng_uniform (UdmlRng * rng)
{
  return (float) (udml_rng_u64 (rng) >> 40) * (1.0f / 16777216.0f);
}

uint32_t
udml_rng_below (UdmlRng * rng, uint32_t n)
{
  return (uint32_t) (((udml_rng_u64 (rng) >> 32) * (uint64_t) n) >> 32);
}

/* Box-Muller on (0,1] x [0,1) doubles; both outputs used by the fill. */
static void
normal_pair (UdmlRng * rng, double *a, double *b)
{
  double u1 = ((udml_rng_u64 (rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (udml_rng_u64 (rng) >> 11) * (1.0 / 9007199254740992.0);
  double r = sqrt (-2.0 * log (u1));

  *a = r * cos (UDML_TWO_PI * u2);
  *b = r * sin (UDML_TWO_PI * u2);
}

float
udml_rng_normal (UdmlRng * rng)
{
  double a, b;

  normal_pair (rng, &a, &b);
  return (float) a;
}

void
udml_rng_fill_normal (UdmlRng * rng, float *x, size_t n)
{
  size_t i;
  double a, b;

  for (i = 0; i + 1 < n; i += 2) {
    normal_pair (rng, &a, &b);
    x[i] = (float) a;
    x[i + 1] = (float) b;
  }
  if (i < n) {
    normal_pair (rng, &a, &b);
    x[i] = (float) a;
  }
}
