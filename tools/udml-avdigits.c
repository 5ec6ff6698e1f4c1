/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-avdigits — builds the AV-digits benchmark (data/README.md of the
 * shared data set): FSDD spoken digits paired with MNIST digits of the same
 * label, as 1.0 s Matroska clips (FFV1 64x64 gray at 10 fps + FLAC 16 kHz
 * mono), manifests train/val/test.csv and optionally a long stream. */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cblas.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libavutil/rational.h>

#include "media.h"
#include "tool.h"
#include "udml.h"

#define PROG "udml-avdigits"
#define SIDE 64                 /* frame side */
#define RATE 16000
#define FPS 10
#define IMG 28
#define MAX_OFFSET 4            /* seeded offset of the x2 digit, pixels */
#define TEST_PAIRS 4            /* images per test recording */

enum
{ SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, N_SPLITS };
static const char *split_name[N_SPLITS] = { "train", "val", "test" };

/* LAPACK from OpenBLAS (gfortran ABI: hidden string lengths at the end). */
extern void ssyevd_ (const char *jobz, const char *uplo, const int *n, float *a,
    const int *lda, float *w, float *work, const int *lwork, int *iwork,
    const int *liwork, int *info, size_t jobz_len, size_t uplo_len);

typedef struct
{
  int digit, take;
  char speaker[64];
  char name[96];                /* file name without .wav */
  int split;
} Recording;

typedef struct
{
  int rec;                      /* index into recordings */
  int image;                    /* index into the MNIST arrays */
  int dx, dy;
  int split;
  char rel[160];                /* path relative to the output directory */
} Clip;

typedef struct
{
  int n, rows, cols;
  uint8_t *pixels;              /* n x rows x cols */
  uint8_t *labels;              /* n */
  int *split;                   /* n */
} Mnist;

static void
die (const char *fmt, ...)
{
  va_list ap;
  fprintf (stderr, "\n" PROG ": error: ");
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

/* ---------------------------------------------------------------- input */

static uint8_t *
read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf = NULL;
  long n;

  struct stat st;

  if (!f)
    die ("%s: %s", path, strerror (errno));
  /* a directory opens for reading and "seeks" to LONG_MAX */
  if (fstat (fileno (f), &st) != 0)
    die ("%s: %s", path, strerror (errno));
  if (!S_ISREG (st.st_mode))
    die ("%s: %s", path, S_ISDIR (st.st_mode) ? "is a directory, not a file"
        : "not a regular file");
  if (fseek (f, 0, SEEK_END) != 0 || (n = ftell (f)) < 0
      || fseek (f, 0, SEEK_SET) != 0)
    die ("%s: cannot determine the size", path);
  buf = malloc (n ? n : 1);
  if (!buf)
    die ("%s: out of memory", path);
  if (fread (buf, 1, n, f) != (size_t) n)
    die ("%s: read error", path);
  fclose (f);
  *len = n;
  return buf;
}

static uint32_t
be32 (const uint8_t * p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 |
      p[3];
}

static void
load_mnist (const char *dir, Mnist * m)
{
  char ip[PATH_MAX], lp[PATH_MAX];
  size_t ilen, llen;
  uint8_t *img, *lab;
  int i;

  snprintf (ip, sizeof ip, "%s/digits-images-idx3-ubyte", dir);
  snprintf (lp, sizeof lp, "%s/digits-labels-idx1-ubyte", dir);
  img = read_file (ip, &ilen);
  lab = read_file (lp, &llen);
  if (ilen < 16 || be32 (img) != 0x803)
    die ("%s: not an IDX image file (magic 0x803 expected)", ip);
  if (llen < 8 || be32 (lab) != 0x801)
    die ("%s: not an IDX label file (magic 0x801 expected)", lp);
  m->n = (int) be32 (img + 4);
  m->rows = (int) be32 (img + 8);
  m->cols = (int) be32 (img + 12);
  if (m->rows != IMG || m->cols != IMG)
    die ("%s: images are %d x %d, expected %d x %d", ip, m->rows, m->cols, IMG,
        IMG);
  if (m->n <= 0 || ilen != 16 + (size_t) m->n * IMG * IMG)
    die ("%s: %zu bytes, expected %zu for %d images (truncated?)", ip, ilen,
        16 + (size_t) m->n * IMG * IMG, m->n);
  if ((int) be32 (lab + 4) != m->n || llen != 8 + (size_t) m->n)
    die ("%s: %u labels in %zu bytes, expected %d", lp, be32 (lab + 4), llen,
        m->n);
  m->pixels = malloc ((size_t) m->n * IMG * IMG);
  m->labels = malloc (m->n);
  m->split = malloc (m->n * sizeof (int));
  if (!m->pixels || !m->labels || !m->split)
    die ("out of memory");
  memcpy (m->pixels, img + 16, (size_t) m->n * IMG * IMG);
  memcpy (m->labels, lab + 8, m->n);
  for (i = 0; i < m->n; i++)
    if (m->labels[i] > 9)
      die ("%s: label %d of image %d is not a digit", lp, m->labels[i], i);
  free (img);
  free (lab);

  /* per digit, in file order: first 70 % train, next 10 % val, last 20 % test */
  for (int d = 0; d < 10; d++) {
    int count = 0, seen = 0;
    for (i = 0; i < m->n; i++)
      count += m->labels[i] == d;
    for (i = 0; i < m->n; i++) {
      if (m->labels[i] != d)
        continue;
      m->split[i] = seen < count * 7 / 10 ? SPLIT_TRAIN
          : seen < count * 8 / 10 ? SPLIT_VAL : SPLIT_TEST;
      seen++;
    }
  }
}

static int
cmp_rec (const void *a, const void *b)
{
  const Recording *x = a, *y = b;
  int c;
  if (x->digit != y->digit)
    return x->digit - y->digit;
  if ((c = strcmp (x->speaker, y->speaker)) != 0)
    return c;
  return x->take - y->take;
}

static Recording *
list_fsdd (const char *dir, char *rec_dir, size_t rec_dir_len, int *n_out)
{
  DIR *d;
  struct dirent *e;
  Recording *recs = NULL;
  int n = 0, cap = 0;
  struct stat sb;

  snprintf (rec_dir, rec_dir_len, "%s/recordings", dir);
  if (stat (rec_dir, &sb) != 0 || !S_ISDIR (sb.st_mode))
    snprintf (rec_dir, rec_dir_len, "%s", dir);
  d = opendir (rec_dir);
  if (!d)
    die ("%s: %s", rec_dir, strerror (errno));
  while ((e = readdir (d))) {
    Recording r = { 0 };
    char spk[64];
    int len = (int) strlen (e->d_name), used = 0;
    if (len < 5 || strcmp (e->d_name + len - 4, ".wav") != 0)
      continue;
    /* {digit}_{speaker}_{take}.wav */
    if (sscanf (e->d_name, "%d_%63[a-zA-Z]_%d.wav%n", &r.digit, spk, &r.take,
            &used) != 3 || used != len || r.digit < 0 || r.digit > 9
        || r.take < 0) {
      fprintf (stderr,
          PROG ": warning: %s/%s: not {digit}_{speaker}_{take}.wav, skipped\n",
          rec_dir, e->d_name);
      continue;
    }
    char full[PATH_MAX + 256];
    snprintf (full, sizeof full, "%s/%s", rec_dir, e->d_name);
    if (stat (full, &sb) != 0 || !S_ISREG (sb.st_mode))
      die ("%s: %s", full, S_ISDIR (sb.st_mode) ? "is a directory, not a file"
          : "not a regular file");
    snprintf (r.speaker, sizeof r.speaker, "%s", spk);
    snprintf (r.name, sizeof r.name, "%.*s", len - 4, e->d_name);
    /* FSDD's official split: takes 0-4 test; 5-9 validation; the rest train */
    r.split = r.take < 5 ? SPLIT_TEST : r.take < 10 ? SPLIT_VAL : SPLIT_TRAIN;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      recs = realloc (recs, cap * sizeof *recs);
      if (!recs)
        die ("out of memory");
    }
    recs[n++] = r;
  }
  closedir (d);
  if (n == 0)
    die ("%s: no FSDD recordings ({digit}_{speaker}_{take}.wav)", rec_dir);
  qsort (recs, n, sizeof *recs, cmp_rec);
  *n_out = n;
  return recs;
}

/* ------------------------------------------------------------------ PCA */

/* Projects every image onto the principal components of the train images
 * that keep `keep` of the variance (AV-MNIST's hard vision). */
static void
pca_project (Mnist * m, double keep, int *k_out, double *kept_out)
{
  const int D = IMG * IMG;
  int n_train = 0, i, j, k = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
  float *X, *C, *ev, *work, wq = 0, *mean, *coef, *x;
  int *iwork;
  double total = 0, acc = 0;

  for (i = 0; i < m->n; i++)
    n_train += m->split[i] == SPLIT_TRAIN;
  if (n_train < 2)
    die ("avdigits-hard needs at least 2 train images (have %d)", n_train);
  X = malloc ((size_t) n_train * D * sizeof (float));
  C = calloc ((size_t) D * D, sizeof (float));
  ev = malloc (D * sizeof (float));
  mean = calloc (D, sizeof (float));
  coef = malloc (D * sizeof (float));
  x = malloc (D * sizeof (float));
  if (!X || !C || !ev || !mean || !coef || !x)
    die ("out of memory");
  for (i = 0; i < m->n; i++)
    if (m->split[i] == SPLIT_TRAIN)
      for (j = 0; j < D; j++)
        mean[j] += m->pixels[(size_t) i * D + j];
  for (j = 0; j < D; j++)
    mean[j] /= n_train;
  for (i = 0, k = 0; i < m->n; i++)
    if (m->split[i] == SPLIT_TRAIN) {
      for (j = 0; j < D; j++)
        X[(size_t) k * D + j] = m->pixels[(size_t) i * D + j] - mean[j];
      k++;
    }
  /* C = X^T X / (n - 1), upper triangle in row-major = lower in column-major */
  cblas_ssyrk (CblasRowMajor, CblasUpper, CblasTrans, D, n_train,
      1.0f / (n_train - 1), X, D, 0.0f, C, D);
  ssyevd_ ("V", "L", &D, C, &D, ev, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
  if (info != 0)
    die ("ssyevd workspace query failed (info %d)", info);
  lwork = (int) wq;
  liwork = iwq;
  work = malloc ((size_t) lwork * sizeof (float));
  iwork = malloc ((size_t) liwork * sizeof (int));
  if (!work || !iwork)
    die ("out of memory");
  ssyevd_ ("V", "L", &D, C, &D, ev, work, &lwork, iwork, &liwork, &info, 1, 1);
  if (info != 0)
    die ("ssyevd failed (info %d)", info);
  /* ascending eigenvalues; eigenvector j is row j of C (column j, column-major) */
  for (j = 0; j < D; j++)
    total += ev[j] > 0 ? ev[j] : 0;
  for (k = 0; k < D && acc < keep * total; k++)
    acc += ev[D - 1 - k] > 0 ? ev[D - 1 - k] : 0;

  for (i = 0; i < m->n; i++) {
    uint8_t *p = m->pixels + (size_t) i * D;
    for (j = 0; j < D; j++)
      x[j] = p[j] - mean[j];
    /* coef = V_k x; x' = mean + V_k^T coef */
    cblas_sgemv (CblasRowMajor, CblasNoTrans, k, D, 1.0f,
        C + (size_t) (D - k) * D, D, x, 1, 0.0f, coef, 1);
    cblas_sgemv (CblasRowMajor, CblasTrans, k, D, 1.0f,
        C + (size_t) (D - k) * D, D, coef, 1, 0.0f, x, 1);
    for (j = 0; j < D; j++) {
      float v = mean[j] + x[j];
      p[j] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : lrintf (v));
    }
  }
  *k_out = k;
  *kept_out = total > 0 ? acc / total : 0;
  free (X);
  free (C);
  free (ev);
  free (mean);
  free (coef);
  free (x);
  free (work);
  free (iwork);
}

/* --------------------------------------------------------------- writer */

/* Matroska writer: FFV1 gray 64x64 at 10 fps + FLAC 16 kHz mono, written
 * to path.tmp and renamed by mkv_close. */
typedef struct
{
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  AVFormatContext *fmt;
  AVCodecContext *venc, *aenc;
  AVStream *vst, *ast;
  AVFrame *vframe, *aframe;
  AVPacket *pkt;
  int64_t vpts, apts;
  int16_t *abuf;                /* pending samples, < frame_size */
  int abuf_n;
} MkvWriter;

static void
av_die (const char *path, const char *what, int ret)
{
  char eb[128];
  av_strerror (ret, eb, sizeof eb);
  die ("%s: %s: %s", path, what, eb);
}

static void
drain (MkvWriter * w, AVCodecContext * enc, AVStream * st)
{
  int ret;
  for (;;) {
    ret = avcodec_receive_packet (enc, w->pkt);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      return;
    if (ret < 0)
      av_die (w->path, "encoding failed", ret);
    if (enc == w->venc && w->pkt->duration == 0)
      w->pkt->duration = 1;
    av_packet_rescale_ts (w->pkt, enc->time_base, st->time_base);
    w->pkt->stream_index = st->index;
    if ((ret = av_interleaved_write_frame (w->fmt, w->pkt)) < 0)
      av_die (w->path, "writing failed", ret);
  }
}

static AVCodecContext *
open_encoder (MkvWriter * w, enum AVCodecID id, AVStream ** st_out)
{
  const AVCodec *codec = avcodec_find_encoder (id);
  AVCodecContext *enc;
  AVStream *st;
  int ret;

  if (!codec)
    die ("no %s encoder in this FFmpeg build", avcodec_get_name (id));
  enc = avcodec_alloc_context3 (codec);
  if (!enc)
    die ("out of memory");
  enc->thread_count = 1;
  enc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (w->fmt->oformat->flags & AVFMT_GLOBALHEADER)
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (id == AV_CODEC_ID_FFV1) {
    enc->width = SIDE;
    enc->height = SIDE;
    enc->pix_fmt = AV_PIX_FMT_GRAY8;
    enc->time_base = av_make_q (1, FPS);
    enc->framerate = av_make_q (FPS, 1);
    enc->gop_size = 1;          /* every frame a key frame: exact seeking */
  } else {
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    enc->sample_fmt = AV_SAMPLE_FMT_S16;
    enc->sample_rate = RATE;
    av_channel_layout_copy (&enc->ch_layout, &mono);
    enc->time_base = av_make_q (1, RATE);
  }
  if ((ret = avcodec_open2 (enc, codec, NULL)) < 0)
    av_die (w->path, "cannot open the encoder", ret);
  st = avformat_new_stream (w->fmt, NULL);
  if (!st)
    die ("out of memory");
  st->time_base = enc->time_base;
  if ((ret = avcodec_parameters_from_context (st->codecpar, enc)) < 0)
    av_die (w->path, "codec parameters", ret);
  *st_out = st;
  return enc;
}

static void
mkv_open (MkvWriter * w, const char *path)
{
  int ret;

  memset (w, 0, sizeof *w);
  snprintf (w->path, sizeof w->path, "%s", path);
  snprintf (w->tmp, sizeof w->tmp, "%s.tmp", path);
  if ((ret =
          avformat_alloc_output_context2 (&w->fmt, NULL, "matroska",
              w->tmp)) < 0)
    av_die (path, "no Matroska muxer", ret);
  w->fmt->flags |= AVFMT_FLAG_BITEXACT;
  av_dict_set (&w->fmt->metadata, "COMMENT",
      "AV-digits clip: Free Spoken Digit Dataset (CC BY-SA 4.0) + MNIST (Y. LeCun, C. Cortes, "
      "CC BY-SA 3.0)", 0);
  w->venc = open_encoder (w, AV_CODEC_ID_FFV1, &w->vst);
  w->aenc = open_encoder (w, AV_CODEC_ID_FLAC, &w->ast);
  w->pkt = av_packet_alloc ();
  w->vframe = av_frame_alloc ();
  w->aframe = av_frame_alloc ();
  w->abuf = malloc ((size_t) w->aenc->frame_size * sizeof (int16_t));
  if (!w->pkt || !w->vframe || !w->aframe || !w->abuf)
    die ("out of memory");
  w->vframe->format = AV_PIX_FMT_GRAY8;
  w->vframe->width = SIDE;
  w->vframe->height = SIDE;
  if ((ret = av_frame_get_buffer (w->vframe, 0)) < 0)
    av_die (path, "frame buffer", ret);
  w->aframe->format = AV_SAMPLE_FMT_S16;
  w->aframe->sample_rate = RATE;
  av_channel_layout_copy (&w->aframe->ch_layout, &w->aenc->ch_layout);
  w->aframe->nb_samples = w->aenc->frame_size;
  if ((ret = av_frame_get_buffer (w->aframe, 0)) < 0)
    av_die (path, "frame buffer", ret);
  if ((ret = avio_open (&w->fmt->pb, w->tmp, AVIO_FLAG_WRITE)) < 0)
    av_die (w->tmp, "cannot create", ret);
  if ((ret = avformat_write_header (w->fmt, NULL)) < 0)
    av_die (path, "cannot write the header", ret);
}

static void
encode_audio (MkvWriter * w, const int16_t * s, int n)
{
  int ret;
  if ((ret = av_frame_make_writable (w->aframe)) < 0)
    av_die (w->path, "frame", ret);
  memcpy (w->aframe->data[0], s, n * sizeof (int16_t));
  w->aframe->nb_samples = n;
  w->aframe->pts = w->apts;
  w->apts += n;
  if ((ret = avcodec_send_frame (w->aenc, w->aframe)) < 0)
    av_die (w->path, "audio encoding", ret);
  drain (w, w->aenc, w->ast);
}

/* One second: the same image for all FPS frames and RATE samples. */
static void
mkv_write_second (MkvWriter * w, const uint8_t * image, const int16_t * pcm)
{
  int f, y, ret, i = 0, fs = w->aenc->frame_size;

  for (f = 0; f < FPS; f++) {
    if ((ret = av_frame_make_writable (w->vframe)) < 0)
      av_die (w->path, "frame", ret);
    for (y = 0; y < SIDE; y++)
      memcpy (w->vframe->data[0] + (size_t) y * w->vframe->linesize[0],
          image + y * SIDE, SIDE);
    w->vframe->pts = w->vpts++;
    if ((ret = avcodec_send_frame (w->venc, w->vframe)) < 0)
      av_die (w->path, "video encoding", ret);
    drain (w, w->venc, w->vst);
  }
  while (i < RATE) {
    int take = fs - w->abuf_n < RATE - i ? fs - w->abuf_n : RATE - i;
    memcpy (w->abuf + w->abuf_n, pcm + i, take * sizeof (int16_t));
    w->abuf_n += take;
    i += take;
    if (w->abuf_n == fs) {
      encode_audio (w, w->abuf, fs);
      w->abuf_n = 0;
    }
  }
}

static void
mkv_close (MkvWriter * w)
{
  int ret;

  if (w->abuf_n)
    encode_audio (w, w->abuf, w->abuf_n);
  avcodec_send_frame (w->venc, NULL);
  drain (w, w->venc, w->vst);
  avcodec_send_frame (w->aenc, NULL);
  drain (w, w->aenc, w->ast);
  if ((ret = av_write_trailer (w->fmt)) < 0)
    av_die (w->path, "cannot finish the file", ret);
  if ((ret = avio_closep (&w->fmt->pb)) < 0)
    av_die (w->tmp, "close failed", ret);
  if (rename (w->tmp, w->path) != 0)
    die ("%s: rename from %s failed: %s", w->path, w->tmp, strerror (errno));
  avcodec_free_context (&w->venc);
  avcodec_free_context (&w->aenc);
  av_frame_free (&w->vframe);
  av_frame_free (&w->aframe);
  av_packet_free (&w->pkt);
  avformat_free_context (w->fmt);
  free (w->abuf);
}

/* ------------------------------------------------------------- building */

typedef struct
{
  const char *rec_dir;
  const Recording *recs;
  const Mnist *mnist;
  UdmlFeatureSpec spec;
  int n_long;                   /* recordings cut to 1.0 s */
} Ctx;

/* Renders a clip: the x2 digit at the centre plus offset, and the first
 * 1.0 s of the recording at 16 kHz, zero-padded. */
static void
render (Ctx * c, const Clip * cl, uint8_t * image, int16_t * pcm,
    int count_long)
{
  const uint8_t *src = c->mnist->pixels + (size_t) cl->image * IMG * IMG;
  const Recording *r = &c->recs[cl->rec];
  int x0 = (SIDE - 2 * IMG) / 2 + cl->dx, y0 =
      (SIDE - 2 * IMG) / 2 + cl->dy, x, y;
  char path[PATH_MAX];
  UdmlMediaClip clip;
  UdmlError err = { 0 };
  size_t i;

  memset (image, 0, SIDE * SIDE);
  for (y = 0; y < IMG; y++)
    for (x = 0; x < IMG; x++) {
      uint8_t v = src[y * IMG + x];
      uint8_t *d = image + (y0 + 2 * y) * SIDE + x0 + 2 * x;
      d[0] = d[1] = d[SIDE] = d[SIDE + 1] = v;
    }

  snprintf (path, sizeof path, "%s/%s.wav", c->rec_dir, r->name);
  if (udml_media_decode_file (path, &c->spec, &clip, &err) != UDML_OK)
    die ("%s", err.msg);
  if (!clip.pcm)
    die ("%s: no audio stream", path);
  if (count_long && clip.n_samples > RATE)
    c->n_long++;
  for (i = 0; i < RATE; i++) {
    float v = i < clip.n_samples ? clip.pcm[i] * 32768.0f : 0.0f;
    pcm[i] =
        (int16_t) (v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf (v));
  }
  udml_media_clip_clear (&clip);
}

static void
mkdirs (const char *path)
{
  char buf[PATH_MAX];
  char *p;
  snprintf (buf, sizeof buf, "%s", path);
  for (p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir (buf, 0755) != 0 && errno != EEXIST)
        die ("%s: cannot create directory: %s", buf, strerror (errno));
      *p = saved;
      if (!saved)
        break;
    }
  }
}

/* Writes a text file atomically (temp + rename). */
static FILE *
open_tmp (const char *path, char *tmp, size_t len)
{
  FILE *f;
  snprintf (tmp, len, "%s.tmp", path);
  f = fopen (tmp, "w");
  if (!f)
    die ("%s: %s", tmp, strerror (errno));
  return f;
}

static void
close_tmp (FILE * f, const char *tmp, const char *path)
{
  if (ferror (f) | fclose (f))
    die ("%s: write error", tmp);
  if (rename (tmp, path) != 0)
    die ("%s: rename failed: %s", path, strerror (errno));
}

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
pick (UdmlRng * rng, int n)
{
  return (int) (udml_rng_u64 (rng) % (uint64_t) n);
}

typedef struct
{
  char *fsdd, *mnist, *out, *variant;
  gboolean all_test;
  int n_stream, hard;
  unsigned long long seed;
} Options;

static void
parse_options (int argc, char **argv, Options * o)
{
  char *stream = NULL, *seed = NULL;
  const GOptionEntry entries[] = {
    {"fsdd", 0, 0, G_OPTION_ARG_FILENAME, &o->fsdd,
        "FSDD (DIR/recordings/*.wav or DIR/*.wav)", "DIR"},
    {"mnist", 0, 0, G_OPTION_ARG_FILENAME, &o->mnist,
        "digits-images-idx3-ubyte + digits-labels-idx1-ubyte", "DIR"},
    {"out", 0, 0, G_OPTION_ARG_FILENAME, &o->out, "output directory (created)",
        "DIR"},
    {"variant", 0, 0, G_OPTION_ARG_STRING, &o->variant,
        "avdigits (default) or avdigits-hard (PCA, 25% variance)", "V"},
    {"all-test", 0, 0, G_OPTION_ARG_NONE, &o->all_test,
        "list every clip in test.csv (train/val.csv empty)", NULL},
    {"stream", 0, 0, G_OPTION_ARG_STRING, &stream, "also write stream.mkv: N "
          "test clips back to back, with stream.csv (start,end,label in "
          "seconds)", "N"},
    {"seed", 0, 0, G_OPTION_ARG_STRING, &seed,
        "pairing and offset seed (default 1)", "S"},
    {NULL}
  };
  long n = 0;

  memset (o, 0, sizeof *o);
  o->seed = 1;
  char **rest = tool_parse (entries, "--fsdd DIR --mnist DIR --out DIR",
      "Builds the AV-digits benchmark: FSDD recordings paired with MNIST "
      "digits\nof the same label, as 1.0 s Matroska clips (FFV1 64x64 gray, "
      "10 fps +\nFLAC 16 kHz mono) and manifests train.csv, val.csv, test.csv.",
      NULL, argc, argv);
  if (rest[0])
    tool_usage_error ("unexpected argument '%s'", rest[0]);
  g_strfreev (rest);
  tool_opt_long ("--stream", stream, 0, 100000, &n);
  o->n_stream = (int) n;
  if (seed) {
    char *end;
    errno = 0;
    o->seed = strtoull (seed, &end, 10);
    if (errno || *end || end == seed || seed[0] == '-')
      tool_usage_error ("--seed: '%s' is not an integer", seed);
  }
  g_free (stream);
  g_free (seed);
  if (!o->fsdd || !o->mnist || !o->out)
    tool_usage_error ("--fsdd, --mnist and --out are required");
  if (!o->variant)
    o->variant = g_strdup ("avdigits");
  if (strcmp (o->variant, "avdigits") && strcmp (o->variant, "avdigits-hard"))
    tool_usage_error ("unknown variant '%s' (avdigits, avdigits-hard)",
        o->variant);
  o->hard = !strcmp (o->variant, "avdigits-hard");
}

/* Image indices per split and digit, in file order. */
typedef struct
{
  int *idx[N_SPLITS][10];
  int n[N_SPLITS][10];
} Pools;

static void
pools_build (Pools * p, const Mnist * m)
{
  for (int s = 0; s < N_SPLITS; s++)
    for (int d = 0; d < 10; d++) {
      p->idx[s][d] = malloc (m->n * sizeof (int));
      p->n[s][d] = 0;
      if (!p->idx[s][d])
        die ("out of memory");
    }
  for (int i = 0; i < m->n; i++)
    p->idx[m->split[i]][m->labels[i]][p->n[m->split[i]][m->labels[i]]++] = i;
}

static void
pools_free (Pools * p)
{
  for (int s = 0; s < N_SPLITS; s++)
    for (int d = 0; d < 10; d++)
      free (p->idx[s][d]);
}

/* One image per train/val recording, TEST_PAIRS different per test one.
 * Returns the clips (n_recs x TEST_PAIRS room), their count in *n_out. */
static Clip *
pair_clips (const Recording * recs, int n_recs, const Pools * pools,
    unsigned long long seed, int *n_out)
{
  Clip *clips = malloc ((size_t) n_recs * TEST_PAIRS * sizeof (Clip));
  int n_clips = 0;
  UdmlRng rng;
  if (!clips)
    die ("out of memory");
  udml_rng_seed (&rng, seed, 1);
  for (int i = 0; i < n_recs; i++) {
    const Recording *r = &recs[i];
    int s = r->split, d = r->digit, n_pairs = s == SPLIT_TEST ? TEST_PAIRS : 1;
    int chosen[TEST_PAIRS];
    if (pools->n[s][d] < n_pairs)
      die ("digit %d has %d %s images, %d needed per recording", d,
          pools->n[s][d], split_name[s], n_pairs);
    for (int j = 0; j < n_pairs; j++) {
      Clip *cl = &clips[n_clips++];
      int img, dup;
      do {
        img = pools->idx[s][d][pick (&rng, pools->n[s][d])];
        dup = 0;
        for (int q = 0; q < j; q++)
          dup |= chosen[q] == img;
      } while (dup);
      chosen[j] = img;
      cl->rec = i;
      cl->image = img;
      cl->dx = pick (&rng, 2 * MAX_OFFSET + 1) - MAX_OFFSET;
      cl->dy = pick (&rng, 2 * MAX_OFFSET + 1) - MAX_OFFSET;
      cl->split = s;
      if (n_pairs > 1)
        snprintf (cl->rel, sizeof cl->rel, "clips/%s/%s_%d.mkv", split_name[s],
            r->name, j);
      else
        snprintf (cl->rel, sizeof cl->rel, "clips/%s/%s.mkv", split_name[s],
            r->name);
    }
  }
  *n_out = n_clips;
  return clips;
}

static void
write_clips (Ctx * ctx, const char *out, const Clip * clips, int n_clips,
    int *count, double t0)
{
  char path[PATH_MAX];
  uint8_t image[SIDE * SIDE];
  int16_t pcm[RATE];

  for (int i = 0; i < N_SPLITS; i++) {
    snprintf (path, sizeof path, "%s/clips/%s", out, split_name[i]);
    mkdirs (path);
  }
  for (int i = 0; i < n_clips; i++) {
    MkvWriter w;
    render (ctx, &clips[i], image, pcm, 1);
    snprintf (path, sizeof path, "%s/%s", out, clips[i].rel);
    mkv_open (&w, path);
    mkv_write_second (&w, image, pcm);
    mkv_close (&w);
    count[clips[i].split]++;
    if ((i + 1) % 100 == 0 || i + 1 == n_clips)
      fprintf (stderr, "\r" PROG ": %d/%d clips (%.1f s)", i + 1, n_clips,
          now () - t0);
  }
  fputc ('\n', stderr);
}

/* Manifests last, so they never list a clip that is not there. */
static void
write_manifests (const Options * o, const Recording * recs,
    const Clip * clips, int n_clips)
{
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  FILE *f;
  for (int i = 0; i < N_SPLITS; i++) {
    snprintf (path, sizeof path, "%s/%s.csv", o->out, split_name[i]);
    f = open_tmp (path, tmp, sizeof tmp);
    fprintf (f, "path,label\n");
    for (int j = 0; j < n_clips; j++) {
      int s = o->all_test ? SPLIT_TEST : clips[j].split;
      if (s == i)
        fprintf (f, "%s,%d\n", clips[j].rel, recs[clips[j].rec].digit);
    }
    close_tmp (f, tmp, path);
  }
  snprintf (path, sizeof path, "%s/ATTRIBUTION.txt", o->out);
  f = open_tmp (path, tmp, sizeof tmp);
  fprintf (f, "AV-digits (%s), built by " PROG " with seed %llu.\n"
      "Audio: Free Spoken Digit Dataset, github.com/Jakobovski/free-spoken-digit-dataset, "
      "CC BY-SA 4.0.\n"
      "Images: MNIST, Y. LeCun and C. Cortes, CC BY-SA 3.0.\n"
      "These derived files carry both licences.\n", o->variant, o->seed);
  close_tmp (f, tmp, path);
}

/* stream.mkv: n_stream test clips back to back, with stream.csv. */
static void
write_stream (Ctx * ctx, const Options * o, const Recording * recs,
    const Clip * clips, int n_clips)
{
  int *test_idx = malloc ((size_t) n_clips * sizeof (int)), n_test = 0;
  char path[PATH_MAX], tmp[PATH_MAX + 8];
  uint8_t image[SIDE * SIDE];
  int16_t pcm[RATE];
  UdmlRng rng;
  MkvWriter w;
  FILE *f;

  if (!test_idx)
    die ("out of memory");
  for (int i = 0; i < n_clips; i++)
    if (clips[i].split == SPLIT_TEST)
      test_idx[n_test++] = i;
  if (n_test == 0)
    die ("--stream: there are no test clips");
  /* a seeded shuffle so the stream mixes digits; wraps if N > test clips */
  udml_rng_seed (&rng, o->seed, 2);
  for (int i = n_test - 1; i > 0; i--) {
    int q = pick (&rng, i + 1), t = test_idx[i];
    test_idx[i] = test_idx[q];
    test_idx[q] = t;
  }
  snprintf (path, sizeof path, "%s/stream.mkv", o->out);
  mkv_open (&w, path);
  snprintf (path, sizeof path, "%s/stream.csv", o->out);
  f = open_tmp (path, tmp, sizeof tmp);
  fprintf (f, "start,end,label\n");
  for (int i = 0; i < o->n_stream; i++) {
    const Clip *cl = &clips[test_idx[i % n_test]];
    render (ctx, cl, image, pcm, 0);
    mkv_write_second (&w, image, pcm);
    fprintf (f, "%d.000,%d.000,%d\n", i, i + 1, recs[cl->rec].digit);
  }
  mkv_close (&w);
  close_tmp (f, tmp, path);
  free (test_idx);
  fprintf (stderr, PROG ": stream.mkv: %d clips, %d s\n", o->n_stream,
      o->n_stream);
}

int
main (int argc, char **argv)
{
  Options o;
  char rec_dir[PATH_MAX];
  int n_recs, n_clips = 0, count[N_SPLITS] = { 0 };
  Mnist m = { 0 };
  Pools pools;
  UdmlConfig cfg;
  Ctx ctx = { 0 };
  double t0 = now ();

  tool_init (PROG);
  parse_options (argc, argv, &o);
  av_log_set_level (AV_LOG_ERROR);
  udml_set_num_threads (1);

  Recording *recs = list_fsdd (o.fsdd, rec_dir, sizeof rec_dir, &n_recs);
  load_mnist (o.mnist, &m);
  fprintf (stderr, PROG ": %d recordings, %d images, variant %s, seed %llu\n",
      n_recs, m.n, o.variant, o.seed);
  if (o.hard) {
    int k;
    double kept;
    pca_project (&m, 0.25, &k, &kept);
    fprintf (stderr, PROG ": PCA of the train images: %d components keep "
        "%.1f %% of the variance\n", k, 100 * kept);
  }
  pools_build (&pools, &m);
  Clip *clips = pair_clips (recs, n_recs, &pools, o.seed, &n_clips);

  udml_config_default (&cfg);
  ctx.spec = cfg.features;
  ctx.spec.sample_rate = RATE;
  ctx.rec_dir = rec_dir;
  ctx.recs = recs;
  ctx.mnist = &m;
  write_clips (&ctx, o.out, clips, n_clips, count, t0);
  write_manifests (&o, recs, clips, n_clips);
  if (o.n_stream > 0)
    write_stream (&ctx, &o, recs, clips, n_clips);

  printf ("%s: train %d, val %d, test %d clips%s (%d recordings longer than "
      "1.0 s cut); %.1f s\n", o.variant, count[SPLIT_TRAIN], count[SPLIT_VAL],
      count[SPLIT_TEST], o.all_test ? ", all listed in test.csv" : "",
      ctx.n_long, now () - t0);

  pools_free (&pools);
  free (clips);
  free (recs);
  free (m.pixels);
  free (m.labels);
  free (m.split);
  g_free (o.fsdd);
  g_free (o.mnist);
  g_free (o.out);
  g_free (o.variant);
  return tool_finish (0);
}
