/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* convert.c — audio to mono float at the model rate (libswresample) and
 * frames to the model's C x H x W in 0..255 (libswscale). */
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "convert.h"

/* ------------------------------------------------------------ resampler */

struct UdmlResampler
{
  int out_rate;
  SwrContext *swr;
  int in_fmt, in_rate, in_channels;     /* configuration of swr, 0 = none */
};

UdmlResampler *
udml_media_resampler_new (const UdmlFeatureSpec * spec, UdmlError * err)
{
  UdmlResampler *r;

  if (!spec || spec->sample_rate <= 0) {
    udml_error_set (err, UDML_ERR_ARG, "resampler: invalid sample rate");
    return NULL;
  }
  r = calloc (1, sizeof *r);
  if (!r) {
    udml_error_set (err, UDML_ERR_NOMEM, "resampler: out of memory");
    return NULL;
  }
  r->out_rate = spec->sample_rate;
  return r;
}

void
udml_media_resampler_free (UdmlResampler * r)
{
  if (!r)
    return;
  swr_free (&r->swr);
  free (r);
}

/* Dropping the context drops what its filter holds; the next input
 * configures a fresh one. */
void
udml_media_resampler_reset (UdmlResampler * r)
{
  if (!r)
    return;
  swr_free (&r->swr);
  r->in_fmt = r->in_rate = r->in_channels = 0;
}

static UdmlStatus
resampler_configure (UdmlResampler * r, int av_fmt, int rate, int channels,
    UdmlError * err)
{
  AVChannelLayout in_layout = { 0 }, out_layout = AV_CHANNEL_LAYOUT_MONO;
  double *matrix = NULL;
  UdmlStatus st = UDML_OK;
  int ret, c;

  swr_free (&r->swr);
  r->in_fmt = r->in_rate = r->in_channels = 0;
  av_channel_layout_default (&in_layout, channels);
  ret =
      swr_alloc_set_opts2 (&r->swr, &out_layout, AV_SAMPLE_FMT_FLT, r->out_rate,
      &in_layout, av_fmt, rate, 0, NULL);
  if (ret < 0) {
    st = udml_error_set (err, UDML_ERR_ARG,
        "resampler: cannot convert %s %d Hz %d ch",
        av_get_sample_fmt_name (av_fmt) ? av_get_sample_fmt_name (av_fmt) : "?",
        rate, channels);
    goto out;
  }
  /* Downmix is the plain channel average, whatever the layout. */
  matrix = malloc (channels * sizeof *matrix);
  if (!matrix) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "resampler: out of memory");
    goto out;
  }
  for (c = 0; c < channels; c++)
    matrix[c] = 1.0 / channels;
  if (swr_set_matrix (r->swr, matrix, channels) < 0 || swr_init (r->swr) < 0) {
    st = udml_error_set (err, UDML_ERR_ARG,
        "resampler: cannot initialise %s %d Hz %d ch -> %d Hz mono",
        av_get_sample_fmt_name (av_fmt) ? av_get_sample_fmt_name (av_fmt) : "?",
        rate, channels, r->out_rate);
    goto out;
  }
  r->in_fmt = av_fmt;
  r->in_rate = rate;
  r->in_channels = channels;

out:
  free (matrix);
  av_channel_layout_uninit (&in_layout);
  if (st != UDML_OK)
    swr_free (&r->swr);
  return st;
}

int
udml_media_resample_bound (const UdmlResampler * r, int rate, int n_in)
{
  int64_t delay =
      r->swr ? swr_get_delay ((SwrContext *) r->swr, r->out_rate) : 0;
  if (rate <= 0 || n_in < 0)
    return 0;
  return (int) (av_rescale_rnd (n_in, r->out_rate, rate,
          AV_ROUND_UP) + delay + 32);
}

int
udml_media_resample_delay (const UdmlResampler * r)
{
  return r->swr ? (int) swr_get_delay ((SwrContext *) r->swr, r->out_rate) : 0;
}

/* in == NULL (n_in 0) drains the samples held back by the filter. */
UdmlStatus
udml_media_resample_av (UdmlResampler * r, int av_fmt, int rate, int channels,
    const uint8_t * const *in, int n_in, float *out, int out_cap, int *n_out,
    UdmlError * err)
{
  uint8_t *outp[1] = { (uint8_t *) out };
  int ret, drained = 0;

  *n_out = 0;
  if (!in) {
    if (!r->swr)
      return UDML_OK;
    ret = swr_convert (r->swr, outp, out_cap, NULL, 0);
    if (ret < 0)
      return udml_error_set (err, UDML_ERR_FORMAT, "resampler: drain failed");
    *n_out = ret;
    return UDML_OK;
  }
  if (rate <= 0 || channels <= 0 || channels > 64 || n_in < 0 || av_fmt < 0
      || av_fmt >= AV_SAMPLE_FMT_NB)
    return udml_error_set (err, UDML_ERR_ARG,
        "resampler: invalid input (%d Hz, %d ch, %d samples)", rate, channels,
        n_in);
  if (!r->swr || av_fmt != r->in_fmt || rate != r->in_rate
      || channels != r->in_channels) {
    UdmlStatus st;
    /* the samples the old filter still holds come first */
    if (r->swr) {
      drained = swr_convert (r->swr, outp, out_cap, NULL, 0);
      if (drained < 0)
        return udml_error_set (err, UDML_ERR_FORMAT, "resampler: drain failed");
    }
    st = resampler_configure (r, av_fmt, rate, channels, err);
    if (st != UDML_OK)
      return st;
  }
  outp[0] = (uint8_t *) (out + drained);
  ret = swr_convert (r->swr, outp, out_cap - drained, (const uint8_t **) in,
      n_in);
  if (ret < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "resampler: conversion failed (%d Hz %d ch)", rate, channels);
  *n_out = drained + ret;
  return UDML_OK;
}

/* --------------------------------------------------------------- scaler */

struct UdmlScaler
{
  int width, height, channels;
  enum AVPixelFormat out_fmt;   /* GRAY8 or RGB24 */
  struct SwsContext *sws;
  int in_fmt, in_w, in_h;       /* input of sws */
  uint8_t *buf;                 /* height x width x channels */
};

UdmlScaler *
udml_media_scaler_new (const UdmlFeatureSpec * spec, UdmlError * err)
{
  UdmlScaler *s;

  if (!spec || spec->frame_width <= 0 || spec->frame_height <= 0
      || (spec->frame_channels != 1 && spec->frame_channels != 3)) {
    udml_error_set (err, UDML_ERR_ARG,
        "scaler: frame must be W x H x 1 or 3 (got %d x %d x %d)",
        spec ? spec->frame_width : 0, spec ? spec->frame_height : 0,
        spec ? spec->frame_channels : 0);
    return NULL;
  }
  s = calloc (1, sizeof *s);
  if (!s) {
    udml_error_set (err, UDML_ERR_NOMEM, "scaler: out of memory");
    return NULL;
  }
  s->width = spec->frame_width;
  s->height = spec->frame_height;
  s->channels = spec->frame_channels;
  s->out_fmt = s->channels == 1 ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
  s->buf = av_malloc ((size_t) s->width * s->height * s->channels + 64);
  if (!s->buf) {
    udml_error_set (err, UDML_ERR_NOMEM, "scaler: out of memory");
    free (s);
    return NULL;
  }
  return s;
}

void
udml_media_scaler_free (UdmlScaler * s)
{
  if (!s)
    return;
  sws_freeContext (s->sws);
  av_free (s->buf);
  free (s);
}

/* Full-range formats: JPEG YUV, gray, RGB. Limited-range YUV (video) is
 * expanded so that luma 16..235 becomes 0..255. */
static int
is_full_range (enum AVPixelFormat fmt)
{
  const AVPixFmtDescriptor *d = av_pix_fmt_desc_get (fmt);
  if (!d)
    return 0;
  if (fmt == AV_PIX_FMT_YUVJ420P || fmt == AV_PIX_FMT_YUVJ422P
      || fmt == AV_PIX_FMT_YUVJ444P || fmt == AV_PIX_FMT_YUVJ440P
      || fmt == AV_PIX_FMT_YUVJ411P)
    return 1;
  return (d->flags & AV_PIX_FMT_FLAG_RGB) || d->nb_components <= 2;
}

UdmlStatus
udml_media_scale_av (UdmlScaler * s, int av_fmt, int width, int height,
    const uint8_t * const planes[4], const int strides[4], float *out,
    UdmlError * err)
{
  enum AVPixelFormat fmt = av_fmt;
  uint8_t *dst[4] = { s->buf, NULL, NULL, NULL };
  int dst_stride[4] = { s->width * s->channels, 0, 0, 0 };
  size_t hw = (size_t) s->width * s->height, i;
  int c, *inv, *tab, src_range, dst_range, bright, contrast, sat;
  int flags;

  if (width <= 0 || height <= 0 || width > 16384 || height > 16384
      || !av_pix_fmt_desc_get (fmt)
      || !sws_isSupportedInput (fmt))
    return udml_error_set (err, UDML_ERR_ARG,
        "scaler: unsupported frame %s %d x %d",
        av_get_pix_fmt_name (fmt) ? av_get_pix_fmt_name (fmt) : "?", width,
        height);

  if (!s->sws || av_fmt != s->in_fmt || width != s->in_w || height != s->in_h) {
    /* Area averaging when shrinking, bilinear otherwise; exact rounding. */
    flags = (width > s->width || height > s->height) ? SWS_AREA : SWS_BILINEAR;
    flags |= SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
    sws_freeContext (s->sws);
    s->sws =
        sws_getContext (width, height, fmt, s->width, s->height, s->out_fmt,
        flags, NULL, NULL, NULL);
    if (!s->sws)
      return udml_error_set (err, UDML_ERR_ARG,
          "scaler: cannot convert %s %d x %d to %s %d x %d",
          av_get_pix_fmt_name (fmt), width, height,
          av_get_pix_fmt_name (s->out_fmt), s->width, s->height);
    if (sws_getColorspaceDetails (s->sws, &inv, &src_range, &tab, &dst_range,
            &bright, &contrast, &sat) >= 0)
      sws_setColorspaceDetails (s->sws, inv, is_full_range (fmt), tab, 1,
          bright, contrast, sat);
    s->in_fmt = av_fmt;
    s->in_w = width;
    s->in_h = height;
  }
  if (sws_scale (s->sws, (const uint8_t * const *) planes, strides, 0, height,
          dst, dst_stride) != s->height)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "scaler: conversion of %s %d x %d failed", av_get_pix_fmt_name (fmt),
        width, height);

  /* Packed H x W x C bytes -> planar C x H x W floats. */
  for (c = 0; c < s->channels; c++)
    for (i = 0; i < hw; i++)
      out[c * hw + i] = s->buf[i * s->channels + c];
  return UDML_OK;
}

/* ------------------------------------------------- udml format names */

UdmlStatus
udml_media_resample (UdmlResampler * r, UdmlMediaSampleFormat fmt, int rate,
    int channels, const uint8_t * const *in, int n_in, float *out,
    int out_cap, int *n_out, UdmlError * err)
{
  int av_fmt;

  switch (fmt) {
    case UDML_MEDIA_SAMPLE_S16:
      av_fmt = AV_SAMPLE_FMT_S16;
      break;
    case UDML_MEDIA_SAMPLE_F32:
      av_fmt = AV_SAMPLE_FMT_FLT;
      break;
    default:
      av_fmt = AV_SAMPLE_FMT_NONE;      /* refused unless draining */
      break;
  }
  return udml_media_resample_av (r, av_fmt, rate, channels, in, n_in, out,
      out_cap, n_out, err);
}

UdmlStatus
udml_media_scale (UdmlScaler * s, UdmlMediaPixelFormat fmt, int width,
    int height, const uint8_t * const planes[4], const int strides[4],
    float *out, UdmlError * err)
{
  static const enum AVPixelFormat av[UDML_MEDIA_PIXEL_N] = {
    [UDML_MEDIA_PIXEL_GRAY8] = AV_PIX_FMT_GRAY8,
    [UDML_MEDIA_PIXEL_RGB24] = AV_PIX_FMT_RGB24,
    [UDML_MEDIA_PIXEL_BGR24] = AV_PIX_FMT_BGR24,
    [UDML_MEDIA_PIXEL_RGBX] = AV_PIX_FMT_RGB0,
    [UDML_MEDIA_PIXEL_BGRX] = AV_PIX_FMT_BGR0,
    [UDML_MEDIA_PIXEL_I420] = AV_PIX_FMT_YUV420P,
    [UDML_MEDIA_PIXEL_NV12] = AV_PIX_FMT_NV12,
  };

  if ((int) fmt < 0 || fmt >= UDML_MEDIA_PIXEL_N)
    return udml_error_set (err, UDML_ERR_ARG,
        "scaler: unknown pixel format %d", (int) fmt);
  return udml_media_scale_av (s, av[fmt], width, height, planes, strides,
      out, err);
}
