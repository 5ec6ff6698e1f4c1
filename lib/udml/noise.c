/* noise.c — the degradation kinds and levels of method.md §3, defined once:
 * on raw float features (before standardisation, so a level means the same
 * for every model) and on 8-bit video frames (the udmlnoise element). */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Level 11 video: the frame is replaced by 25.5 * N(0, 121^2), clamped
 * (reference-code.md §4); kept as two factors, in this order, so the float
 * results stay bit-identical to earlier builds. */
#define PURE_NOISE_SCALE 25.5f
#define PURE_NOISE_STD 121.0f

static const char *const degrade_names[UDML_DEGRADE_COUNT] = {
  [UDML_DEGRADE_GAUSSIAN] = "gaussian",
  [UDML_DEGRADE_SALT] = "salt",
};

static inline float
clamp255 (float v)
{
  return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

/* One pixel value under video Gaussian noise at level 2..11 given its draw
 * e ~ N(0, 1): std level^2 grey levels; level 11 replaces the value. */
static inline float
video_gaussian (float v, float e, int level)
{
  if (level == UDML_NOISE_LEVELS)
    return clamp255 (e * PURE_NOISE_SCALE * PURE_NOISE_STD);
  return clamp255 (v + e * (float) (level * level));
}

/* Share of values hit by salt-and-pepper at intensity e. */
static inline float
salt_fraction (int e)
{
  return (float) e / 20.0f;
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

  /* pixels 0..255: one field shared by all channels */
  for (size_t i = 0; i < plane; i++) {
    float e = udml_rng_normal (rng);
    for (int c = 0; c < channels; c++) {
      float *v = x + (size_t) c * plane + i;
      *v = video_gaussian (*v, e, level);
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
  p = salt_fraction (e);
  for (size_t i = 0; i < n; i++) {
    if (udml_rng_uniform (rng) < p)
      x[i] = (udml_rng_u64 (rng) >> 63) ? hi : lo;
  }
}

const char *
udml_degrade_name (UdmlDegrade kind)
{
  if ((int) kind < 0 || kind >= UDML_DEGRADE_COUNT)
    return "unknown";
  return degrade_names[kind];
}

int
udml_degrade_from_name (const char *name)
{
  if (!name)
    return -1;
  for (int k = 0; k < UDML_DEGRADE_COUNT; k++)
    if (strcmp (name, degrade_names[k]) == 0)
      return k;
  return -1;
}

static inline uint8_t
round_u8 (float v)
{
  return (uint8_t) lrintf (v);
}

UdmlStatus
udml_degrade_frame_u8 (UdmlDegrade kind, int level, UdmlFrameU8 * frame,
    UdmlRng * rng, UdmlError * err)
{
  int n_comp;

  if (!frame || !rng)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: frame or rng is NULL");
  n_comp = frame->n_comp;
  if ((int) kind < 0 || kind >= UDML_DEGRADE_COUNT)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: unknown kind %d",
        (int) kind);
  if (level < 1 || level > UDML_NOISE_LEVELS)
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: level %d outside 1..%d", level, UDML_NOISE_LEVELS);
  if (n_comp < 1 || n_comp > 4 || frame->width < 0 || frame->height < 0)
    return udml_error_set (err, UDML_ERR_DIMS,
        "degrade: frame of %d x %d pixels with %d components", frame->width,
        frame->height, n_comp);
  for (int c = 0; c < n_comp; c++)
    if (!frame->comp[c])
      return udml_error_set (err, UDML_ERR_ARG,
          "degrade: component %d has no data", c);
  if (level == 1)
    return UDML_OK;

  for (int y = 0; y < frame->height; y++) {
    size_t row = (size_t) y * frame->stride;
    for (int x = 0; x < frame->width; x++) {
      size_t off = row + (size_t) x * frame->pstride;

      if (kind == UDML_DEGRADE_SALT) {
        /* the draws of udml_noise_salt; 0 and 255 are the frame's extremes
         * for any frame that spans the pixel range */
        uint8_t v;
        if (udml_rng_uniform (rng) >= salt_fraction (level))
          continue;
        v = (udml_rng_u64 (rng) >> 63) ? 255 : 0;
        for (int c = 0; c < n_comp; c++)
          frame->comp[c][off] = v;
      } else {
        float e = udml_rng_normal (rng);
        for (int c = 0; c < n_comp; c++) {
          uint8_t *p = frame->comp[c] + off;
          *p = round_u8 (video_gaussian ((float) *p, e, level));
        }
      }
    }
  }
  return UDML_OK;
}
