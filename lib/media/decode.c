/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decode.c — whole files to model format (libavformat/libavcodec), and the
 * features of a decoded clip through the shared windower. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#include "convert.h"

#define NS INT64_C(1000000000)
static const AVRational ns_q = { 1, 1000000000 };

static const char *
averr (int e, char *buf, size_t len)
{
  av_strerror (e, buf, len);
  return buf;
}

/* Names the file in an error coming from the converters. */
static void
prefix_path (UdmlError * err, const char *path)
{
  char msg[sizeof err->msg];

  if (!err)
    return;
  snprintf (msg, sizeof msg, "%.200s: %.300s", path, err->msg);
  memcpy (err->msg, msg, sizeof msg);
}

typedef struct
{
  const char *path;
  const UdmlFeatureSpec *spec;
  AVFormatContext *fmt;
  int a_idx, v_idx;
  AVCodecContext *a_dec, *v_dec;
  UdmlResampler *res;
  UdmlScaler *scl;
  UdmlMediaClip *clip;
  size_t pcm_cap;
  int frames_cap;
  int64_t start_ns;             /* file start */
  int64_t a_first_ns;           /* pts of the first audio frame, or INT64_MIN */
  int64_t v_frame_ns;           /* nominal frame duration, 0 if unknown */
} Decoder;

static UdmlStatus
open_decoder (Decoder * d, int idx, AVCodecContext ** out, UdmlError * err)
{
  AVStream *st = d->fmt->streams[idx];
  const AVCodec *codec = avcodec_find_decoder (st->codecpar->codec_id);
  AVCodecContext *ctx;
  char eb[128];
  int ret;

  if (!codec)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: no decoder for %s stream %d (%s)", d->path,
        av_get_media_type_string (st->codecpar->codec_type), idx,
        avcodec_get_name (st->codecpar->codec_id));
  ctx = avcodec_alloc_context3 (codec);
  if (!ctx)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", d->path);
  *out = ctx;
  ctx->thread_count = 1;        /* deterministic and polite on shared machines */
  if ((ret = avcodec_parameters_to_context (ctx, st->codecpar)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: cannot configure %s decoder: %s", d->path, codec->name,
        averr (ret, eb, sizeof eb));
  /* Before opening, as ffmpeg does: the timestamps of skipped (priming)
   * samples are rescaled with it. */
  ctx->pkt_timebase = st->time_base;
  if ((ret = avcodec_open2 (ctx, codec, NULL)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: cannot open %s decoder: %s", d->path, codec->name, averr (ret, eb,
            sizeof eb));
  return UDML_OK;
}

static UdmlStatus
take_audio (Decoder * d, AVFrame * f, UdmlError * err)
{
  UdmlMediaClip *c = d->clip;
  int bound, n_out, channels = f->ch_layout.nb_channels;
  UdmlStatus st;

  if (d->a_first_ns == INT64_MIN && f->best_effort_timestamp != AV_NOPTS_VALUE)
    d->a_first_ns = av_rescale_q (f->best_effort_timestamp,
        d->fmt->streams[d->a_idx]->time_base, ns_q) - d->start_ns;
  /* checked before the bound, which would scale with 1 / rate */
  if (f->sample_rate <= 0 || channels <= 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: audio frame with %d Hz, %d channels", d->path, f->sample_rate,
        channels);
  bound = udml_media_resample_bound (d->res, f->sample_rate, f->nb_samples);
  if (c->n_samples + bound > d->pcm_cap) {
    size_t cap = d->pcm_cap ? d->pcm_cap : 16384;
    float *p;
    while (cap < c->n_samples + bound)
      cap *= 2;
    p = realloc (c->pcm, cap * sizeof (float));
    if (!p)
      return udml_error_set (err, UDML_ERR_NOMEM,
          "%s: out of memory decoding audio", d->path);
    c->pcm = p;
    d->pcm_cap = cap;
  }
  st = udml_media_resample_av (d->res, f->format, f->sample_rate, channels,
      (const uint8_t * const *) f->extended_data, f->nb_samples,
      c->pcm + c->n_samples, bound, &n_out, err);
  if (st != UDML_OK) {
    prefix_path (err, d->path);
    return st;
  }
  c->n_samples += n_out;
  return UDML_OK;
}

static UdmlStatus
take_video (Decoder * d, AVFrame * f, UdmlError * err)
{
  UdmlMediaClip *c = d->clip;
  size_t fs =
      (size_t) d->spec->frame_channels * d->spec->frame_height *
      d->spec->frame_width;
  int64_t pts;
  UdmlStatus st;

  if (c->n_frames == d->frames_cap) {
    int cap = d->frames_cap ? d->frames_cap * 2 : 16;
    float *fr = realloc (c->frames, (size_t) cap * fs * sizeof (float));
    int64_t *pt;
    if (!fr)
      return udml_error_set (err, UDML_ERR_NOMEM,
          "%s: out of memory decoding video", d->path);
    c->frames = fr;
    pt = realloc (c->frame_pts, (size_t) cap * sizeof (int64_t));
    if (!pt)
      return udml_error_set (err, UDML_ERR_NOMEM,
          "%s: out of memory decoding video", d->path);
    c->frame_pts = pt;
    d->frames_cap = cap;
  }
  if (f->best_effort_timestamp != AV_NOPTS_VALUE)
    pts =
        av_rescale_q (f->best_effort_timestamp,
        d->fmt->streams[d->v_idx]->time_base, ns_q)
        - d->start_ns;
  else if (c->n_frames > 0)
    pts = c->frame_pts[c->n_frames - 1] + d->v_frame_ns;
  else
    pts = 0;
  st = udml_media_scale_av (d->scl, f->format, f->width, f->height,
      (const uint8_t * const *) f->data, f->linesize,
      c->frames + fs * c->n_frames, err);
  if (st != UDML_OK) {
    prefix_path (err, d->path);
    return st;
  }
  c->frame_pts[c->n_frames++] = pts;
  return UDML_OK;
}

/* Sends pkt (NULL drains) and takes every frame that comes out. */
static UdmlStatus
feed (Decoder * d, AVCodecContext * dec, const AVPacket * pkt, AVFrame * f,
    UdmlError * err)
{
  char eb[128];
  int ret = avcodec_send_packet (dec, pkt);
  UdmlStatus st = UDML_OK;

  if (ret < 0 && ret != AVERROR_EOF)
    return udml_error_set (err, UDML_ERR_FORMAT, "%s: undecodable %s data: %s",
        d->path, dec == d->a_dec ? "audio" : "video", averr (ret, eb,
            sizeof eb));
  for (;;) {
    ret = avcodec_receive_frame (dec, f);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      break;
    if (ret < 0)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: undecodable %s data: %s", d->path,
          dec == d->a_dec ? "audio" : "video", averr (ret, eb, sizeof eb));
    st = dec == d->a_dec ? take_audio (d, f, err) : take_video (d, f, err);
    av_frame_unref (f);
    if (st != UDML_OK)
      return st;
  }
  return UDML_OK;
}

/* Takes the resampler's filter tail. */
static UdmlStatus
drain_audio (Decoder * d, UdmlError * err)
{
  UdmlMediaClip *clip = d->clip;
  int n_out = 0, room = 4096;
  UdmlStatus st;

  if (clip->n_samples + room > d->pcm_cap) {
    float *p = realloc (clip->pcm, (clip->n_samples + room) * sizeof (float));
    if (!p)
      return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", d->path);
    clip->pcm = p;
    d->pcm_cap = clip->n_samples + room;
  }
  st = udml_media_resample_av (d->res, 0, 0, 0, NULL, 0,
      clip->pcm + clip->n_samples, room, &n_out, err);
  if (st == UDML_OK)
    clip->n_samples += n_out;
  return st;
}

/* Audio that starts after the file start keeps its place: leading zeros. */
static UdmlStatus
place_audio (Decoder * d, UdmlError * err)
{
  UdmlMediaClip *clip = d->clip;
  size_t pad;
  float *p;

  if (!clip->n_samples || d->a_first_ns <= 0 || d->a_first_ns >= 10 * NS)
    return UDML_OK;
  pad = (size_t) av_rescale (d->a_first_ns, d->spec->sample_rate, NS);
  if (!pad)
    return UDML_OK;
  p = realloc (clip->pcm, (clip->n_samples + pad) * sizeof (float));
  if (!p)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", d->path);
  memmove (p + pad, p, clip->n_samples * sizeof (float));
  memset (p, 0, pad * sizeof (float));
  clip->pcm = p;
  clip->n_samples += pad;
  return UDML_OK;
}

void
udml_media_clip_clear (UdmlMediaClip * clip)
{
  if (!clip)
    return;
  free (clip->pcm);
  free (clip->frames);
  free (clip->frame_pts);
  memset (clip, 0, sizeof *clip);
}

UdmlStatus
udml_media_decode_file (const char *path, const UdmlFeatureSpec * spec,
    UdmlMediaClip * clip, UdmlError * err)
{
  Decoder d = { 0 };
  AVPacket *pkt = NULL;
  AVFrame *frame = NULL;
  UdmlStatus st = UDML_OK;
  char eb[128];
  int ret;
  int64_t decoded_ns = 0, declared_ns = -1;

  if (!clip || !spec || !path)
    return udml_error_set (err, UDML_ERR_ARG, "decode: NULL argument");
  memset (clip, 0, sizeof *clip);
  d.path = path;
  d.spec = spec;
  d.clip = clip;
  d.a_first_ns = INT64_MIN;
  d.a_idx = d.v_idx = -1;

  if ((ret = avformat_open_input (&d.fmt, path, NULL, NULL)) < 0) {
    st = udml_error_set (err,
        ret == AVERROR (ENOENT) ? UDML_ERR_IO : UDML_ERR_FORMAT,
        "%s: cannot open media: %s", path, averr (ret, eb, sizeof eb));
    goto out;
  }
  if ((ret = avformat_find_stream_info (d.fmt, NULL)) < 0) {
    st = udml_error_set (err, UDML_ERR_FORMAT,
        "%s: cannot read stream info: %s", path, averr (ret, eb, sizeof eb));
    goto out;
  }
  d.a_idx = av_find_best_stream (d.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
  d.v_idx = av_find_best_stream (d.fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
  if (d.a_idx < 0 && d.v_idx < 0) {
    st = udml_error_set (err, UDML_ERR_FORMAT, "%s: no audio or video stream",
        path);
    goto out;
  }
  d.start_ns = d.fmt->start_time != AV_NOPTS_VALUE
      ? av_rescale_q (d.fmt->start_time, AV_TIME_BASE_Q, ns_q) : 0;
  if (d.a_idx >= 0) {
    if ((st = open_decoder (&d, d.a_idx, &d.a_dec, err)) != UDML_OK)
      goto out;
    if (!(d.res = udml_media_resampler_new (spec, err))) {
      st = err ? err->code : UDML_ERR_ARG;
      goto out;
    }
  }
  if (d.v_idx >= 0) {
    AVRational fr = d.fmt->streams[d.v_idx]->avg_frame_rate;
    if ((st = open_decoder (&d, d.v_idx, &d.v_dec, err)) != UDML_OK)
      goto out;
    if (!(d.scl = udml_media_scaler_new (spec, err))) {
      st = err ? err->code : UDML_ERR_ARG;
      goto out;
    }
    if (fr.num > 0 && fr.den > 0)
      d.v_frame_ns = av_rescale (NS, fr.den, fr.num);
  }

  pkt = av_packet_alloc ();
  frame = av_frame_alloc ();
  if (!pkt || !frame) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  for (;;) {
    ret = av_read_frame (d.fmt, pkt);
    if (ret == AVERROR_EOF)
      break;
    if (ret < 0) {
      st = udml_error_set (err, UDML_ERR_TRUNCATED, "%s: read error: %s", path,
          averr (ret, eb, sizeof eb));
      goto out;
    }
    if (pkt->stream_index == d.a_idx)
      st = feed (&d, d.a_dec, pkt, frame, err);
    else if (pkt->stream_index == d.v_idx)
      st = feed (&d, d.v_dec, pkt, frame, err);
    av_packet_unref (pkt);
    if (st != UDML_OK)
      goto out;
  }
  if (d.a_dec && (st = feed (&d, d.a_dec, NULL, frame, err)) != UDML_OK)
    goto out;
  if (d.v_dec && (st = feed (&d, d.v_dec, NULL, frame, err)) != UDML_OK)
    goto out;
  if (d.a_dec && d.res && (st = drain_audio (&d, err)) != UDML_OK)
    goto out;

  if (d.a_idx >= 0 && clip->n_samples == 0) {
    st = udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: audio stream has no decodable samples", path);
    goto out;
  }
  if (d.v_idx >= 0 && clip->n_frames == 0) {
    st = udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: video stream has no decodable frames", path);
    goto out;
  }
  if ((st = place_audio (&d, err)) != UDML_OK)
    goto out;

  if (clip->n_samples)
    decoded_ns = av_rescale (clip->n_samples, NS, spec->sample_rate);
  if (clip->n_frames) {
    int64_t v_end = clip->frame_pts[clip->n_frames - 1] + d.v_frame_ns;
    if (v_end > decoded_ns)
      decoded_ns = v_end;
  }
  if (d.fmt->duration != AV_NOPTS_VALUE && d.fmt->duration > 0)
    declared_ns = av_rescale_q (d.fmt->duration, AV_TIME_BASE_Q, ns_q);
  /* The container promised more than the packets held: cut-off file. */
  if (declared_ns > 0
      && decoded_ns < declared_ns - (NS / 10 + declared_ns / 20)) {
    st = udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: truncated media: decoded %.3f s of %.3f s", path, decoded_ns / 1e9,
        declared_ns / 1e9);
    goto out;
  }
  clip->duration_ns = declared_ns > 0 ? declared_ns : decoded_ns;
  if (!clip->n_samples) {
    free (clip->pcm);
    clip->pcm = NULL;
  }

out:
  av_frame_free (&frame);
  av_packet_free (&pkt);
  avcodec_free_context (&d.a_dec);
  avcodec_free_context (&d.v_dec);
  avformat_close_input (&d.fmt);
  udml_media_resampler_free (d.res);
  udml_media_scaler_free (d.scl);
  if (st != UDML_OK)
    udml_media_clip_clear (clip);
  return st;
}
