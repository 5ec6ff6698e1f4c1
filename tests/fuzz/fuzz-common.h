/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-common.h — helpers shared by the libFuzzer targets and the seed
 * generator: the tiny model configuration, scratch files, and the checksum
 * fixers that let mutated inputs get past the CRC / hash checks. */
#ifndef UDML_FUZZ_COMMON_H
#define UDML_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "media.h"
#include "udml.h"

/* First input byte: bit 0 set = recompute the checksums before parsing. */
#define FUZZ_FIX_CHECKSUMS 1

/* Two small modalities and three classes: a model file of a few KB, so the
 * whole container fits in libFuzzer's default input length. The feature
 * spec is tiny too (its set-up runs on every manifest load) and the input
 * shapes follow from it, so a row that does decode fits the buffers. */
static inline void
fuzz_tiny_config (UdmlConfig * cfg)
{
  UdmlFeatureSpec *fs = &cfg->features;

  udml_config_default (cfg);
  fs->sample_rate = 1000;
  fs->n_fft = 16;
  fs->win_length = 16;
  fs->hop_length = 250;
  fs->n_mels = 2;
  fs->fmin = 0.0f;
  fs->fmax = 500.0f;
  fs->frame_width = 4;
  fs->frame_height = 4;
  fs->frame_channels = 1;
  for (int m = 0; m < cfg->n_modalities; m++) {
    UdmlModalitySpec *ms = &cfg->mod[m];
    if (ms->kind == UDML_MODALITY_AUDIO) {
      ms->in_c = 1;
      ms->in_h = fs->n_mels;
      ms->in_w = udml_media_mel_frames (fs, (size_t) (fs->window_ns *
              fs->sample_rate / 1000000000));
    } else {
      ms->in_c = fs->frame_channels;
      ms->in_h = fs->frame_height;
      ms->in_w = fs->frame_width;
    }
    ms->n_stages = 2;
    ms->channels[0] = 2;
    ms->channels[1] = 3;
  }
  cfg->n_classes = 3;
  cfg->est_hidden = 4;
}

/* The library's messages go to stderr; at tens of thousands of inputs per
 * second they drown libFuzzer's own report, which keeps the original stream
 * (and sanitizers write to fd 2 directly). UDML_FUZZ_VERBOSE=1 keeps them. */
static FILE *fuzz_report;

static inline void
fuzz_quiet (void)
{
  const char *v = getenv ("UDML_FUZZ_VERBOSE");
  FILE *null;

  fuzz_report = stderr;
  if (v && *v && strcmp (v, "0") != 0)
    return;
  null = fopen ("/dev/null", "w");
  if (null)
    stderr = null;
}

/* A property of the API broke: say which, then crash so libFuzzer keeps
 * the input. */
static inline void
fuzz_fail (const char *what)
{
  fprintf (fuzz_report ? fuzz_report : stderr, "udml-fuzz: %s\n", what);
  fflush (fuzz_report ? fuzz_report : stderr);
  abort ();
}

/* An in-memory regular file that the loaders open by path, so every run
 * goes through their real fopen/fstat/fread path without touching disk. */
typedef struct
{
  int fd;
  char path[64];
} FuzzFile;

/* The input after its mode byte, copied into a buffer reused across runs
 * (the checksum fix-ups write into it); *fix is the mode's checksum bit.
 * NULL for an empty input or when the copy cannot be made. */
static inline uint8_t *
fuzz_payload (const uint8_t * data, size_t size, size_t *n, int *fix)
{
  static uint8_t *scratch;
  static size_t scratch_len;

  if (size < 1)
    return NULL;
  *n = size - 1;
  *fix = data[0] & FUZZ_FIX_CHECKSUMS;
  if (*n > scratch_len) {
    free (scratch);
    scratch = malloc (*n);
    scratch_len = scratch ? *n : 0;
    if (!scratch)
      return NULL;
  }
  if (*n)
    memcpy (scratch, data + 1, *n);
  return scratch;
}

static inline int
fuzz_file_open (FuzzFile * f)
{
  f->fd = memfd_create ("udml-fuzz", MFD_CLOEXEC);
  if (f->fd < 0)
    return -1;
  snprintf (f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
  return 0;
}

static inline int
fuzz_file_set (FuzzFile * f, const uint8_t * data, size_t n)
{
  if (ftruncate (f->fd, 0) != 0)
    return -1;
  return pwrite (f->fd, data, n, 0) == (ssize_t) n ? 0 : -1;
}

/* Writes data to path (whole file). */
static inline int
fuzz_write_file (const char *path, const uint8_t * data, size_t n)
{
  FILE *f = fopen (path, "wb");
  int ok;

  if (!f)
    return -1;
  ok = fwrite (data, 1, n, f) == n;
  return fclose (f) == 0 && ok ? 0 : -1;
}

/* A private directory on tmpfs when there is one: the feature cache writer
 * fsyncs, which is cheap there. (transfer full) */
static inline char *
fuzz_tmpdir (void)
{
  const char *base = getenv ("TMPDIR");
  struct stat st;
  char *tmpl;

  if (stat ("/dev/shm", &st) == 0 && S_ISDIR (st.st_mode)
      && access ("/dev/shm", W_OK) == 0)
    base = "/dev/shm";
  if (!base || !*base)
    base = "/tmp";
  tmpl = malloc (strlen (base) + 32);
  if (!tmpl)
    return NULL;
  sprintf (tmpl, "%s/udml-fuzz-XXXXXX", base);
  if (!mkdtemp (tmpl)) {
    free (tmpl);
    return NULL;
  }
  return tmpl;
}

/* Removes the plain files in dir, then dir. */
static inline void
fuzz_rmdir (const char *dir)
{
  DIR *d = opendir (dir);
  struct dirent *e;
  char path[4096];

  if (d) {
    while ((e = readdir (d)) != NULL) {
      if (!strcmp (e->d_name, ".") || !strcmp (e->d_name, ".."))
        continue;
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      unlink (path);
    }
    closedir (d);
  }
  rmdir (dir);
}

/* ------------------------------------------------ .udml container fix-up */

static inline uint32_t
fuzz_le32 (const uint8_t * p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
      (uint32_t) p[3] << 24;
}

static inline uint64_t
fuzz_le64 (const uint8_t * p)
{
  return (uint64_t) fuzz_le32 (p) | (uint64_t) fuzz_le32 (p + 4) << 32;
}

static inline void
fuzz_put_le32 (uint8_t * p, uint32_t v)
{
  p[0] = v;
  p[1] = v >> 8;
  p[2] = v >> 16;
  p[3] = v >> 24;
}

/* Recomputes every tensor CRC the table points at and then the header CRC
 * (layout: lib/udml/io.c). A lenient walk of its own: it stops where the
 * header stops making sense and leaves the rest to the real parser. */
static inline void
fuzz_fix_udml (uint8_t * b, size_t n)
{
  uint64_t hsize;
  size_t pos, end;
  uint32_t count, crc;

  if (n < 32)
    return;
  hsize = fuzz_le64 (b + 16);
  if (hsize > n - 32)
    goto header;
  pos = 32;
  end = 32 + (size_t) hsize;
#define NEED(k) do { if (end - pos < (size_t) (k)) goto header; } while (0)
  NEED (4);
  count = fuzz_le32 (b + pos);
  pos += 4;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len, type, cnt;
    NEED (2);
    len = b[pos] | b[pos + 1] << 8;
    pos += 2;
    NEED ((size_t) len + 1);
    pos += len;
    type = b[pos++];
    switch (type) {
      case 1:
      case 3:
        NEED (8);
        pos += 8;
        break;
      case 2:
        NEED (4);
        pos += 4;
        break;
      case 4:
      case 5:
      case 6:
        NEED (4);
        cnt = fuzz_le32 (b + pos);
        pos += 4;
        NEED ((uint64_t) cnt * (type == 4 ? 1 : type == 5 ? 8 : 4));
        pos += (size_t) cnt *(type == 4 ? 1 : type == 5 ? 8 : 4);
        break;
      default:
        goto header;
    }
  }
  NEED (4);
  count = fuzz_le32 (b + pos);
  pos += 4;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len, ndim;
    uint64_t off, size;
    NEED (2);
    len = b[pos] | b[pos + 1] << 8;
    pos += 2;
    NEED ((size_t) len + 8);
    pos += len + 4;
    ndim = fuzz_le32 (b + pos);
    pos += 4;
    if (ndim > 4)
      goto header;
    NEED (4 * ndim + 20);
    pos += 4 * ndim;
    off = fuzz_le64 (b + pos);
    size = fuzz_le64 (b + pos + 8);
    pos += 16;
    if (off <= n && size <= n - off)
      fuzz_put_le32 (b + pos, (uint32_t) crc32 (crc32 (0, NULL, 0), b + off,
              (uInt) size));
    pos += 4;
  }
#undef NEED
header:
  hsize = fuzz_le64 (b + 16);
  if (hsize > n - 32)
    hsize = n - 32;
  crc = (uint32_t) crc32 (crc32 (0, NULL, 0), b, 28);
  crc = (uint32_t) crc32 (crc, b + 32, (uInt) hsize);
  fuzz_put_le32 (b + 28, crc);
}

#endif /* UDML_FUZZ_COMMON_H */
