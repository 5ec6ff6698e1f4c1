/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blocky.c — the degradation kind "blocky" (method.md "Degradation kinds"):
 * compression artefacts made by a real codec, libavcodec's MJPEG, at a
 * quantiser that rises with the level. The core (lib/udml) has no libav, so
 * this kind lives here and the core returns UDML_ERR_UNSUPPORTED for it.
 *
 * The frame is scaled down (area) so that its shorter side is
 * BLOCKY_SIDE pixels, the model input's, then converted to full-range
 * YCbCr 4:2:0 (JFIF), encoded, decoded and scaled back (bicubic). The 8x8
 * blocks are then the same share of a 640x480 camera frame as of the 64x64
 * model input. Frames no larger are encoded as they are. Colour conversion
 * is done here (JFIF matrix) so that libswscale only scales GRAY8 planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "media.h"

#define BLOCKY_SIDE 64
#define QSCALE_MIN 2
#define QSCALE_MAX 31
#define PLANE_SLACK 64

struct UdmlMediaBlocky
{
  AVCodecContext *enc, *dec;
  AVFrame *in, *out;
  AVPacket *pkt;
  int w, h;                     /* coded size */
  int64_t pts;
  struct SwsContext *down[2], *up[2];   /* [0] luma, [1] chroma */
  int src_w, src_h;
  uint8_t *planes;              /* 3 x src_w x src_h: Y, Cb, Cr or RGB */
  size_t planes_bytes;
  uint8_t *coded;               /* the decoded planes, tightly packed */
  size_t coded_bytes;
};

int
udml_media_blocky_qscale (int level)
{
  if (level <= 1)
    return 0;
  if (level > UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS;
  return QSCALE_MIN + (int) lround ((QSCALE_MAX - QSCALE_MIN) * (level - 2) /
      (double) (UDML_NOISE_LEVELS - 2));
}

UdmlMediaBlocky *
udml_media_blocky_new (UdmlError * err)
{
  UdmlMediaBlocky *b = calloc (1, sizeof *b);

  if (!b) {
    udml_error_set (err, UDML_ERR_NOMEM, "blocky: no memory");
    return NULL;
  }
  return b;
}

static void
close_codecs (UdmlMediaBlocky * b)
{
  avcodec_free_context (&b->enc);
  avcodec_free_context (&b->dec);
  av_frame_free (&b->in);
  av_frame_free (&b->out);
  av_packet_free (&b->pkt);
  for (int i = 0; i < 2; i++) {
    sws_freeContext (b->down[i]);
    sws_freeContext (b->up[i]);
    b->down[i] = b->up[i] = NULL;
  }
  b->w = b->h = b->src_w = b->src_h = 0;
}

void
udml_media_blocky_free (UdmlMediaBlocky * b)
{
  if (!b)
    return;
  close_codecs (b);
  free (b->planes);
  free (b->coded);
  free (b);
}

/* Opens codecs and scalers for a src_w x src_h frame. */
static UdmlStatus
configure (UdmlMediaBlocky * b, int src_w, int src_h, UdmlError * err)
{
  const AVCodec *ec = avcodec_find_encoder (AV_CODEC_ID_MJPEG);
  const AVCodec *dc = avcodec_find_decoder (AV_CODEC_ID_MJPEG);
  int side = src_w < src_h ? src_w : src_h, w = src_w, h = src_h, cw, ch;
  /* slack: the scalers' SIMD may read a little past a plane */
  size_t need = (size_t) 3 * src_w * src_h + PLANE_SLACK;
  int ret;

  close_codecs (b);
  if (!ec || !dc)
    return udml_error_set (err, UDML_ERR_UNSUPPORTED,
        "blocky: this FFmpeg has no MJPEG %s", ec ? "decoder" : "encoder");
  if (side > BLOCKY_SIDE) {
    w = (int) lround ((double) src_w * BLOCKY_SIDE / side);
    h = (int) lround ((double) src_h * BLOCKY_SIDE / side);
  }
  cw = (w + 1) / 2;
  ch = (h + 1) / 2;
  if (need > b->planes_bytes) {
    uint8_t *p = realloc (b->planes, need);
    if (!p)
      return udml_error_set (err, UDML_ERR_NOMEM, "blocky: %zu bytes", need);
    b->planes = p;
    b->planes_bytes = need;
  }
  memset (b->planes, 0, b->planes_bytes);
  b->enc = avcodec_alloc_context3 (ec);
  b->dec = avcodec_alloc_context3 (dc);
  b->in = av_frame_alloc ();
  b->out = av_frame_alloc ();
  b->pkt = av_packet_alloc ();
  if (!b->enc || !b->dec || !b->in || !b->out || !b->pkt)
    goto nomem;
  b->enc->width = w;
  b->enc->height = h;
  b->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
  b->enc->time_base = (AVRational) {
  1, 25};
  b->enc->flags |= AV_CODEC_FLAG_QSCALE;
  if ((ret = avcodec_open2 (b->enc, ec, NULL)) < 0
      || (ret = avcodec_open2 (b->dec, dc, NULL)) < 0) {
    close_codecs (b);
    return udml_error_set (err, UDML_ERR_UNSUPPORTED,
        "blocky: cannot open MJPEG for %dx%d: %s", w, h, av_err2str (ret));
  }
  b->in->format = AV_PIX_FMT_YUVJ420P;
  b->in->width = w;
  b->in->height = h;
  if (av_frame_get_buffer (b->in, 0) < 0)
    goto nomem;
  b->down[0] = sws_getContext (src_w, src_h, AV_PIX_FMT_GRAY8, w, h,
      AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
  b->down[1] = sws_getContext (src_w, src_h, AV_PIX_FMT_GRAY8, cw, ch,
      AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
  b->up[0] = sws_getContext (w, h, AV_PIX_FMT_GRAY8, src_w, src_h,
      AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
  b->up[1] = sws_getContext (cw, ch, AV_PIX_FMT_GRAY8, src_w, src_h,
      AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
  if (!b->down[0] || !b->down[1] || !b->up[0] || !b->up[1])
    goto nomem;
  need = (size_t) w *h + 2 * (size_t) cw *ch + PLANE_SLACK;
  if (need > b->coded_bytes) {
    uint8_t *p = realloc (b->coded, need);
    if (!p)
      goto nomem;
    b->coded = p;
    b->coded_bytes = need;
  }
  memset (b->coded, 0, b->coded_bytes);
  b->w = w;
  b->h = h;
  b->src_w = src_w;
  b->src_h = src_h;
  return UDML_OK;

nomem:
  close_codecs (b);
  return udml_error_set (err, UDML_ERR_NOMEM,
      "blocky: cannot set up MJPEG and scalers for %dx%d", src_w, src_h);
}

static inline uint8_t
sat (double v)
{
  return (uint8_t) (v < 0.0 ? 0 : v > 255.0 ? 255 : lrint (v));
}

/* One encode and decode of b->in into b->out at qscale. */
static UdmlStatus
code_once (UdmlMediaBlocky * b, int qscale, UdmlError * err)
{
  int ret;

  b->in->quality = qscale * FF_QP2LAMBDA;
  b->in->pts = b->pts++;        /* encoders want rising timestamps */
  if ((ret = avcodec_send_frame (b->enc, b->in)) < 0
      || (ret = avcodec_receive_packet (b->enc, b->pkt)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG encoding of %dx%d failed: %s", b->w, b->h,
        av_err2str (ret));
  ret = avcodec_send_packet (b->dec, b->pkt);
  av_packet_unref (b->pkt);
  if (ret < 0 || (ret = avcodec_receive_frame (b->dec, b->out)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG decoding of %dx%d failed: %s", b->w, b->h,
        av_err2str (ret));
  if (b->out->width != b->w || b->out->height != b->h
      || (b->out->format != AV_PIX_FMT_YUVJ420P
          && b->out->format != AV_PIX_FMT_YUV420P)) {
    av_frame_unref (b->out);
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG decoded a %dx%d frame of format %d for %dx%d 4:2:0",
        b->out->width, b->out->height, b->out->format, b->w, b->h);
  }
  return UDML_OK;
}

UdmlStatus
udml_media_blocky_frame_u8 (UdmlMediaBlocky * b, int level,
    UdmlFrameU8 * f, UdmlError * err)
{
  int W, H, n_comp;
  size_t plane;
  uint8_t *pl[3];
  UdmlStatus s;

  if (!b || !f)
    return udml_error_set (err, UDML_ERR_ARG, "blocky: state or frame NULL");
  if (level < 1 || level > UDML_NOISE_LEVELS)
    return udml_error_set (err, UDML_ERR_ARG,
        "blocky: level %d outside 1..%d", level, UDML_NOISE_LEVELS);
  W = f->width;
  H = f->height;
  n_comp = f->n_comp;
  if ((n_comp != 1 && n_comp != 3) || W < 1 || H < 1)
    return udml_error_set (err, UDML_ERR_DIMS,
        "blocky: frame of %d x %d pixels with %d components (1 or 3)", W, H,
        n_comp);
  for (int c = 0; c < n_comp; c++)
    if (!f->comp[c])
      return udml_error_set (err, UDML_ERR_ARG,
          "blocky: component %d has no data", c);
  if (level == 1)
    return UDML_OK;
  if ((W != b->src_w || H != b->src_h) && (s = configure (b, W, H, err)))
    return s;

  /* Y, Cb, Cr planes (JFIF full range) at W x H */
  plane = (size_t) W *H;
  for (int i = 0; i < 3; i++)
    pl[i] = b->planes + i * plane;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      size_t off = (size_t) y * f->stride + (size_t) x * f->pstride;
      size_t k = (size_t) y * W + x;
      if (n_comp == 1) {
        pl[0][k] = f->comp[0][off];
      } else {
        double r = f->comp[0][off], g = f->comp[1][off], bl = f->comp[2][off];
        pl[0][k] = sat (0.299 * r + 0.587 * g + 0.114 * bl);
        pl[1][k] = sat (128.0 - 0.168736 * r - 0.331264 * g + 0.5 * bl);
        pl[2][k] = sat (128.0 + 0.5 * r - 0.418688 * g - 0.081312 * bl);
      }
    }

  if (av_frame_make_writable (b->in) < 0)
    return udml_error_set (err, UDML_ERR_NOMEM, "blocky: frame buffer");
  /* the encoder reads whole 16 x 16 macroblocks, padding included */
  for (int i = 0; i < AV_NUM_DATA_POINTERS && b->in->buf[i]; i++)
    memset (b->in->buf[i]->data, 0, b->in->buf[i]->size);
  for (int i = 0; i < 3; i++) {
    const uint8_t *src[1] = { pl[i] };
    int sstride[1] = { W };
    uint8_t *dst[1] = { b->in->data[i] };
    int dstride[1] = { b->in->linesize[i] };
    if (i > 0 && n_comp == 1) {
      for (int y = 0; y < (b->h + 1) / 2; y++)
        memset (b->in->data[i] + (size_t) y * b->in->linesize[i], 128,
            (b->w + 1) / 2);
      continue;
    }
    sws_scale (b->down[i > 0], src, sstride, 0, H, dst, dstride);
  }
  if ((s = code_once (b, udml_media_blocky_qscale (level), err)))
    return s;
  for (int i = 0, at = 0; i < (n_comp == 1 ? 1 : 3); i++) {
    /* copied out of the decoder's frame, whose row padding is not set */
    int pw = i ? (b->w + 1) / 2 : b->w, ph = i ? (b->h + 1) / 2 : b->h;
    uint8_t *c = b->coded + at;
    const uint8_t *src[1] = { c };
    int sstride[1] = { pw };
    uint8_t *dst[1] = { pl[i] };
    int dstride[1] = { W };
    for (int y = 0; y < ph; y++)
      memcpy (c + (size_t) y * pw, b->out->data[i] +
          (size_t) y * b->out->linesize[i], pw);
    at += pw * ph;
    sws_scale (b->up[i > 0], src, sstride, 0, ph, dst, dstride);
  }
  av_frame_unref (b->out);

  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      size_t off = (size_t) y * f->stride + (size_t) x * f->pstride;
      size_t k = (size_t) y * W + x;
      if (n_comp == 1) {
        f->comp[0][off] = pl[0][k];
      } else {
        double yy = pl[0][k], cb = pl[1][k] - 128.0, cr = pl[2][k] - 128.0;
        f->comp[0][off] = sat (yy + 1.402 * cr);
        f->comp[1][off] = sat (yy - 0.344136 * cb - 0.714136 * cr);
        f->comp[2][off] = sat (yy + 1.772 * cb);
      }
    }
  return UDML_OK;
}

UdmlStatus
udml_media_blocky_planes (UdmlMediaBlocky * b, int level, float *x, int c,
    int h, int w, UdmlError * err)
{
  size_t plane = (size_t) h * w, n = plane * (c > 0 ? c : 0);
  uint8_t *u8;
  UdmlFrameU8 f = { {NULL}, c, w, h, (size_t) w, 1 };
  UdmlStatus s;

  if (!x || c < 1 || h < 1 || w < 1)
    return udml_error_set (err, UDML_ERR_DIMS,
        "blocky: frame of %d x %d pixels with %d components", w, h, c);
  if (level == 1)
    return UDML_OK;
  if (!(u8 = malloc (n)))
    return udml_error_set (err, UDML_ERR_NOMEM, "blocky: %zu bytes", n);
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    u8[i] = (uint8_t) lrintf (v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
  }
  for (int i = 0; i < c && i < 4; i++)
    f.comp[i] = u8 + i * plane;
  s = udml_media_blocky_frame_u8 (b, level, &f, err);
  if (s == UDML_OK)
    for (size_t i = 0; i < n; i++)
      x[i] = u8[i];
  free (u8);
  return s;
}
