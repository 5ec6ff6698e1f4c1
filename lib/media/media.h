/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* media.h — media front end: decoding, resampling, scaling (libav*),
 * log-mel features (av_tx), windowing. design.md "Layers". Only lib/media
 * includes FFmpeg headers; callers name formats with the enums below.
 *
 * The element and the tools share ONE windowing and feature path
 * (UdmlWindower), so a window seen live and the same window seen in
 * training give bit-identical features.
 *
 * Raw feature units (what the core expects): audio log-mel
 * ln(power + log_floor), shape 1 x n_mels x frames; video pixels 0..255 as
 * float, shape C x H x W. Times are nanoseconds.
 */
#ifndef UDML_MEDIA_H
#define UDML_MEDIA_H

#include <stddef.h>
#include <stdint.h>
#include "udml.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- log-mel */

typedef struct UdmlMel UdmlMel;

/* (transfer full) */
UdmlMel *udml_media_mel_new (const UdmlFeatureSpec *spec, UdmlError *err);
void udml_media_mel_free (UdmlMel *mel);

/* Frames for n samples with centre (zero) padding: 1 + n / hop. */
int udml_media_mel_frames (const UdmlFeatureSpec *spec, size_t n_samples);

/* pcm: n mono samples in [-1, 1] at spec->sample_rate.
 * out: n_mels x udml_media_mel_frames(n), row-major (mel band = row). */
void udml_media_mel_compute (UdmlMel *mel, const float *pcm, size_t n, float *out);

/* ----------------------------------------------- conversion to model format */

/* Input layouts the converters take from callers outside lib/media (the
 * element); lib/media maps them to FFmpeg's formats. */
typedef enum {
  UDML_MEDIA_SAMPLE_S16 = 0,    /* interleaved, native-endian int16 */
  UDML_MEDIA_SAMPLE_F32,        /* interleaved float in [-1, 1] */
  UDML_MEDIA_SAMPLE_N
} UdmlMediaSampleFormat;

typedef enum {
  UDML_MEDIA_PIXEL_GRAY8 = 0,   /* 1 plane, 8 bits */
  UDML_MEDIA_PIXEL_RGB24,       /* packed R, G, B */
  UDML_MEDIA_PIXEL_BGR24,
  UDML_MEDIA_PIXEL_RGBX,        /* packed R, G, B, unused byte */
  UDML_MEDIA_PIXEL_BGRX,
  UDML_MEDIA_PIXEL_I420,        /* planar Y, U, V; chroma 2x2 subsampled */
  UDML_MEDIA_PIXEL_NV12,        /* plane Y, plane interleaved UV */
  UDML_MEDIA_PIXEL_N
} UdmlMediaPixelFormat;

/* Converts any decoded audio to mono float at spec->sample_rate
 * (libswresample). Reconfigures itself when the input format changes,
 * after draining what the old configuration still holds into out. */
typedef struct UdmlResampler UdmlResampler;
UdmlResampler *udml_media_resampler_new (const UdmlFeatureSpec *spec, UdmlError *err);
void udml_media_resampler_free (UdmlResampler *r);
/* Forgets the input: the samples the filter holds back are dropped (a
 * flush, or data that does not follow on). NULL is a no-op. */
void udml_media_resampler_reset (UdmlResampler *r);
/* in: in[0] holds n_in interleaved frames of channels samples in fmt;
 * in == NULL drains what the filter holds back. Writes at most out_cap
 * samples, sets *n_out. */
UdmlStatus udml_media_resample (UdmlResampler *r, UdmlMediaSampleFormat fmt, int rate,
    int channels, const uint8_t *const *in, int n_in, float *out, int out_cap, int *n_out,
    UdmlError *err);
/* Upper bound of output samples for n_in input samples at this rate,
 * including the samples a format change drains. */
int udml_media_resample_bound (const UdmlResampler *r, int rate, int n_in);
/* Output samples the filter holds back (what a drain gives at most): the
 * next output sample is that many samples before the next input's start. */
int udml_media_resample_delay (const UdmlResampler *r);

/* Converts and scales any frame to the model's frame_width x frame_height x
 * frame_channels (libswscale). */
typedef struct UdmlScaler UdmlScaler;
UdmlScaler *udml_media_scaler_new (const UdmlFeatureSpec *spec, UdmlError *err);
void udml_media_scaler_free (UdmlScaler *s);
/* planes/strides: as fmt lays them out. out: C x H x W floats in 0..255. */
UdmlStatus udml_media_scale (UdmlScaler *s, UdmlMediaPixelFormat fmt, int width, int height,
    const uint8_t *const planes[4], const int strides[4], float *out, UdmlError *err);

/* ------------------------------------------------------------ windowing */

/* Window k covers [k*hop, k*hop + window) on the caller's time line. Audio
 * is placed by timestamp; holes are zero and lower the coverage. The video
 * input of a window is the frame shown at the window's midpoint (else the
 * nearest frame inside the window); with T frames per window, the frames
 * shown at the middles of T equal parts, stacked.
 *
 * A stretch with no data at all (a timestamp jump, a long GAP) yields ONE
 * gap window instead of one empty window per hop: gap = 1, start_ns..end_ns
 * is the stretch (from the first empty window's start to where data
 * resumes, or to the last position at EOS), n_windows the empty windows it
 * stands for, audio and video are NULL. */
typedef struct {
  int64_t index;             /* first window index this stands for */
  int64_t n_windows;         /* 1, or the empty windows a gap skips */
  int64_t start_ns, end_ns;
  const float *audio;        /* 1 x n_mels x frames, borrowed until the next call */
  const float *video;        /* T x C x H x W, borrowed until the next call */
  float coverage[2];         /* indexed by UdmlModalityKind, 0..1 */
  int partial;               /* a modality's data stops inside the window
                              * (EOS, timeout) and covers less than it */
  int gap;                   /* no data from start_ns to end_ns */
} UdmlMediaWindow;

/* Timestamp jitter that is no gap: data (or a gap) starting within this
 * of where the data before it ended continues it. Container timestamps
 * rounded to 1 ms and resampler delay move every few buffers this way. */
#define UDML_MEDIA_JITTER_NS INT64_C(20000000)
/* 1 if next_ns is within UDML_MEDIA_JITTER_NS of end_ns (either side):
 * the windower places such data right after the data before it, and
 * declares no gap for such a step. */
int udml_media_contiguous (int64_t end_ns, int64_t next_ns);

typedef struct UdmlWindower UdmlWindower;
UdmlWindower *udml_media_windower_new (const UdmlFeatureSpec *spec, UdmlError *err);
void udml_media_windower_free (UdmlWindower *w);
/* Forgets all data; the next window is the one containing start_ns. */
void udml_media_windower_reset (UdmlWindower *w, int64_t start_ns);

/* Mono float samples at spec->sample_rate, the first at pts_ns. */
void udml_media_windower_push_audio (UdmlWindower *w, int64_t pts_ns, const float *pcm, size_t n);
/* One converted frame (C x H x W, 0..255) shown from pts_ns for
 * duration_ns (< 0: until the next frame). */
void udml_media_windower_push_video (UdmlWindower *w, int64_t pts_ns, int64_t duration_ns,
    const float *frame);
/* Declares [pts, pts+duration) of a modality seen with no data (GAP). */
void udml_media_windower_gap (UdmlWindower *w, UdmlModalityKind kind, int64_t pts_ns,
    int64_t duration_ns);
/* A modality that is done (EOS, unlinked, disabled) is no longer waited for. */
void udml_media_windower_set_done (UdmlWindower *w, UdmlModalityKind kind, int done);

/* Running time up to which a modality has delivered data or gaps. */
int64_t udml_media_windower_position (const UdmlWindower *w, UdmlModalityKind kind);

/* Computes the next window if every modality not done has reached its end,
 * or at once when force is set (EOS or live timeout: partial). An empty
 * window waits until data resumes (or every modality is done) and then
 * comes out as one gap window. Returns 1 and fills out, or 0 when not
 * ready / nothing left. */
int udml_media_windower_next (UdmlWindower *w, int force, UdmlMediaWindow *out);

/* ------------------------------------------------------------- decoding */

/* A whole file decoded to model format. */
typedef struct {
  float *pcm;                /* mono, spec->sample_rate; NULL if no audio stream */
  size_t n_samples;
  float *frames;             /* n_frames x C x H x W, 0..255; NULL if no video */
  int64_t *frame_pts;        /* n_frames, ns from the file start */
  int n_frames;
  int64_t duration_ns;
} UdmlMediaClip;

/* Decodes every audio and video sample of path (any container/codec FFmpeg
 * opens; a still image is a one-frame video). Errors name the file. */
UdmlStatus udml_media_decode_file (const char *path, const UdmlFeatureSpec *spec,
    UdmlMediaClip *clip, UdmlError *err);
void udml_media_clip_clear (UdmlMediaClip *clip);

/* Features of window 0 of a decoded clip through the shared windower.
 * audio_out: 1 x n_mels x frames; video_out: T x C x H x W (T frames per
 * window). Either may be NULL. */
UdmlStatus udml_media_clip_features (UdmlWindower *w, const UdmlMediaClip *audio_clip,
    const UdmlMediaClip *video_clip, float *audio_out, float *video_out, UdmlError *err);
/* The same for the window that starts t0_ns into the clip: the features
 * the windower gives for that window of the clip alone. */
UdmlStatus udml_media_clip_window (UdmlWindower *w, const UdmlMediaClip *audio_clip,
    const UdmlMediaClip *video_clip, int64_t t0_ns, float *audio_out, float *video_out,
    UdmlError *err);

/* -------------------------------------------- degradation kind "blocky" */

/* UDML_DEGRADE_BLOCKY (method.md "Degradation kinds"): MJPEG through
 * libavcodec at JPEG quality udml_media_blocky_quality (level), coded at a
 * size whose shorter side is at most udml_media_blocky_side (level) pixels,
 * like a streaming bitrate ladder. Keeps codecs and scalers per level for
 * the last frame size. (transfer full) */
typedef struct UdmlMediaBlocky UdmlMediaBlocky;
UdmlMediaBlocky *udml_media_blocky_new (UdmlError *err);
void udml_media_blocky_free (UdmlMediaBlocky *b);
int udml_media_blocky_quality (int level);     /* 0 at level 1, 90 .. 1 */
int udml_media_blocky_side (int level);        /* 0 at level 1, 64 .. 16 */
/* In place on an 8-bit frame of 1 (grey) or 3 (R, G, B) components. */
UdmlStatus udml_media_blocky_frame_u8 (UdmlMediaBlocky *b, int level, UdmlFrameU8 *frame,
    UdmlError *err);
/* In place on a C x H x W float frame 0..255 (C 1 or 3), through 8 bits. */
UdmlStatus udml_media_blocky_planes (UdmlMediaBlocky *b, int level, float *x, int c,
    int h, int w, UdmlError *err);

#ifdef __cplusplus
}
#endif
#endif /* UDML_MEDIA_H */
