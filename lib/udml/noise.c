/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* noise.c — the degradation kinds and levels of method.md §3 and its
 * "Degradation kinds", defined once: on raw float video features and audio
 * waveforms (before features and standardisation, so a level means the same
 * for every model), on 8-bit video frames and s16 audio (the udmlnoise
 * element). Blocky needs libav and lives in lib/media (blocky.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Level 11 video: the frame is replaced by 25.5 * N(0, 121^2), clamped
 * (reference-code.md §4); kept as two factors, in this order, so the float
 * results stay bit-identical to earlier builds. */
#define PURE_NOISE_SCALE 25.5f
#define PURE_NOISE_STD 121.0f

#define UDML_PI 3.14159265358979323846
/* dark: read noise std per level step, grey levels */
#define DARK_NOISE_STEP 0.5f
/* blur radius and motion half length per level step, share of min(H, W) */
#define BLUR_SHARE (1.0 / 100.0)
#define MOTION_SHARE (1.0 / 100.0)
/* audio SNR of level 2 and its step per level, dB */
#define SNR_TOP_DB 30.0
#define SNR_STEP_DB 5.0
/* babble: talkers summed, the other speech read at n_other / T apart */
#define BABBLE_TALKERS 4
#define CLIP_DB_STEP 3.6
#define DROPOUT_PERIOD_S 0.1
#define MUFFLE_TOP_HZ 8000.0
#define MUFFLE_OCTAVE_STEP 0.6
#define HUM_HARMONICS 5
#define DEFAULT_MAINS_HZ 50.0
#define MAX_CHANNELS 8

static const char *const degrade_names[UDML_DEGRADE_COUNT] = {
  [UDML_DEGRADE_GAUSSIAN] = "gaussian",
  [UDML_DEGRADE_SALT] = "salt",
  [UDML_DEGRADE_DARK] = "dark",
  [UDML_DEGRADE_BLUR] = "blur",
  [UDML_DEGRADE_MOTION] = "motion",
  [UDML_DEGRADE_OCCLUSION] = "occlusion",
  [UDML_DEGRADE_BLOCKY] = "blocky",
  [UDML_DEGRADE_FREEZE] = "freeze",
  [UDML_DEGRADE_BABBLE] = "babble",
  [UDML_DEGRADE_CLIP] = "clip",
  [UDML_DEGRADE_DROPOUT] = "dropout",
  [UDML_DEGRADE_MUFFLE] = "muffle",
  [UDML_DEGRADE_HUM] = "hum",
};

struct UdmlDegradeStream
{
  void *ws;                     /* float frame + blur/motion workspace */
  size_t ws_bytes;
  uint8_t *held;                /* freeze: n_comp x H x W */
  size_t held_bytes;
  int held_w, held_h, held_comp, have_held;
  int64_t frames;               /* freeze: frames since the last reset */
  double muffle[MAX_CHANNELS][2][2];    /* biquad states per channel */
  float *pcm;                   /* s16 through float */
  size_t pcm_n;
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

/* Share of waveform samples turned into clicks: one click already shows
 * across a log-mel frame, so the share grows tenfold every three levels,
 * 1/2000 at level 2 to 1/2 at 11, where a share of L/20 would saturate
 * the spectrum from level 2 on. */
static inline float
click_fraction (int level)
{
  return 0.5f * powf (10.0f, -3.0f * (float) (UDML_NOISE_LEVELS - level) /
      (float) (UDML_NOISE_LEVELS - 2));
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

int
udml_degrade_applies (UdmlDegrade kind, UdmlModalityKind modality)
{
  switch (kind) {
    case UDML_DEGRADE_GAUSSIAN:
    case UDML_DEGRADE_SALT:
      return 1;
    case UDML_DEGRADE_DARK:
    case UDML_DEGRADE_BLUR:
    case UDML_DEGRADE_MOTION:
    case UDML_DEGRADE_OCCLUSION:
    case UDML_DEGRADE_BLOCKY:
    case UDML_DEGRADE_FREEZE:
      return modality == UDML_MODALITY_VIDEO;
    case UDML_DEGRADE_BABBLE:
    case UDML_DEGRADE_CLIP:
    case UDML_DEGRADE_DROPOUT:
    case UDML_DEGRADE_MUFFLE:
    case UDML_DEGRADE_HUM:
      return modality == UDML_MODALITY_AUDIO;
    default:
      return 0;
  }
}

static UdmlStatus
check_kind_level (UdmlDegrade kind, int level, UdmlModalityKind modality,
    UdmlError * err)
{
  if ((int) kind < 0 || kind >= UDML_DEGRADE_COUNT)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: unknown kind %d",
        (int) kind);
  if (level < 1 || level > UDML_NOISE_LEVELS)
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: level %d outside 1..%d", level, UDML_NOISE_LEVELS);
  if (!udml_degrade_applies (kind, modality))
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: %s is not a%s kind", degrade_names[kind],
        modality == UDML_MODALITY_VIDEO ? " video" : "n audio");
  return UDML_OK;
}

/* ------------------------------------------------------------- video */

static inline uint8_t
round_u8 (float v)
{
  return (uint8_t) lrintf (v);
}

float
udml_degrade_dark_gain (int level)
{
  if (level <= 1)
    return 1.0f;
  if (level > UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS;
  return powf (2.0f, -0.5f * (float) (level - 1));
}

void
udml_degrade_occlusion_rect (int width, int height, int level, int *x0,
    int *y0, int *w, int *h)
{
  double side;
  int pw = 0, ph = 0;

  if (level > UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS;
  if (level > 1 && width > 0 && height > 0) {
    /* the frame's aspect, area share (level - 1) / 10 */
    side = sqrt ((level - 1) / (double) (UDML_NOISE_LEVELS - 1));
    pw = (int) lround (width * side);
    ph = (int) lround (height * side);
  }
  *w = pw;
  *h = ph;
  *x0 = (width - pw) / 2;
  *y0 = (height - ph) / 2;
}

/* Half widths of the blur disk (radius) and of the motion line. */
static double
blur_radius (int level, int h, int w)
{
  return (level - 1) * BLUR_SHARE * (h < w ? h : w);
}

static double
motion_half (int level, int h, int w)
{
  return (level - 1) * MOTION_SHARE * (h < w ? h : w);
}

/* Row prefix sums over a row of w values extended by pad replicated values
 * on each side: pre has w + 2 pad + 1 entries. */
static void
row_prefix (double *pre, const float *v, int w, int pad)
{
  pre[0] = 0.0;
  for (int j = 0; j < w + 2 * pad; j++) {
    int c = j - pad;
    c = c < 0 ? 0 : c >= w ? w - 1 : c;
    pre[j + 1] = pre[j] + v[c];
  }
}

/* Sum over columns x-k..x+k plus f times the two next ones, with
 * hh = k + f: a span of length 2 hh + 1 with linear ends. */
static inline double
span_sum (const double *pre, const float *v, int w, int pad, int x, int k,
    double f)
{
  double s = pre[x + k + pad + 1] - pre[x - k + pad];
  if (f > 0.0) {
    int a = x - k - 1, b = x + k + 1;
    a = a < 0 ? 0 : a;
    b = b >= w ? w - 1 : b;
    s += f * ((double) v[a] + v[b]);
  }
  return s;
}

/* Floats for the kinds that need a workspace on a C x H x W frame. */
static size_t
video_ws_bytes (UdmlDegrade kind, int level, int h, int w)
{
  int pad;

  if (kind == UDML_DEGRADE_BLUR) {
    pad = (int) floor (blur_radius (level, h, w)) + 1;
    return (size_t) h *(w + 2 * pad + 1) * (sizeof (double) +
        sizeof (float)) + (size_t) h *w * sizeof (float);
  }
  if (kind == UDML_DEGRADE_MOTION) {
    pad = (int) floor (motion_half (level, h, w)) + 1;
    return (size_t) (w + 2 * pad + 1) * sizeof (double) +
        (size_t) w *sizeof (float);
  }
  return 0;
}

/* Defocus: a disk of radius r, each row's span with linear ends, edges
 * replicated; x: H x W. ws: the prefix sums and the replicated rows, then
 * the output. */
static void
blur_plane (float *x, int h, int w, double r, void *ws)
{
  int rr = (int) floor (r), pad = rr + 1;
  size_t rowlen = (size_t) w + 2 * pad + 1;
  double *pre = ws;
  float *rows = (float *) (pre + (size_t) h * rowlen);
  float *out = rows + (size_t) h * rowlen;
  double norm = 0.0;

  double inv;

  for (int dy = -rr; dy <= rr; dy++)
    norm += 2.0 * sqrt (r * r - (double) dy * dy) + 1.0;
  inv = 1.0 / norm;
  for (int y = 0; y < h; y++) {
    float *v = rows + (size_t) y * rowlen;
    row_prefix (pre + (size_t) y * rowlen, x + (size_t) y * w, w, pad);
    for (int j = 0; j < w + 2 * pad; j++) {
      int c = j - pad;
      v[j] = x[(size_t) y * w + (c < 0 ? 0 : c >= w ? w - 1 : c)];
    }
  }
  memset (out, 0, (size_t) h * w * sizeof (float));
  /* one disk row at a time: its span is the same for every pixel */
  for (int dy = -rr; dy <= rr; dy++) {
    double hh = sqrt (r * r - (double) dy * dy);
    int k = (int) floor (hh);
    double f = hh - k;
    for (int y = 0; y < h; y++) {
      int yy = y + dy;
      const double *p;
      const float *v;
      float *o = out + (size_t) y * w;
      yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
      p = pre + (size_t) yy *rowlen + pad;
      v = rows + (size_t) yy *rowlen + pad;
      /* columns x-k..x+k, plus f times x-k-1 and x+k+1 */
      for (int xx = 0; xx < w; xx++)
        o[xx] += (float) ((p[xx + k + 1] - p[xx - k] +
                f * ((double) v[xx - k - 1] + v[xx + k + 1])) * inv);
    }
  }
  memcpy (x, out, (size_t) h * w * sizeof (float));
}

/* Motion: a horizontal line of length 2 hh + 1 pixels; x: H x W. */
static void
motion_plane (float *x, int h, int w, double hh, void *ws)
{
  int k = (int) floor (hh), pad = k + 1;
  double *pre = ws, f = hh - k, norm = 2.0 * hh + 1.0;
  float *out = (float *) (pre + (size_t) w + 2 * pad + 1);

  for (int y = 0; y < h; y++) {
    float *row = x + (size_t) y * w;
    row_prefix (pre, row, w, pad);
    for (int xx = 0; xx < w; xx++)
      out[xx] = (float) (span_sum (pre, row, w, pad, xx, k, f) / norm);
    memcpy (row, out, (size_t) w * sizeof (float));
  }
}

/* The float video rules; ws holds video_ws_bytes (). */
static UdmlStatus
degrade_video_ws (UdmlDegrade kind, int level, float *x, int c, int h, int w,
    UdmlRng * rng, void *ws, UdmlError * err)
{
  size_t plane = (size_t) h * w;

  switch (kind) {
    case UDML_DEGRADE_GAUSSIAN:
      udml_noise_gaussian_planes (UDML_MODALITY_VIDEO, x, c, plane, level, rng);
      break;
    case UDML_DEGRADE_SALT:
      udml_noise_salt (x, plane * c, level, rng);
      break;
    case UDML_DEGRADE_DARK:{
      /* one read-noise field shared by the channels, as gaussian */
      float g = udml_degrade_dark_gain (level);
      float sd = DARK_NOISE_STEP * (float) (level - 1);
      for (size_t i = 0; i < plane; i++) {
        float e = udml_rng_normal (rng) * sd;
        for (int ch = 0; ch < c; ch++) {
          float *v = x + (size_t) ch * plane + i;
          *v = clamp255 (g * *v + e);
        }
      }
      break;
    }
    case UDML_DEGRADE_BLUR:
      for (int ch = 0; ch < c; ch++)
        blur_plane (x + (size_t) ch * plane, h, w, blur_radius (level, h, w),
            ws);
      break;
    case UDML_DEGRADE_MOTION:
      for (int ch = 0; ch < c; ch++)
        motion_plane (x + (size_t) ch * plane, h, w, motion_half (level, h,
                w), ws);
      break;
    case UDML_DEGRADE_OCCLUSION:{
      int x0, y0, pw, ph;
      udml_degrade_occlusion_rect (w, h, level, &x0, &y0, &pw, &ph);
      for (int ch = 0; ch < c; ch++)
        for (int y = y0; y < y0 + ph; y++)
          for (int xx = x0; xx < x0 + pw; xx++)
            x[(size_t) ch * plane + (size_t) y * w + xx] = 0.0f;
      break;
    }
    case UDML_DEGRADE_BLOCKY:
      return udml_error_set (err, UDML_ERR_UNSUPPORTED,
          "degrade: blocky is made by a codec and needs lib/media "
          "(udml_media_blocky_planes / udml_media_blocky_frame_u8)");
    case UDML_DEGRADE_FREEZE:
      return udml_error_set (err, UDML_ERR_ARG,
          "degrade: freeze spans frames (udml_degrade_freeze_frames or "
          "udml_degrade_stream_frame_u8)");
    default:
      return udml_error_set (err, UDML_ERR_ARG, "degrade: %s is not a video "
          "kind", udml_degrade_name (kind));
  }
  return UDML_OK;
}

static UdmlStatus
check_video_dims (int c, int h, int w, UdmlError * err)
{
  if (c < 1 || c > 4 || h < 0 || w < 0)
    return udml_error_set (err, UDML_ERR_DIMS,
        "degrade: frame of %d x %d pixels with %d components", w, h, c);
  return UDML_OK;
}

UdmlStatus
udml_degrade_video (UdmlDegrade kind, int level, float *x, int c, int h,
    int w, UdmlRng * rng, UdmlError * err)
{
  /* 0 for bad arguments too: udml_degrade_video_ws reports those */
  size_t bytes = udml_degrade_video_ws_size (kind, level, h, w);
  void *ws = bytes ? malloc (bytes) : NULL;
  UdmlStatus st;

  if (bytes && !ws)
    return udml_error_set (err, UDML_ERR_NOMEM,
        "degrade: %zu bytes of workspace for %s", bytes,
        udml_degrade_name (kind));
  st = udml_degrade_video_ws (kind, level, x, c, h, w, rng, ws, bytes, err);
  free (ws);
  return st;
}

size_t
udml_degrade_video_ws_size (UdmlDegrade kind, int level, int h, int w)
{
  if (kind < 0 || kind >= UDML_DEGRADE_COUNT || level < 1
      || level > UDML_NOISE_LEVELS || h < 0 || w < 0)
    return 0;
  return video_ws_bytes (kind, level, h, w);
}

UdmlStatus
udml_degrade_video_ws (UdmlDegrade kind, int level, float *x, int c, int h,
    int w, UdmlRng * rng, void *ws, size_t ws_bytes, UdmlError * err)
{
  UdmlStatus st;
  size_t need;

  if (!x || !rng)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: frame or rng is NULL");
  if ((st = check_kind_level (kind, level, UDML_MODALITY_VIDEO, err)))
    return st;
  if ((st = check_video_dims (c, h, w, err)))
    return st;
  if (level == 1 && kind != UDML_DEGRADE_BLOCKY && kind != UDML_DEGRADE_FREEZE)
    return UDML_OK;
  need = video_ws_bytes (kind, level, h, w);
  if (need > ws_bytes || (need && !ws))
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: %s needs %zu bytes of workspace, got %zu",
        udml_degrade_name (kind), need, ws ? ws_bytes : 0);
  return degrade_video_ws (kind, level, x, c, h, w, rng, ws, err);
}

void
udml_degrade_freeze_frames (float *x, int t, size_t f, int level)
{
  if (!x || level <= 1)
    return;
  for (int i = 1; i < t; i++) {
    int src = level >= UDML_NOISE_LEVELS ? 0 : i / level * level;
    if (src != i)
      memcpy (x + (size_t) i * f, x + (size_t) src * f, f * sizeof (float));
  }
}

static UdmlStatus
check_frame (const UdmlFrameU8 * frame, UdmlError * err)
{
  UdmlStatus st;

  if ((st = check_video_dims (frame->n_comp, frame->height, frame->width, err)))
    return st;
  for (int c = 0; c < frame->n_comp; c++)
    if (!frame->comp[c])
      return udml_error_set (err, UDML_ERR_ARG,
          "degrade: component %d has no data", c);
  return UDML_OK;
}

/* Gaussian and salt straight on the bytes: no workspace, the draws of
 * their float rules in order. */
static void
frame_u8_direct (UdmlDegrade kind, int level, UdmlFrameU8 * frame,
    UdmlRng * rng)
{
  int n_comp = frame->n_comp;

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
}

/* The other kinds through their float rule on a C x H x W copy in ws. */
static UdmlStatus
frame_u8_via_float (UdmlDegrade kind, int level, UdmlFrameU8 * f,
    UdmlRng * rng, void *ws, UdmlError * err)
{
  size_t plane = (size_t) f->width * f->height;
  size_t fl = (plane * f->n_comp * sizeof (float) + 15) & ~(size_t) 15;
  float *x = ws;
  void *kws = (char *) ws + fl;
  UdmlStatus st;

  for (int c = 0; c < f->n_comp; c++)
    for (int y = 0; y < f->height; y++)
      for (int xx = 0; xx < f->width; xx++)
        x[c * plane + (size_t) y * f->width + xx] =
            f->comp[c][(size_t) y * f->stride + (size_t) xx * f->pstride];
  st = degrade_video_ws (kind, level, x, f->n_comp, f->height, f->width, rng,
      kws, err);
  if (st != UDML_OK)
    return st;
  for (int c = 0; c < f->n_comp; c++)
    for (int y = 0; y < f->height; y++)
      for (int xx = 0; xx < f->width; xx++)
        f->comp[c][(size_t) y * f->stride + (size_t) xx * f->pstride] =
            round_u8 (clamp255 (x[c * plane + (size_t) y * f->width + xx]));
  return UDML_OK;
}

/* Bytes of ws for frame_u8_via_float, rounded so the kernel's doubles
 * that follow the floats stay aligned. */
static size_t
frame_ws_bytes (UdmlDegrade kind, int level, const UdmlFrameU8 * f)
{
  size_t fl = (size_t) f->width * f->height * f->n_comp * sizeof (float);
  fl = (fl + 15) & ~(size_t) 15;
  return fl + video_ws_bytes (kind, level, f->height, f->width);
}

UdmlStatus
udml_degrade_frame_u8 (UdmlDegrade kind, int level, UdmlFrameU8 * frame,
    UdmlRng * rng, UdmlError * err)
{
  UdmlDegradeStream *st;
  UdmlStatus s;

  if (!frame || !rng)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: frame or rng is NULL");
  if (kind == UDML_DEGRADE_FREEZE) {
    if ((s = check_kind_level (kind, level, UDML_MODALITY_VIDEO, err)))
      return s;
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: freeze spans frames (udml_degrade_stream_frame_u8)");
  }
  if (kind == UDML_DEGRADE_GAUSSIAN || kind == UDML_DEGRADE_SALT)
    return udml_degrade_stream_frame_u8 (NULL, kind, level, frame, rng, err);
  if (!(st = udml_degrade_stream_new ()))
    return udml_error_set (err, UDML_ERR_NOMEM, "degrade: no memory");
  s = udml_degrade_stream_frame_u8 (st, kind, level, frame, rng, err);
  udml_degrade_stream_free (st);
  return s;
}

/* ------------------------------------------------------------ streams */

UdmlDegradeStream *
udml_degrade_stream_new (void)
{
  return calloc (1, sizeof (UdmlDegradeStream));
}

void
udml_degrade_stream_free (UdmlDegradeStream * st)
{
  if (!st)
    return;
  free (st->ws);
  free (st->held);
  free (st->pcm);
  free (st);
}

void
udml_degrade_stream_reset (UdmlDegradeStream * st)
{
  if (!st)
    return;
  st->have_held = 0;
  st->frames = 0;
  memset (st->muffle, 0, sizeof st->muffle);
}

static int
grow (void **p, size_t *have, size_t need)
{
  void *n;

  if (need <= *have)
    return 1;
  if (!(n = realloc (*p, need)))
    return 0;
  *p = n;
  *have = need;
  return 1;
}

/* Freeze: keeps a copy of the frame it shows; a new one every level-th. */
static UdmlStatus
freeze_u8 (UdmlDegradeStream * st, int level, UdmlFrameU8 * f, UdmlError * err)
{
  size_t n = (size_t) f->width * f->height * f->n_comp, k = 0;
  int update;

  if (!st->have_held || f->width != st->held_w || f->height != st->held_h
      || f->n_comp != st->held_comp) {
    if (!grow ((void **) &st->held, &st->held_bytes, n ? n : 1))
      return udml_error_set (err, UDML_ERR_NOMEM,
          "degrade: %zu bytes for the frozen frame", n);
    st->have_held = 0;
    st->frames = 0;
  }
  if (level == 1 || !st->have_held)
    update = 1;
  else if (level >= UDML_NOISE_LEVELS)
    update = 0;
  else
    update = st->frames % level == 0;

  for (int c = 0; c < f->n_comp; c++)
    for (int y = 0; y < f->height; y++)
      for (int x = 0; x < f->width; x++, k++) {
        uint8_t *p = f->comp[c] + (size_t) y * f->stride +
            (size_t) x * f->pstride;
        if (update)
          st->held[k] = *p;
        else
          *p = st->held[k];
      }
  st->held_w = f->width;
  st->held_h = f->height;
  st->held_comp = f->n_comp;
  st->have_held = 1;
  st->frames++;
  return UDML_OK;
}

UdmlStatus
udml_degrade_stream_frame_u8 (UdmlDegradeStream * st, UdmlDegrade kind,
    int level, UdmlFrameU8 * frame, UdmlRng * rng, UdmlError * err)
{
  UdmlStatus s;
  size_t bytes;

  if (!frame || !rng)
    return udml_error_set (err, UDML_ERR_ARG, "degrade: frame or rng is NULL");
  if ((s = check_kind_level (kind, level, UDML_MODALITY_VIDEO, err)))
    return s;
  if ((s = check_frame (frame, err)))
    return s;
  if (kind == UDML_DEGRADE_BLOCKY)
    return degrade_video_ws (kind, level, NULL, 0, 0, 0, rng, NULL, err);
  if (kind == UDML_DEGRADE_FREEZE) {
    if (!st)
      return udml_error_set (err, UDML_ERR_ARG,
          "degrade: freeze needs a stream state");
    return freeze_u8 (st, level, frame, err);
  }
  if (level == 1)
    return UDML_OK;
  if (kind == UDML_DEGRADE_GAUSSIAN || kind == UDML_DEGRADE_SALT) {
    frame_u8_direct (kind, level, frame, rng);
    return UDML_OK;
  }
  if (!st)
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: %s needs a stream state", udml_degrade_name (kind));
  bytes = frame_ws_bytes (kind, level, frame);
  if (!grow (&st->ws, &st->ws_bytes, bytes))
    return udml_error_set (err, UDML_ERR_NOMEM,
        "degrade: %zu bytes of workspace for %s", bytes,
        udml_degrade_name (kind));
  return frame_u8_via_float (kind, level, frame, rng, st->ws, err);
}

/* ------------------------------------------------------------- audio */

static double
rms (const float *x, size_t n)
{
  double s = 0.0;

  for (size_t i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  return n ? sqrt (s / n) : 0.0;
}

/* Amplitude (RMS) of an added noise at the SNR of a level against ref. */
static double
snr_amplitude (double ref, int level)
{
  double snr = SNR_TOP_DB - SNR_STEP_DB * (level - 2);
  return ref * pow (10.0, -snr / 20.0);
}

static inline int64_t
wrap (int64_t t, int64_t n)
{
  int64_t r = t % n;
  return r < 0 ? r + n : r;
}

/* The babble at stream position t: BABBLE_TALKERS readings of the other
 * speech, n_other / BABBLE_TALKERS apart. One talker at a low SNR is a
 * clean utterance of other words, which neither a listener nor an
 * estimator can tell from the wanted one; several make babble. */
static float
babble_at (const UdmlAudioParams * p, int64_t t)
{
  int64_t no = (int64_t) p->n_other, step = no / BABBLE_TALKERS;
  float v = 0.0f;

  for (int j = 0; j < BABBLE_TALKERS; j++)
    v += p->other[wrap (t + j * step, no)];
  return v;
}

double
udml_degrade_babble_rms (const float *other, size_t n)
{
  int64_t no = (int64_t) n, step = no / BABBLE_TALKERS;
  double o = 0.0;

  if (!other || n == 0)
    return 0.0;
  for (int64_t t = 0; t < no; t++) {
    double v = 0.0;             /* summed in double, unlike the mix */
    for (int j = 0; j < BABBLE_TALKERS; j++)
      v += other[wrap (t + j * step, no)];
    o += v * v;
  }
  return sqrt (o / (double) no);
}

/* The gain that puts the babble at the SNR of level against ref; 0 for a
 * silent one. */
static float
babble_gain (const UdmlAudioParams * p, double ref, int level)
{
  double o = p->other_rms > 0.0 ? p->other_rms :
      udml_degrade_babble_rms (p->other, p->n_other);
  return o > 0.0 ? (float) (snr_amplitude (ref, level) / o) : 0.0f;
}

/* Butterworth 4th-order low-pass as two RBJ biquads (Q of the poles),
 * transposed direct form II; state z[section][2]. */
static void
muffle (float *x, size_t n, int ch, int channels, double fc, int rate,
    double z[2][2])
{
  static const double q[2] = { 0.54119610, 1.30656296 };
  double b[2][3], a[2][3];
  double w0 = 2.0 * UDML_PI * fc / rate, cw = cos (w0), sw = sin (w0);

  for (int s = 0; s < 2; s++) {
    double al = sw / (2.0 * q[s]);
    a[s][0] = 1.0 + al;
    b[s][0] = (1.0 - cw) / 2.0 / a[s][0];
    b[s][1] = (1.0 - cw) / a[s][0];
    b[s][2] = b[s][0];
    a[s][1] = -2.0 * cw / a[s][0];
    a[s][2] = (1.0 - al) / a[s][0];
  }
  for (size_t i = 0; i < n; i++) {
    double v = x[i * channels + ch];
    for (int s = 0; s < 2; s++) {
      double y = b[s][0] * v + z[s][0];
      z[s][0] = b[s][1] * v - a[s][1] * y + z[s][1];
      z[s][1] = b[s][2] * v - a[s][2] * y;
      v = y;
    }
    x[i * channels + ch] = (float) v;
  }
}

UdmlStatus
udml_degrade_audio (UdmlDegradeStream * st, UdmlDegrade kind, int level,
    const UdmlAudioParams * p, float *x, size_t n, UdmlRng * rng,
    UdmlError * err)
{
  UdmlStatus s;
  size_t total;
  int nc;
  double ref;

  if (!p || (!x && n) || !rng)
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: params, samples or rng is NULL");
  if ((s = check_kind_level (kind, level, UDML_MODALITY_AUDIO, err)))
    return s;
  nc = p->channels;
  if (p->rate <= 0 || nc < 1 || nc > MAX_CHANNELS)
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: %d Hz with %d channels (1..%d)", p->rate, nc, MAX_CHANNELS);
  if (kind == UDML_DEGRADE_BABBLE && (!p->other || p->n_other == 0))
    return udml_error_set (err, UDML_ERR_ARG,
        "degrade: babble needs the other speech (params.other)");
  if (level == 1 || n == 0)
    return UDML_OK;
  total = n * (size_t) nc;
  ref = p->ref_rms > 0.0f ? p->ref_rms : rms (x, total);

  switch (kind) {
    case UDML_DEGRADE_GAUSSIAN:{
      /* level 11: the signal is dropped, noise at the level 10 power */
      int drop = level >= UDML_NOISE_LEVELS;
      float sd = (float) snr_amplitude (ref, drop ? level - 1 : level);
      for (size_t i = 0; i < total; i++)
        x[i] = (drop ? 0.0f : x[i]) + sd * udml_rng_normal (rng);
      break;
    }
    case UDML_DEGRADE_SALT:{
      float frac = click_fraction (level);
      for (size_t i = 0; i < total; i++) {
        float u = udml_rng_uniform (rng);
        if (u < frac)
          x[i] = u < 0.5f * frac ? -1.0f : 1.0f;
      }
      break;
    }
    case UDML_DEGRADE_BABBLE:{
      float g = babble_gain (p, ref, level);
      for (size_t i = 0; i < n; i++) {
        float v = g * babble_at (p, p->t0 + (int64_t) i);
        for (int c = 0; c < nc; c++)
          x[i * nc + c] += v;
      }
      break;
    }
    case UDML_DEGRADE_CLIP:{
      float g = powf (10.0f, (float) (CLIP_DB_STEP * (level - 1) / 20.0));
      for (size_t i = 0; i < total; i++) {
        float v = g * x[i];
        x[i] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
      }
      break;
    }
    case UDML_DEGRADE_DROPOUT:{
      int64_t period = llround (DROPOUT_PERIOD_S * p->rate);
      int64_t muted = llround ((level - 1) / (double) (UDML_NOISE_LEVELS - 1)
          * (period > 0 ? period : 1));
      if (period < 1)
        period = 1;
      for (size_t i = 0; i < n; i++)
        if (wrap (p->t0 + (int64_t) i, period) < muted)
          for (int c = 0; c < nc; c++)
            x[i * nc + c] = 0.0f;
      break;
    }
    case UDML_DEGRADE_MUFFLE:{
      double fc = MUFFLE_TOP_HZ * pow (2.0, -MUFFLE_OCTAVE_STEP * (level - 1));
      double local[MAX_CHANNELS][2][2];
      if (fc >= 0.5 * p->rate)
        break;                  /* above Nyquist at this rate: nothing to cut */
      memset (local, 0, sizeof local);
      for (int c = 0; c < nc; c++)
        muffle (x, n, c, nc, fc, p->rate, st ? st->muffle[c] : local[c]);
      break;
    }
    case UDML_DEGRADE_HUM:{
      /* harmonic k at amplitude 1/k, scaled to unit RMS overall */
      double f0 = p->mains_hz > 0.0f ? p->mains_hz : DEFAULT_MAINS_HZ;
      double amp[HUM_HARMONICS], pw = 0.0, a = snr_amplitude (ref, level);
      for (int k = 0; k < HUM_HARMONICS; k++)
        pw += 0.5 / ((k + 1.0) * (k + 1.0));
      for (int k = 0; k < HUM_HARMONICS; k++)
        amp[k] = (k + 1) * f0 < 0.5 * p->rate ? a / (k + 1.0) / sqrt (pw) : 0;
      for (size_t i = 0; i < n; i++) {
        double ph = fmod ((double) (p->t0 + (int64_t) i) * f0 / p->rate, 1.0);
        double v = 0.0;
        for (int k = 0; k < HUM_HARMONICS; k++)
          v += amp[k] * sin (2.0 * UDML_PI * (k + 1) * ph);
        for (int c = 0; c < nc; c++)
          x[i * nc + c] += (float) v;
      }
      break;
    }
    default:
      break;
  }
  return UDML_OK;
}

UdmlStatus
udml_degrade_audio_s16 (UdmlDegradeStream * st, UdmlDegrade kind, int level,
    const UdmlAudioParams * p, int16_t * x, size_t n, UdmlRng * rng,
    UdmlError * err)
{
  size_t total;
  float *f;
  UdmlStatus s;

  if (!p || (!x && n))
    return udml_error_set (err, UDML_ERR_ARG, "degrade: params or samples "
        "is NULL");
  if (level == 1 || n == 0)
    return udml_degrade_audio (st, kind, level, p, NULL, 0, rng, err);
  total = n * (size_t) (p->channels > 0 ? p->channels : 1);
  if (st) {
    size_t have = st->pcm_n * sizeof (float);
    if (!grow ((void **) &st->pcm, &have, total * sizeof (float)))
      return udml_error_set (err, UDML_ERR_NOMEM, "degrade: %zu samples",
          total);
    st->pcm_n = have / sizeof (float);
    f = st->pcm;
  } else if (!(f = malloc (total * sizeof (float)))) {
    return udml_error_set (err, UDML_ERR_NOMEM, "degrade: %zu samples", total);
  }
  for (size_t i = 0; i < total; i++)
    f[i] = x[i] / 32768.0f;
  s = udml_degrade_audio (st, kind, level, p, f, n, rng, err);
  if (s == UDML_OK)
    for (size_t i = 0; i < total; i++) {
      float v = f[i] * 32768.0f;
      x[i] = (int16_t) lrintf (v < -32768.0f ? -32768.0f :
          v > 32767.0f ? 32767.0f : v);
    }
  if (!st)
    free (f);
  return s;
}
