/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* blocky.c — the degradation kind "blocky" (method.md "Degradation kinds"):
 * compression artefacts made by a real codec, libavcodec's MJPEG, at a
 * falling bitrate, as a streaming ladder lowers quality and resolution
 * together. Each level has a JPEG quality (the JPEG standard's ITU-T T.81
 * Annex K tables scaled as the IJG library scales them) and a coded size.
 * The core (lib/udml) has no libav, so this kind lives here and the core
 * returns UDML_ERR_UNSUPPORTED for it.
 *
 * The frame is scaled down (area) so that its shorter side is the level's
 * side (64 lines, the model input's, at level 2), then converted to
 * full-range YCbCr 4:2:0 (JFIF), encoded, decoded and scaled back
 * (bicubic). The 8x8 blocks are then the same share of a 640x480 camera
 * frame as of the 64x64 model input. Frames no larger are encoded as they
 * are. Colour conversion is done here (JFIF matrix) so that libswscale only
 * scales GRAY8 planes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>

#include "media.h"

#define SIDE_TOP 64             /* coded shorter side at level 2 ... */
#define SIDE_LAST 16            /* ... and at level 11 */
#define QUALITY_TOP 90          /* JPEG quality at level 2; 1 at 11 */
#define PLANE_SLACK 64

/* T.81 Annex K, tables K.1 (luminance) and K.2 (chrominance), row-major */
static const uint8_t annex_k[2][64] = {
  {16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103,
      99},
  {17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
        24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
      99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99},
};

/* The codecs and scalers of one level: its coded size differs. */
typedef struct
{
  AVCodecContext *enc, *dec;
  AVFrame *in, *out;
  AVPacket *pkt;
  int w, h;                     /* coded size */
  struct SwsContext *down[2], *up[2];   /* [0] luma, [1] chroma */
} Coder;

struct UdmlMediaBlocky
{
  Coder coder[UDML_NOISE_LEVELS + 1];   /* opened on first use */
  int64_t pts;
  int src_w, src_h;
  uint8_t *planes;              /* 3 x src_w x src_h: Y, Cb, Cr or RGB */
  size_t planes_bytes;
  uint8_t *coded;               /* the decoded planes, tightly packed */
  size_t coded_bytes;
  uint8_t *bytes;               /* udml_media_blocky_planes' 8-bit frame */
  size_t bytes_size;
};

/* level 2 .. 11 as t = 0 .. 1 */
static double
level_t (int level)
{
  if (level > UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS;
  return (level - 2) / (double) (UDML_NOISE_LEVELS - 2);
}

int
udml_media_blocky_quality (int level)
{
  if (level <= 1)
    return 0;
  return (int) lround (QUALITY_TOP * pow (1.0 / QUALITY_TOP, level_t (level)));
}

int
udml_media_blocky_side (int level)
{
  if (level <= 1)
    return 0;
  return (int) lround (SIDE_TOP * pow (SIDE_LAST / (double) SIDE_TOP,
          level_t (level)));
}

/* The IJG scaling of a table for quality q, into the encoder's matrix. */
static void
scale_table (uint16_t * m, const uint8_t * base, int q)
{
  int scale = q < 50 ? 5000 / q : 200 - 2 * q;

  for (int i = 0; i < 64; i++) {
    int v = (base[i] * scale + 50) / 100;
    m[i] = (uint16_t) (v < 1 ? 1 : v > 255 ? 255 : v);
  }
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
coder_close (Coder * k)
{
  /* FFmpeg 5.1 frees intra_matrix with the context, not this one */
  if (k->enc)
    av_freep (&k->enc->chroma_intra_matrix);
  avcodec_free_context (&k->enc);
  avcodec_free_context (&k->dec);
  av_frame_free (&k->in);
  av_frame_free (&k->out);
  av_packet_free (&k->pkt);
  for (int i = 0; i < 2; i++) {
    sws_freeContext (k->down[i]);
    sws_freeContext (k->up[i]);
    k->down[i] = k->up[i] = NULL;
  }
  k->w = k->h = 0;
}

static void
close_coders (UdmlMediaBlocky * b)
{
  for (int l = 0; l <= UDML_NOISE_LEVELS; l++)
    coder_close (&b->coder[l]);
}

void
udml_media_blocky_free (UdmlMediaBlocky * b)
{
  if (!b)
    return;
  close_coders (b);
  free (b->planes);
  free (b->coded);
  free (b->bytes);
  free (b);
}

/* The coded size of a src_w x src_h frame at a shorter side of at most
 * side pixels, even so that 4:2:0 chroma covers it exactly. */
static void
coded_size (int src_w, int src_h, int side, int *w, int *h)
{
  int s = src_w < src_h ? src_w : src_h;

  *w = src_w;
  *h = src_h;
  if (s > side) {
    *w = 2 * (int) lround ((double) src_w * side / s / 2.0);
    *h = 2 * (int) lround ((double) src_h * side / s / 2.0);
  }
}

/* Grows *buf to at least need bytes (+ slack: the scalers' SIMD may read a
 * little past a plane); kept across frames, so a stream allocates once. */
static UdmlStatus
grow (uint8_t ** buf, size_t *have, size_t need, UdmlError * err)
{
  need += PLANE_SLACK;
  if (need > *have) {
    uint8_t *p = realloc (*buf, need);
    if (!p)
      return udml_error_set (err, UDML_ERR_NOMEM, "blocky: %zu bytes", need);
    *buf = p;
    *have = need;
  }
  return UDML_OK;
}

/* Buffers for src_w x src_h frames; drops every level's coder. */
static UdmlStatus
configure (UdmlMediaBlocky * b, int src_w, int src_h, UdmlError * err)
{
  int w, h;
  size_t chroma;
  UdmlStatus s;

  close_coders (b);
  b->src_w = b->src_h = 0;
  /* the largest coded size is level 2's */
  coded_size (src_w, src_h, udml_media_blocky_side (2), &w, &h);
  chroma = (size_t) ((w + 1) / 2) * ((h + 1) / 2);
  if ((s = grow (&b->planes, &b->planes_bytes, (size_t) 3 * src_w * src_h, err))
      || (s = grow (&b->coded, &b->coded_bytes, (size_t) w * h + 2 * chroma,
              err)))
    return s;
  memset (b->planes, 0, b->planes_bytes);
  memset (b->coded, 0, b->coded_bytes);
  b->src_w = src_w;
  b->src_h = src_h;
  return UDML_OK;
}

/* Opens the MJPEG codecs and scalers of one level for the current size. */
static UdmlStatus
coder_open (UdmlMediaBlocky * b, int level, UdmlError * err)
{
  const AVCodec *ec = avcodec_find_encoder (AV_CODEC_ID_MJPEG);
  const AVCodec *dc = avcodec_find_decoder (AV_CODEC_ID_MJPEG);
  Coder *k = &b->coder[level];
  int w, h, cw, ch, ret, src_w = b->src_w, src_h = b->src_h;

  if (!ec || !dc)
    return udml_error_set (err, UDML_ERR_UNSUPPORTED,
        "blocky: this FFmpeg has no MJPEG %s", ec ? "decoder" : "encoder");
  coded_size (src_w, src_h, udml_media_blocky_side (level), &w, &h);
  cw = (w + 1) / 2;
  ch = (h + 1) / 2;
  k->enc = avcodec_alloc_context3 (ec);
  k->dec = avcodec_alloc_context3 (dc);
  k->in = av_frame_alloc ();
  k->out = av_frame_alloc ();
  k->pkt = av_packet_alloc ();
  if (!k->enc || !k->dec || !k->in || !k->out || !k->pkt)
    goto nomem;
  k->enc->width = w;
  k->enc->height = h;
  k->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
  k->enc->time_base = (AVRational) {
  1, 25};
  k->enc->flags |= AV_CODEC_FLAG_QSCALE;
  /* MJPEG folds qscale into them per picture as (m * qscale) >> 3, so
   * frames are sent at qscale 8 */
  k->enc->intra_matrix = av_malloc (64 * sizeof (uint16_t));
  k->enc->chroma_intra_matrix = av_malloc (64 * sizeof (uint16_t));
  if (!k->enc->intra_matrix || !k->enc->chroma_intra_matrix)
    goto nomem;
  scale_table (k->enc->intra_matrix, annex_k[0],
      udml_media_blocky_quality (level));
  scale_table (k->enc->chroma_intra_matrix, annex_k[1],
      udml_media_blocky_quality (level));
  if ((ret = avcodec_open2 (k->enc, ec, NULL)) < 0
      || (ret = avcodec_open2 (k->dec, dc, NULL)) < 0) {
    coder_close (k);
    return udml_error_set (err, UDML_ERR_UNSUPPORTED,
        "blocky: cannot open MJPEG for %dx%d: %s", w, h, av_err2str (ret));
  }
  k->in->format = AV_PIX_FMT_YUVJ420P;
  k->in->width = w;
  k->in->height = h;
  if (av_frame_get_buffer (k->in, 0) < 0)
    goto nomem;
  k->down[0] = sws_getContext (src_w, src_h, AV_PIX_FMT_GRAY8, w, h,
      AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
  k->down[1] = sws_getContext (src_w, src_h, AV_PIX_FMT_GRAY8, cw, ch,
      AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
  k->up[0] = sws_getContext (w, h, AV_PIX_FMT_GRAY8, src_w, src_h,
      AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
  k->up[1] = sws_getContext (cw, ch, AV_PIX_FMT_GRAY8, src_w, src_h,
      AV_PIX_FMT_GRAY8, SWS_BICUBIC, NULL, NULL, NULL);
  if (!k->down[0] || !k->down[1] || !k->up[0] || !k->up[1])
    goto nomem;
  k->w = w;
  k->h = h;
  return UDML_OK;

nomem:
  coder_close (k);
  return udml_error_set (err, UDML_ERR_NOMEM,
      "blocky: cannot set up MJPEG and scalers for %dx%d", src_w, src_h);
}

static inline uint8_t
sat (double v)
{
  return (uint8_t) (v < 0.0 ? 0 : v > 255.0 ? 255 : lrint (v));
}

/* One encode and decode of k->in into k->out. */
static UdmlStatus
code_once (UdmlMediaBlocky * b, Coder * k, UdmlError * err)
{
  int ret;

  k->in->quality = 8 * FF_QP2LAMBDA;
  k->in->pts = b->pts++;        /* encoders want rising timestamps */
  if ((ret = avcodec_send_frame (k->enc, k->in)) < 0
      || (ret = avcodec_receive_packet (k->enc, k->pkt)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG encoding of %dx%d failed: %s", k->w, k->h,
        av_err2str (ret));
  ret = avcodec_send_packet (k->dec, k->pkt);
  av_packet_unref (k->pkt);
  if (ret < 0 || (ret = avcodec_receive_frame (k->dec, k->out)) < 0)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG decoding of %dx%d failed: %s", k->w, k->h,
        av_err2str (ret));
  if (k->out->width != k->w || k->out->height != k->h
      || (k->out->format != AV_PIX_FMT_YUVJ420P
          && k->out->format != AV_PIX_FMT_YUV420P)) {
    av_frame_unref (k->out);
    return udml_error_set (err, UDML_ERR_FORMAT,
        "blocky: MJPEG decoded a %dx%d frame of format %d for %dx%d 4:2:0",
        k->out->width, k->out->height, k->out->format, k->w, k->h);
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
  Coder *k;
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
  k = &b->coder[level];
  if (!k->enc && (s = coder_open (b, level, err)))
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

  if (av_frame_make_writable (k->in) < 0)
    return udml_error_set (err, UDML_ERR_NOMEM, "blocky: frame buffer");
  /* the encoder reads whole 16 x 16 macroblocks, padding included */
  for (int i = 0; i < AV_NUM_DATA_POINTERS && k->in->buf[i]; i++)
    memset (k->in->buf[i]->data, 0, k->in->buf[i]->size);
  for (int i = 0; i < 3; i++) {
    const uint8_t *src[1] = { pl[i] };
    int sstride[1] = { W };
    uint8_t *dst[1] = { k->in->data[i] };
    int dstride[1] = { k->in->linesize[i] };
    if (i > 0 && n_comp == 1) {
      for (int y = 0; y < (k->h + 1) / 2; y++)
        memset (k->in->data[i] + (size_t) y * k->in->linesize[i], 128,
            (k->w + 1) / 2);
      continue;
    }
    sws_scale (k->down[i > 0], src, sstride, 0, H, dst, dstride);
  }
  if ((s = code_once (b, k, err)))
    return s;
  for (int i = 0, at = 0; i < (n_comp == 1 ? 1 : 3); i++) {
    /* copied out of the decoder's frame, whose row padding is not set */
    int pw = i ? (k->w + 1) / 2 : k->w, ph = i ? (k->h + 1) / 2 : k->h;
    uint8_t *c = b->coded + at;
    const uint8_t *src[1] = { c };
    int sstride[1] = { pw };
    uint8_t *dst[1] = { pl[i] };
    int dstride[1] = { W };
    for (int y = 0; y < ph; y++)
      memcpy (c + (size_t) y * pw, k->out->data[i] +
          (size_t) y * k->out->linesize[i], pw);
    at += pw * ph;
    sws_scale (k->up[i > 0], src, sstride, 0, ph, dst, dstride);
  }
  av_frame_unref (k->out);

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

  if (!b || !x)
    return udml_error_set (err, UDML_ERR_ARG, "blocky: state or frame NULL");
  if (c < 1 || h < 1 || w < 1)
    return udml_error_set (err, UDML_ERR_DIMS,
        "blocky: frame of %d x %d pixels with %d components", w, h, c);
  if (level == 1)
    return UDML_OK;
  if ((s = grow (&b->bytes, &b->bytes_size, n, err)))
    return s;
  u8 = b->bytes;
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
  return s;
}
