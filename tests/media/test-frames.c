/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-frames.c — frames per window: T frames evenly spaced across a window
 * (the middles of T equal parts) stacked as channels, RGB frames, and the
 * window at an offset into a clip equal to the streaming windower's. */
#include <stdint.h>
#include <string.h>

#include "../common/udml-test.h"
#include "media.h"

#define NS INT64_C(1000000000)

static void
spec_of (UdmlFeatureSpec * s, int frames, int channels, int64_t window,
    int64_t hop)
{
  memset (s, 0, sizeof *s);
  s->sample_rate = 16000;
  s->n_fft = 512;
  s->win_length = 400;
  s->hop_length = 160;
  s->n_mels = 8;
  s->fmax = 8000.0f;
  s->log_floor = 1e-6f;
  s->frame_width = 4;
  s->frame_height = 2;
  s->frame_channels = channels;
  s->frames_per_window = frames;
  s->fps_num = 10;
  s->fps_den = 1;
  s->window_ns = window;
  s->hop_ns = hop;
}

/* A 3 s clip at 10 fps: frame i is filled with the value i (channel c of
 * it with i + 100 c), audio a ramp. */
static void
make_clip (UdmlMediaClip * c, int channels)
{
  size_t fsz = (size_t) channels * 8;
  memset (c, 0, sizeof *c);
  c->n_frames = 30;
  c->frames = calloc (30 * fsz, sizeof (float));
  c->frame_pts = calloc (30, sizeof (int64_t));
  c->n_samples = 48000;
  c->pcm = calloc (48000, sizeof (float));
  c->duration_ns = 3 * NS;
  for (int i = 0; i < 30; i++) {
    c->frame_pts[i] = i * NS / 10;
    for (int ch = 0; ch < channels; ch++)
      for (int k = 0; k < 8; k++)
        c->frames[fsz * i + 8 * ch + k] = (float) (i + 100 * ch);
  }
  for (int i = 0; i < 48000; i++)
    c->pcm[i] = (float) ((i % 160) / 160.0 - 0.5);
}

int
main (void)
{
  UdmlFeatureSpec s;
  UdmlMediaClip clip;
  UdmlError err = { 0 };
  UdmlWindower *w, *ws;
  float vid[4 * 3 * 8], aud[8 * 101], ref_aud[8 * 101];

  /* T = 2 RGB frames of a 0.5 s window at 1.0 s: instants 1.125 and
   * 1.375 s show frames 11 and 13 */
  spec_of (&s, 2, 3, NS / 2, NS / 2);
  make_clip (&clip, 3);
  w = udml_media_windower_new (&s, &err);
  CHECK (w != NULL, "windower: %s", err.msg);
  CHECK (udml_media_clip_window (w, &clip, &clip, NS, aud, vid,
          &err) == UDML_OK, "clip window: %s", err.msg);
  for (int t = 0; t < 2; t++)
    for (int ch = 0; ch < 3; ch++) {
      float want = (float) (11 + 2 * t + 100 * ch), got = vid[24 * t + 8 * ch];
      CHECK (got == want, "frame %d channel %d: value %g, want %g", t, ch, got,
          want);
    }

  /* T = 4 grey frames of a 1 s window at 0: 0.125, 0.375, 0.625, 0.875 s */
  udml_media_windower_free (w);
  udml_media_clip_clear (&clip);
  spec_of (&s, 4, 1, NS, NS);
  make_clip (&clip, 1);
  w = udml_media_windower_new (&s, &err);
  CHECK (udml_media_clip_features (w, &clip, &clip, aud, vid,
          &err) == UDML_OK, "clip features: %s", err.msg);
  for (int t = 0; t < 4; t++) {
    float want = (float) (1 + 2 * t + (t >= 2)), got = vid[8 * t];
    CHECK (got == want, "4 frames: frame %d is %g, want %g", t, got, want);
  }

  /* the window at 2 s of the clip alone equals window 2 of the streaming
   * windower fed the whole clip in pieces */
  CHECK (udml_media_clip_window (w, &clip, &clip, 2 * NS, aud, vid,
          &err) == UDML_OK, "clip window at 2 s: %s", err.msg);
  ws = udml_media_windower_new (&s, &err);
  {
    UdmlMediaWindow mw;
    int got = 0;
    for (int i = 0; i < 30; i++) {
      udml_media_windower_push_audio (ws, clip.frame_pts[i],
          clip.pcm + 1600 * i, 1600);
      udml_media_windower_push_video (ws, clip.frame_pts[i], NS / 10,
          clip.frames + 8 * i);
      while (udml_media_windower_next (ws, 0, &mw))
        if (mw.index == 2) {
          int n_mel = 8 * udml_media_mel_frames (&s, 16000);
          float d = 0;
          memcpy (ref_aud, mw.audio, (size_t) n_mel * sizeof (float));
          for (int k = 0; k < n_mel; k++)
            d = fmaxf (d, fabsf (ref_aud[k] - aud[k]));
          CHECK (d == 0, "window 2 audio differs by %g", d);
          CHECK (!memcmp (mw.video, vid, 4 * 8 * sizeof (float)),
              "window 2 video differs: %g vs %g", mw.video[0], vid[0]);
          got = 1;
        }
    }
    CHECK (got, "the streaming windower gave no window 2");
  }
  udml_media_windower_free (ws);
  udml_media_windower_free (w);
  udml_media_clip_clear (&clip);
  return test_summary ("test-frames");
}
