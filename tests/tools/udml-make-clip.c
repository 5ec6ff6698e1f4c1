/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-make-clip — writes a small synthetic audio-visual clip with libav,
 * for the tests and the own-task demo: the container follows the file
 * name: .mp4 (H.264 + AAC), .webm (VP8 + Vorbis), .mkv (MPEG-4 + FLAC).
 *
 * Usage: udml-make-clip OUT WxH FPS SECONDS RATE VIDEO AUDIO [SEED]
 *   VIDEO: ball (a white square circling on grey), bars (colour bars),
 *          noise (random grey pixels), or a colour RRGGBB
 *   AUDIO: a sine frequency in Hz, or noise
 * Audio is stereo; the SEED varies the ball's phase, the noise and the
 * level. Exit status 0 on success, 1 on failure, 2 on bad usage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

typedef struct
{
  AVCodecContext *enc;
  AVStream *st;
  AVFrame *frame;
  int64_t next;
  int frame_size;               /* samples per audio frame */
} Out;

static unsigned rng_state = 1;

static unsigned
rnd (void)
{
  rng_state = rng_state * 1103515245u + 12345u;
  return (rng_state >> 16) & 0x7fff;
}

static int
fail (const char *what, int e)
{
  char buf[128] = "";
  if (e < 0)
    av_strerror (e, buf, sizeof buf);
  fprintf (stderr, "udml-make-clip: error: %s%s%s\n", what, *buf ? ": " : "",
      buf);
  return 1;
}

static int
open_stream (AVFormatContext * fmt, Out * o, const char *name, int w, int h,
    int fps, int rate)
{
  const AVCodec *c = avcodec_find_encoder_by_name (name);
  int e;
  if (!c)
    return fail (name, 0);
  o->st = avformat_new_stream (fmt, NULL);
  o->enc = avcodec_alloc_context3 (c);
  o->frame = av_frame_alloc ();
  if (!o->st || !o->enc || !o->frame)
    return fail ("out of memory", 0);
  if (c->type == AVMEDIA_TYPE_VIDEO) {
    o->enc->width = w;
    o->enc->height = h;
    o->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    o->enc->time_base = (AVRational) {
    1, fps};
    o->enc->framerate = (AVRational) {
    fps, 1};
    o->enc->gop_size = fps;
    o->enc->thread_count = 1;
    o->enc->bit_rate = 1000000;
    if (!strcmp (name, "libx264"))
      av_opt_set (o->enc->priv_data, "preset", "ultrafast", 0);
    if (!strcmp (name, "libvpx"))
      av_opt_set (o->enc->priv_data, "deadline", "realtime", 0);
  } else {
    o->enc->sample_rate = rate;
    o->enc->sample_fmt = c->sample_fmts ? c->sample_fmts[0] : AV_SAMPLE_FMT_S16;
    av_channel_layout_default (&o->enc->ch_layout, 2);
    o->enc->time_base = (AVRational) {
    1, rate};
    o->enc->bit_rate = 128000;
  }
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER)
    o->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if ((e = avcodec_open2 (o->enc, c, NULL)) < 0)
    return fail (name, e);
  if ((e = avcodec_parameters_from_context (o->st->codecpar, o->enc)) < 0)
    return fail ("parameters", e);
  o->st->time_base = o->enc->time_base;
  if (c->type == AVMEDIA_TYPE_VIDEO) {
    o->frame->format = o->enc->pix_fmt;
    o->frame->width = w;
    o->frame->height = h;
  } else {
    o->frame->format = o->enc->sample_fmt;
    o->frame->sample_rate = rate;
    o->frame->nb_samples = o->enc->frame_size > 0 ? o->enc->frame_size : 1024;
    o->frame_size = o->frame->nb_samples;
    av_channel_layout_copy (&o->frame->ch_layout, &o->enc->ch_layout);
  }
  if ((e = av_frame_get_buffer (o->frame, 0)) < 0)
    return fail ("frame", e);
  return 0;
}

/* Sends frame (NULL: flush) and writes every packet it gives. */
static int
encode (AVFormatContext * fmt, Out * o, AVFrame * frame)
{
  AVPacket *pkt = av_packet_alloc ();
  int e = avcodec_send_frame (o->enc, frame);
  while (e >= 0) {
    e = avcodec_receive_packet (o->enc, pkt);
    if (e == AVERROR (EAGAIN) || e == AVERROR_EOF) {
      e = 0;
      break;
    }
    if (e < 0)
      break;
    av_packet_rescale_ts (pkt, o->enc->time_base, o->st->time_base);
    pkt->stream_index = o->st->index;
    e = av_interleaved_write_frame (fmt, pkt);
  }
  av_packet_free (&pkt);
  return e < 0 ? fail ("encode", e) : 0;
}

static void
rgb_of (const char *video, int x, int y, int w, int h, int64_t i, int fps,
    double phase, int rgb[3])
{
  if (!strcmp (video, "ball")) {
    double t = (double) i / fps * 2.0 + phase;
    int cx = (int) (w / 2 + w / 3 * cos (t)), cy =
        (int) (h / 2 + h / 3 * sin (t));
    int in = abs (x - cx) < w / 10 && abs (y - cy) < w / 10;
    rgb[0] = rgb[1] = rgb[2] = in ? 250 : 90;
  } else if (!strcmp (video, "bars")) {
    static const int bars[7][3] = { {192, 192, 192}, {192, 192, 0}, {0, 192,
        192}, {0, 192, 0}, {192, 0, 192}, {192, 0, 0}, {0, 0, 192}
    };
    memcpy (rgb, bars[x * 7 / w], sizeof bars[0]);
  } else if (!strcmp (video, "noise")) {
    rgb[0] = rgb[1] = rgb[2] = (int) (rnd () & 255);
  } else {
    unsigned v = (unsigned) strtoul (video, NULL, 16);
    rgb[0] = (int) (v >> 16) & 255;
    rgb[1] = (int) (v >> 8) & 255;
    rgb[2] = (int) v & 255;
  }
}

static void
fill_video (AVFrame * f, const char *video, int64_t i, int fps, double phase)
{
  int w = f->width, h = f->height;
  av_frame_make_writable (f);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int c[3];
      rgb_of (video, x, y, w, h, i, fps, phase, c);
      f->data[0][y * f->linesize[0] + x] =
          (uint8_t) (16 + (65.7 * c[0] + 129.1 * c[1] + 25.1 * c[2]) / 256);
      if (!(x & 1) && !(y & 1)) {
        f->data[1][y / 2 * f->linesize[1] + x / 2] =
            (uint8_t) (128 + (-37.9 * c[0] - 74.5 * c[1] + 112.4 * c[2]) / 256);
        f->data[2][y / 2 * f->linesize[2] + x / 2] =
            (uint8_t) (128 + (112.4 * c[0] - 94.1 * c[1] - 18.3 * c[2]) / 256);
      }
    }
  f->pts = i;
}

static void
fill_audio (AVFrame * f, const char *audio, int64_t first, int rate,
    double level)
{
  double freq = atof (audio);
  av_frame_make_writable (f);
  for (int s = 0; s < f->nb_samples; s++) {
    double t = (double) (first + s) / rate;
    double v = !strcmp (audio, "noise") ? (rnd () / 16384.0 - 1.0) * level :
        level * sin (2 * M_PI * freq * t);
    for (int ch = 0; ch < 2; ch++) {
      switch (f->format) {
        case AV_SAMPLE_FMT_FLTP:
          ((float *) f->data[ch])[s] = (float) v;
          break;
        case AV_SAMPLE_FMT_S16:
          ((int16_t *) f->data[0])[2 * s + ch] = (int16_t) (v * 32000);
          break;
        case AV_SAMPLE_FMT_S32:
          ((int32_t *) f->data[0])[2 * s + ch] = (int32_t) (v * 2.1e9);
          break;
        default:
          break;
      }
    }
  }
  f->pts = first;
}

int
main (int argc, char **argv)
{
  AVFormatContext *fmt = NULL;
  Out v = { 0 }, a = { 0 };
  int w, h, fps, rate, ret = 1, e;
  double secs;
  const char *vname, *aname, *dot;

  if (argc < 8 || sscanf (argv[2], "%dx%d", &w, &h) != 2
      || (fps = atoi (argv[3])) < 1 || (secs = atof (argv[4])) <= 0
      || (rate = atoi (argv[5])) < 8000 || !(dot = strrchr (argv[1], '.'))) {
    fprintf (stderr, "usage: udml-make-clip OUT.{mp4,webm,mkv} WxH FPS SECONDS "
        "RATE ball|bars|noise|RRGGBB HZ|noise [SEED]\n");
    return 2;
  }
  av_log_set_level (AV_LOG_ERROR);
  rng_state = argc > 8 ? (unsigned) atoi (argv[8]) * 7919u + 1 : 1;
  if (!strcmp (dot, ".mp4")) {
    vname = "libx264";
    aname = "aac";
  } else if (!strcmp (dot, ".webm")) {
    vname = "libvpx";
    aname = "libvorbis";
  } else {
    vname = "mpeg4";
    aname = "flac";
  }
  if ((e = avformat_alloc_output_context2 (&fmt, NULL, NULL, argv[1])) < 0)
    return fail (argv[1], e);
  if (open_stream (fmt, &v, vname, w, h, fps, rate)
      || open_stream (fmt, &a, aname, w, h, fps, rate))
    goto out;
  if ((e = avio_open (&fmt->pb, argv[1], AVIO_FLAG_WRITE)) < 0
      || (e = avformat_write_header (fmt, NULL)) < 0) {
    fail (argv[1], e);
    goto out;
  }
  double phase = (rnd () % 628) / 100.0, level = 0.2 + (rnd () % 50) / 100.0;
  int64_t n_frames = (int64_t) (secs * fps + 0.5);
  int64_t n_samples = (int64_t) (secs * rate + 0.5);
  /* interleaved by time so the muxer buffers little */
  while (v.next < n_frames || a.next < n_samples) {
    if (v.next < n_frames && (a.next >= n_samples
            || v.next * (int64_t) rate <= a.next * (int64_t) fps)) {
      fill_video (v.frame, argv[6], v.next, fps, phase);
      if (encode (fmt, &v, v.frame))
        goto out;
      v.next++;
    } else {
      /* a short last frame, so the audio ends with the video; whole frames
       * would run up to one frame (FLAC: ~0.1 s) past it */
      if (n_samples - a.next < a.frame_size && (a.enc->codec->capabilities
              & (AV_CODEC_CAP_SMALL_LAST_FRAME
                  | AV_CODEC_CAP_VARIABLE_FRAME_SIZE)))
        a.frame->nb_samples = (int) (n_samples - a.next);
      fill_audio (a.frame, argv[7], a.next, rate, level);
      if (encode (fmt, &a, a.frame))
        goto out;
      a.next += a.frame->nb_samples;
    }
  }
  if (encode (fmt, &v, NULL) || encode (fmt, &a, NULL))
    goto out;
  if ((e = av_write_trailer (fmt)) < 0) {
    fail ("trailer", e);
    goto out;
  }
  ret = 0;
out:
  avcodec_free_context (&v.enc);
  avcodec_free_context (&a.enc);
  av_frame_free (&v.frame);
  av_frame_free (&a.frame);
  if (fmt && fmt->pb)
    avio_closep (&fmt->pb);
  avformat_free_context (fmt);
  return ret;
}
