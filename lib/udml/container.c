/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* container.c — the file container of model files (.udml) and training
 * checkpoints (design.md "Model file"): byte helpers, key/value metadata,
 * the tensor table and CRCs. The schemas are in modelfile.c and checkpoint.c.
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
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include "container.h"

static const char MAGIC_MODEL[8] = { 'U', 'D', 'M', 'L', 0, 0, 0, 0 };
static const char MAGIC_CKPT[8] = { 'U', 'D', 'M', 'L', 'C', 'K', 'P', 'T' };

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


static float
bits_f32 (uint32_t u)
{
  float f;
  memcpy (&f, &u, 4);
  return f;
}

/* Exponent all ones: inf or NaN. */
static int
f32_finite (uint32_t u)
{
  return (u & 0x7f800000u) != 0x7f800000u;
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

void
udml_io_meta_int (IoMetaOut * m, const char *key, int64_t v)
{
  meta_key (m, key, IO_META_INT);
  buf_u64 (&m->buf, (uint64_t) v);
}

void
udml_io_meta_f32 (IoMetaOut * m, const char *key, float v)
{
  meta_key (m, key, IO_META_F32);
  buf_u32 (&m->buf, udml_io_f32_bits (v));
}

void
udml_io_meta_f64 (IoMetaOut * m, const char *key, double v)
{
  uint64_t u;
  memcpy (&u, &v, 8);
  meta_key (m, key, IO_META_F64);
  buf_u64 (&m->buf, u);
}

void
udml_io_meta_str (IoMetaOut * m, const char *key, const char *s)
{
  size_t n = s ? strlen (s) : 0;
  if (n > IO_MAX_STRING)
    n = IO_MAX_STRING;          /* provenance is informative; keep the head */
  meta_key (m, key, IO_META_STR);
  buf_u32 (&m->buf, (uint32_t) n);
  buf_put (&m->buf, s ? s : "", n);
}

void
udml_io_meta_ints (IoMetaOut * m, const char *key, const int *v, int n)
{
  meta_key (m, key, IO_META_INTS);
  buf_u32 (&m->buf, (uint32_t) n);
  for (int i = 0; i < n; i++)
    buf_u64 (&m->buf, (uint64_t) (int64_t) v[i]);
}

void
udml_io_meta_f32s (IoMetaOut * m, const char *key, const float *v, int n)
{
  meta_key (m, key, IO_META_F32S);
  buf_u32 (&m->buf, (uint32_t) n);
  for (int i = 0; i < n; i++)
    buf_u32 (&m->buf, udml_io_f32_bits (v[i]));
}

const char *
udml_io_key (char *buf, const char *fmt, int i, const char *field)
{
  snprintf (buf, IO_MAX_KEY + 1, fmt, i, field);
  return buf;
}

/* ---------------------------------------------------------------- writing */


static void
f32_to_le (uint8_t * dst, const float *src, size_t n)
{
  for (size_t i = 0; i < n; i++)
    put_le32 (dst + 4 * i, udml_io_f32_bits (src[i]));
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

/* Lays out preamble, metadata and tensor table in head, with every tensor's
 * offset and CRC filled in and the header CRC patched into the preamble. */
static UdmlStatus
io_layout (IoBuf * head, const char *path, int ckpt, IoMetaOut * meta,
    IoTensorOut * t, int n_tensors, uint8_t * chunk, UdmlError * err)
{
  uint64_t pos, header_size;
  uint32_t crc;

  /* Preamble with the CRC patched in last; header size is known once the
   * table is laid out, and offsets do not change its size. */
  buf_put (head, ckpt ? MAGIC_CKPT : MAGIC_MODEL, 8);
  buf_u32 (head, IO_ENDIAN_MARK);
  buf_u32 (head, IO_VERSION);
  buf_u64 (head, 0);
  buf_u32 (head, 0);
  buf_u32 (head, 0);
  buf_u32 (head, meta->n);
  buf_put (head, meta->buf.p, meta->buf.len);
  buf_u32 (head, (uint32_t) n_tensors);

  header_size = head->len - IO_PREAMBLE;
  for (int i = 0; i < n_tensors; i++)
    header_size += 2 + strlen (t[i].name) + 4 + 4 + 4 * t[i].ndim + 8 + 8 + 4;
  pos = IO_PREAMBLE + header_size;
  for (int i = 0; i < n_tensors; i++) {
    size_t len = strlen (t[i].name);
    if (len == 0 || len > IO_MAX_KEY)
      return udml_error_set (err, UDML_ERR_ARG,
          "%s: tensor %d: name length %zu outside 1..%d", path, i, len,
          IO_MAX_KEY);
    pos = align_up (pos);
    t[i].offset = pos;
    t[i].crc = tensor_crc (t[i].data, t[i].count, chunk);
    pos += 4 * (uint64_t) t[i].count;
    buf_u16 (head, (uint16_t) len);
    buf_put (head, t[i].name, len);
    buf_u32 (head, 0);
    buf_u32 (head, (uint32_t) t[i].ndim);
    for (int d = 0; d < t[i].ndim; d++)
      buf_u32 (head, (uint32_t) t[i].dims[d]);
    buf_u64 (head, t[i].offset);
    buf_u64 (head, 4 * (uint64_t) t[i].count);
    buf_u32 (head, t[i].crc);
  }
  if (head->oom)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
  if (head->len != IO_PREAMBLE + header_size)
    return udml_error_set (err, UDML_ERR_ARG,
        "%s: internal error laying out the header", path);
  put_le32 (head->p + 16, (uint32_t) header_size);
  put_le32 (head->p + 20, (uint32_t) (header_size >> 32));
  crc = crc_update (crc_update (0, NULL, 0), head->p, 28);
  crc = crc_update (crc, head->p + IO_PREAMBLE, header_size);
  put_le32 (head->p + 28, crc);
  return UDML_OK;
}

/* Makes a rename in path's directory durable; failure here loses nothing
 * already written, so it is not an error. */
static void
sync_parent_dir (const char *path)
{
  char *dir = strdup (path);
  char *slash;
  int dfd;

  if (!dir)
    return;
  slash = strrchr (dir, '/');
  if (slash)
    *(slash == dir ? slash + 1 : slash) = '\0';
  dfd = open (slash ? dir : ".", O_RDONLY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync (dfd);
    close (dfd);
  }
  free (dir);
}

/* Writes magic, meta and tensors to a temporary file beside path, syncs it
 * and renames it over path, so readers see the old file or the new one and
 * an interrupted write never leaves a broken file. */
UdmlStatus
udml_io_write (const char *path, int ckpt, IoMetaOut * meta,
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
  uint64_t pos;

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
  s = io_layout (&head, path, ckpt, meta, t, n_tensors, chunk, err);
  if (s != UDML_OK)
    goto out;

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

  sync_parent_dir (path);
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

/* ---------------------------------------------------------------- reading */




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

void
udml_io_close (IoFile * io)
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

/* The metadata entries; c is at the start of the header. */
static UdmlStatus
io_parse_meta (IoFile * io, IoCur * c, UdmlError * err)
{
  uint32_t n;

  if (!cur_u32 (c, &n))
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

    if (!cur_u16 (c, &len))
      return HEADER_SHORT ("metadata entry", (int) i);
    if (len == 0 || len > IO_MAX_KEY)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: metadata entry %u: key length %u outside 1..%d", io->path, i,
          len, IO_MAX_KEY);
    if (!(p = cur_take (c, len)))
      return HEADER_SHORT ("metadata entry", (int) i);
    if (has_nul (p, len))
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: metadata entry %u: key contains a NUL byte", io->path, i);
    m->key = (const char *) p;
    m->key_len = len;
    p = cur_take (c, 1);
    if (!p)
      return HEADER_SHORT ("metadata entry", (int) i);
    type = p[0];
    m->type = (IoMetaType) type;
    switch (type) {
      case IO_META_INT:
      case IO_META_F64:
        if (!cur_u64 (c, &m->u))
          return HEADER_SHORT ("metadata entry", (int) i);
        break;
      case IO_META_F32:{
        uint32_t v;
        if (!cur_u32 (c, &v))
          return HEADER_SHORT ("metadata entry", (int) i);
        m->u = v;
        break;
      }
      case IO_META_STR:
      case IO_META_INTS:
      case IO_META_F32S:{
        size_t el = type == IO_META_STR ? 1 : type == IO_META_INTS ? 8 : 4;
        uint32_t limit = type == IO_META_STR ? IO_MAX_STRING : IO_MAX_ARRAY;
        if (!cur_u32 (c, &m->n))
          return HEADER_SHORT ("metadata entry", (int) i);
        if (m->n > limit)
          return udml_error_set (err, UDML_ERR_FORMAT,
              "%s: metadata '%.*s': length %u (limit %u)", io->path,
              (int) m->key_len, m->key, m->n, limit);
        if (!(m->p = cur_take (c, el * m->n)))
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
  return UDML_OK;
}

/* The tensor table; c is just past the metadata. *end: the end of the last
 * tensor's data. */
static UdmlStatus
io_parse_tensors (IoFile * io, IoCur * c, uint64_t * end_out, UdmlError * err)
{
  uint32_t n;
  uint64_t end;

  if (!cur_u32 (c, &n))
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

    if (!cur_u16 (c, &len))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (len == 0 || len > IO_MAX_KEY)
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor %u: name length %u outside 1..%d", io->path, i, len,
          IO_MAX_KEY);
    if (!(p = cur_take (c, len)))
      return HEADER_SHORT ("tensor entry", (int) i);
    if (has_nul (p, len))
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: tensor %u: name contains a NUL byte", io->path, i);
    t->name = (const char *) p;
    t->name_len = len;
    if (!cur_u32 (c, &dtype) || !cur_u32 (c, &ndim))
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
      if (!cur_u32 (c, &v))
        return HEADER_SHORT ("tensor entry", (int) i);
      /* count stays <= 2^28 before each multiply, so it cannot overflow */
      count *= v;
      if (v == 0 || count > IO_MAX_ELEMENTS)
        return udml_error_set (err, UDML_ERR_DIMS,
            "%s: tensor '%.*s': dimension %u is %u (total must be 1..2^28)",
            io->path, (int) len, t->name, d, v);
      t->dims[d] = (int) v;
    }
    if (!cur_u64 (c, &t->offset) || !cur_u64 (c, &t->size)
        || !cur_u32 (c, &t->crc))
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
  *end_out = end;
  return UDML_OK;
}

static UdmlStatus
io_parse_header (IoFile * io, UdmlError * err)
{
  IoCur c = { io->header, (size_t) io->header_size, 0 };
  UdmlStatus s;
  uint64_t end = 0;

  if ((s = io_parse_meta (io, &c, err)) != UDML_OK)
    return s;
  if ((s = io_parse_tensors (io, &c, &end, err)) != UDML_OK)
    return s;
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
UdmlStatus
udml_io_open (IoFile * io, const char *path, int ckpt, UdmlError * err)
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
UdmlStatus
udml_io_read_tensor (IoFile * io, const IoTensor * t, float *dst,
    uint8_t * chunk, UdmlError * err)
{
  uint64_t count = t->size / 4, bad = UINT64_MAX;
  uint32_t crc = crc_update (0, NULL, 0), bad_bits = 0;

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
    for (size_t j = 0; j < n; j++) {
      uint32_t u = get_le32 (chunk + 4 * j);
      if (!f32_finite (u) && bad == UINT64_MAX) {
        bad = i + j;
        bad_bits = u;
      }
      if (dst)
        dst[i + j] = bits_f32 (u);
    }
  }
  if (crc != t->crc)
    return udml_error_set (err, UDML_ERR_CRC,
        "%s: tensor '%.*s': checksum mismatch (stored 0x%08x, computed "
        "0x%08x)", io->path, (int) t->name_len, t->name, t->crc, crc);
  /* After the CRC, so damage is reported as damage. */
  if (bad != UINT64_MAX)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: tensor '%.*s': value %" PRIu64 " is %g (non-finite values are "
        "refused)", io->path, (int) t->name_len, t->name, bad,
        (double) bits_f32 (bad_bits));
  return UDML_OK;
}

/* ------------------------------------------------------- metadata reading */

/* Non-finite numbers are never valid in either schema: an inf std or a NaN
 * weight would give wrong labels with no other sign. */
static UdmlStatus
non_finite (const IoFile * io, const char *key, double v, UdmlError * err)
{
  return udml_error_set (err, UDML_ERR_FORMAT,
      "%s: metadata '%s' is %g (non-finite values are refused)", io->path,
      key, v);
}

const IoMeta *
udml_io_find (const IoFile * io, const char *key)
{
  size_t n = strlen (key);
  for (int i = 0; i < io->n_meta; i++)
    if (io->meta[i].key_len == n && !memcmp (io->meta[i].key, key, n))
      return &io->meta[i];
  return NULL;
}

UdmlStatus
udml_io_need (const IoFile * io, const char *key, IoMetaType type,
    const IoMeta ** out, UdmlError * err)
{
  const IoMeta *m = udml_io_find (io, key);
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

UdmlStatus
udml_io_get_int (const IoFile * io, const char *key, int64_t lo, int64_t hi,
    int64_t * out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_INT, &m, err);
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
UdmlStatus
udml_io_get_i (const IoFile * io, const char *key, int lo, int hi, int *out,
    UdmlError * err)
{
  int64_t v = 0;
  UdmlStatus s = udml_io_get_int (io, key, lo, hi, &v, err);
  if (s == UDML_OK)
    *out = (int) v;
  return s;
}

UdmlStatus
udml_io_get_f32 (const IoFile * io, const char *key, float *out,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_F32, &m, err);
  if (s != UDML_OK)
    return s;
  if (!f32_finite ((uint32_t) m->u))
    return non_finite (io, key, bits_f32 ((uint32_t) m->u), err);
  *out = bits_f32 ((uint32_t) m->u);
  return UDML_OK;
}

UdmlStatus
udml_io_get_f64 (const IoFile * io, const char *key, double *out,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_F64, &m, err);
  double v;

  if (s != UDML_OK)
    return s;
  memcpy (&v, &m->u, 8);
  if (!isfinite (v))
    return non_finite (io, key, v, err);
  *out = v;
  return UDML_OK;
}

/* Copies a string into dst (size bytes with the NUL). */
UdmlStatus
udml_io_get_str (const IoFile * io, const char *key, char *dst, size_t size,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_STR, &m, err);
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
UdmlStatus
udml_io_get_ints (const IoFile * io, const char *key, int *dst, int max, int *n,
    int lo, int hi, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_INTS, &m, err);
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

UdmlStatus
udml_io_get_f32s (const IoFile * io, const char *key, float *dst, uint32_t n,
    UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, key, IO_META_F32S, &m, err);
  if (s != UDML_OK)
    return s;
  if (m->n != n)
    return udml_error_set (err, UDML_ERR_FORMAT,
        "%s: metadata '%s': %u values, expected %u", io->path, key, m->n, n);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t u = get_le32 (m->p + 4 * i);
    if (!f32_finite (u))
      return non_finite (io, key, bits_f32 (u), err);
    dst[i] = bits_f32 (u);
  }
  return UDML_OK;
}
