/* io.c — model files (.udml) and training checkpoints (design.md "Model file").
 *
 * Both use one container; only the magic and the metadata keys differ.
 * All integers are little-endian, whatever the host:
 *
 *   0   char[8]  magic: "UDML\0\0\0\0" (model) or "UDMLCKPT" (checkpoint)
 *   8   u32      byte-order marker 0x01020304
 *   12  u32      format version (IO_VERSION)
 *   16  u64      header size H: bytes of header after this 32-byte preamble
 *   24  u32      reserved, 0
 *   28  u32      CRC32 over bytes [0, 28) followed by the H header bytes
 *   32  header   u32 n_meta, n_meta entries, u32 n_tensors, n_tensors entries
 *         meta:   u16 key length, key, u8 type, value (see IoMetaType)
 *         tensor: u16 name length, name, u32 dtype (0 = f32), u32 ndim,
 *                 u32 dims[ndim], u64 offset, u64 size in bytes, u32 CRC32
 *   data  every tensor at a 64-byte aligned offset, f32 little-endian,
 *         zero padding in between; the file ends with the last tensor.
 *
 * Readers bound every count, length and offset before they allocate or
 * seek, so no input can make them crash or allocate absurd amounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

#define IO_VERSION 1u
#define IO_ENDIAN_MARK 0x01020304u
#define IO_PREAMBLE 32
#define IO_ALIGN 64
#define IO_MAX_HEADER ((uint64_t) 64 << 20)
#define IO_MAX_META 4096
#define IO_MAX_TENSORS 4096
#define IO_MAX_KEY 256
#define IO_MAX_STRING (1u << 20)
#define IO_MAX_ARRAY 4096u
#define IO_MAX_NDIM 4
#define IO_MAX_ELEMENTS ((uint64_t) 1 << 28)
#define IO_CHUNK 16384          /* floats per read/write chunk */

static const char MAGIC_MODEL[8] = { 'U', 'D', 'M', 'L', 0, 0, 0, 0 };
static const char MAGIC_CKPT[8] = { 'U', 'D', 'M', 'L', 'C', 'K', 'P', 'T' };

#define CKPT_MOMENTUM "checkpoint.momentum"

typedef enum
{
  IO_META_INT = 1,              /* i64 */
  IO_META_F32 = 2,              /* f32 bits */
  IO_META_F64 = 3,              /* f64 bits */
  IO_META_STR = 4,              /* u32 length, bytes (no NUL) */
  IO_META_INTS = 5,             /* u32 count, i64 each */
  IO_META_F32S = 6,             /* u32 count, f32 each */
} IoMetaType;

/* ------------------------------------------------------------ byte helpers */

static void
put_le32 (uint8_t * p, uint32_t v)
{
  p[0] = v;
  p[1] = v >> 8;
  p[2] = v >> 16;
  p[3] = v >> 24;
}

static uint32_t
get_le32 (const uint8_t * p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
      (uint32_t) p[3] << 24;
}

static uint64_t
get_le64 (const uint8_t * p)
{
  return (uint64_t) get_le32 (p) | (uint64_t) get_le32 (p + 4) << 32;
}

static uint32_t
f32_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, 4);
  return u;
}

static float
bits_f32 (uint32_t u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

static uint64_t
align_up (uint64_t x)
{
  return (x + IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
}

static uint32_t
crc_update (uint32_t crc, const uint8_t * p, size_t n)
{
  return (uint32_t) crc32 (crc, p, (uInt) n);
}

/* --------------------------------------------------------- growable buffer */

typedef struct
{
  uint8_t *p;
  size_t len, cap;
  int oom;
} IoBuf;

static void
buf_put (IoBuf * b, const void *src, size_t n)
{
  if (b->oom)
    return;
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 4096;
    uint8_t *p;
    while (cap - b->len < n)
      cap *= 2;
    p = realloc (b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy (b->p + b->len, src, n);
  b->len += n;
}

static void
buf_u8 (IoBuf * b, uint8_t v)
{
  buf_put (b, &v, 1);
}

static void
buf_u16 (IoBuf * b, uint16_t v)
{
  uint8_t p[2] = { v & 0xff, v >> 8 };
  buf_put (b, p, 2);
}

static void
buf_u32 (IoBuf * b, uint32_t v)
{
  uint8_t p[4];
  put_le32 (p, v);
  buf_put (b, p, 4);
}

static void
buf_u64 (IoBuf * b, uint64_t v)
{
  buf_u32 (b, (uint32_t) v);
  buf_u32 (b, (uint32_t) (v >> 32));
}

/* ------------------------------------------------------- metadata writing */

typedef struct
{
  IoBuf buf;
  uint32_t n;
  int bad_key;                  /* a key too long: a bug, reported at save */
} IoMetaOut;

static void
meta_key (IoMetaOut * m, const char *key, IoMetaType type)
{
  size_t n = strlen (key);
  if (n == 0 || n > IO_MAX_KEY) {
    m->bad_key = 1;
    return;
  }
  buf_u16 (&m->buf, (uint16_t) n);
  buf_put (&m->buf, key, n);
  buf_u8 (&m->buf, (uint8_t) type);
  m->n++;
}

static void
meta_int (IoMetaOut * m, const char *key, int64_t v)
{
  meta_key (m, key, IO_META_INT);
  buf_u64 (&m->buf, (uint64_t) v);
}

static void
meta_f32 (IoMetaOut * m, const char *key, float v)
{
  meta_key (m, key, IO_META_F32);
  buf_u32 (&m->buf, f32_bits (v));
}

static void
meta_f64 (IoMetaOut * m, const char *key, double v)
{
  uint64_t u;
  memcpy (&u, &v, 8);
  meta_key (m, key, IO_META_F64);
  buf_u64 (&m->buf, u);
}

static void
meta_str (IoMetaOut * m, const char *key, const char *s)
{
  size_t n = s ? strlen (s) : 0;
  if (n > IO_MAX_STRING)
    n = IO_MAX_STRING;          /* provenance is informative; keep the head */
  meta_key (m, key, IO_META_STR);
  buf_u32 (&m->buf, (uint32_t) n);
  buf_put (&m->buf, s ? s : "", n);
}

static void
meta_ints (IoMetaOut * m, const char *key, const int *v, int n)
{
  meta_key (m, key, IO_META_INTS);
  buf_u32 (&m->buf, (uint32_t) n);
  for (int i = 0; i < n; i++)
    buf_u64 (&m->buf, (uint64_t) (int64_t) v[i]);
}

static void
meta_f32s (IoMetaOut * m, const char *key, const float *v, int n)
{
  meta_key (m, key, IO_META_F32S);
  buf_u32 (&m->buf, (uint32_t) n);
  for (int i = 0; i < n; i++)
    buf_u32 (&m->buf, f32_bits (v[i]));
}

static const char *
key_fmt (char *buf, const char *fmt, int i, const char *field)
{
  snprintf (buf, IO_MAX_KEY + 1, fmt, i, field);
  return buf;
}

static const char *
kind_name (UdmlModalityKind k)
{
  return k == UDML_MODALITY_AUDIO ? "audio" : "video";
}

static const char *
scaling_name (UdmlScaling s)
{
  return s == UDML_SCALING_PAPER ? "paper" : "residual";
}

/* Everything in UdmlConfig, then the model state kept outside the tensors. */
static void
meta_put_model (IoMetaOut * m, const UdmlModel * model)
{
  const UdmlConfig *cfg = udml_model_config (model);
  const UdmlFeatureSpec *fs = &cfg->features;
  char k[IO_MAX_KEY + 1];

  meta_int (m, "config.n_modalities", cfg->n_modalities);
  meta_int (m, "config.n_classes", cfg->n_classes);
  for (int i = 0; i < cfg->n_classes; i++)
    meta_str (m, key_fmt (k, "config.label.%d%s", i, ""), cfg->labels[i]);
  meta_int (m, "config.est_hidden", cfg->est_hidden);
  meta_f32 (m, "config.est_norm", cfg->est_norm);
  meta_str (m, "config.policy", udml_policy_name (cfg->policy));
  meta_str (m, "config.scaling", scaling_name (cfg->scaling));

  for (int i = 0; i < cfg->n_modalities; i++) {
    const UdmlModalitySpec *ms = &cfg->mod[i];
    int shape[3] = { ms->in_c, ms->in_h, ms->in_w };
    meta_str (m, key_fmt (k, "modality.%d.%s", i, "name"), ms->name);
    meta_str (m, key_fmt (k, "modality.%d.%s", i, "kind"),
        kind_name (ms->kind));
    meta_ints (m, key_fmt (k, "modality.%d.%s", i, "input"), shape, 3);
    meta_ints (m, key_fmt (k, "modality.%d.%s", i, "channels"), ms->channels,
        ms->n_stages);
    meta_f32 (m, key_fmt (k, "modality.%d.%s", i, "norm_mean"), ms->norm_mean);
    meta_f32 (m, key_fmt (k, "modality.%d.%s", i, "norm_std"), ms->norm_std);
    meta_f32 (m, key_fmt (k, "modality.%d.%s", i, "dependency"),
        udml_model_dependency (model, i));
  }

  meta_int (m, "features.sample_rate", fs->sample_rate);
  meta_int (m, "features.n_fft", fs->n_fft);
  meta_int (m, "features.win_length", fs->win_length);
  meta_int (m, "features.hop_length", fs->hop_length);
  meta_int (m, "features.n_mels", fs->n_mels);
  meta_f32 (m, "features.fmin", fs->fmin);
  meta_f32 (m, "features.fmax", fs->fmax);
  meta_f32 (m, "features.log_floor", fs->log_floor);
  meta_int (m, "features.frame_width", fs->frame_width);
  meta_int (m, "features.frame_height", fs->frame_height);
  meta_int (m, "features.frame_channels", fs->frame_channels);
  meta_int (m, "features.fps_num", fs->fps_num);
  meta_int (m, "features.fps_den", fs->fps_den);
  meta_int (m, "features.window_ns", fs->window_ns);
  meta_int (m, "features.hop_ns", fs->hop_ns);

  meta_str (m, "provenance", udml_model_provenance (model));
}

/* ---------------------------------------------------------------- writing */

typedef struct
{
  const char *name;
  int ndim;
  int dims[IO_MAX_NDIM];
  const float *data;
  size_t count;
  uint64_t offset;
  uint32_t crc;
} IoTensorOut;

static void
f32_to_le (uint8_t * dst, const float *src, size_t n)
{
  for (size_t i = 0; i < n; i++)
    put_le32 (dst + 4 * i, f32_bits (src[i]));
}

static uint32_t
tensor_crc (const float *data, size_t count, uint8_t * chunk)
{
  uint32_t crc = crc_update (0, NULL, 0);
  for (size_t i = 0; i < count; i += IO_CHUNK) {
    size_t n = count - i < IO_CHUNK ? count - i : IO_CHUNK;
    f32_to_le (chunk, data + i, n);
    crc = crc_update (crc, chunk, 4 * n);
  }
  return crc;
}

static int
write_all (FILE * f, const void *p, size_t n)
{
  return fwrite (p, 1, n, f) == n;
}

/* Writes magic, meta and tensors to a temporary file beside path, syncs it
 * and renames it over path, so readers see the old file or the new one and
 * an interrupted write never leaves a broken file. */
static UdmlStatus
io_write (const char *path, const char magic[8], IoMetaOut * meta,
    IoTensorOut * t, int n_tensors, UdmlError * err)
{
  static const uint8_t zeros[IO_ALIGN];
  UdmlStatus s = UDML_OK;
  IoBuf head = { 0 };
  uint8_t *chunk = NULL;
  char *tmp = NULL;
  int fd = -1;
  FILE *f = NULL;
  int created = 0;
  uint64_t pos, header_size;
  uint32_t crc;

  if (meta->bad_key) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: metadata key too long", path);
    goto out;
  }
  chunk = malloc (4 * IO_CHUNK);
  tmp = malloc (strlen (path) + 64);
  if (!chunk || !tmp) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }

  /* Preamble with the CRC patched in last; header size is known once the
   * table is laid out, and offsets do not change its size. */
  buf_put (&head, magic, 8);
  buf_u32 (&head, IO_ENDIAN_MARK);
  buf_u32 (&head, IO_VERSION);
  buf_u64 (&head, 0);
  buf_u32 (&head, 0);
  buf_u32 (&head, 0);
  buf_u32 (&head, meta->n);
  buf_put (&head, meta->buf.p, meta->buf.len);
  buf_u32 (&head, (uint32_t) n_tensors);

  header_size = head.len - IO_PREAMBLE;
  for (int i = 0; i < n_tensors; i++)
    header_size += 2 + strlen (t[i].name) + 4 + 4 + 4 * t[i].ndim + 8 + 8 + 4;
  pos = IO_PREAMBLE + header_size;
  for (int i = 0; i < n_tensors; i++) {
    size_t len = strlen (t[i].name);
    if (len == 0 || len > IO_MAX_KEY) {
      s = udml_error_set (err, UDML_ERR_ARG,
          "%s: tensor %d: name length %zu outside 1..%d", path, i, len,
          IO_MAX_KEY);
      goto out;
    }
    pos = align_up (pos);
    t[i].offset = pos;
    t[i].crc = tensor_crc (t[i].data, t[i].count, chunk);
    pos += 4 * (uint64_t) t[i].count;
    buf_u16 (&head, (uint16_t) len);
    buf_put (&head, t[i].name, len);
    buf_u32 (&head, 0);
    buf_u32 (&head, (uint32_t) t[i].ndim);
    for (int d = 0; d < t[i].ndim; d++)
      buf_u32 (&head, (uint32_t) t[i].dims[d]);
    buf_u64 (&head, t[i].offset);
    buf_u64 (&head, 4 * (uint64_t) t[i].count);
    buf_u32 (&head, t[i].crc);
  }
  if (head.oom) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  if (head.len != IO_PREAMBLE + header_size) {
    s = udml_error_set (err, UDML_ERR_ARG,
        "%s: internal error laying out the header", path);
    goto out;
  }
  put_le32 (head.p + 16, (uint32_t) header_size);
  put_le32 (head.p + 20, (uint32_t) (header_size >> 32));
  crc = crc_update (crc_update (0, NULL, 0), head.p, 28);
  crc = crc_update (crc, head.p + IO_PREAMBLE, header_size);
  put_le32 (head.p + 28, crc);

  /* A fresh name per attempt; O_EXCL makes concurrent writers safe. */
  for (unsigned attempt = 0; attempt < 1000; attempt++) {
    sprintf (tmp, "%s.%ld.%u.tmp", path, (long) getpid (), attempt);
    fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST)
      break;
  }
  if (fd < 0) {
    s = udml_error_set (err, UDML_ERR_IO,
        "%s: cannot create temporary file %s: %s", path, tmp, strerror (errno));
    goto out;
  }
  created = 1;
  f = fdopen (fd, "wb");
  if (!f) {
    s = udml_error_set (err, UDML_ERR_IO, "%s: %s", tmp, strerror (errno));
    goto out;
  }
  fd = -1;                      /* owned by f now */

  pos = head.len;
  if (!write_all (f, head.p, head.len))
    goto write_failed;
  for (int i = 0; i < n_tensors; i++) {
    if (!write_all (f, zeros, t[i].offset - pos))
      goto write_failed;
    for (size_t j = 0; j < t[i].count; j += IO_CHUNK) {
      size_t n = t[i].count - j < IO_CHUNK ? t[i].count - j : IO_CHUNK;
      f32_to_le (chunk, t[i].data + j, n);
      if (!write_all (f, chunk, 4 * n))
        goto write_failed;
    }
    pos = t[i].offset + 4 * (uint64_t) t[i].count;
  }
  if (fflush (f) != 0 || fsync (fileno (f)) != 0)
    goto write_failed;
  if (fclose (f) != 0) {
    f = NULL;
    goto write_failed;
  }
  f = NULL;

  if (rename (tmp, path) != 0) {
    s = udml_error_set (err, UDML_ERR_IO, "%s: cannot rename %s into place: %s",
        path, tmp, strerror (errno));
    goto out;
  }
  created = 0;

  /* Make the rename itself durable; failure here loses nothing already
   * written, so it is not an error. */
  {
    char *dir = strdup (path);
    if (dir) {
      char *slash = strrchr (dir, '/');
      int dfd;
      if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
      dfd = open (slash ? dir : ".", O_RDONLY | O_CLOEXEC);
      if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
      }
      free (dir);
    }
  }
  goto out;

write_failed:
  s = udml_error_set (err, UDML_ERR_IO, "%s: write to %s failed: %s", path,
      tmp, strerror (errno));

out:
  if (f)
    fclose (f);
  if (fd >= 0)
    close (fd);
  if (created)
    unlink (tmp);
  free (head.p);
  free (chunk);
  free (tmp);
  return s;
}

/* Tensor list of a model; data is only read (the accessor is not const). */
static IoTensorOut *
model_tensors_out (const UdmlModel * model, int extra, int *n_out)
{
  UdmlModel *mm = (UdmlModel *) model;
  int n = udml_model_num_tensors (model);
  IoTensorOut *t = calloc ((size_t) n + extra, sizeof *t);

  if (!t)
    return NULL;
  for (int i = 0; i < n; i++) {
    t[i].name = udml_model_tensor_name (model, i);
    t[i].ndim = udml_model_tensor_dims (model, i, t[i].dims);
    t[i].data = udml_model_tensor_data (mm, i);
    t[i].count = udml_model_tensor_size (model, i);
  }
  *n_out = n;
  return t;
}

static UdmlStatus
check_savable (const UdmlModel * model, const char *path, UdmlError * err)
{
  const UdmlConfig *cfg;
  int n;

  if (!model || !path)
    return udml_error_set (err, UDML_ERR_ARG, "model save: %s is NULL",
        path ? "model" : "path");
  cfg = udml_model_config (model);
  if (cfg->policy < 0 || cfg->policy >= UDML_POLICY_COUNT)
    return udml_error_set (err, UDML_ERR_ARG, "%s: model has policy %d",
        path, (int) cfg->policy);
  n = udml_model_num_tensors (model);
  if (n < 0 || n > IO_MAX_TENSORS)
    return udml_error_set (err, UDML_ERR_ARG, "%s: model has %d tensors",
        path, n);
  for (int i = 0; i < n; i++) {
    int dims[IO_MAX_NDIM] = { 0 };
    int nd = udml_model_tensor_dims (model, i, dims);
    uint64_t prod = 1;
    if (nd < 1 || nd > IO_MAX_NDIM)
      return udml_error_set (err, UDML_ERR_ARG, "%s: tensor %d has ndim %d",
          path, i, nd);
    for (int d = 0; d < nd; d++)
      prod *= dims[d] > 0 ? (uint64_t) dims[d] : 0;
    if (prod != udml_model_tensor_size (model, i) || prod > IO_MAX_ELEMENTS)
      return udml_error_set (err, UDML_ERR_ARG,
          "%s: tensor '%s': dims give %" PRIu64 " values, size is %zu", path,
          udml_model_tensor_name (model, i), prod,
          udml_model_tensor_size (model, i));
  }
  return UDML_OK;
}

UdmlStatus
udml_model_save (const UdmlModel * model, const char *path, UdmlError * err)
{
  UdmlStatus s;
  IoMetaOut meta = { 0 };
  IoTensorOut *t = NULL;
  int n = 0;

  s = check_savable (model, path, err);
  if (s != UDML_OK)
    goto out;
  meta_put_model (&meta, model);
  t = model_tensors_out (model, 0, &n);
  if (!t || meta.buf.oom) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  s = io_write (path, MAGIC_MODEL, &meta, t, n, err);

out:
  free (meta.buf.p);
  free (t);
  return s;
}

UdmlStatus
udml_checkpoint_save (const char *path, const UdmlModel * model,
    const UdmlCheckpointState * st, const float *momentum, size_t n,
    UdmlError * err)
{
  UdmlStatus s;
  IoMetaOut meta = { 0 };
  IoTensorOut *t = NULL;
  int nt = 0;

  s = check_savable (model, path, err);
  if (s != UDML_OK)
    goto out;
  if (!st || (n > 0 && !momentum) || n > IO_MAX_ELEMENTS) {
    s = udml_error_set (err, UDML_ERR_ARG,
        "%s: bad checkpoint arguments (state %p, momentum %p, n %zu)", path,
        (const void *) st, (const void *) momentum, n);
    goto out;
  }
  meta_put_model (&meta, model);
  meta_int (&meta, "checkpoint.seed", (int64_t) st->seed);
  meta_int (&meta, "checkpoint.policy", st->policy);
  meta_int (&meta, "checkpoint.epochs", st->epochs);
  meta_int (&meta, "checkpoint.batch", st->batch);
  meta_int (&meta, "checkpoint.epoch", st->epoch);
  meta_int (&meta, "checkpoint.step", st->step);
  meta_int (&meta, "checkpoint.global_step", st->global_step);
  meta_f32s (&meta, "checkpoint.dep", st->dep, UDML_MAX_MODALITIES);
  meta_f32s (&meta, "checkpoint.dep_ema", st->dep_ema, UDML_MAX_MODALITIES);
  meta_f64 (&meta, "checkpoint.loss_sum", st->loss_sum);
  meta_f64 (&meta, "checkpoint.correct_sum", st->correct_sum);
  meta_int (&meta, "checkpoint.seen", st->seen);

  t = model_tensors_out (model, 1, &nt);
  if (!t || meta.buf.oom) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  if (n > 0) {
    t[nt].name = CKPT_MOMENTUM;
    t[nt].ndim = 1;
    t[nt].dims[0] = (int) n;
    t[nt].data = momentum;
    t[nt].count = n;
    nt++;
  }
  s = io_write (path, MAGIC_CKPT, &meta, t, nt, err);

out:
  free (meta.buf.p);
  free (t);
  return s;
}

/* ---------------------------------------------------------------- reading */

typedef struct
{
  const char *key;              /* into the header, not NUL-terminated */
  size_t key_len;
  IoMetaType type;
  uint64_t u;                   /* INT, F32, F64 bits */
  const uint8_t *p;             /* STR bytes / array elements */
  uint32_t n;                   /* STR length / array count */
} IoMeta;

typedef struct
{
  const char *name;             /* into the header, not NUL-terminated */
  size_t name_len;
  int ndim;
  int dims[IO_MAX_NDIM];
  uint64_t offset, size;
  uint32_t crc;
} IoTensor;

typedef struct
{
  const char *path;
  FILE *f;
  uint64_t file_size;
  uint8_t *header;              /* the H header bytes */
  uint64_t header_size;
  int n_meta;
  IoMeta *meta;
  int n_tensors;
  IoTensor *tensors;
} IoFile;

typedef struct
{
  const uint8_t *p;
  size_t len, pos;
} IoCur;

static const uint8_t *
cur_take (IoCur * c, size_t n)
{
  const uint8_t *p;
  if (c->len - c->pos < n)
    return NULL;
  p = c->p + c->pos;
  c->pos += n;
  return p;
}

static int
cur_u16 (IoCur * c, uint32_t * v)
{
  const uint8_t *p = cur_take (c, 2);
  if (p)
    *v = (uint32_t) p[0] | (uint32_t) p[1] << 8;
  return p != NULL;
}

static int
cur_u32 (IoCur * c, uint32_t * v)
{
  const uint8_t *p = cur_take (c, 4);
  if (p)
    *v = get_le32 (p);
  return p != NULL;
}

static int
cur_u64 (IoCur * c, uint64_t * v)
{
  const uint8_t *p = cur_take (c, 8);
  if (p)
    *v = get_le64 (p);
  return p != NULL;
}

static void
io_close (IoFile * io)
{
  if (io->f)
    fclose (io->f);
  free (io->header);
  free (io->meta);
  free (io->tensors);
  memset (io, 0, sizeof *io);
}

static int
has_nul (const uint8_t * p, size_t n)
{
  return memchr (p, 0, n) != NULL;
}

/* Header entries end early: the header is CRC-checked, so this is a
 * malformed writer rather than a damaged file. */
#define HEADER_SHORT(what, i) \
  udml_error_set (err, UDML_ERR_FORMAT, \
      "%s: %s %d runs past the end of the header (%" PRIu64 " bytes)", \
      io->path, what, i, io->header_size)

static UdmlStatus
io_parse_header (IoFile * io, UdmlError * err)
{
  IoCur c = { io->header, (size_t) io->header_size, 0 };
  uint32_t n;
  uint64_t end;

  if (!cur_u32 (&c, &n))
    return HEADER_SHORT ("metadata count", 0);
  if (n > IO_MAX_META)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: %u metadata entries (limit %d)", io->path, n, IO_MAX_META);
  io->meta = calloc (n ? n : 1, sizeof *io->meta);
  if (!io->meta)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", io->path);
  for (uint32_t i = 0; i < n; i++) {
    IoMeta *m = &io->meta[i];
    uint32_t len, type;
    const uint8_t *p;

    if (!cur_u16 (&c, &len))
      return HEADER_SHORT ("metadata entry", (int) i);
    if (len == 0 || len > IO_MAX_KEY)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: metadata entry %u: key length %u outside 1..%d", io->path, i,
          len, IO_MAX_KEY);
    if (!(p = cur_take (&c, len)))
      return HEADER_SHORT ("metadata entry", (int) i);
    if (has_nul (p, len))
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: metadata entry %u: key contains a NUL byte", io->path, i);
    m->key = (const char *) p;
    m->key_len = len;
    p = cur_take (&c, 1);
    if (!p)
      return HEADER_SHORT ("metadata entry", (int) i);
    type = p[0];
    m->type = (IoMetaType) type;
    switch (type) {
      case IO_META_INT:
      case IO_META_F64:
        if (!cur_u64 (&c, &m->u))
          return HEADER_SHORT ("metadata entry", (int) i);
        break;
      case IO_META_F32:{
        uint32_t v;
        if (!cur_u32 (&c, &v))
          return HEADER_SHORT ("metadata entry", (int) i);
        m->u = v;
        break;
      }
      case IO_META_STR:
      case IO_META_INTS:
      case IO_META_F32S:{
        size_t el = type == IO_META_STR ? 1 : type == IO_META_INTS ? 8 : 4;
        uint32_t limit = type == IO_META_STR ? IO_MAX_STRING : IO_MAX_ARRAY;
        if (!cur_u32 (&c, &m->n))
          return HEADER_SHORT ("metadata entry", (int) i);
        if (m->n > limit)
          return udml_error_set (err, UDML_ERR_FORMAT,
              "%s: metadata '%.*s': length %u (limit %u)", io->path,
              (int) m->key_len, m->key, m->n, limit);
        if (!(m->p = cur_take (&c, el * m->n)))
          return HEADER_SHORT ("metadata entry", (int) i);
        break;
      }
      default:
        return udml_error_set (err, UDML_ERR_FORMAT,
            "%s: metadata '%.*s': unknown type %u", io->path,
            (int) m->key_len, m->key, type);
    }
    for (uint32_t j = 0; j < i; j++)
      if (io->meta[j].key_len == len && !memcmp (io->meta[j].key, m->key, len))
        return udml_error_set (err, UDML_ERR_FORMAT,
            "%s: metadata key '%.*s' appears twice", io->path, (int) len,
            m->key);
    io->n_meta = (int) i + 1;
  }

  if (!cur_u32 (&c, &n))
    return HEADER_SHORT ("tensor count", 0);
  if (n > IO_MAX_TENSORS)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: %u tensors (limit %d)", io->path, n, IO_MAX_TENSORS);
  io->tensors = calloc (n ? n : 1, sizeof *io->tensors);
  if (!io->tensors)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", io->path);

  end = IO_PREAMBLE + io->header_size;
  for (uint32_t i = 0; i < n; i++) {
    IoTensor *t = &io->tensors[i];
    uint32_t len, dtype, ndim;
    uint64_t count = 1;
    const uint8_t *p;

    if (!cur_u16 (&c, &len))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (len == 0 || len > IO_MAX_KEY)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor %u: name length %u outside 1..%d", io->path, i, len,
          IO_MAX_KEY);
    if (!(p = cur_take (&c, len)))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (has_nul (p, len))
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor %u: name contains a NUL byte", io->path, i);
    t->name = (const char *) p;
    t->name_len = len;
    if (!cur_u32 (&c, &dtype) || !cur_u32 (&c, &ndim))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (dtype != 0)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor '%.*s': dtype %u, expected 0 (f32)", io->path, (int) len,
          t->name, dtype);
    if (ndim < 1 || ndim > IO_MAX_NDIM)
      return udml_error_set (err, UDML_ERR_DIMS,
          "%s: tensor '%.*s': ndim %u outside 1..%d", io->path, (int) len,
          t->name, ndim, IO_MAX_NDIM);
    t->ndim = (int) ndim;
    for (uint32_t d = 0; d < ndim; d++) {
      uint32_t v;
      if (!cur_u32 (&c, &v))
        return HEADER_SHORT ("tensor entry", (int) i);
      /* count stays <= 2^28 before each multiply, so it cannot overflow */
      count *= v;
      if (v == 0 || count > IO_MAX_ELEMENTS)
        return udml_error_set (err, UDML_ERR_DIMS,
            "%s: tensor '%.*s': dimension %u is %u (total must be 1..2^28)",
            io->path, (int) len, t->name, d, v);
      t->dims[d] = (int) v;
    }
    if (!cur_u64 (&c, &t->offset) || !cur_u64 (&c, &t->size)
        || !cur_u32 (&c, &t->crc))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (t->size != 4 * count)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor '%.*s': size %" PRIu64 " bytes, dims give %" PRIu64,
          io->path, (int) len, t->name, t->size, 4 * count);
    if (t->offset % IO_ALIGN != 0 || t->offset < end)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor '%.*s': offset %" PRIu64 " not 64-byte aligned after %"
          PRIu64, io->path, (int) len, t->name, t->offset, end);
    if (t->offset > io->file_size || t->size > io->file_size - t->offset)
      return udml_error_set (err, UDML_ERR_TRUNCATED,
          "%s: tensor '%.*s': data [%" PRIu64 ", %" PRIu64 ") past the end of "
          "the file (%" PRIu64 " bytes)", io->path, (int) len, t->name,
          t->offset, t->offset + t->size, io->file_size);
    end = t->offset + t->size;
    for (uint32_t j = 0; j < i; j++)
      if (io->tensors[j].name_len == len
          && !memcmp (io->tensors[j].name, t->name, len))
        return udml_error_set (err, UDML_ERR_FORMAT,
            "%s: tensor name '%.*s' appears twice", io->path, (int) len,
            t->name);
    io->n_tensors = (int) i + 1;
  }
  if (c.pos != c.len)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: %zu unused bytes at the end of the header", io->path,
        c.len - c.pos);
  if (end != io->file_size)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: %" PRIu64 " bytes after the last tensor", io->path,
        io->file_size - end);
  return UDML_OK;
}

/* Opens path and checks preamble, header CRC and the tensor table against
 * the file size. Nothing of the tensor data is read. */
static UdmlStatus
io_open (IoFile * io, const char *path, int ckpt, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  uint8_t pre[IO_PREAMBLE];
  struct stat sb;
  size_t got;
  uint32_t v, crc;
  const char *magic = ckpt ? MAGIC_CKPT : MAGIC_MODEL;
  const char *what = ckpt ? "checkpoint" : "model file";

  memset (io, 0, sizeof *io);
  memset (pre, 0, sizeof pre);
  io->path = path;
  if (!path)
    return udml_error_set (err, UDML_ERR_ARG, "%s path is NULL", what);
  io->f = fopen (path, "rb");
  if (!io->f)
    return udml_error_set (err, UDML_ERR_IO, "%s: cannot open: %s", path,
        strerror (errno));
  if (fstat (fileno (io->f), &sb) != 0)
    return udml_error_set (err, UDML_ERR_IO, "%s: %s", path, strerror (errno));
  if (!S_ISREG (sb.st_mode))
    return udml_error_set (err, UDML_ERR_IO, "%s: not a regular file", path);
  io->file_size = (uint64_t) sb.st_size;

  got = fread (pre, 1, sizeof pre, io->f);
  if (got < 8 && memcmp (pre, magic, got) == 0)
    return udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: %zu bytes, shorter than the %d-byte preamble", path, got,
        IO_PREAMBLE);
  if (memcmp (pre, magic, 8) != 0) {
    if (!ckpt && !memcmp (pre, MAGIC_CKPT, 8))
      return udml_error_set (err, UDML_ERR_MAGIC,
          "%s: is a training checkpoint, not a model file", path);
    if (ckpt && !memcmp (pre, MAGIC_MODEL, 8))
      return udml_error_set (err, UDML_ERR_MAGIC,
          "%s: is a model file, not a training checkpoint", path);
    return udml_error_set (err, UDML_ERR_MAGIC,
        "%s: not a udml %s (bad magic)", path, what);
  }
  if (got < IO_PREAMBLE)
    return udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: %zu bytes, shorter than the %d-byte preamble", path, got,
        IO_PREAMBLE);
  v = get_le32 (pre + 8);
  if (v != IO_ENDIAN_MARK)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: byte-order marker 0x%08x, expected 0x%08x", path, v,
        IO_ENDIAN_MARK);
  v = get_le32 (pre + 12);
  if (v > IO_VERSION)
    return udml_error_set (err, UDML_ERR_VERSION,
        "%s: format version %u is newer than this build reads (%u); "
        "update udml", path, v, IO_VERSION);
  if (v == 0)
    return udml_error_set (err, UDML_ERR_FORMAT, "%s: format version 0", path);
  io->header_size = get_le64 (pre + 16);
  if (io->header_size < 8 || io->header_size > IO_MAX_HEADER)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: header size %" PRIu64 " outside 8..%" PRIu64, path,
        io->header_size, IO_MAX_HEADER);
  if (io->header_size > io->file_size - IO_PREAMBLE)
    return udml_error_set (err, UDML_ERR_TRUNCATED,
        "%s: header needs %" PRIu64 " bytes, file has %" PRIu64, path,
        IO_PREAMBLE + io->header_size, io->file_size);
  io->header = malloc ((size_t) io->header_size);
  if (!io->header)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
  got = fread (io->header, 1, (size_t) io->header_size, io->f);
  if (got != io->header_size)
    return udml_error_set (err, ferror (io->f) ? UDML_ERR_IO :
        UDML_ERR_TRUNCATED, "%s: header: read %zu of %" PRIu64 " bytes",
        path, got, io->header_size);
  crc = crc_update (crc_update (0, NULL, 0), pre, 28);
  crc = crc_update (crc, io->header, (size_t) io->header_size);
  v = get_le32 (pre + 28);
  if (crc != v)
    return udml_error_set (err, UDML_ERR_CRC,
        "%s: header checksum mismatch (stored 0x%08x, computed 0x%08x)",
        path, v, crc);
  s = io_parse_header (io, err);
  return s;
}

/* Streams one tensor's data: checks its CRC and, if dst is non-NULL,
 * converts it into dst (count floats, as given by the table). */
static UdmlStatus
io_read_tensor (IoFile * io, const IoTensor * t, float *dst, uint8_t * chunk,
    UdmlError * err)
{
  uint64_t count = t->size / 4;
  uint32_t crc = crc_update (0, NULL, 0);

  if (fseeko (io->f, (off_t) t->offset, SEEK_SET) != 0)
    return udml_error_set (err, UDML_ERR_IO, "%s: tensor '%.*s': seek: %s",
        io->path, (int) t->name_len, t->name, strerror (errno));
  for (uint64_t i = 0; i < count; i += IO_CHUNK) {
    size_t n = count - i < IO_CHUNK ? (size_t) (count - i) : IO_CHUNK;
    if (fread (chunk, 4, n, io->f) != n)
      return udml_error_set (err, ferror (io->f) ? UDML_ERR_IO :
          UDML_ERR_TRUNCATED, "%s: tensor '%.*s': short read", io->path,
          (int) t->name_len, t->name);
    crc = crc_update (crc, chunk, 4 * n);
    if (dst)
      for (size_t j = 0; j < n; j++)
        dst[i + j] = bits_f32 (get_le32 (chunk + 4 * j));
  }
  if (crc != t->crc)
    return udml_error_set (err, UDML_ERR_CRC,
        "%s: tensor '%.*s': checksum mismatch (stored 0x%08x, computed "
        "0x%08x)", io->path, (int) t->name_len, t->name, t->crc, crc);
  return UDML_OK;
}

/* ------------------------------------------------------- metadata reading */

static const IoMeta *
io_find (const IoFile * io, const char *key)
{
  size_t n = strlen (key);
  for (int i = 0; i < io->n_meta; i++)
    if (io->meta[i].key_len == n && !memcmp (io->meta[i].key, key, n))
      return &io->meta[i];
  return NULL;
}

static UdmlStatus
io_need (const IoFile * io, const char *key, IoMetaType type,
    const IoMeta ** out, UdmlError * err)
{
  const IoMeta *m = io_find (io, key);
  if (!m)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: missing metadata '%s'", io->path, key);
  if (m->type != type)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s' has type %d, expected %d", io->path, key,
        (int) m->type, (int) type);
  *out = m;
  return UDML_OK;
}

static UdmlStatus
io_get_int (const IoFile * io, const char *key, int64_t lo, int64_t hi,
    int64_t * out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_INT, &m, err);
  int64_t v;

  if (s != UDML_OK)
    return s;
  v = (int64_t) m->u;
  if (v < lo || v > hi)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s' = %" PRId64 ", expected %" PRId64 "..%" PRId64,
        io->path, key, v, lo, hi);
  *out = v;
  return UDML_OK;
}

/* int-sized fields: the range keeps the narrowing exact */
static UdmlStatus
io_get_i (const IoFile * io, const char *key, int lo, int hi, int *out,
    UdmlError * err)
{
  int64_t v = 0;
  UdmlStatus s = io_get_int (io, key, lo, hi, &v, err);
  if (s == UDML_OK)
    *out = (int) v;
  return s;
}

static UdmlStatus
io_get_f32 (const IoFile * io, const char *key, float *out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_F32, &m, err);
  if (s == UDML_OK)
    *out = bits_f32 ((uint32_t) m->u);
  return s;
}

static UdmlStatus
io_get_f64 (const IoFile * io, const char *key, double *out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_F64, &m, err);
  if (s == UDML_OK)
    memcpy (out, &m->u, 8);
  return s;
}

/* Copies a string into dst (size bytes with the NUL). */
static UdmlStatus
io_get_str (const IoFile * io, const char *key, char *dst, size_t size,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_STR, &m, err);
  if (s != UDML_OK)
    return s;
  if (m->n >= size || has_nul (m->p, m->n))
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s': string of %u bytes (limit %zu, no NUL)", io->path,
        key, m->n, size - 1);
  memcpy (dst, m->p, m->n);
  dst[m->n] = '\0';
  return UDML_OK;
}

/* Reads an int array of 1..max elements, each within lo..hi. */
static UdmlStatus
io_get_ints (const IoFile * io, const char *key, int *dst, int max, int *n,
    int lo, int hi, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_INTS, &m, err);
  if (s != UDML_OK)
    return s;
  if (m->n < 1 || m->n > (uint32_t) max)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s': %u values, expected 1..%d", io->path, key, m->n,
        max);
  for (uint32_t i = 0; i < m->n; i++) {
    int64_t v = (int64_t) get_le64 (m->p + 8 * i);
    if (v < lo || v > hi)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: metadata '%s'[%u] = %" PRId64 ", expected %d..%d", io->path,
          key, i, v, lo, hi);
    dst[i] = (int) v;
  }
  *n = (int) m->n;
  return UDML_OK;
}

static UdmlStatus
io_get_f32s (const IoFile * io, const char *key, float *dst, uint32_t n,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, key, IO_META_F32S, &m, err);
  if (s != UDML_OK)
    return s;
  if (m->n != n)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s': %u values, expected %u", io->path, key, m->n, n);
  for (uint32_t i = 0; i < n; i++)
    dst[i] = bits_f32 (get_le32 (m->p + 4 * i));
  return UDML_OK;
}

#define TRY(expr) do { if ((s = (expr)) != UDML_OK) goto out; } while (0)

/* Rebuilds the UdmlConfig from the metadata and validates it. */
static UdmlStatus
io_read_config (const IoFile * io, UdmlConfig * cfg, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  UdmlFeatureSpec *fs = &cfg->features;
  char k[IO_MAX_KEY + 1], name[32];
  UdmlError verr = { 0 };
  int64_t v;
  int n, policy;

  memset (cfg, 0, sizeof *cfg);
  TRY (io_get_i (io, "config.n_modalities", 1, UDML_MAX_MODALITIES,
          &cfg->n_modalities, err));
  TRY (io_get_i (io, "config.n_classes", 1, UDML_MAX_CLASSES,
          &cfg->n_classes, err));
  for (int i = 0; i < cfg->n_classes; i++)
    TRY (io_get_str (io, key_fmt (k, "config.label.%d%s", i, ""),
            cfg->labels[i], UDML_NAME_LEN, err));
  TRY (io_get_i (io, "config.est_hidden", 1, 1 << 20, &cfg->est_hidden, err));
  /* files written before the estimator input was normalised lack the key */
  if (io_find (io, "config.est_norm"))
    TRY (io_get_f32 (io, "config.est_norm", &cfg->est_norm, err));
  TRY (io_get_str (io, "config.policy", name, sizeof name, err));
  policy = udml_policy_from_name (name);
  if (policy < 0) {
    s = udml_error_set (err, UDML_ERR_FORMAT, "%s: unknown policy '%s'",
        io->path, name);
    goto out;
  }
  cfg->policy = (UdmlPolicy) policy;
  TRY (io_get_str (io, "config.scaling", name, sizeof name, err));
  if (!strcmp (name, "residual"))
    cfg->scaling = UDML_SCALING_RESIDUAL;
  else if (!strcmp (name, "paper"))
    cfg->scaling = UDML_SCALING_PAPER;
  else {
    s = udml_error_set (err, UDML_ERR_FORMAT, "%s: unknown scaling '%s'",
        io->path, name);
    goto out;
  }

  for (int i = 0; i < cfg->n_modalities; i++) {
    UdmlModalitySpec *ms = &cfg->mod[i];
    int shape[3];

    TRY (io_get_str (io, key_fmt (k, "modality.%d.%s", i, "name"), ms->name,
            UDML_NAME_LEN, err));
    TRY (io_get_str (io, key_fmt (k, "modality.%d.%s", i, "kind"), name,
            sizeof name, err));
    if (!strcmp (name, "audio"))
      ms->kind = UDML_MODALITY_AUDIO;
    else if (!strcmp (name, "video"))
      ms->kind = UDML_MODALITY_VIDEO;
    else {
      s = udml_error_set (err, UDML_ERR_FORMAT,
          "%s: modality %d: unknown kind '%s'", io->path, i, name);
      goto out;
    }
    TRY (io_get_ints (io, key_fmt (k, "modality.%d.%s", i, "input"), shape,
            3, &n, 1, 1 << 16, err));
    if (n != 3) {
      s = udml_error_set (err, UDML_ERR_FORMAT,
          "%s: modality %d: input shape has %d values, expected 3 (C H W)",
          io->path, i, n);
      goto out;
    }
    ms->in_c = shape[0];
    ms->in_h = shape[1];
    ms->in_w = shape[2];
    TRY (io_get_ints (io, key_fmt (k, "modality.%d.%s", i, "channels"),
            ms->channels, UDML_MAX_STAGES, &ms->n_stages, 1, 1 << 16, err));
    TRY (io_get_f32 (io, key_fmt (k, "modality.%d.%s", i, "norm_mean"),
            &ms->norm_mean, err));
    TRY (io_get_f32 (io, key_fmt (k, "modality.%d.%s", i, "norm_std"),
            &ms->norm_std, err));
  }

  TRY (io_get_i (io, "features.sample_rate", 0, 1 << 24, &fs->sample_rate,
          err));
  TRY (io_get_i (io, "features.n_fft", 0, 1 << 24, &fs->n_fft, err));
  TRY (io_get_i (io, "features.win_length", 0, 1 << 24, &fs->win_length, err));
  TRY (io_get_i (io, "features.hop_length", 0, 1 << 24, &fs->hop_length, err));
  TRY (io_get_i (io, "features.n_mels", 0, 1 << 16, &fs->n_mels, err));
  TRY (io_get_f32 (io, "features.fmin", &fs->fmin, err));
  TRY (io_get_f32 (io, "features.fmax", &fs->fmax, err));
  TRY (io_get_f32 (io, "features.log_floor", &fs->log_floor, err));
  TRY (io_get_i (io, "features.frame_width", 0, 1 << 16, &fs->frame_width,
          err));
  TRY (io_get_i (io, "features.frame_height", 0, 1 << 16, &fs->frame_height,
          err));
  TRY (io_get_i (io, "features.frame_channels", 0, 1 << 16,
          &fs->frame_channels, err));
  TRY (io_get_i (io, "features.fps_num", 0, 1 << 30, &fs->fps_num, err));
  TRY (io_get_i (io, "features.fps_den", 0, 1 << 30, &fs->fps_den, err));
  TRY (io_get_int (io, "features.window_ns", 0, INT64_MAX, &v, err));
  fs->window_ns = v;
  TRY (io_get_int (io, "features.hop_ns", 0, INT64_MAX, &v, err));
  fs->hop_ns = v;

  if (udml_config_validate (cfg, &verr) != UDML_OK)
    s = udml_error_set (err, UDML_ERR_FORMAT, "%s: invalid configuration: %s",
        io->path, verr.msg);
out:
  return s;
}

/* The model of cfg stores at least its encoder conv weights in the file;
 * refusing a config they cannot fit keeps a small file from making
 * udml_model_new allocate and initialise gigabytes. */
static UdmlStatus
io_check_config_fits (const IoFile * io, const UdmlConfig * cfg,
    UdmlError * err)
{
  uint64_t floats = 0;

  for (int m = 0; m < cfg->n_modalities; m++) {
    uint64_t ci = (uint64_t) cfg->mod[m].in_c;
    for (int i = 0; i < cfg->mod[m].n_stages; i++) {
      floats += ci * (uint64_t) cfg->mod[m].channels[i] * 9;
      ci = (uint64_t) cfg->mod[m].channels[i];
    }
  }
  if (floats > (io->file_size - IO_PREAMBLE - io->header_size) / 4)
    return udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: configuration needs at least %" PRIu64 " encoder weights, the "
        "file holds %" PRIu64 " bytes of tensor data", io->path, floats,
        io->file_size - IO_PREAMBLE - io->header_size);
  return UDML_OK;
}

/* The saved dependency EMA D per modality. */
static UdmlStatus
io_read_deps (const IoFile * io, int n_mod, float *d, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  char k[IO_MAX_KEY + 1];

  for (int i = 0; i < n_mod && s == UDML_OK; i++)
    s = io_get_f32 (io, key_fmt (k, "modality.%d.%s", i, "dependency"), &d[i],
        err);
  return s;
}

/* Provenance text, NUL-terminated. (transfer full) */
static UdmlStatus
io_read_provenance (const IoFile * io, char **out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = io_need (io, "provenance", IO_META_STR, &m, err);

  if (s != UDML_OK)
    return s;
  *out = malloc (m->n + 1);
  if (!*out)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", io->path);
  memcpy (*out, m->p, m->n);
  (*out)[m->n] = '\0';          /* an embedded NUL only shortens the text */
  return UDML_OK;
}

static void
format_dims (char *buf, size_t size, int ndim, const int *dims)
{
  size_t off = 0;
  buf[0] = '\0';
  for (int d = 0; d < ndim && off < size; d++)
    off += snprintf (buf + off, size - off, "%s%d", d ? "x" : "", dims[d]);
}

/* Maps every model tensor to the file tensor of the same name and checks
 * dims. File tensors the model does not have are refused, except a
 * checkpoint's momentum. map[i] is the file index of model tensor i. */
static UdmlStatus
io_match_tensors (const IoFile * io, const UdmlModel * model, int *map,
    const char *extra, UdmlError * err)
{
  int n = udml_model_num_tensors (model);
  int matched = 0;

  for (int i = 0; i < n; i++) {
    const char *name = udml_model_tensor_name (model, i);
    size_t len = strlen (name);
    int dims[IO_MAX_NDIM] = { 0 };
    int nd = udml_model_tensor_dims (model, i, dims);
    const IoTensor *t = NULL;
    char want[64], have[64];

    map[i] = -1;
    for (int j = 0; j < io->n_tensors; j++)
      if (io->tensors[j].name_len == len
          && !memcmp (io->tensors[j].name, name, len)) {
        map[i] = j;
        t = &io->tensors[j];
        break;
      }
    if (!t)
      return udml_error_set (err, UDML_ERR_MISMATCH,
          "%s: tensor '%s' missing (the file's configuration needs it)",
          io->path, name);
    if (t->ndim != nd || memcmp (t->dims, dims, sizeof (int) * nd) != 0
        || t->size / 4 != udml_model_tensor_size (model, i)) {
      format_dims (want, sizeof want, nd, dims);
      format_dims (have, sizeof have, t->ndim, t->dims);
      return udml_error_set (err, UDML_ERR_DIMS,
          "%s: tensor '%s': file has dims %s, the model expects %s",
          io->path, name, have, want);
    }
    matched++;
  }
  for (int j = 0; j < io->n_tensors && matched < io->n_tensors; j++) {
    const IoTensor *t = &io->tensors[j];
    int used = extra && t->name_len == strlen (extra)
        && !memcmp (t->name, extra, t->name_len);
    for (int i = 0; i < n && !used; i++)
      used = map[i] == j;
    if (!used)
      return udml_error_set (err, UDML_ERR_MISMATCH,
          "%s: tensor '%.*s' is not part of this model", io->path,
          (int) t->name_len, t->name);
  }
  return UDML_OK;
}

UdmlStatus
udml_model_load (const char *path, UdmlModel ** out, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  IoFile io;
  UdmlConfig cfg;
  UdmlModel *model = NULL;
  UdmlError merr = { 0 };
  uint8_t *chunk = NULL;
  int *map = NULL;
  char *prov = NULL;
  float dep[UDML_MAX_MODALITIES];

  if (out)
    *out = NULL;
  TRY (io_open (&io, path, 0, err));
  if (!out) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: out is NULL", path);
    goto out;
  }
  TRY (io_read_config (&io, &cfg, err));
  TRY (io_check_config_fits (&io, &cfg, err));
  model = udml_model_new (&cfg, 0, &merr);
  if (!model) {
    s = udml_error_set (err, merr.code ? merr.code : UDML_ERR_NOMEM,
        "%s: cannot build the model: %s", path, merr.msg);
    goto out;
  }
  TRY (io_read_deps (&io, cfg.n_modalities, dep, err));
  TRY (io_read_provenance (&io, &prov, err));
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_dependency (model, i, dep[i]);
  udml_model_set_provenance (model, prov);
  chunk = malloc (4 * IO_CHUNK);
  map = malloc (sizeof (int) * (size_t) (udml_model_num_tensors (model) + 1));
  if (!chunk || !map) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  TRY (io_match_tensors (&io, model, map, NULL, err));
  for (int i = 0; i < udml_model_num_tensors (model); i++)
    TRY (io_read_tensor (&io, &io.tensors[map[i]],
            udml_model_tensor_data (model, i), chunk, err));
  *out = model;
  model = NULL;

out:
  io_close (&io);
  udml_model_free (model);
  free (chunk);
  free (map);
  free (prov);
  return s;
}

UdmlStatus
udml_model_verify (const char *path, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  IoFile io;
  UdmlConfig cfg;
  uint8_t *chunk = NULL;

  TRY (io_open (&io, path, 0, err));
  TRY (io_read_config (&io, &cfg, err));
  chunk = malloc (4 * IO_CHUNK);
  if (!chunk) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  for (int j = 0; j < io.n_tensors; j++)
    TRY (io_read_tensor (&io, &io.tensors[j], NULL, chunk, err));

out:
  io_close (&io);
  free (chunk);
  return s;
}

/* First field in which two configs differ (normalisation excluded: it is
 * model state the checkpoint restores), or NULL. what gets the values. */
static const char *
config_diff (const UdmlConfig * a, const UdmlConfig * b, char *what,
    size_t size)
{
#define DIFF_INT(field, label) \
  if ((int64_t) a->field != (int64_t) b->field) { \
    snprintf (what, size, "%" PRId64 " vs %" PRId64, (int64_t) a->field, \
        (int64_t) b->field); \
    return label; \
  }
#define DIFF_F32(field, label) \
  if (f32_bits (a->field) != f32_bits (b->field)) { \
    snprintf (what, size, "%g vs %g", (double) a->field, (double) b->field); \
    return label; \
  }
  DIFF_INT (n_modalities, "n_modalities");
  DIFF_INT (n_classes, "n_classes");
  for (int i = 0; i < a->n_classes; i++)
    if (strncmp (a->labels[i], b->labels[i], UDML_NAME_LEN) != 0) {
      snprintf (what, size, "'%.32s' vs '%.32s'", a->labels[i], b->labels[i]);
      return "label";
    }
  DIFF_INT (est_hidden, "est_hidden");
  DIFF_F32 (est_norm, "est_norm");
  DIFF_INT (policy, "policy");
  DIFF_INT (scaling, "scaling");
  for (int i = 0; i < a->n_modalities; i++) {
    if (strncmp (a->mod[i].name, b->mod[i].name, UDML_NAME_LEN) != 0) {
      snprintf (what, size, "'%.32s' vs '%.32s'", a->mod[i].name,
          b->mod[i].name);
      return "modality name";
    }
    DIFF_INT (mod[i].kind, "modality kind");
    DIFF_INT (mod[i].in_c, "modality input channels");
    DIFF_INT (mod[i].in_h, "modality input height");
    DIFF_INT (mod[i].in_w, "modality input width");
    DIFF_INT (mod[i].n_stages, "modality encoder stages");
    for (int j = 0; j < a->mod[i].n_stages; j++)
      DIFF_INT (mod[i].channels[j], "modality encoder channels");
  }
  DIFF_INT (features.sample_rate, "features.sample_rate");
  DIFF_INT (features.n_fft, "features.n_fft");
  DIFF_INT (features.win_length, "features.win_length");
  DIFF_INT (features.hop_length, "features.hop_length");
  DIFF_INT (features.n_mels, "features.n_mels");
  DIFF_F32 (features.fmin, "features.fmin");
  DIFF_F32 (features.fmax, "features.fmax");
  DIFF_F32 (features.log_floor, "features.log_floor");
  DIFF_INT (features.frame_width, "features.frame_width");
  DIFF_INT (features.frame_height, "features.frame_height");
  DIFF_INT (features.frame_channels, "features.frame_channels");
  DIFF_INT (features.fps_num, "features.fps_num");
  DIFF_INT (features.fps_den, "features.fps_den");
  DIFF_INT (features.window_ns, "features.window_ns");
  DIFF_INT (features.hop_ns, "features.hop_ns");
#undef DIFF_INT
#undef DIFF_F32
  return NULL;
}

UdmlStatus
udml_checkpoint_load (const char *path, UdmlModel * model,
    UdmlCheckpointState * st, float *momentum, size_t n, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  IoFile io;
  UdmlConfig cfg;
  UdmlCheckpointState cs;
  const UdmlConfig *mcfg;
  const IoTensor *mom = NULL;
  const char *field;
  char what[128];
  float dep[UDML_MAX_MODALITIES];
  uint8_t *chunk = NULL;
  int *map = NULL;
  int64_t v;
  int nt;

  TRY (io_open (&io, path, 1, err));
  if (!model || !st || (n > 0 && !momentum)) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: bad checkpoint arguments",
        path);
    goto out;
  }
  mcfg = udml_model_config (model);
  TRY (io_read_config (&io, &cfg, err));
  field = config_diff (&cfg, mcfg, what, sizeof what);
  if (field) {
    s = udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: checkpoint does not match the model: %s %s (checkpoint vs "
        "model)", path, field, what);
    goto out;
  }

  for (int j = 0; j < io.n_tensors; j++)
    if (io.tensors[j].name_len == strlen (CKPT_MOMENTUM)
        && !memcmp (io.tensors[j].name, CKPT_MOMENTUM, strlen (CKPT_MOMENTUM)))
      mom = &io.tensors[j];
  if ((mom ? mom->size / 4 : 0) != n || (mom && mom->ndim != 1)) {
    s = udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: checkpoint holds %" PRIu64 " momentum values, the optimiser "
        "has %zu", path, mom ? mom->size / 4 : 0, n);
    goto out;
  }

  nt = udml_model_num_tensors (model);
  chunk = malloc (4 * IO_CHUNK);
  map = malloc (sizeof (int) * (size_t) (nt + 1));
  if (!chunk || !map) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  TRY (io_match_tensors (&io, model, map, CKPT_MOMENTUM, err));

  memset (&cs, 0, sizeof cs);
  TRY (io_get_int (&io, "checkpoint.seed", INT64_MIN, INT64_MAX, &v, err));
  cs.seed = (uint64_t) v;
  TRY (io_get_i (&io, "checkpoint.policy", 0, UDML_POLICY_COUNT - 1,
          &cs.policy, err));
  TRY (io_get_i (&io, "checkpoint.epochs", 0, INT32_MAX, &cs.epochs, err));
  TRY (io_get_i (&io, "checkpoint.batch", 0, INT32_MAX, &cs.batch, err));
  TRY (io_get_i (&io, "checkpoint.epoch", 0, INT32_MAX, &cs.epoch, err));
  TRY (io_get_i (&io, "checkpoint.step", 0, INT32_MAX, &cs.step, err));
  TRY (io_get_int (&io, "checkpoint.global_step", 0, INT64_MAX,
          &cs.global_step, err));
  TRY (io_get_f32s (&io, "checkpoint.dep", cs.dep, UDML_MAX_MODALITIES, err));
  TRY (io_get_f32s (&io, "checkpoint.dep_ema", cs.dep_ema,
          UDML_MAX_MODALITIES, err));
  TRY (io_get_f64 (&io, "checkpoint.loss_sum", &cs.loss_sum, err));
  TRY (io_get_f64 (&io, "checkpoint.correct_sum", &cs.correct_sum, err));
  TRY (io_get_i (&io, "checkpoint.seen", 0, INT32_MAX, &cs.seen, err));
  TRY (io_read_deps (&io, cfg.n_modalities, dep, err));

  /* Check every CRC before touching the caller's model, so a damaged
   * checkpoint leaves it as it was. */
  for (int j = 0; j < io.n_tensors; j++)
    TRY (io_read_tensor (&io, &io.tensors[j], NULL, chunk, err));
  for (int i = 0; i < nt; i++)
    TRY (io_read_tensor (&io, &io.tensors[map[i]],
            udml_model_tensor_data (model, i), chunk, err));
  if (mom)
    TRY (io_read_tensor (&io, mom, momentum, chunk, err));
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_normalisation (model, i, cfg.mod[i].norm_mean,
        cfg.mod[i].norm_std);
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_dependency (model, i, dep[i]);
  *st = cs;

out:
  io_close (&io);
  free (chunk);
  free (map);
  return s;
}
