/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-media.c — lib/media: log-mel, conversion, windowing, decoding.
 * argv[1]: the fixture directory (tests/data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "media.h"
#include "../common/udml-test.h"

static const char *data_dir;

static void
default_spec (UdmlFeatureSpec * s)
{
  /* method.md §1 */
  memset (s, 0, sizeof *s);
  s->sample_rate = 16000;
  s->n_fft = 512;
  s->win_length = 400;
  s->hop_length = 160;
  s->n_mels = 64;
  s->fmin = 0;
  s->fmax = 8000;
  s->log_floor = 1e-6f;
  s->frame_width = 64;
  s->frame_height = 64;
  s->frame_channels = 1;
  s->fps_num = 10;
  s->fps_den = 1;
  s->window_ns = 1000000000;
  s->hop_ns = 1000000000;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t
rnd (void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t) (rng_state >> 11);
}

static double
hz_to_mel (double f)
{
  return 2595.0 * log10 (1.0 + f / 700.0);
}

/* ------------------------------------------------------------------ mel */

/* Naive double-precision log-mel straight from method.md §1: periodic Hann
 * of 400 centred in 512, direct DFT, HTK triangles, ln(power + 1e-6). */
static void
naive_mel (const float *pcm, int n, float *out)
{
  const int n_fft = 512, win = 400, hop = 160, n_mels = 64, sr = 16000;
  const double pi = 3.14159265358979323846;
  int frames = 1 + n / hop, t, k, m, i;
  double pts[66], power[257], mlo = hz_to_mel (0), mhi = hz_to_mel (8000);

  for (m = 0; m < n_mels + 2; m++)
    pts[m] =
        700.0 * (pow (10.0, (mlo + (mhi - mlo) * m / (n_mels + 1)) / 2595.0)
        - 1.0);
  for (t = 0; t < frames; t++) {
    for (k = 0; k <= n_fft / 2; k++) {
      double re = 0, im = 0;
      for (i = 0; i < win; i++) {
        int j = t * hop - n_fft / 2 + (n_fft - win) / 2 + i;
        double x = (j >= 0 && j < n) ? pcm[j] : 0;
        double wv = 0.5 - 0.5 * cos (2 * pi * i / win);
        int pos = (n_fft - win) / 2 + i;
        re += x * wv * cos (2 * pi * k * pos / n_fft);
        im -= x * wv * sin (2 * pi * k * pos / n_fft);
      }
      power[k] = re * re + im * im;
    }
    for (m = 0; m < n_mels; m++) {
      double acc = 0;
      for (k = 0; k <= n_fft / 2; k++) {
        double f = (double) k * sr / n_fft;
        double up = (f - pts[m]) / (pts[m + 1] - pts[m]);
        double down = (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1]);
        double wt = fmin (up, down);
        if (wt > 0)
          acc += wt * power[k];
      }
      out[m * frames + t] = (float) log (acc + 1e-6);
    }
  }
}

static void
test_mel (void)
{
  UdmlFeatureSpec s;
  UdmlMel *mel;
  UdmlError err = { 0 };
  int n = 16000, frames, t, m, k;
  float *pcm = calloc (n, sizeof (float)), *out;
  const double freqs[] = { 300.0, 1000.0, 3000.0, 6500.0 };

  default_spec (&s);
  frames = udml_media_mel_frames (&s, n);
  CHECK (frames == 101, "1.0 s gives %d frames, want 101", frames);
  out = malloc ((size_t) s.n_mels * frames * sizeof (float));
  mel = udml_media_mel_new (&s, &err);
  CHECK (mel != NULL, "mel_new: %s", err.msg);
  if (!mel)
    return;

  /* silence: every bin is the log floor */
  udml_media_mel_compute (mel, pcm, n, out);
  {
    float *want = malloc ((size_t) s.n_mels * frames * sizeof (float));
    for (t = 0; t < s.n_mels * frames; t++)
      want[t] = logf (1e-6f);
    check_close ("silence = ln(1e-6)", out, want, (size_t) s.n_mels * frames,
        1e-6f, 0);
    free (want);
  }

  /* av_tx path against the naive DFT on a random signal (log domain) */
  {
    float *want = malloc ((size_t) s.n_mels * frames * sizeof (float));
    for (t = 0; t < n; t++)
      pcm[t] = ((float) (rnd () % 20001) - 10000.0f) / 20000.0f;
    udml_media_mel_compute (mel, pcm, n, out);
    naive_mel (pcm, n, want);
    check_close ("log-mel vs naive DFT (random 1.0 s)", out, want,
        (size_t) s.n_mels * frames, 1e-4f, 1e-5f);
    free (want);
  }

  /* a sine peaks in the band whose centre is nearest its frequency */
  for (k = 0; k < 4; k++) {
    double mlo = hz_to_mel (0), mhi = hz_to_mel (8000), best = 1e9;
    int want = -1, bad = 0, bad_t = -1, bad_m = -1;
    for (m = 0; m < s.n_mels; m++) {
      double c = mlo + (mhi - mlo) * (m + 1) / (s.n_mels + 1);
      if (fabs (c - hz_to_mel (freqs[k])) < best) {
        best = fabs (c - hz_to_mel (freqs[k]));
        want = m;
      }
    }
    for (t = 0; t < n; t++)
      pcm[t] =
          0.5f * (float) sin (2 * 3.14159265358979 * freqs[k] * t / 16000.0);
    udml_media_mel_compute (mel, pcm, n, out);
    for (t = 2; t < frames - 2; t++) {
      int arg = 0;
      for (m = 1; m < s.n_mels; m++)
        if (out[m * frames + t] > out[arg * frames + t])
          arg = m;
      if (arg != want) {
        bad++;
        bad_t = t;
        bad_m = arg;
      }
    }
    CHECK (bad == 0,
        "%.0f Hz sine: %d frames peak elsewhere (frame %d peaks in band %d, want %d)",
        freqs[k], bad, bad_t, bad_m, want);
    if (!bad)
      printf ("ok   %.0f Hz sine peaks in mel band %d\n", freqs[k], want);
  }
  /* energy check: 0.5-amplitude sine gives a peak far above the floor */
  CHECK (out[0] > logf (1e-6f) + 5, "sine energy not above the floor");
  udml_media_mel_free (mel);
  free (pcm);
  free (out);
}

/* ------------------------------------------------------------ windowing */

typedef struct
{
  int n;
  int64_t index[16];
  float cov[16][2];
  int partial[16];
  float *audio;                 /* n x A */
  float *video;                 /* n x V */
} Windows;

static void
collect (UdmlWindower * w, int force, Windows * ws, size_t a_size,
    size_t v_size)
{
  UdmlMediaWindow win;
  while (ws->n < 16 && udml_media_windower_next (w, force, &win)) {
    ws->index[ws->n] = win.index;
    ws->cov[ws->n][0] = win.coverage[0];
    ws->cov[ws->n][1] = win.coverage[1];
    ws->partial[ws->n] = win.partial;
    memcpy (ws->audio + a_size * ws->n, win.audio, a_size * sizeof (float));
    memcpy (ws->video + v_size * ws->n, win.video, v_size * sizeof (float));
    ws->n++;
  }
}

/* Streams audio (n samples) and video (10 fps) through the windower in
 * chunks; chunked = 0 pushes everything at once. */
static void
run_stream (const UdmlFeatureSpec * s, const float *pcm, size_t n,
    const float *frames, int n_frames, int chunked, Windows * ws)
{
  UdmlWindower *w = udml_media_windower_new (s, NULL);
  size_t a_size = (size_t) s->n_mels * udml_media_mel_frames (s, 16000);
  size_t v_size = 64 * 64, pos = 0;
  int f = 0;

  ws->n = 0;
  while (pos < n || f < n_frames) {
    if (pos < n) {
      size_t c = chunked ? 1 + rnd () % 3000 : n;
      if (c > n - pos)
        c = n - pos;
      /* timestamps rounded to whole microseconds, as a real pipeline */
      udml_media_windower_push_audio (w,
          (int64_t) (pos * 1000000 / 16000) * 1000, pcm + pos, c);
      pos += c;
    }
    if (f < n_frames && (!chunked || rnd () % 2)) {
      udml_media_windower_push_video (w, (int64_t) f * 100000000, 100000000,
          frames + v_size * f);
      f++;
    }
    if (chunked)
      collect (w, 0, ws, a_size, v_size);
  }
  udml_media_windower_set_done (w, UDML_MODALITY_AUDIO, 1);
  udml_media_windower_set_done (w, UDML_MODALITY_VIDEO, 1);
  collect (w, 1, ws, a_size, v_size);
  udml_media_windower_free (w);
}

static void
test_window (void)
{
  UdmlFeatureSpec s;
  size_t n = 40000, i;          /* 2.5 s */
  int n_frames = 25, k, trial;
  size_t a_size, v_size = 64 * 64;
  float *pcm = malloc (n * sizeof (float)), *frames =
      malloc (v_size * n_frames * sizeof (float));
  Windows whole = { 0 }, part = { 0 };
  UdmlMel *mel;
  float *ref;

  default_spec (&s);
  a_size = (size_t) s.n_mels * udml_media_mel_frames (&s, 16000);
  for (i = 0; i < n; i++)
    pcm[i] = ((float) (rnd () % 20001) - 10000.0f) / 20000.0f;
  for (k = 0; k < n_frames; k++)
    for (i = 0; i < v_size; i++)
      frames[v_size * k + i] = (float) ((k * 7 + i) % 256);
  whole.audio = malloc (16 * a_size * sizeof (float));
  whole.video = malloc (16 * v_size * sizeof (float));
  part.audio = malloc (16 * a_size * sizeof (float));
  part.video = malloc (16 * v_size * sizeof (float));
  ref = malloc (a_size * sizeof (float));

  run_stream (&s, pcm, n, frames, n_frames, 0, &whole);
  CHECK (whole.n == 3, "2.5 s gives %d windows, want 3", whole.n);
  if (whole.n == 3) {
    CHECK (whole.cov[0][0] == 1.0f && whole.cov[1][0] == 1.0f
        && fabsf (whole.cov[2][0] - 0.5f) < 1e-6f,
        "audio coverage %g %g %g, want 1 1 0.5", whole.cov[0][0],
        whole.cov[1][0], whole.cov[2][0]);
    CHECK (!whole.partial[0] && !whole.partial[1]
        && whole.partial[2], "partial flags %d %d %d, want 0 0 1",
        whole.partial[0], whole.partial[1], whole.partial[2]);
    /* the frame at the midpoint: frame 5 for window 0, 15 for window 1 */
    CHECK (memcmp (whole.video, frames + v_size * 5,
            v_size * sizeof (float)) == 0,
        "window 0 video is not the frame at 0.5 s");
    CHECK (memcmp (whole.video + v_size, frames + v_size * 15,
            v_size * sizeof (float)) == 0,
        "window 1 video is not the frame at 1.5 s");
    /* features depend on the window's samples only */
    mel = udml_media_mel_new (&s, NULL);
    for (k = 0; k < 2; k++) {
      udml_media_mel_compute (mel, pcm + 16000 * k, 16000, ref);
      CHECK (memcmp (ref, whole.audio + a_size * k,
              a_size * sizeof (float)) == 0,
          "window %d features differ from the mel of its samples", k);
    }
    udml_media_mel_free (mel);
  }
  for (trial = 0; trial < 5; trial++) {
    run_stream (&s, pcm, n, frames, n_frames, 1, &part);
    CHECK (part.n == whole.n, "chunked run %d: %d windows, want %d", trial,
        part.n, whole.n);
    for (k = 0; k < part.n && k < whole.n; k++) {
      CHECK (memcmp (part.audio + a_size * k, whole.audio + a_size * k,
              a_size * sizeof (float)) == 0,
          "chunked run %d window %d: audio features not bit-identical", trial,
          k);
      CHECK (memcmp (part.video + v_size * k, whole.video + v_size * k,
              v_size * sizeof (float)) == 0,
          "chunked run %d window %d: video not bit-identical", trial, k);
      CHECK (part.cov[k][0] == whole.cov[k][0]
          && part.cov[k][1] == whole.cov[k][1],
          "chunked run %d window %d: coverage differs", trial, k);
    }
  }
  if (!test_failures)
    printf
        ("ok   windows bit-identical for whole and random chunking (5 runs)\n");

  /* overlapping windows: hop 0.5 s */
  s.hop_ns = 500000000;
  run_stream (&s, pcm, n, frames, n_frames, 0, &whole);
  run_stream (&s, pcm, n, frames, n_frames, 1, &part);
  CHECK (whole.n == 5
      && part.n == 5, "hop 0.5 s over 2.5 s: %d / %d windows, want 5", whole.n,
      part.n);
  mel = udml_media_mel_new (&s, NULL);
  for (k = 0; k < whole.n && k < part.n; k++) {
    int ok = memcmp (part.audio + a_size * k, whole.audio + a_size * k,
        a_size * sizeof (float)) == 0;
    CHECK (ok, "hop 0.5 s window %d: chunked audio not bit-identical", k);
    if (k < 4) {
      udml_media_mel_compute (mel, pcm + 8000 * k, 16000, ref);
      CHECK (memcmp (ref, whole.audio + a_size * k,
              a_size * sizeof (float)) == 0,
          "hop 0.5 s window %d differs from the mel of its samples", k);
    }
  }
  udml_media_mel_free (mel);
  s.hop_ns = 1000000000;

  /* holes and gaps: audio in [0, 0.25) and [0.75, 1.0), a GAP between */
  {
    UdmlWindower *w = udml_media_windower_new (&s, NULL);
    UdmlMediaWindow win;
    udml_media_windower_push_audio (w, 0, pcm, 4000);
    udml_media_windower_gap (w, UDML_MODALITY_AUDIO, 250000000, 500000000);
    CHECK (udml_media_windower_position (w, UDML_MODALITY_AUDIO) == 750000000,
        "audio position after the gap %lld, want 750000000",
        (long long) udml_media_windower_position (w, UDML_MODALITY_AUDIO));
    udml_media_windower_push_audio (w, 750000000, pcm + 12000, 4000);
    udml_media_windower_gap (w, UDML_MODALITY_VIDEO, 0, 1000000000);
    CHECK (udml_media_windower_next (w, 0, &win) == 1,
        "window with a gap not ready");
    CHECK (fabsf (win.coverage[0] - 0.5f) < 1e-6f && win.coverage[1] == 0.0f
        && !win.partial,
        "gap coverage audio %g video %g partial %d, want 0.5 0 0",
        win.coverage[0], win.coverage[1], win.partial);
    CHECK (udml_media_windower_next (w, 0, &win) == 0,
        "a window without data is ready");
    udml_media_windower_set_done (w, UDML_MODALITY_AUDIO, 1);
    udml_media_windower_set_done (w, UDML_MODALITY_VIDEO, 1);
    CHECK (udml_media_windower_next (w, 1, &win) == 0,
        "a window after EOS has data");
    udml_media_windower_free (w);
  }

  /* jitter: a gap ending 0.25 ms before the audio end neither moves that
   * end back nor shifts the audio after it */
  CHECK (udml_media_contiguous (0, UDML_MEDIA_JITTER_NS)
      && udml_media_contiguous (0, -500000)
      && !udml_media_contiguous (0, UDML_MEDIA_JITTER_NS + 1)
      && !udml_media_contiguous (0, 200000000), "jitter tolerance");
  {
    UdmlWindower *w = udml_media_windower_new (&s, NULL);
    UdmlMediaWindow win;
    udml_media_windower_push_audio (w, 0, pcm, 4000);
    udml_media_windower_gap (w, UDML_MODALITY_AUDIO, 249500000, 250000);
    udml_media_windower_push_audio (w, 249750000, pcm + 4000, 4000);
    udml_media_windower_gap (w, UDML_MODALITY_VIDEO, 0, 1000000000);
    udml_media_windower_set_done (w, UDML_MODALITY_AUDIO, 1);
    CHECK (udml_media_windower_next (w, 0, &win) == 1,
        "window with jitter not ready");
    CHECK (win.coverage[0] == 0.5f, "audio coverage with jitter %.6f, want "
        "0.5 (8000 contiguous samples)", win.coverage[0]);
    udml_media_windower_free (w);
  }

  free (pcm);
  free (frames);
  free (whole.audio);
  free (whole.video);
  free (part.audio);
  free (part.video);
  free (ref);
}

/* ------------------------------------------------------------ conversion */

static void
test_scale (void)
{
  UdmlFeatureSpec s;
  UdmlScaler *sc;
  UdmlError err = { 0 };
  int x, y, c, W = 64, H = 64;
  uint8_t *g = malloc (128 * 128 * 3), *u = malloc (32 * 32), *v =
      malloc (32 * 32);
  float *out = malloc (3 * 64 * 64 * sizeof (float)), *want =
      malloc (3 * 64 * 64 * sizeof (float));

  default_spec (&s);
  sc = udml_media_scaler_new (&s, &err);

  /* GRAY8 at model size: exact */
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++) {
      g[y * W + x] = (uint8_t) (x * 4 + y / 16);
      want[y * W + x] = (float) (x * 4 + y / 16);
    }
  {
    const uint8_t *pl[4] = { g, NULL, NULL, NULL };
    int st[4] = { W, 0, 0, 0 };
    CHECK (udml_media_scale (sc, UDML_MEDIA_PIXEL_GRAY8, W, H, pl, st, out,
            &err) == UDML_OK, "scale gray: %s", err.msg);
    check_close ("GRAY8 64x64 -> gray (exact)", out, want, 64 * 64, 0, 0);
  }
  /* GRAY8 at 128x128, horizontal gradient: shrinking keeps it within 1.5 */
  for (y = 0; y < 128; y++)
    for (x = 0; x < 128; x++)
      g[y * 128 + x] = (uint8_t) (x * 2);
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++)
      want[y * W + x] = (float) (x * 4 + 1);    /* mean of 4x and 4x+2 */
  {
    const uint8_t *pl[4] = { g, NULL, NULL, NULL };
    int st[4] = { 128, 0, 0, 0 };
    CHECK (udml_media_scale (sc, UDML_MEDIA_PIXEL_GRAY8, 128, 128, pl, st, out,
            &err) == UDML_OK, "scale gray 128: %s", err.msg);
    check_close ("GRAY8 128x128 -> 64x64 gray", out, want, 64 * 64, 1.5f, 0);
  }
  /* I420 limited range at model size: luma 16..235 -> 0..255 */
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++) {
      int val = x * 4;
      g[y * W + x] = (uint8_t) (16 + (val * 219 + 127) / 255);
      want[y * W + x] = (float) val;
    }
  memset (u, 128, 32 * 32);
  memset (v, 128, 32 * 32);
  {
    const uint8_t *pl[4] = { g, u, v, NULL };
    int st[4] = { W, 32, 32, 0 };
    CHECK (udml_media_scale (sc, UDML_MEDIA_PIXEL_I420, W, H, pl, st, out,
            &err) == UDML_OK, "scale i420: %s", err.msg);
    check_close ("I420 64x64 -> gray (range expanded)", out, want, 64 * 64,
        1.5f, 0);
  }
  /* RGB24 grey ramp -> gray: luma of a grey pixel is its value */
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++)
      for (c = 0; c < 3; c++)
        g[(y * W + x) * 3 + c] = (uint8_t) (y * 4);
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++)
      want[y * W + x] = (float) (y * 4);
  {
    const uint8_t *pl[4] = { g, NULL, NULL, NULL };
    int st[4] = { W * 3, 0, 0, 0 };
    CHECK (udml_media_scale (sc, UDML_MEDIA_PIXEL_RGB24, W, H, pl, st, out,
            &err) == UDML_OK, "scale rgb: %s", err.msg);
    check_close ("RGB24 grey ramp -> gray", out, want, 64 * 64, 1.5f, 0);
  }
  udml_media_scaler_free (sc);

  /* RGB model: RGB24 at model size -> planar C x H x W, exact */
  s.frame_channels = 3;
  sc = udml_media_scaler_new (&s, &err);
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++)
      for (c = 0; c < 3; c++) {
        uint8_t val = (uint8_t) (c == 0 ? x * 4 : c == 1 ? y * 4 : 255 - x * 2);
        g[(y * W + x) * 3 + c] = val;
        want[c * W * H + y * W + x] = val;
      }
  {
    const uint8_t *pl[4] = { g, NULL, NULL, NULL };
    int st[4] = { W * 3, 0, 0, 0 };
    CHECK (udml_media_scale (sc, UDML_MEDIA_PIXEL_RGB24, W, H, pl, st, out,
            &err) == UDML_OK, "scale rgb->rgb: %s", err.msg);
    check_close ("RGB24 64x64 -> RGB planar (exact)", out, want, 3 * 64 * 64, 0,
        0);
  }
  /* a bad format is refused */
  {
    const uint8_t *pl[4] = { g, NULL, NULL, NULL };
    int st[4] = { W * 3, 0, 0, 0 };
    CHECK (udml_media_scale (sc, -5, W, H, pl, st, out, &err) != UDML_OK,
        "invalid pixel format accepted");
  }
  udml_media_scaler_free (sc);
  free (g);
  free (u);
  free (v);
  free (out);
  free (want);
}

static void
test_resample (void)
{
  UdmlFeatureSpec s;
  UdmlResampler *r;
  UdmlError err = { 0 };
  int n = 8000, i, n_out, total = 0, got;
  int16_t *in = malloc (2 * n * sizeof (int16_t));
  float *out = malloc (40000 * sizeof (float));
  double ss = 0;

  default_spec (&s);
  r = udml_media_resampler_new (&s, &err);
  /* 1 s of 8 kHz 440 Hz S16 mono -> 16000 samples at 16 kHz, same RMS */
  for (i = 0; i < n; i++)
    in[i] = (int16_t) (16384 * sin (2 * 3.14159265358979 * 440 * i / 8000.0));
  for (i = 0; i < n; i += 1000) {
    const uint8_t *pl[1] = { (const uint8_t *) (in + i) };
    CHECK (udml_media_resample (r, UDML_MEDIA_SAMPLE_S16, 8000, 1, pl, 1000,
            out + total, udml_media_resample_bound (r, 8000, 1000), &n_out,
            &err) == UDML_OK, "resample: %s", err.msg);
    total += n_out;
  }
  CHECK (udml_media_resample (r, 0, 0, 0, NULL, 0, out + total, 4096, &n_out,
          &err) == UDML_OK, "drain: %s", err.msg);
  total += n_out;
  CHECK (abs (total - 16000) <= 2,
      "8 kHz -> 16 kHz gave %d samples, want 16000", total);
  for (i = 1000; i < 15000; i++)
    ss += out[i] * out[i];
  CHECK (fabs (sqrt (ss / 14000) - 0.5 / sqrt (2)) < 0.01,
      "resampled RMS %g, want %g", sqrt (ss / 14000), 0.5 / sqrt (2));
  /* stereo downmix is the channel average: opposite channels cancel */
  for (i = 0; i < n; i++) {
    in[2 * i] = (int16_t) (i % 2000);
    in[2 * i + 1] = (int16_t) - (i % 2000);
  }
  {
    UdmlResampler *r2 = udml_media_resampler_new (&s, &err);
    const uint8_t *pl[1] = { (const uint8_t *) in };
    float zero[1] = { 0 };
    got = 0;
    CHECK (udml_media_resample (r2, UDML_MEDIA_SAMPLE_S16, 16000, 2, pl, n, out,
            40000, &got, &err) == UDML_OK, "resample stereo: %s", err.msg);
    CHECK (got == n, "16 kHz stereo -> mono gave %d samples, want %d", got, n);
    for (i = 0; i < got; i++)
      if (fabsf (out[i]) > 1e-6f)
        break;
    CHECK (i == got, "L = -R does not average to 0 (sample %d = %g)", i,
        i < got ? out[i] : zero[0]);
    udml_media_resampler_free (r2);
  }
  /* a rate change mid-stream keeps every sample: 0.5 s at 8 kHz, then 0.5 s
   * at 44.1 kHz, give 1 s at 16 kHz */
  {
    UdmlResampler *r3 = udml_media_resampler_new (&s, &err);
    int16_t *hi = malloc (22050 * sizeof (int16_t));
    const uint8_t *pl[1] = { (const uint8_t *) in };
    total = 0;
    for (i = 0; i < 22050; i++)
      hi[i] = (int16_t) (8000 * sin (2 * 3.14159265358979 * 440 * i / 44100.0));
    for (i = 0; i < 4000; i++)
      in[i] = (int16_t) (8000 * sin (2 * 3.14159265358979 * 440 * i / 8000.0));
    CHECK (udml_media_resample (r3, UDML_MEDIA_SAMPLE_S16, 8000, 1, pl, 4000,
            out, udml_media_resample_bound (r3, 8000, 4000), &got,
            &err) == UDML_OK, "resample 8 kHz: %s", err.msg);
    total += got;
    pl[0] = (const uint8_t *) hi;
    CHECK (udml_media_resample (r3, UDML_MEDIA_SAMPLE_S16, 44100, 1, pl, 22050,
            out + total, udml_media_resample_bound (r3, 44100, 22050), &got,
            &err) == UDML_OK, "resample 44.1 kHz: %s", err.msg);
    total += got;
    CHECK (udml_media_resample (r3, 0, 0, 0, NULL, 0, out + total, 4096, &got,
            &err) == UDML_OK, "drain: %s", err.msg);
    total += got;
    CHECK (abs (total - 16000) <= 2,
        "8 kHz then 44.1 kHz gave %d samples, want 16000", total);
    free (hi);
    udml_media_resampler_free (r3);
  }
  /* a reset drops what the filter holds: silence after a loud tone is
   * silence from its first sample */
  {
    UdmlResampler *r4 = udml_media_resampler_new (&s, &err);
    float *tone = malloc (4410 * sizeof (float));
    const uint8_t *pl[1] = { (const uint8_t *) tone };
    int held;

    for (i = 0; i < 4410; i++)
      tone[i] = (float) sin (2 * 3.14159265358979 * 440 * i / 44100.0);
    CHECK (udml_media_resample (r4, UDML_MEDIA_SAMPLE_F32, 44100, 1, pl, 4410,
            out, udml_media_resample_bound (r4, 44100, 4410), &got,
            &err) == UDML_OK, "resample tone: %s", err.msg);
    held = udml_media_resample_delay (r4);
    CHECK (held > 0, "44.1 kHz -> 16 kHz holds no sample back");
    udml_media_resampler_reset (r4);
    CHECK (udml_media_resample_delay (r4) == 0, "%d samples held after a "
        "reset", udml_media_resample_delay (r4));
    memset (tone, 0, 4410 * sizeof (float));
    CHECK (udml_media_resample (r4, UDML_MEDIA_SAMPLE_F32, 44100, 1, pl, 4410,
            out, udml_media_resample_bound (r4, 44100, 4410), &got,
            &err) == UDML_OK, "resample silence: %s", err.msg);
    for (i = 0; i < got; i++)
      if (out[i] != 0.0f)
        break;
    CHECK (got > 0 && i == got, "silence after a reset: sample %d of %d is "
        "%g (%d were held)", i, got, i < got ? out[i] : 0.0f, held);
    udml_media_resampler_reset (NULL);
    free (tone);
    udml_media_resampler_free (r4);
  }
  udml_media_resampler_free (r);
  free (in);
  free (out);
  printf ("ok   resampler (rate, RMS, downmix, rate change, reset)\n");
}

/* ------------------------------------------------------------- decoding */

static void
path_of (char *buf, size_t len, const char *rel)
{
  snprintf (buf, len, "%s/%s", data_dir, rel);
}

static float
mean_of (const float *x, size_t n)
{
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++)
    s += x[i];
  return n ? (float) (s / n) : 0;
}

static double
rms_of (const float *x, size_t n)
{
  double s = 0;
  size_t i;
  for (i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  return n ? sqrt (s / n) : 0;
}

static void
test_decode (void)
{
  UdmlFeatureSpec s;
  UdmlMediaClip clip;
  UdmlError err = { 0 };
  UdmlWindower *w;
  char p[1024];
  UdmlStatus st;
  float *aud, *vid;

  default_spec (&s);
  w = udml_media_windower_new (&s, NULL);
  aud = malloc (64 * 101 * sizeof (float));
  vid = malloc (64 * 64 * sizeof (float));

  /* wav: 8 kHz FSDD recording, 2392 frames */
  path_of (p, sizeof p, "fsdd/recordings/0_george_0.wav");
  st = udml_media_decode_file (p, &s, &clip, &err);
  CHECK (st == UDML_OK, "wav: %s", err.msg);
  if (st == UDML_OK) {
    CHECK (llabs ((long long) clip.n_samples - 2 * 2384) <= 4 && !clip.frames,
        "wav: %zu samples, %d frames; want 4768 samples, no video",
        clip.n_samples, clip.n_frames);
    CHECK (udml_media_clip_features (w, &clip, NULL, aud, NULL,
            &err) == UDML_OK, "wav features: %s", err.msg);
    printf ("ok   wav decodes (%zu samples)\n", clip.n_samples);
    udml_media_clip_clear (&clip);
  }

  /* mkv: FFV1 gray 80x60 10 fps + FLAC 16 kHz, 0.5 s, grey 128 and 440 Hz at 1/8 */
  path_of (p, sizeof p, "media/av.mkv");
  st = udml_media_decode_file (p, &s, &clip, &err);
  CHECK (st == UDML_OK, "mkv: %s", err.msg);
  if (st == UDML_OK) {
    float m = mean_of (clip.frames, 64 * 64 * (size_t) clip.n_frames);
    double r = rms_of (clip.pcm, clip.n_samples);
    CHECK (clip.n_frames == 5 && clip.n_samples == 8000,
        "mkv: %d frames %zu samples, want 5 and 8000", clip.n_frames,
        clip.n_samples);
    CHECK (clip.n_frames < 2
        || clip.frame_pts[1] == 100000000, "mkv: frame 1 at %lld ns",
        clip.n_frames < 2 ? 0LL : (long long) clip.frame_pts[1]);
    CHECK (fabsf (m - 128) <= 2, "mkv: mean pixel %g, want 128 +- 2", m);
    CHECK (fabs (r - 0.125 / sqrt (2)) < 0.01, "mkv: RMS %g, want %g", r,
        0.125 / sqrt (2));
    CHECK (llabs (clip.duration_ns - 500000000) <= 20000000,
        "mkv: duration %lld", (long long) clip.duration_ns);
    CHECK (udml_media_clip_features (w, &clip, &clip, aud, vid,
            &err) == UDML_OK, "mkv features: %s", err.msg);
    printf
        ("ok   mkv decodes (%d frames, %zu samples, mean pixel %.1f, RMS %.4f)\n",
        clip.n_frames, clip.n_samples, m, r);
    udml_media_clip_clear (&clip);
  }

  /* mp4: MPEG-4 part 2 yuv420p + AAC 22.05 kHz stereo (resampled, downmixed).
   * The fixture's stereo is the mono sine at -3 dB on both channels, so the
   * channel average has RMS 0.125 / sqrt 2 * sqrt 1/2 = 0.0625. */
  path_of (p, sizeof p, "media/av.mp4");
  st = udml_media_decode_file (p, &s, &clip, &err);
  CHECK (st == UDML_OK, "mp4: %s", err.msg);
  if (st == UDML_OK) {
    float m = mean_of (clip.frames, 64 * 64 * (size_t) clip.n_frames);
    double r = rms_of (clip.pcm + 1600,
        clip.n_samples > 6400 ? clip.n_samples - 3200 : 0);
    CHECK (clip.n_frames == 5, "mp4: %d frames, want 5", clip.n_frames);
    CHECK (llabs ((long long) clip.n_samples - 8000) <= 400,
        "mp4: %zu samples, want ~8000", clip.n_samples);
    CHECK (fabsf (m - 128) <= 3, "mp4: mean pixel %g, want 128 +- 3", m);
    CHECK (fabs (r - 0.0625) < 0.01, "mp4: RMS %g, want 0.0625", r);
    printf
        ("ok   mp4 decodes (%d frames, %zu samples, mean pixel %.1f, RMS %.4f)\n",
        clip.n_frames, clip.n_samples, m, r);
    udml_media_clip_clear (&clip);
  }

  /* still images: one frame, no audio; the image fills window 0 */
  {
    const char *imgs[] = { "media/still.png", "media/still.jpg" };
    int i;
    for (i = 0; i < 2; i++) {
      path_of (p, sizeof p, imgs[i]);
      st = udml_media_decode_file (p, &s, &clip, &err);
      CHECK (st == UDML_OK, "%s: %s", imgs[i], err.msg);
      if (st != UDML_OK)
        continue;
      CHECK (clip.n_frames == 1
          && !clip.pcm, "%s: %d frames, audio %p", imgs[i], clip.n_frames,
          (void *) clip.pcm);
      CHECK (fabsf (mean_of (clip.frames, 64 * 64) - 128) <= 2,
          "%s: mean pixel %g", imgs[i], mean_of (clip.frames, 64 * 64));
      st = udml_media_clip_features (w, NULL, &clip, NULL, vid, &err);
      CHECK (st == UDML_OK, "%s features: %s", imgs[i], err.msg);
      if (st == UDML_OK)
        check_close (imgs[i], vid, clip.frames, 64 * 64, 0, 0);
      udml_media_clip_clear (&clip);
    }
  }
  udml_media_windower_free (w);
  free (aud);
  free (vid);
}

/* Writes the first `keep` bytes of src (or n garbage bytes) to a temp file. */
static int
write_temp (char *out, size_t len, const char *src, long keep, int garbage)
{
  FILE *f, *g;
  long i;
  snprintf (out, len, "/tmp/udml-test-media-XXXXXX");
  {
    int fd = mkstemp (out);
    if (fd < 0)
      return 0;
    f = fdopen (fd, "wb");
  }
  if (garbage) {
    for (i = 0; i < keep; i++)
      fputc (rnd () & 0xff, f);
  } else {
    g = fopen (src, "rb");
    if (!g) {
      fclose (f);
      return 0;
    }
    for (i = 0; i < keep; i++) {
      int ch = fgetc (g);
      if (ch == EOF)
        break;
      fputc (ch, f);
    }
    fclose (g);
  }
  fclose (f);
  return 1;
}

static long
file_size (const char *p)
{
  FILE *f = fopen (p, "rb");
  long n;
  if (!f)
    return -1;
  fseek (f, 0, SEEK_END);
  n = ftell (f);
  fclose (f);
  return n;
}

static void
expect_error (const char *what, const char *path, const UdmlFeatureSpec * s)
{
  UdmlMediaClip clip;
  UdmlError err = { 0 };
  UdmlStatus st = udml_media_decode_file (path, s, &clip, &err);
  CHECK (st != UDML_OK, "%s: decoded without error", what);
  CHECK (st == UDML_OK
      || strstr (err.msg, path) != NULL, "%s: error does not name the file: %s",
      what, err.msg);
  if (st != UDML_OK)
    printf ("ok   %s refused: %s\n", what, err.msg);
  else
    udml_media_clip_clear (&clip);
}

static void
test_bad_files (void)
{
  UdmlFeatureSpec s;
  char src[1024], tmp[64];
  const char *trunc[] =
      { "media/av.mkv", "media/av.mp4", "fsdd/recordings/5_lucas_10.wav",
    "media/still.png"
  };
  int i;

  default_spec (&s);
  expect_error ("missing file", "/nonexistent/udml.mkv", &s);
  if (write_temp (tmp, sizeof tmp, NULL, 0, 1)) {
    expect_error ("empty file", tmp, &s);
    remove (tmp);
  }
  if (write_temp (tmp, sizeof tmp, NULL, 5000, 1)) {
    expect_error ("garbage file", tmp, &s);
    remove (tmp);
  }
  for (i = 0; i < 4; i++) {
    path_of (src, sizeof src, trunc[i]);
    if (write_temp (tmp, sizeof tmp, src, file_size (src) / 2, 0)) {
      char what[128];
      snprintf (what, sizeof what, "truncated %s", trunc[i]);
      expect_error (what, tmp, &s);
      remove (tmp);
    }
  }
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: test-media DATA_DIR\n");
    return 2;
  }
  data_dir = argv[1];
  av_log_set_level (AV_LOG_QUIET);      /* the bad-file cases are expected to complain */
  test_mel ();
  test_window ();
  test_scale ();
  test_resample ();
  test_decode ();
  test_bad_files ();
  return test_summary ("test-media");
}
