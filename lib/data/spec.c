/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* spec.c — a model's input spec from the values a user chooses. */
#include "data-internal.h"

#include <math.h>
#include <string.h>

#include "media.h"

#define MAX_FPS 120
#define MAX_WINDOW_S 60.0
#define MAX_FRAME_SIDE 4096
#define MAX_WIDTH 4096

void
udml_spec_params_default (UdmlSpecParams * p)
{
  static const int widths[4] = { 16, 32, 64, 128 };
  memset (p, 0, sizeof *p);
  p->window_s = 1.0;
  p->width = p->height = 64;
  p->channels = 1;
  p->fps = 10;
  p->frames = 1;
  p->sample_rate = 16000;
  p->n_mels = 64;
  p->n_stages = 4;
  memcpy (p->widths, widths, sizeof widths);
}

/* Smallest power of two >= n. */
static int
pow2_at_least (int n)
{
  int p = 1;
  while (p < n)
    p *= 2;
  return p;
}

#define BAD(...) return udml_error_set (err, UDML_ERR_ARG, __VA_ARGS__)

/* Values one at a time, each with its own message. */
static UdmlStatus
check_values (const UdmlSpecParams * p, UdmlError * err)
{
  if (!(p->window_s > 0 && p->window_s <= MAX_WINDOW_S))
    BAD ("window %g s: expected more than 0 and at most %g s", p->window_s,
        MAX_WINDOW_S);
  if (p->width < 1 || p->height < 1 || p->width > MAX_FRAME_SIDE
      || p->height > MAX_FRAME_SIDE)
    BAD ("video size %dx%d: each side must be 1..%d", p->width, p->height,
        MAX_FRAME_SIDE);
  if (p->channels != 1 && p->channels != 3)
    BAD ("video format of %d channels: expected gray (1) or rgb (3)",
        p->channels);
  if (p->fps < 1 || p->fps > MAX_FPS)
    BAD ("fps %d: expected 1..%d", p->fps, MAX_FPS);
  if (p->frames < 1 || p->frames > UDML_MAX_WINDOW_FRAMES)
    BAD ("frames %d: expected 1..%d per window", p->frames,
        UDML_MAX_WINDOW_FRAMES);
  if (p->sample_rate < 4000 || p->sample_rate > 192000)
    BAD ("sample rate %d Hz: expected 4000..192000", p->sample_rate);
  if (p->n_mels < 1 || p->n_mels > 512)
    BAD ("mels %d: expected 1..512", p->n_mels);
  if (p->n_stages < 1 || p->n_stages > UDML_MAX_STAGES)
    BAD ("widths: %d stages, the core allows 1..%d", p->n_stages,
        UDML_MAX_STAGES);
  for (int i = 0; i < p->n_stages; i++)
    if (p->widths[i] < 1 || p->widths[i] > MAX_WIDTH)
      BAD ("widths: stage %d has %d channels, expected 1..%d", i + 1,
          p->widths[i], MAX_WIDTH);
  return UDML_OK;
}

/* How the values fit together, given the derived FFT sizes. */
static UdmlStatus
check_combined (const UdmlSpecParams * p, const UdmlFeatureSpec * fs,
    int mel_frames, UdmlError * err)
{
  int pools = p->n_stages - 1, need = 1 << pools;
  double window_frames = p->window_s * p->fps;

  if (p->window_s * p->sample_rate < fs->n_fft)
    BAD ("window %g s is shorter than one FFT (%d samples = %.1f ms at "
        "%d Hz)", p->window_s, fs->n_fft, 1000.0 * fs->n_fft / p->sample_rate,
        p->sample_rate);
  if (p->n_mels > fs->n_fft / 2 + 1)
    BAD ("mels %d: more than the %d FFT bins at %d Hz", p->n_mels,
        fs->n_fft / 2 + 1, p->sample_rate);
  if (p->width < need || p->height < need)
    BAD ("video size %dx%d is too small for %d stages (%d pooling steps "
        "halve it: at least %dx%d)", p->width, p->height, p->n_stages, pools,
        need, need);
  if (p->n_mels < need)
    BAD ("mels %d too few for %d stages (at least %d)", p->n_mels,
        p->n_stages, need);
  if (mel_frames < need)
    BAD ("window %g s gives %d mel frames, too few for %d stages (at "
        "least %d)", p->window_s, mel_frames, p->n_stages, need);
  if (p->frames > 1 && p->frames > window_frames + 1e-9)
    BAD ("frames %d: a %g s window holds only %.1f frames at %d fps",
        p->frames, p->window_s, window_frames, p->fps);
  if ((double) p->frames * p->channels * p->width * p->height
      > (double) UDML_MAX_INPUT_VALUES)
    BAD ("video input %d x %d x %dx%d exceeds %zu values", p->frames,
        p->channels, p->width, p->height, UDML_MAX_INPUT_VALUES);
  if ((double) p->n_mels * mel_frames > (double) UDML_MAX_INPUT_VALUES)
    BAD ("audio input %d mels x %d frames exceeds %zu values", p->n_mels,
        mel_frames, UDML_MAX_INPUT_VALUES);
  return UDML_OK;
}

#undef BAD

UdmlStatus
udml_data_config_build (UdmlConfig * cfg, const UdmlSpecParams * p,
    UdmlError * err)
{
  UdmlFeatureSpec *fs = &cfg->features;
  UdmlStatus st;

  udml_config_default (cfg);
  if ((st = check_values (p, err)) != UDML_OK)
    return st;
  fs->sample_rate = p->sample_rate;
  fs->win_length = (int) lround (0.025 * p->sample_rate);
  fs->hop_length = (int) lround (0.010 * p->sample_rate);
  fs->n_fft = pow2_at_least (fs->win_length);
  fs->n_mels = p->n_mels;
  fs->fmax = (float) p->sample_rate / 2.0f;
  fs->frame_width = p->width;
  fs->frame_height = p->height;
  fs->frame_channels = p->channels;
  fs->fps_num = p->fps;
  fs->fps_den = 1;
  fs->frames_per_window = p->frames;
  fs->window_ns = llround (p->window_s * 1e9);
  fs->hop_ns = fs->window_ns;

  /* rounded to the nearest sample, as the windower does */
  size_t n = (size_t) ((fs->window_ns * (int64_t) fs->sample_rate
          + 500000000LL) / 1000000000LL);
  int mel_frames = udml_media_mel_frames (fs, n);
  if ((st = check_combined (p, fs, mel_frames, err)) != UDML_OK)
    return st;

  for (int m = 0; m < cfg->n_modalities; m++) {
    UdmlModalitySpec *ms = &cfg->mod[m];
    if (ms->kind == UDML_MODALITY_AUDIO) {
      ms->in_c = 1;
      ms->in_h = p->n_mels;
      ms->in_w = mel_frames;
    } else {
      ms->in_c = p->frames * p->channels;
      ms->in_h = p->height;
      ms->in_w = p->width;
    }
    ms->n_stages = p->n_stages;
    memset (ms->channels, 0, sizeof ms->channels);
    memcpy (ms->channels, p->widths, sizeof (int) * (size_t) p->n_stages);
  }
  return udml_config_validate (cfg, err);
}
