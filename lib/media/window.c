/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* window.c — the one windowing path shared by udmlfuse and the tools.
 *
 * Window k covers running time [k*hop, k*hop + window). Audio samples sit in
 * a ring indexed by absolute sample position, with a flag per sample for
 * coverage; the ring starts at the current window and reaches HORIZON past
 * its end (data beyond that is dropped: callers take windows as they become
 * ready). Video keeps one slot per open window holding the best frame so far
 * (shown at the midpoint, else nearest to it inside the window). Features
 * of a window are computed from that window's samples only, so the way the
 * stream was chunked never changes them. Everything is allocated in _new. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/mathematics.h>

#include "media.h"

#define HORIZON_NS INT64_C(4000000000)  /* lookahead kept beyond a window */
#define MAX_SLOTS 512
#define NS INT64_C(1000000000)

typedef struct
{
  int64_t k;                    /* window index held */
  int has;
  int64_t dist[UDML_MAX_WINDOW_FRAMES]; /* of each held frame to its instant */
  int64_t covered_ns;           /* display time of frames inside the window */
  float *frame;                 /* T x C x H x W, T = frames per window */
} VideoSlot;

struct UdmlWindower
{
  UdmlFeatureSpec spec;
  UdmlMel *mel;
  int done[2];
  int64_t next_k;

  /* audio, in samples at spec.sample_rate */
  int64_t win_n;                /* samples per window */
  int64_t cap;                  /* ring size */
  int64_t base;                 /* first sample of window next_k */
  int64_t a_pos;                /* end of data or gaps delivered */
  int64_t a_last_end;           /* end of the last push, -1 after reset */
  int64_t a_beyond;             /* first sample dropped past the ring, -1 none */
  float *ring;                  /* cap */
  uint8_t *have;                /* cap: 1 where data arrived */
  float *win_pcm;               /* win_n */
  float *mel_out;               /* n_mels x frames */

  /* video, in ns */
  size_t frame_size;            /* C*H*W */
  int n_frames;                 /* T: frames per window */
  int n_slots;
  VideoSlot *slots;
  float *slot_mem;
  int64_t v_pos;
  int has_pend;                 /* a frame whose end is not known yet */
  int64_t pend_pts;
  float *pend;
  int has_last;                 /* last committed frame, for windows opened later */
  int64_t last_pts, last_end;
  float *last;
  float *vid_out;
};

static int
window_frames (const UdmlFeatureSpec * spec)
{
  return spec->frames_per_window > 1 ? spec->frames_per_window : 1;
}

static int64_t
ns_to_samples (const UdmlWindower * w, int64_t ns)
{
  return av_rescale_rnd (ns, w->spec.sample_rate, NS, AV_ROUND_NEAR_INF);
}

static int64_t
samples_to_ns (const UdmlWindower * w, int64_t s)
{
  return av_rescale_rnd (s, NS, w->spec.sample_rate, AV_ROUND_NEAR_INF);
}

int
udml_media_contiguous (int64_t end_ns, int64_t next_ns)
{
  return llabs (next_ns - end_ns) <= UDML_MEDIA_JITTER_NS;
}

/* The same on the sample grid: a step of samples a -> b. */
static int
contiguous_samples (const UdmlWindower * w, int64_t a, int64_t b)
{
  return udml_media_contiguous (samples_to_ns (w, a), samples_to_ns (w, b));
}

static int64_t
window_start_sample (const UdmlWindower * w, int64_t k)
{
  return ns_to_samples (w, k * w->spec.hop_ns);
}

void
udml_media_windower_free (UdmlWindower * w)
{
  if (!w)
    return;
  udml_media_mel_free (w->mel);
  free (w->ring);
  free (w->have);
  free (w->win_pcm);
  free (w->mel_out);
  free (w->slots);
  free (w->slot_mem);
  free (w->pend);
  free (w->last);
  free (w->vid_out);
  free (w);
}

UdmlWindower *
udml_media_windower_new (const UdmlFeatureSpec * spec, UdmlError * err)
{
  UdmlWindower *w = NULL;
  int64_t horizon;
  int i;

  if (!spec || spec->window_ns <= 0 || spec->hop_ns <= 0
      || spec->sample_rate <= 0 || spec->frame_width <= 0
      || spec->frame_height <= 0 || spec->frame_channels <= 0
      || spec->window_ns > 60 * NS) {
    udml_error_set (err, UDML_ERR_ARG,
        "windower: invalid window/hop/rate/frame in the feature spec");
    return NULL;
  }
  w = calloc (1, sizeof *w);
  if (!w)
    goto nomem;
  w->spec = *spec;
  w->mel = udml_media_mel_new (spec, err);
  if (!w->mel)
    goto fail;

  w->win_n = ns_to_samples (w, spec->window_ns);
  horizon =
      spec->window_ns + (spec->hop_ns > HORIZON_NS ? spec->hop_ns : HORIZON_NS);
  w->cap = ns_to_samples (w, horizon) + 1;
  w->ring = calloc (w->cap, sizeof (float));
  w->have = calloc (w->cap, 1);
  w->win_pcm = calloc (w->win_n, sizeof (float));
  w->mel_out =
      calloc ((size_t) spec->n_mels * udml_media_mel_frames (spec, w->win_n),
      sizeof (float));

  w->frame_size =
      (size_t) spec->frame_channels * spec->frame_height * spec->frame_width;
  w->n_frames = window_frames (spec);
  w->n_slots = (int) (horizon / spec->hop_ns) + 2;
  if (w->n_slots > MAX_SLOTS)
    w->n_slots = MAX_SLOTS;
  w->slots = calloc (w->n_slots, sizeof (VideoSlot));
  w->slot_mem = calloc (w->frame_size * w->n_frames * w->n_slots,
      sizeof (float));
  w->pend = calloc (w->frame_size, sizeof (float));
  w->last = calloc (w->frame_size, sizeof (float));
  w->vid_out = calloc (w->frame_size * w->n_frames, sizeof (float));
  if (!w->ring || !w->have || !w->win_pcm || !w->mel_out || !w->slots
      || !w->slot_mem || !w->pend || !w->last || !w->vid_out)
    goto nomem;
  for (i = 0; i < w->n_slots; i++)
    w->slots[i].frame = w->slot_mem + w->frame_size * w->n_frames * i;
  udml_media_windower_reset (w, 0);
  return w;

nomem:
  udml_error_set (err, UDML_ERR_NOMEM, "windower: out of memory");
fail:
  udml_media_windower_free (w);
  return NULL;
}

static VideoSlot *
slot_of (UdmlWindower * w, int64_t k)
{
  return &w->slots[k % w->n_slots];
}

/* Distance of the display interval [p, e) to instant t. */
static int64_t
frame_distance (int64_t p, int64_t e, int64_t t)
{
  if (p <= t && t < e)
    return 0;
  if (e <= t)
    return t - e + 1;           /* e is exclusive: last shown instant is e - 1 */
  return p - t;
}

/* Instant i of the T a window samples: the middles of T equal parts, so
 * one frame is the frame at the window's midpoint. */
static int64_t
frame_instant (const UdmlWindower * w, int64_t start, int i)
{
  return start + (w->spec.window_ns * (2 * i + 1)) / (2 * w->n_frames);
}

/* Offers frame [p, e) to window k's slot: each of its T instants keeps the
 * frame shown then, else the nearest one inside the window. */
static void
slot_offer (UdmlWindower * w, VideoSlot * sl, const float *frame, int64_t p,
    int64_t e)
{
  int64_t start = sl->k * w->spec.hop_ns, end = start + w->spec.window_ns;
  int64_t lo = p > start ? p : start, hi = e < end ? e : end;

  if (hi <= lo)
    return;
  sl->covered_ns += hi - lo;
  for (int i = 0; i < w->n_frames; i++) {
    int64_t dist = frame_distance (p, e, frame_instant (w, start, i));
    if (!sl->has || dist < sl->dist[i]) {
      memcpy (sl->frame + w->frame_size * i, frame,
          w->frame_size * sizeof (float));
      sl->dist[i] = dist;
    }
  }
  sl->has = 1;
}

static void
slot_open (UdmlWindower * w, int64_t k)
{
  VideoSlot *sl = slot_of (w, k);

  sl->k = k;
  sl->has = 0;
  for (int i = 0; i < UDML_MAX_WINDOW_FRAMES; i++)
    sl->dist[i] = INT64_MAX;
  sl->covered_ns = 0;
  if (w->has_last)
    slot_offer (w, sl, w->last, w->last_pts, w->last_end);
}

/* A frame whose display interval is now known. */
static void
commit_frame (UdmlWindower * w, const float *frame, int64_t p, int64_t e)
{
  int64_t k;

  for (k = w->next_k; k < w->next_k + w->n_slots; k++)
    slot_offer (w, slot_of (w, k), frame, p, e);
  if (frame != w->last)
    memcpy (w->last, frame, w->frame_size * sizeof (float));
  w->last_pts = p;
  w->last_end = e;
  w->has_last = 1;
}

void
udml_media_windower_reset (UdmlWindower * w, int64_t start_ns)
{
  int64_t k;

  if (start_ns < 0)
    start_ns = 0;
  w->next_k = start_ns / w->spec.hop_ns;
  w->base = window_start_sample (w, w->next_k);
  w->a_pos = w->base;
  w->a_last_end = -1;
  w->a_beyond = -1;
  memset (w->ring, 0, w->cap * sizeof (float));
  memset (w->have, 0, w->cap);
  w->v_pos = w->next_k * w->spec.hop_ns;
  w->has_pend = 0;
  w->has_last = 0;
  for (k = w->next_k; k < w->next_k + w->n_slots; k++)
    slot_open (w, k);
}

void
udml_media_windower_push_audio (UdmlWindower * w, int64_t pts_ns,
    const float *pcm, size_t n)
{
  int64_t s0 = ns_to_samples (w, pts_ns), s, lo, hi;

  /* Rounding of timestamps (or resampler delay) must not open holes. */
  if (w->a_last_end >= 0 && contiguous_samples (w, w->a_last_end, s0))
    s0 = w->a_last_end;
  w->a_last_end = s0 + (int64_t) n;
  if (s0 + (int64_t) n > w->a_pos)
    w->a_pos = s0 + (int64_t) n;

  lo = s0 > w->base ? s0 : w->base;
  hi = s0 + (int64_t) n;
  if (hi > w->base + w->cap) {
    /* after a jump: kept as where data resumes (a gap ends there) */
    int64_t first = s0 > w->base + w->cap ? s0 : w->base + w->cap;
    if (w->a_beyond < 0 || first < w->a_beyond)
      w->a_beyond = first;
    hi = w->base + w->cap;
  }
  for (s = lo; s < hi; s++) {
    w->ring[s % w->cap] = pcm[s - s0];
    w->have[s % w->cap] = 1;
  }
}

void
udml_media_windower_push_video (UdmlWindower * w, int64_t pts_ns,
    int64_t duration_ns, const float *frame)
{
  if (w->has_pend) {
    commit_frame (w, w->pend, w->pend_pts,
        pts_ns > w->pend_pts ? pts_ns : w->pend_pts);
    w->has_pend = 0;
  }
  if (duration_ns > 0) {
    commit_frame (w, frame, pts_ns, pts_ns + duration_ns);
    if (pts_ns + duration_ns > w->v_pos)
      w->v_pos = pts_ns + duration_ns;
  } else {
    memcpy (w->pend, frame, w->frame_size * sizeof (float));
    w->pend_pts = pts_ns;
    w->has_pend = 1;
    if (pts_ns > w->v_pos)
      w->v_pos = pts_ns;
  }
}

void
udml_media_windower_gap (UdmlWindower * w, UdmlModalityKind kind,
    int64_t pts_ns, int64_t duration_ns)
{
  int64_t end = pts_ns + (duration_ns > 0 ? duration_ns : 0);

  if (kind == UDML_MODALITY_AUDIO) {
    int64_t e = ns_to_samples (w, end);
    /* a step within the jitter pushes snap over is no gap: declaring it
     * would leave a hole, or move the end back into the data, and shift
     * the audio that follows */
    if (w->a_last_end >= 0 && contiguous_samples (w, w->a_last_end, e))
      return;
    if (e > w->a_pos)
      w->a_pos = e;
    w->a_last_end = e;
  } else if (kind == UDML_MODALITY_VIDEO) {
    if (w->has_pend) {
      commit_frame (w, w->pend, w->pend_pts,
          pts_ns > w->pend_pts ? pts_ns : w->pend_pts);
      w->has_pend = 0;
    }
    if (end > w->v_pos)
      w->v_pos = end;
  }
}

/* End of the latest window containing t. */
static int64_t
window_end_containing (const UdmlWindower * w, int64_t t)
{
  return (t / w->spec.hop_ns) * w->spec.hop_ns + w->spec.window_ns;
}

void
udml_media_windower_set_done (UdmlWindower * w, UdmlModalityKind kind, int done)
{
  if (kind != UDML_MODALITY_AUDIO && kind != UDML_MODALITY_VIDEO)
    return;
  w->done[kind] = done;
  /* The last frame of a finished stream (a still image) is shown to the
   * end of its window. */
  if (kind == UDML_MODALITY_VIDEO && done && w->has_pend) {
    int64_t e = window_end_containing (w, w->pend_pts);
    commit_frame (w, w->pend, w->pend_pts, e);
    w->has_pend = 0;
    if (e > w->v_pos)
      w->v_pos = e;
  }
}

int64_t
udml_media_windower_position (const UdmlWindower * w, UdmlModalityKind kind)
{
  if (kind == UDML_MODALITY_AUDIO)
    return samples_to_ns (w, w->a_pos);
  return w->v_pos;
}

/* Earliest known data at or after from_ns (from_ns is in window next_k,
 * which holds none), -1 if none is known yet. */
static int64_t
next_data (UdmlWindower * w, int64_t from_ns)
{
  int64_t best = -1, s, s_hi, k, t;

  s_hi = w->a_pos < w->base + w->cap ? w->a_pos : w->base + w->cap;
  for (s = ns_to_samples (w, from_ns); s < s_hi; s++)
    if (w->have[s % w->cap]) {
      best = samples_to_ns (w, s);
      break;
    }
  if (w->a_beyond >= 0) {
    t = samples_to_ns (w, w->a_beyond);
    if (best < 0 || t < best)
      best = t;
  }
  /* a slot holding a frame: its window start bounds the frame's start */
  for (k = w->next_k + 1; k < w->next_k + w->n_slots; k++) {
    VideoSlot *sl = slot_of (w, k);
    if (sl->k == k && (sl->has || sl->covered_ns > 0)) {
      t = k * w->spec.hop_ns;
      if (best < 0 || t < best)
        best = t;
      break;
    }
  }
  if (w->has_pend)
    t = w->pend_pts;
  else if (w->has_last && w->last_end > from_ns)
    t = w->last_pts;
  else
    t = -1;
  if (t >= 0) {
    if (t < from_ns)
      t = from_ns;
    if (best < 0 || t < best)
      best = t;
  }
  return best;
}

/* Moves the grid to window k (> next_k) past windows with no data. */
static void
skip_to (UdmlWindower * w, int64_t k)
{
  int64_t old_k = w->next_k, base = window_start_sample (w, k), s, hi, j;

  hi = base < w->base + w->cap ? base : w->base + w->cap;
  for (s = w->base; s < hi; s++) {
    w->ring[s % w->cap] = 0.0f;
    w->have[s % w->cap] = 0;
  }
  w->base = base;
  if (w->a_pos < base)
    w->a_pos = base;
  if (w->a_beyond >= 0 && w->a_beyond < base + w->cap)
    w->a_beyond = -1;           /* that data is lost: the ring had no room */
  w->next_k = k;
  /* slots still open keep their frames; the others open afresh */
  for (j = k; j < k + w->n_slots; j++)
    if (j >= old_k + w->n_slots || slot_of (w, j)->k != j)
      slot_open (w, j);
}

int
udml_media_windower_next (UdmlWindower * w, int force, UdmlMediaWindow * out)
{
  int64_t k = w->next_k;
  int64_t start = k * w->spec.hop_ns, end = start + w->spec.window_ns;
  int64_t s_start = w->base, s_end = s_start + w->win_n, s, covered = 0, k2;
  int64_t next_base;
  VideoSlot *sl = slot_of (w, k);
  int a_done = w->done[UDML_MODALITY_AUDIO];
  int v_done = w->done[UDML_MODALITY_VIDEO];
  int a_ready = a_done || w->a_pos >= s_end;
  int v_ready = v_done || w->v_pos >= end;
  int partial = 0;
  float acov, vcov;

  if (!force && !(a_ready && v_ready))
    return 0;

  for (s = s_start; s < s_end; s++)
    covered += w->have[s % w->cap];
  if (covered == 0 && !sl->has && sl->covered_ns == 0
      && !(w->has_pend && w->pend_pts < end)) {
    /* no data: wait for where it resumes (or the end), then one gap */
    int64_t resume = next_data (w, end), j;

    if (resume < 0) {
      int64_t pa = samples_to_ns (w, w->a_pos);

      if (!(a_done && v_done))
        return 0;
      resume = pa > w->v_pos ? pa : w->v_pos;
      if (resume <= start)
        return 0;               /* nothing left */
      j = resume / w->spec.hop_ns + 1;
    } else {
      j = resume >= w->spec.window_ns ?
          (resume - w->spec.window_ns) / w->spec.hop_ns + 1 : 0;
    }
    if (j <= k)
      j = k + 1;
    memset (out, 0, sizeof *out);
    out->index = k;
    out->n_windows = j - k;
    out->start_ns = start;
    out->end_ns = resume;
    out->gap = 1;
    skip_to (w, j);
    return 1;
  }

  /* audio: this window's samples only */
  for (s = s_start; s < s_end; s++)
    w->win_pcm[s - s_start] = w->ring[s % w->cap];
  udml_media_mel_compute (w->mel, w->win_pcm, w->win_n, w->mel_out);

  /* video: a frame still on screen counts to the window end when forced */
  if (force && w->has_pend)
    slot_offer (w, sl, w->pend, w->pend_pts, end);
  if (sl->has)
    memcpy (w->vid_out, sl->frame,
        w->frame_size * w->n_frames * sizeof (float));
  else
    memset (w->vid_out, 0, w->frame_size * w->n_frames * sizeof (float));
  acov = (float) ((double) covered / w->win_n);
  vcov = (float) ((double) sl->covered_ns / w->spec.window_ns);
  if (vcov > 1.0f)
    vcov = 1.0f;

  /* partial: a modality's data stops inside the window and leaves part of
   * it uncovered */
  if (acov < 1.0f && w->a_pos < s_end && ((!a_done && force)
          || (a_done && w->a_pos > s_start)))
    partial = 1;
  if (vcov < 1.0f && w->v_pos < end && ((!v_done && force)
          || (v_done && w->v_pos > start)))
    partial = 1;

  memset (out, 0, sizeof *out);
  out->index = k;
  out->n_windows = 1;
  out->start_ns = start;
  out->end_ns = end;
  out->audio = w->mel_out;
  out->video = w->vid_out;
  out->coverage[UDML_MODALITY_AUDIO] = acov;
  out->coverage[UDML_MODALITY_VIDEO] = vcov;
  out->partial = partial;

  /* advance: free the ring before the next window, open a slot at the far end */
  w->next_k = k + 1;
  next_base = window_start_sample (w, k + 1);
  if (next_base - w->base >= w->cap) {
    memset (w->ring, 0, w->cap * sizeof (float));
    memset (w->have, 0, w->cap);
  } else {
    for (s = w->base; s < next_base; s++) {
      w->ring[s % w->cap] = 0.0f;
      w->have[s % w->cap] = 0;
    }
  }
  w->base = next_base;
  if (w->a_pos < w->base)
    w->a_pos = w->base;
  k2 = k + w->n_slots;
  slot_open (w, k2);
  return 1;
}

UdmlStatus
udml_media_clip_features (UdmlWindower * w, const UdmlMediaClip * audio_clip,
    const UdmlMediaClip * video_clip, float *audio_out, float *video_out,
    UdmlError * err)
{
  return udml_media_clip_window (w, audio_clip, video_clip, 0, audio_out,
      video_out, err);
}

/* Pushes the frames of v shown in [t0, t0 + window), shifted by -t0. */
static void
push_clip_frames (UdmlWindower * w, const UdmlMediaClip * v, int64_t t0)
{
  for (int i = 0; i < v->n_frames; i++) {
    int64_t pts = v->frame_pts[i], dur;
    if (pts >= t0 + w->spec.window_ns)
      break;                    /* only this window is wanted */
    if (i + 1 < v->n_frames)
      dur = v->frame_pts[i + 1] - pts;
    else if (v->n_frames > 1 && v->duration_ns > pts)
      dur = v->duration_ns - pts;
    else
      dur = -1;                 /* a still image: shown to the end of its window */
    if (dur > 0 && pts + dur <= t0)
      continue;                 /* gone before the window */
    udml_media_windower_push_video (w, pts - t0, dur,
        v->frames + w->frame_size * i);
  }
}

UdmlStatus
udml_media_clip_window (UdmlWindower * w, const UdmlMediaClip * audio_clip,
    const UdmlMediaClip * video_clip, int64_t t0_ns, float *audio_out,
    float *video_out, UdmlError * err)
{
  UdmlMediaWindow win;
  const char *why = NULL;
  int got;

  if (!w)
    why = "no windower";
  else if (audio_out && (!audio_clip || !audio_clip->pcm
          || !audio_clip->n_samples))
    why = "the clip has no audio";
  else if (video_out && (!video_clip || !video_clip->frames
          || video_clip->n_frames <= 0))
    why = "the clip has no video";
  else if (t0_ns < 0)
    why = "window before the clip start";
  if (why)
    goto out;

  udml_media_windower_reset (w, 0);
  w->done[UDML_MODALITY_AUDIO] = w->done[UDML_MODALITY_VIDEO] = 0;
  if (audio_out) {
    int64_t s0 = ns_to_samples (w, t0_ns);
    if (s0 < (int64_t) audio_clip->n_samples) {
      int64_t n = (int64_t) audio_clip->n_samples - s0;
      udml_media_windower_push_audio (w, 0, audio_clip->pcm + s0,
          (size_t) (n < w->win_n ? n : w->win_n));
    }
  }
  if (video_out)
    push_clip_frames (w, video_clip, t0_ns);
  udml_media_windower_set_done (w, UDML_MODALITY_AUDIO, 1);
  udml_media_windower_set_done (w, UDML_MODALITY_VIDEO, 1);
  got = udml_media_windower_next (w, 1, &win);
  w->done[UDML_MODALITY_AUDIO] = w->done[UDML_MODALITY_VIDEO] = 0;
  if (!got) {
    why = t0_ns ? "no data in the window" : "no data in the first window";
    goto out;
  }
  if (audio_out)
    memcpy (audio_out, win.audio, (size_t) w->spec.n_mels
        * udml_media_mel_frames (&w->spec, w->win_n) * sizeof (float));
  if (video_out)
    memcpy (video_out, win.video, w->frame_size * w->n_frames * sizeof (float));

out:
  if (why)
    return udml_error_set (err, UDML_ERR_FORMAT, "clip features: %s", why);
  return UDML_OK;
}
