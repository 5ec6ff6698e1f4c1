/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mel.c — log-mel spectrogram (method.md §1) on av_tx.
 *
 * Frame t is centred on sample t * hop (zero padding outside the signal),
 * windowed by a periodic Hann of win_length centred in n_fft, power
 * spectrum, HTK-scale triangular mel filters (no area normalisation),
 * then ln(power + log_floor). Output: n_mels x frames, row-major. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>
#include <libavutil/tx.h>

#include "media.h"

struct UdmlMel
{
  UdmlFeatureSpec spec;
  int n_bins;                   /* n_fft / 2 + 1 */
  AVTXContext *tx;
  av_tx_fn tx_fn;
  float *window;                /* n_fft: Hann of win_length, zero-padded, centred */
  float *frame;                 /* n_fft */
  AVComplexFloat *spec_out;     /* n_bins */
  float *power;                 /* n_bins */
  /* Sparse filter bank: filter m covers bins [fb_start[m], fb_start[m] + fb_len[m]). */
  int *fb_start, *fb_len;
  float *fb_weight;             /* n_mels x n_bins, only the covered span is used */
};

static double
hz_to_mel (double f)
{
  return 2595.0 * log10 (1.0 + f / 700.0);
}

static double
mel_to_hz (double m)
{
  return 700.0 * (pow (10.0, m / 2595.0) - 1.0);
}

int
udml_media_mel_frames (const UdmlFeatureSpec * spec, size_t n_samples)
{
  if (spec->hop_length <= 0)
    return 0;                   /* callers may ask before validating the spec */
  return 1 + (int) (n_samples / (size_t) spec->hop_length);
}

void
udml_media_mel_free (UdmlMel * mel)
{
  if (!mel)
    return;
  av_tx_uninit (&mel->tx);
  av_free (mel->window);
  av_free (mel->frame);
  av_free (mel->spec_out);
  av_free (mel->power);
  free (mel->fb_start);
  free (mel->fb_len);
  free (mel->fb_weight);
  free (mel);
}

UdmlMel *
udml_media_mel_new (const UdmlFeatureSpec * spec, UdmlError * err)
{
  UdmlMel *mel = NULL;
  UdmlStatus st = UDML_OK;
  double *hz = NULL;
  float scale = 1.0f;
  int n_fft, n_bins, n_mels, pad, i, m;

  if (!spec || spec->sample_rate <= 0 || spec->n_fft < 2 || spec->n_fft % 2
      || spec->win_length <= 0 || spec->win_length > spec->n_fft
      || spec->hop_length <= 0 || spec->n_mels <= 0 || spec->fmin < 0
      || spec->fmax <= spec->fmin || spec->fmax > spec->sample_rate / 2.0f
      || !(spec->log_floor > 0)) {
    st = udml_error_set (err, UDML_ERR_ARG,
        "mel: invalid configuration (rate, n_fft, win_length, hop, n_mels, fmin/fmax, log_floor)");
    goto out;
  }
  n_fft = spec->n_fft;
  n_bins = n_fft / 2 + 1;
  n_mels = spec->n_mels;

  mel = calloc (1, sizeof *mel);
  if (!mel) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "mel: out of memory");
    goto out;
  }
  mel->spec = *spec;
  mel->n_bins = n_bins;
  mel->window = av_calloc (n_fft, sizeof (float));
  mel->frame = av_calloc (n_fft + 2, sizeof (float));
  mel->spec_out = av_calloc (n_bins, sizeof (AVComplexFloat));
  mel->power = av_calloc (n_bins, sizeof (float));
  mel->fb_start = calloc (n_mels, sizeof (int));
  mel->fb_len = calloc (n_mels, sizeof (int));
  mel->fb_weight = calloc ((size_t) n_mels * n_bins, sizeof (float));
  hz = malloc ((n_mels + 2) * sizeof (double));
  if (!mel->window || !mel->frame || !mel->spec_out || !mel->power
      || !mel->fb_start || !mel->fb_len || !mel->fb_weight || !hz) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "mel: out of memory");
    goto out;
  }
  if (av_tx_init (&mel->tx, &mel->tx_fn, AV_TX_FLOAT_RDFT, 0, n_fft, &scale,
          0) < 0) {
    st = udml_error_set (err, UDML_ERR_ARG,
        "mel: av_tx_init (RDFT, n_fft %d) failed", n_fft);
    goto out;
  }

  /* Periodic Hann (as torch.hann_window), centred in n_fft like torch.stft. */
  pad = (n_fft - spec->win_length) / 2;
  for (i = 0; i < spec->win_length; i++)
    mel->window[pad + i] =
        (float) (0.5 -
        0.5 * cos (2.0 * 3.14159265358979323846 * i / spec->win_length));

  /* HTK mel points, evenly spaced in mel between fmin and fmax. */
  {
    double mlo = hz_to_mel (spec->fmin), mhi = hz_to_mel (spec->fmax);
    for (i = 0; i < n_mels + 2; i++)
      hz[i] = mel_to_hz (mlo + (mhi - mlo) * i / (n_mels + 1));
  }
  for (m = 0; m < n_mels; m++) {
    int first = -1, last = -1;
    for (i = 0; i < n_bins; i++) {
      double f = (double) i * spec->sample_rate / n_fft;
      double up = (f - hz[m]) / (hz[m + 1] - hz[m]);
      double down = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
      double w = fmax (0.0, fmin (up, down));
      mel->fb_weight[(size_t) m * n_bins + i] = (float) w;
      if (w > 0) {
        if (first < 0)
          first = i;
        last = i;
      }
    }
    mel->fb_start[m] = first < 0 ? 0 : first;
    mel->fb_len[m] = first < 0 ? 0 : last - first + 1;
  }

out:
  free (hz);
  if (st != UDML_OK) {
    udml_media_mel_free (mel);
    return NULL;
  }
  return mel;
}

void
udml_media_mel_compute (UdmlMel * mel, const float *pcm, size_t n, float *out)
{
  const UdmlFeatureSpec *s = &mel->spec;
  int n_fft = s->n_fft, half = n_fft / 2, n_bins = mel->n_bins;
  int frames = udml_media_mel_frames (s, n);
  int t, i, m;

  for (t = 0; t < frames; t++) {
    /* Frame t covers samples [t*hop - n_fft/2, t*hop + n_fft/2). */
    int64_t first = (int64_t) t * s->hop_length - half;
    for (i = 0; i < n_fft; i++) {
      int64_t j = first + i;
      float x = (j >= 0 && j < (int64_t) n) ? pcm[j] : 0.0f;
      mel->frame[i] = x * mel->window[i];
    }
    mel->tx_fn (mel->tx, mel->spec_out, mel->frame, sizeof (float));
    for (i = 0; i < n_bins; i++) {
      float re = mel->spec_out[i].re, im = mel->spec_out[i].im;
      mel->power[i] = re * re + im * im;
    }
    for (m = 0; m < s->n_mels; m++) {
      const float *w = mel->fb_weight + (size_t) m * n_bins;
      float acc = 0.0f;
      for (i = mel->fb_start[m]; i < mel->fb_start[m] + mel->fb_len[m]; i++)
        acc += w[i] * mel->power[i];
      out[(size_t) m * frames + t] = logf (acc + s->log_floor);
    }
  }
}
