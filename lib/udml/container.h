/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* container.h — the container shared by model files and checkpoints
 * (container.c), and the model schema the checkpoint schema extends
 * (modelfile.c). Private to lib/udml; the layout is described in container.c.
 */
#ifndef UDML_CONTAINER_H
#define UDML_CONTAINER_H

#include <stdio.h>
#include <string.h>

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

typedef enum
{
  IO_META_INT = 1,              /* i64 */
  IO_META_F32 = 2,              /* f32 bits */
  IO_META_F64 = 3,              /* f64 bits */
  IO_META_STR = 4,              /* u32 length, bytes (no NUL) */
  IO_META_INTS = 5,             /* u32 count, i64 each */
  IO_META_F32S = 6,             /* u32 count, f32 each */
} IoMetaType;

static inline uint32_t
udml_io_f32_bits (float f)
{
  uint32_t u;
  memcpy (&u, &f, 4);
  return u;
}

#define TRY(expr) do { if ((s = (expr)) != UDML_OK) goto out; } while (0)

/* ---- writing ---- */

typedef struct
{
  uint8_t *p;
  size_t len, cap;
  int oom;
} IoBuf;

/* Metadata entries being written; errors are latched and reported once. */
typedef struct
{
  IoBuf buf;
  uint32_t n;
  int bad_key;                  /* a key too long: a bug, reported at save */
} IoMetaOut;

void udml_io_meta_int (IoMetaOut *m, const char *key, int64_t v);
void udml_io_meta_f32 (IoMetaOut *m, const char *key, float v);
void udml_io_meta_f64 (IoMetaOut *m, const char *key, double v);
void udml_io_meta_str (IoMetaOut *m, const char *key, const char *s);
void udml_io_meta_ints (IoMetaOut *m, const char *key, const int *v, int n);
void udml_io_meta_f32s (IoMetaOut *m, const char *key, const float *v, int n);

/* Formats a key from fmt, i and field into buf (IO_MAX_KEY + 1 bytes). */
const char *udml_io_key (char *buf, const char *fmt, int i, const char *field);

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

/* Writes a model file (ckpt 0) or checkpoint (ckpt 1) atomically; fills
 * the offsets and CRCs of t. */
UdmlStatus udml_io_write (const char *path, int ckpt, IoMetaOut *meta,
    IoTensorOut *t, int n_tensors, UdmlError *err);

/* ---- reading ---- */

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

/* Opens path, checks the magic (ckpt: checkpoint, else model file), the
 * preamble, the header CRC and the tensor table against the file size.
 * Call udml_io_close even on failure. */
UdmlStatus udml_io_open (IoFile *io, const char *path, int ckpt, UdmlError *err);
void udml_io_close (IoFile *io);
/* Checks one tensor's CRC and, if dst is non-NULL, converts it into dst.
 * chunk: 4 * IO_CHUNK bytes of scratch. */
UdmlStatus udml_io_read_tensor (IoFile *io, const IoTensor *t, float *dst,
    uint8_t *chunk, UdmlError *err);

const IoMeta *udml_io_find (const IoFile *io, const char *key);
UdmlStatus udml_io_need (const IoFile *io, const char *key, IoMetaType type,
    const IoMeta **out, UdmlError *err);
UdmlStatus udml_io_get_int (const IoFile *io, const char *key, int64_t lo,
    int64_t hi, int64_t *out, UdmlError *err);
UdmlStatus udml_io_get_i (const IoFile *io, const char *key, int lo, int hi,
    int *out, UdmlError *err);
UdmlStatus udml_io_get_f32 (const IoFile *io, const char *key, float *out,
    UdmlError *err);
UdmlStatus udml_io_get_f64 (const IoFile *io, const char *key, double *out,
    UdmlError *err);
UdmlStatus udml_io_get_str (const IoFile *io, const char *key, char *dst,
    size_t size, UdmlError *err);
UdmlStatus udml_io_get_ints (const IoFile *io, const char *key, int *dst,
    int max, int *n, int lo, int hi, UdmlError *err);
UdmlStatus udml_io_get_f32s (const IoFile *io, const char *key, float *dst,
    uint32_t n, UdmlError *err);

/* ---- model schema (modelfile.c), which checkpoints extend ---- */

/* Everything in UdmlConfig, then the model state kept outside the tensors. */
void udml_io_put_model (IoMetaOut *m, const UdmlModel *model);
UdmlStatus udml_io_check_savable (const UdmlModel *model, const char *path,
    UdmlError *err);
/* Tensor list of a model with room for extra more. (transfer full) */
IoTensorOut *udml_io_model_tensors (const UdmlModel *model, int extra,
    int *n_out);
/* Rebuilds the UdmlConfig from the metadata and validates it. */
UdmlStatus udml_io_read_config (const IoFile *io, UdmlConfig *cfg,
    UdmlError *err);
/* The saved dependency EMA D per modality. */
UdmlStatus udml_io_read_deps (const IoFile *io, int n_mod, float *d,
    UdmlError *err);
/* Maps model tensor i to file tensor map[i], checking names and dims; file
 * tensors the model lacks are refused, except one named extra. */
UdmlStatus udml_io_match_tensors (const IoFile *io, const UdmlModel *model,
    int *map, const char *extra, UdmlError *err);

#endif /* UDML_CONTAINER_H */
