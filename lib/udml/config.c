/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.c — default configuration, validation and policy names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const policy_names[UDML_POLICY_COUNT] = {
  "static", "pe", "udml", "udml-nue", "udml-mc", "udml-pos",
};

const char *
udml_policy_name (UdmlPolicy p)
{
  if ((int) p < 0 || p >= UDML_POLICY_COUNT)
    return "unknown";
  return policy_names[p];
}

int
udml_policy_from_name (const char *name)
{
  if (!name)
    return -1;
  for (int i = 0; i < UDML_POLICY_COUNT; i++)
    if (strcmp (name, policy_names[i]) == 0)
      return i;
  return -1;
}

static void
modality_default (UdmlModalitySpec * spec, const char *name,
    UdmlModalityKind kind, int h, int w)
{
  static const int channels[4] = { 16, 32, 64, 128 };

  memset (spec, 0, sizeof *spec);
  snprintf (spec->name, sizeof spec->name, "%s", name);
  spec->kind = kind;
  spec->in_c = 1;
  spec->in_h = h;
  spec->in_w = w;
  spec->n_stages = 4;
  memcpy (spec->channels, channels, sizeof channels);
  spec->norm_mean = 0.0f;
  spec->norm_std = 1.0f;
}

void
udml_config_default (UdmlConfig * cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->n_modalities = 2;
  /* method.md §1: log-mel 1x64x101 and a 1x64x64 luma frame */
  modality_default (&cfg->mod[0], "audio", UDML_MODALITY_AUDIO, 64, 101);
  modality_default (&cfg->mod[1], "video", UDML_MODALITY_VIDEO, 64, 64);
  cfg->n_classes = 10;
  for (int k = 0; k < 10; k++)
    snprintf (cfg->labels[k], UDML_NAME_LEN, "%d", k);
  cfg->est_hidden = 64;
  cfg->est_norm = 0.25f;
  cfg->policy = UDML_POLICY_UDML;
  cfg->scaling = UDML_SCALING_RESIDUAL;

  cfg->features.sample_rate = 16000;
  cfg->features.n_fft = 512;
  cfg->features.win_length = 400;
  cfg->features.hop_length = 160;
  cfg->features.n_mels = 64;
  cfg->features.fmin = 0.0f;
  cfg->features.fmax = 8000.0f;
  cfg->features.log_floor = 1e-6f;
  cfg->features.frame_width = 64;
  cfg->features.frame_height = 64;
  cfg->features.frame_channels = 1;
  cfg->features.fps_num = 10;
  cfg->features.fps_den = 1;
  cfg->features.window_ns = 1000000000;
  cfg->features.hop_ns = 1000000000;
  cfg->features.frames_per_window = 1;
}

/* Inputs beyond this many values per sample are refused as absurd. */
#define MAX_INPUT (1 << 24)
#define MAX_CHANNELS 4096

UdmlStatus
udml_config_validate (const UdmlConfig * cfg, UdmlError * err)
{
  if (!cfg)
    return udml_error_set (err, UDML_ERR_ARG, "config: NULL");
  if (cfg->n_modalities < 1 || cfg->n_modalities > UDML_MAX_MODALITIES)
    return udml_error_set (err, UDML_ERR_ARG,
        "config: n_modalities is %d, expected 1..%d", cfg->n_modalities,
        UDML_MAX_MODALITIES);
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *s = &cfg->mod[m];
    int h, w;

    if (s->name[0] == '\0' || memchr (s->name, '\0', UDML_NAME_LEN) == NULL)
      return udml_error_set (err, UDML_ERR_ARG,
          "config: modality %d has no (terminated) name", m);
    for (int k = 0; k < m; k++)
      if (strcmp (cfg->mod[k].name, s->name) == 0)
        return udml_error_set (err, UDML_ERR_ARG,
            "config: modality name \"%s\" used twice", s->name);
    if (s->kind != UDML_MODALITY_AUDIO && s->kind != UDML_MODALITY_VIDEO)
      return udml_error_set (err, UDML_ERR_ARG,
          "config: %s.kind is %d, expected 0 (audio) or 1 (video)", s->name,
          (int) s->kind);
    if (s->in_c < 1 || s->in_h < 1 || s->in_w < 1
        || (double) s->in_c * s->in_h * s->in_w > MAX_INPUT)
      return udml_error_set (err, UDML_ERR_ARG,
          "config: %s input %dx%dx%d out of range (1..%d values)", s->name,
          s->in_c, s->in_h, s->in_w, MAX_INPUT);
    if (s->n_stages < 1 || s->n_stages > UDML_MAX_STAGES)
      return udml_error_set (err, UDML_ERR_ARG,
          "config: %s.n_stages is %d, expected 1..%d", s->name, s->n_stages,
          UDML_MAX_STAGES);
    h = s->in_h;
    w = s->in_w;
    for (int i = 0; i < s->n_stages; i++) {
      if (s->channels[i] < 1 || s->channels[i] > MAX_CHANNELS)
        return udml_error_set (err, UDML_ERR_ARG,
            "config: %s.channels[%d] is %d, expected 1..%d", s->name, i,
            s->channels[i], MAX_CHANNELS);
      if (i < s->n_stages - 1) {
        h /= 2;
        w /= 2;
        if (h < 1 || w < 1)
          return udml_error_set (err, UDML_ERR_ARG,
              "config: %s input %dx%d too small for %d pooling stages",
              s->name, s->in_h, s->in_w, s->n_stages - 1);
      }
    }
    if (!(s->norm_std > 0.0f) || !isfinite (s->norm_std)
        || !isfinite (s->norm_mean))
      return udml_error_set (err, UDML_ERR_ARG,
          "config: %s normalisation mean %g std %g (both finite, std > 0)",
          s->name, s->norm_mean, s->norm_std);
  }
  if (cfg->n_classes < 2 || cfg->n_classes > UDML_MAX_CLASSES)
    return udml_error_set (err, UDML_ERR_ARG,
        "config: n_classes is %d, expected 2..%d", cfg->n_classes,
        UDML_MAX_CLASSES);
  for (int k = 0; k < cfg->n_classes; k++)
    if (memchr (cfg->labels[k], '\0', UDML_NAME_LEN) == NULL)
      return udml_error_set (err, UDML_ERR_ARG,
          "config: label %d not terminated", k);
  if (cfg->est_hidden < 1 || cfg->est_hidden > MAX_CHANNELS)
    return udml_error_set (err, UDML_ERR_ARG,
        "config: est_hidden is %d, expected 1..%d", cfg->est_hidden,
        MAX_CHANNELS);
  if (!(cfg->est_norm >= 0.0f && cfg->est_norm <= 16.0f))
    return udml_error_set (err, UDML_ERR_ARG,
        "config: est_norm is %g, expected 0..16", (double) cfg->est_norm);
  if (!isfinite (cfg->features.fmin) || !isfinite (cfg->features.fmax)
      || !isfinite (cfg->features.log_floor))
    return udml_error_set (err, UDML_ERR_ARG,
        "config: features fmin %g fmax %g log_floor %g (must be finite)",
        (double) cfg->features.fmin, (double) cfg->features.fmax,
        (double) cfg->features.log_floor);
  if (cfg->features.frames_per_window < 0
      || cfg->features.frames_per_window > UDML_MAX_WINDOW_FRAMES)
    return udml_error_set (err, UDML_ERR_ARG,
        "config: features.frames_per_window is %d, expected 1..%d",
        cfg->features.frames_per_window, UDML_MAX_WINDOW_FRAMES);
  if ((int) cfg->policy < 0 || cfg->policy >= UDML_POLICY_COUNT)
    return udml_error_set (err, UDML_ERR_ARG, "config: policy %d unknown",
        (int) cfg->policy);
  if (cfg->scaling != UDML_SCALING_RESIDUAL
      && cfg->scaling != UDML_SCALING_PAPER)
    return udml_error_set (err, UDML_ERR_ARG, "config: scaling %d unknown",
        (int) cfg->scaling);
  return UDML_OK;
}

size_t
udml_config_input_size (const UdmlConfig * cfg, int m)
{
  if (!cfg || m < 0 || m >= cfg->n_modalities)
    return 0;
  return (size_t) cfg->mod[m].in_c * cfg->mod[m].in_h * cfg->mod[m].in_w;
}

int
udml_config_find (const UdmlConfig * cfg, UdmlModalityKind kind)
{
  if (!cfg)
    return -1;
  for (int m = 0; m < cfg->n_modalities; m++)
    if (cfg->mod[m].kind == kind)
      return m;
  return -1;
}
