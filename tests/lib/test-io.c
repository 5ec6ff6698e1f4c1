/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-io.c — model file and checkpoint I/O (design.md "Model file").
 *
 * Round trips are bit-exact (save -> load -> save gives the same bytes);
 * every malformed input is refused with its specific status and a message
 * naming the file; writes are atomic. The layout is walked here
 * independently of container.c, with an independent CRC32, to build damaged
 * files whose header checksum is still valid. Exit status 0 = all checks passed.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "udml.h"
#include "internal.h"
#include "model.h"
#include "../common/udml-test.h"

static char tmpdir[256];

static const char *
tpath (const char *name)
{
  static char buf[8][512];
  static int k;
  k = (k + 1) % 8;
  snprintf (buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

/* ------------------------------------------------------------ file helpers */

static uint8_t *
read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  uint8_t *p = NULL;
  long n;

  if (!f)
    return NULL;
  if (fseek (f, 0, SEEK_END) == 0 && (n = ftell (f)) >= 0) {
    p = malloc ((size_t) n + 1);
    rewind (f);
    if (p && fread (p, 1, (size_t) n, f) == (size_t) n)
      *len = (size_t) n;
    else {
      free (p);
      p = NULL;
    }
  }
  fclose (f);
  return p;
}

static void
write_file (const char *path, const void *p, size_t n)
{
  FILE *f = fopen (path, "wb");
  if (!f || fwrite (p, 1, n, f) != n) {
    fprintf (stderr, "test-io: cannot write %s\n", path);
    exit (1);
  }
  fclose (f);
}

static uint32_t
le32 (const uint8_t * p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
      (uint32_t) p[3] << 24;
}

static void
set_le32 (uint8_t * p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static void
set_le64 (uint8_t * p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

/* Bitwise CRC32 (IEEE, reflected), independent of zlib. */
static uint32_t
crc32_ref (uint32_t crc, const uint8_t * p, size_t n)
{
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static size_t
header_end (const uint8_t * b)
{
  return 32 + (size_t) (le32 (b + 16) | (uint64_t) le32 (b + 20) << 32);
}

/* Re-seals the header checksum of an edited image. */
static void
fix_header_crc (uint8_t * b)
{
  size_t end = header_end (b);
  uint32_t crc = crc32_ref (0, b, 28);
  crc = crc32_ref (crc, b + 32, end - 32);
  set_le32 (b + 28, crc);
}

/* Offset of the value of metadata key (after its type byte), or 0. */
static size_t
meta_value (const uint8_t * b, const char *key)
{
  size_t pos = 36, kl = strlen (key);
  uint32_t n = le32 (b + 32);

  for (uint32_t i = 0; i < n; i++) {
    size_t len = b[pos] | b[pos + 1] << 8;
    int hit = len == kl && !memcmp (b + pos + 2, key, kl);
    int type;
    pos += 2 + len;
    type = b[pos++];
    if (hit)
      return pos;
    switch (type) {
      case 1:
      case 3:
        pos += 8;
        break;
      case 2:
        pos += 4;
        break;
      case 4:
        pos += 4 + le32 (b + pos);
        break;
      case 5:
        pos += 4 + 8 * (size_t) le32 (b + pos);
        break;
      case 6:
        pos += 4 + 4 * (size_t) le32 (b + pos);
        break;
      default:
        return 0;
    }
  }
  return 0;
}

/* Offset of the tensor count (which follows the metadata). */
static size_t
tensor_count_off (const uint8_t * b)
{
  size_t pos = 36;
  uint32_t n = le32 (b + 32);

  for (uint32_t i = 0; i < n; i++) {
    size_t len = b[pos] | b[pos + 1] << 8;
    int type;
    pos += 2 + len;
    type = b[pos++];
    switch (type) {
      case 1:
      case 3:
        pos += 8;
        break;
      case 2:
        pos += 4;
        break;
      case 4:
        pos += 4 + le32 (b + pos);
        break;
      case 5:
        pos += 4 + 8 * (size_t) le32 (b + pos);
        break;
      case 6:
        pos += 4 + 4 * (size_t) le32 (b + pos);
        break;
    }
  }
  return pos;
}

/* Offset of tensor entry i: u16 name length, name, u32 dtype, u32 ndim,
 * dims, u64 offset, u64 size, u32 crc. */
static size_t
tensor_entry (const uint8_t * b, int i)
{
  size_t pos = tensor_count_off (b) + 4;
  for (int j = 0; j < i; j++) {
    size_t len = b[pos] | b[pos + 1] << 8;
    uint32_t ndim = le32 (b + pos + 2 + len + 4);
    pos += 2 + len + 8 + 4 * ndim + 20;
  }
  return pos;
}

static size_t
entry_ndim_off (const uint8_t * b, size_t e)
{
  return e + 2 + (b[e] | b[e + 1] << 8) + 4;
}

static uint64_t
entry_data_off (const uint8_t * b, size_t e)
{
  size_t p = entry_ndim_off (b, e);
  p += 4 + 4 * le32 (b + p);
  return le32 (b + p) | (uint64_t) le32 (b + p + 4) << 32;
}

/* ------------------------------------------------------------- expectations */

static UdmlStatus
load_status (const char *path, UdmlError * err)
{
  UdmlModel *m = (UdmlModel *) 0x1;
  UdmlStatus s;

  memset (err, 0, sizeof *err);
  s = udml_model_load (path, &m, err);
  if (s != UDML_OK)
    CHECK (m == NULL, "%s: failed load left a model pointer", path);
  else
    CHECK (m != NULL, "%s: load OK without a model", path);
  if (s == UDML_OK)
    udml_model_free (m);
  return s;
}

/* Load (and verify, unless verify_too is 0) must fail with want and name
 * the file in the message. */
static void
expect_refused (const char *what, const char *path, UdmlStatus want,
    int verify_too)
{
  UdmlError err;
  UdmlStatus s = load_status (path, &err);

  CHECK (s == want, "%s: load gave %s (%s), expected %s", what,
      udml_status_name (s), err.msg, udml_status_name (want));
  CHECK (s == UDML_OK || (err.code == s && strstr (err.msg, path)),
      "%s: error message does not name the file: '%s'", what, err.msg);
  if (verify_too) {
    memset (&err, 0, sizeof err);
    s = udml_model_verify (path, &err);
    CHECK (s == want, "%s: verify gave %s (%s), expected %s", what,
        udml_status_name (s), err.msg, udml_status_name (want));
  }
}

/* Writes an edited copy of image, re-sealing the header CRC if asked. */
static void
expect_image (const char *what, const uint8_t * image, size_t len,
    void (*edit) (uint8_t *, void *), void *user, int reseal,
    UdmlStatus want, int verify_too)
{
  uint8_t *b = xmalloc (len);
  const char *p = tpath ("edited.udml");

  memcpy (b, image, len);
  edit (b, user);
  if (reseal)
    fix_header_crc (b);
  write_file (p, b, len);
  expect_refused (what, p, want, verify_too);
  free (b);
}

/* ------------------------------------------------------------ model helpers */

static void
small_config (UdmlConfig * cfg)
{
  udml_config_default (cfg);
  cfg->mod[0].in_h = 16;
  cfg->mod[0].in_w = 21;
  cfg->mod[0].n_stages = 3;
  cfg->mod[0].channels[0] = 4;
  cfg->mod[0].channels[1] = 6;
  cfg->mod[0].channels[2] = 8;
  cfg->mod[0].norm_mean = -7.25f;
  cfg->mod[0].norm_std = 3.1f;
  cfg->mod[1].in_c = 3;
  cfg->mod[1].in_h = 12;
  cfg->mod[1].in_w = 12;
  cfg->mod[1].n_stages = 2;
  cfg->mod[1].channels[0] = 5;
  cfg->mod[1].channels[1] = 7;
  cfg->mod[1].norm_mean = 101.5f;
  cfg->mod[1].norm_std = 60.0f;
  cfg->n_classes = 3;
  snprintf (cfg->labels[0], UDML_NAME_LEN, "yes");
  snprintf (cfg->labels[1], UDML_NAME_LEN, "no");
  snprintf (cfg->labels[2], UDML_NAME_LEN, "label with spaces, é");
  cfg->est_hidden = 9;
  cfg->policy = UDML_POLICY_UDML_NUE;
  cfg->scaling = UDML_SCALING_PAPER;
  cfg->features.fps_num = 30000;
  cfg->features.fps_den = 1001;
  cfg->features.fmin = 20.5f;
  cfg->features.window_ns = 1500000000;
  cfg->features.hop_ns = 250000000;
}

/* Every tensor gets distinct values, including bit patterns a text or
 * double round trip would lose (non-finite values are refused at load). */
static void
fill_model (UdmlModel * m, uint64_t seed)
{
  UdmlRng rng;
  udml_rng_seed (&rng, seed, 3);
  for (int i = 0; i < udml_model_num_tensors (m); i++) {
    float *d = udml_model_tensor_data (m, i);
    size_t n = udml_model_tensor_size (m, i);
    for (size_t j = 0; j < n; j++)
      d[j] = udml_rng_normal (&rng);
  }
  {
    float *d = udml_model_tensor_data (m, 0);
    uint32_t tiny = 0x80000001u;        /* -(smallest subnormal) */
    d[0] = -0.0f;
    d[1] = 1e-40f;
    memcpy (&d[2], &tiny, 4);
    d[3] = 3.4e38f;
  }
}

static int
config_equal (const UdmlConfig * a, const UdmlConfig * b)
{
  const UdmlFeatureSpec *x = &a->features, *y = &b->features;
  int ok = a->n_modalities == b->n_modalities && a->n_classes == b->n_classes
      && a->est_hidden == b->est_hidden && a->est_norm == b->est_norm
      && a->policy == b->policy && a->scaling == b->scaling;

  for (int k = 0; ok && k < a->n_classes; k++)
    ok = !strcmp (a->labels[k], b->labels[k]);
  for (int m = 0; ok && m < a->n_modalities; m++) {
    const UdmlModalitySpec *p = &a->mod[m], *q = &b->mod[m];
    ok = !strcmp (p->name, q->name) && p->kind == q->kind
        && p->in_c == q->in_c && p->in_h == q->in_h && p->in_w == q->in_w
        && p->n_stages == q->n_stages
        && !memcmp (p->channels, q->channels, sizeof (int) * p->n_stages)
        && !memcmp (&p->norm_mean, &q->norm_mean, 4)
        && !memcmp (&p->norm_std, &q->norm_std, 4);
  }
  return ok && x->sample_rate == y->sample_rate && x->n_fft == y->n_fft
      && x->win_length == y->win_length && x->hop_length == y->hop_length
      && x->n_mels == y->n_mels && !memcmp (&x->fmin, &y->fmin, 4)
      && !memcmp (&x->fmax, &y->fmax, 4)
      && !memcmp (&x->log_floor, &y->log_floor, 4)
      && x->frame_width == y->frame_width
      && x->frame_height == y->frame_height
      && x->frame_channels == y->frame_channels && x->fps_num == y->fps_num
      && x->fps_den == y->fps_den && x->window_ns == y->window_ns
      && x->hop_ns == y->hop_ns && x->frames_per_window == y->frames_per_window;
}

/* Bit-exact tensor comparison; reports the first difference. */
static void
check_tensors_equal (const char *what, UdmlModel * a, UdmlModel * b)
{
  CHECK (udml_model_num_tensors (a) == udml_model_num_tensors (b),
      "%s: %d vs %d tensors", what, udml_model_num_tensors (a),
      udml_model_num_tensors (b));
  for (int i = 0; i < udml_model_num_tensors (a); i++) {
    const float *x = udml_model_tensor_data (a, i);
    const float *y = udml_model_tensor_data (b, i);
    size_t n = udml_model_tensor_size (a, i);
    size_t bad = n;
    CHECK (!strcmp (udml_model_tensor_name (a, i),
            udml_model_tensor_name (b, i)), "%s: tensor %d name", what, i);
    CHECK (n == udml_model_tensor_size (b, i), "%s: tensor %d size", what, i);
    for (size_t j = 0; j < n && bad == n; j++)
      if (memcmp (&x[j], &y[j], 4) != 0)
        bad = j;
    CHECK (bad == n, "%s: tensor '%s' differs at %zu: %.9g vs %.9g (atol 0,"
        " bit-exact)", what, udml_model_tensor_name (a, i), bad,
        bad < n ? x[bad] : 0.0, bad < n ? y[bad] : 0.0);
  }
}

static int
files_equal (const char *p, const char *q, int verbose)
{
  size_t n1 = 0, n2 = 0;
  uint8_t *a = read_file (p, &n1), *b = read_file (q, &n2);
  int eq = a && b && n1 == n2 && !memcmp (a, b, n1);
  if (a && b && !eq && verbose) {
    size_t i = 0;
    while (i < n1 && i < n2 && a[i] == b[i])
      i++;
    fprintf (stderr, "  %s (%zu bytes) and %s (%zu bytes) differ at byte "
        "%zu\n", p, n1, q, n2, i);
  }
  free (a);
  free (b);
  return eq;
}

/* Names in the test directory ending in ".tmp". */
static int
count_temp_files (void)
{
  DIR *d = opendir (tmpdir);
  struct dirent *e;
  int n = 0;
  if (!d)
    return -1;
  while ((e = readdir (d))) {
    size_t l = strlen (e->d_name);
    if (l > 4 && !strcmp (e->d_name + l - 4, ".tmp"))
      n++;
  }
  closedir (d);
  return n;
}

/* ------------------------------------------------------------------ edits */

static void
edit_byte (uint8_t * b, void *user)
{
  size_t off = *(size_t *) user;
  b[off] ^= 0x5a;
}

typedef struct
{
  size_t off;
  uint32_t v;
} Set32;

static void
edit_set32 (uint8_t * b, void *user)
{
  Set32 *s = user;
  set_le32 (b + s->off, s->v);
}

typedef struct
{
  size_t off;
  uint64_t v;
} Set64;

static void
edit_set64 (uint8_t * b, void *user)
{
  Set64 *s = user;
  set_le64 (b + s->off, s->v);
}

/* ------------------------------------------------------------------ tests */

static void
test_round_trip (const UdmlConfig * cfg, const char *a_path)
{
  UdmlError err = { 0 };
  UdmlModel *m = udml_model_new (cfg, 42, &err), *l = NULL;
  UdmlStatus s;
  const char *prov = "data=avdigits\nseed=42\nnote=two lines\n";

  if (!m) {
    fprintf (stderr, "test-io: udml_model_new: %s\n", err.msg);
    exit (1);
  }
  fill_model (m, 1);
  udml_model_set_dependency (m, 0, 0.37f);
  udml_model_set_dependency (m, 1, 1.91f);
  udml_model_set_provenance (m, prov);

  s = udml_model_save (m, a_path, &err);
  CHECK (s == UDML_OK, "save: %s", err.msg);
  s = udml_model_verify (a_path, &err);
  CHECK (s == UDML_OK, "verify: %s", err.msg);
  s = udml_model_load (a_path, &l, &err);
  CHECK (s == UDML_OK && l, "load: %s", err.msg);
  if (!l) {
    udml_model_free (m);
    return;
  }
  CHECK (config_equal (cfg, udml_model_config (l)), "config not restored");
  for (int i = 0; i < cfg->n_modalities; i++)
    CHECK (udml_model_dependency (l, i) == udml_model_dependency (m, i),
        "D[%d]: %.9g vs %.9g", i, udml_model_dependency (l, i),
        udml_model_dependency (m, i));
  CHECK (!strcmp (udml_model_provenance (l), prov), "provenance: '%s'",
      udml_model_provenance (l));
  CHECK (udml_model_num_params (l) == udml_model_num_params (m),
      "num_params %zu vs %zu", udml_model_num_params (l),
      udml_model_num_params (m));
  check_tensors_equal ("round trip", m, l);

  s = udml_model_save (l, tpath ("b.udml"), &err);
  CHECK (s == UDML_OK, "second save: %s", err.msg);
  CHECK (files_equal (a_path, tpath ("b.udml"), 1),
      "save -> load -> save is not byte-identical");
  {
    /* The header must put every tensor at a 64-byte boundary. */
    size_t len = 0;
    uint8_t *b = read_file (a_path, &len);
    CHECK (b && !memcmp (b, "UDML", 4), "magic");
    for (int i = 0; b && i < udml_model_num_tensors (m); i++)
      CHECK (entry_data_off (b, tensor_entry (b, i)) % 64 == 0,
          "tensor %d not 64-byte aligned", i);
    free (b);
  }
  udml_model_free (l);
  udml_model_free (m);
}

static void
test_truncation (const char *a_path)
{
  size_t len = 0, hend;
  uint8_t *img = read_file (a_path, &len);
  const char *p = tpath ("trunc.udml");
  int bad = 0, bad_verify = 0;
  size_t first_bad = 0;
  UdmlError err;

  hend = header_end (img);
  write_file (p, img, len);
  /* Shrinking one file in place keeps this fast: every length in the
   * preamble, header and padding, then a spread through the data. */
  for (size_t cut = len; cut-- > 0;) {
    UdmlStatus s, v;
    if (cut > hend + 200 && cut != len - 1 && cut % 997 != 0)
      continue;
    if (truncate (p, (off_t) cut) != 0) {
      CHECK (0, "truncate %s: %s", p, strerror (errno));
      break;
    }
    s = load_status (p, &err);
    if (s != UDML_ERR_TRUNCATED) {
      if (!bad)
        first_bad = cut;
      bad++;
    }
    v = udml_model_verify (p, &err);
    bad_verify += v != UDML_ERR_TRUNCATED;
  }
  CHECK (bad == 0, "%d truncated lengths not refused as TRUNCATED (first at "
      "%zu of %zu)", bad, first_bad, len);
  CHECK (bad_verify == 0, "verify: %d truncated lengths not TRUNCATED",
      bad_verify);
  free (img);
}

static void
test_malformed (const UdmlConfig * cfg, const char *a_path)
{
  size_t len = 0, off;
  uint8_t *img = read_file (a_path, &len);
  UdmlModel *ref = udml_model_new (cfg, 1, NULL);
  int nt = udml_model_num_tensors (ref);
  size_t e0 = tensor_entry (img, 0), elast = tensor_entry (img, nt - 1);
  const char *p = tpath ("x.udml");
  UdmlError err;

  /* empty, tiny and foreign files */
  write_file (p, "", 0);
  expect_refused ("empty file", p, UDML_ERR_TRUNCATED, 1);
  write_file (p, "UDM", 3);
  expect_refused ("3-byte prefix", p, UDML_ERR_TRUNCATED, 1);
  write_file (p, "GIF", 3);
  expect_refused ("3 foreign bytes", p, UDML_ERR_MAGIC, 1);
  write_file (p, "this is a text file, not a model at all\n", 40);
  expect_refused ("text file", p, UDML_ERR_MAGIC, 1);
  expect_refused ("missing file", tpath ("does-not-exist.udml"), UDML_ERR_IO,
      1);
  expect_refused ("directory", tmpdir, UDML_ERR_IO, 1);

  off = 0;
  expect_image ("bad magic", img, len, edit_byte, &off, 0, UDML_ERR_MAGIC, 1);
  {
    Set32 v = { 12, 2 };
    expect_image ("future version", img, len, edit_set32, &v, 0,
        UDML_ERR_VERSION, 1);
    v.v = 0xffffffffu;
    expect_image ("huge version", img, len, edit_set32, &v, 0,
        UDML_ERR_VERSION, 1);
    v.off = 8;
    v.v = 0x04030201u;
    expect_image ("big-endian marker", img, len, edit_set32, &v, 0,
        UDML_ERR_FORMAT, 1);
  }
  {
    Set64 v = { 16, (uint64_t) 1 << 40 };
    expect_image ("absurd header size", img, len, edit_set64, &v, 0,
        UDML_ERR_FORMAT, 1);
  }

  /* checksums: preamble, header, first and last tensor */
  off = 24;
  expect_image ("flipped reserved byte", img, len, edit_byte, &off, 0,
      UDML_ERR_CRC, 1);
  off = 40;
  expect_image ("flipped header byte", img, len, edit_byte, &off, 0,
      UDML_ERR_CRC, 1);
  off = (size_t) entry_data_off (img, e0) + 5;
  expect_image ("flipped byte in first tensor", img, len, edit_byte, &off, 0,
      UDML_ERR_CRC, 1);
  {
    UdmlModel *m = NULL;
    memset (&err, 0, sizeof err);
    udml_model_load (tpath ("edited.udml"), &m, &err);
    CHECK (strstr (err.msg, udml_model_tensor_name (ref, 0)) != NULL,
        "CRC error does not name tensor '%s': %s",
        udml_model_tensor_name (ref, 0), err.msg);
  }
  off = len - 1;
  expect_image ("flipped last byte", img, len, edit_byte, &off, 0,
      UDML_ERR_CRC, 1);
  {
    UdmlModel *m = NULL;
    memset (&err, 0, sizeof err);
    udml_model_verify (tpath ("edited.udml"), &err);
    CHECK (strstr (err.msg, udml_model_tensor_name (ref, nt - 1)) != NULL,
        "CRC error does not name tensor '%s': %s",
        udml_model_tensor_name (ref, nt - 1), err.msg);
    (void) m;
  }

  /* absurd dims and counts behind a valid header checksum */
  {
    Set32 v = { entry_ndim_off (img, e0) + 4, 0x40000000u };
    expect_image ("dim 2^30", img, len, edit_set32, &v, 1, UDML_ERR_DIMS, 1);
    v.v = 0;
    expect_image ("dim 0", img, len, edit_set32, &v, 1, UDML_ERR_DIMS, 1);
    v.off = entry_ndim_off (img, e0);
    v.v = 9;
    expect_image ("ndim 9", img, len, edit_set32, &v, 1, UDML_ERR_DIMS, 1);
    v.v = 0;
    expect_image ("ndim 0", img, len, edit_set32, &v, 1, UDML_ERR_DIMS, 1);
    v.off = tensor_count_off (img);
    v.v = 100000;
    expect_image ("100000 tensors", img, len, edit_set32, &v, 1,
        UDML_ERR_FORMAT, 1);
    v.v = (uint32_t) nt + 1;
    expect_image ("one tensor too many", img, len, edit_set32, &v, 1,
        UDML_ERR_FORMAT, 1);
    v.off = 32;
    v.v = 0xffffffffu;
    expect_image ("2^32 metadata entries", img, len, edit_set32, &v, 1,
        UDML_ERR_FORMAT, 1);
  }
  {
    /* key length 300 (u16 at 36) */
    Set32 v = { 36, 0 };
    uint8_t *b = xmalloc (len);
    memcpy (b, img, len);
    b[36] = 300 & 0xff;
    b[37] = 300 >> 8;
    fix_header_crc (b);
    write_file (p, b, len);
    expect_refused ("key length 300", p, UDML_ERR_FORMAT, 1);
    free (b);
    (void) v;
  }
  {
    /* a string longer than the limit */
    size_t at = meta_value (img, "provenance");
    Set32 v = { at, 0x7fffffffu };
    CHECK (at != 0, "provenance key not found");
    if (at)
      expect_image ("2^31-byte string", img, len, edit_set32, &v, 1,
          UDML_ERR_FORMAT, 1);
  }
  {
    /* tensor offsets past the end, misaligned, overlapping */
    size_t e = entry_ndim_off (img, elast);
    Set64 v = { e + 4 + 4 * le32 (img + e), (uint64_t) 1 << 62 };
    expect_image ("offset 2^62", img, len, edit_set64, &v, 1,
        UDML_ERR_TRUNCATED, 1);
    v.v = UINT64_MAX - 63;
    expect_image ("offset 2^64-64", img, len, edit_set64, &v, 1,
        UDML_ERR_TRUNCATED, 1);
    v.v = entry_data_off (img, elast) + 4;
    expect_image ("misaligned offset", img, len, edit_set64, &v, 1,
        UDML_ERR_FORMAT, 1);
    v.v = entry_data_off (img, e0);
    expect_image ("overlapping tensors", img, len, edit_set64, &v, 1,
        UDML_ERR_FORMAT, 1);
    v.off += 8;                 /* size field */
    v.v = 8;
    expect_image ("size disagrees with dims", img, len, edit_set64, &v, 1,
        UDML_ERR_FORMAT, 1);
  }
  {
    /* trailing garbage after the last tensor */
    uint8_t *b = xmalloc (len + 7);
    memcpy (b, img, len);
    memset (b + len, 0xab, 7);
    write_file (p, b, len + 7);
    expect_refused ("trailing bytes", p, UDML_ERR_FORMAT, 1);
    free (b);
  }
  {
    /* a config whose tensors no longer fit: est_hidden 9 -> 10 changes
     * the estimator dims the model expects (verify reads no model) */
    Set64 v = { meta_value (img, "config.est_hidden"), 10 };
    CHECK (v.off != 0, "est_hidden key not found");
    if (v.off)
      expect_image ("est_hidden changed", img, len, edit_set64, &v, 1,
          UDML_ERR_DIMS, 0);
    v.v = 0;
    if (v.off)
      expect_image ("est_hidden 0", img, len, edit_set64, &v, 1,
          UDML_ERR_FORMAT, 1);
  }
  {
    /* a config far larger than the file's tensor data is refused before
     * the model is allocated (else DIMS, after allocating it) */
    size_t at = meta_value (img, "modality.0.channels");
    CHECK (at != 0, "modality.0.channels key not found");
    if (at) {
      Set64 v = { at + 4 + 8, 4096 };
      expect_image ("channels far beyond the file", img, len, edit_set64, &v,
          1, UDML_ERR_MISMATCH, 0);
    }
  }
  {
    /* a missing metadata key */
    size_t at = meta_value (img, "config.n_classes");
    CHECK (at != 0, "n_classes key not found");
    if (at) {
      uint8_t *b = xmalloc (len);
      memcpy (b, img, len);
      b[at - 2] = 'z';          /* "config.n_classez" */
      fix_header_crc (b);
      write_file (p, b, len);
      expect_refused ("missing key", p, UDML_ERR_FORMAT, 1);
      free (b);
    }
  }
  {
    /* unknown policy name, same length */
    size_t at = meta_value (img, "config.policy");
    CHECK (at != 0, "policy key not found");
    if (at) {
      uint8_t *b = xmalloc (len);
      memcpy (b, img, len);
      b[at + 4] = 'X';
      fix_header_crc (b);
      write_file (p, b, len);
      expect_refused ("unknown policy", p, UDML_ERR_FORMAT, 1);
      free (b);
    }
  }
  udml_model_free (ref);
  free (img);
}

/* Random header damage behind a valid checksum, and random preamble
 * damage: never a crash (valgrind checks the memory side), never OK with
 * the wrong data. */
static void
test_fuzz (const char *a_path)
{
  size_t len = 0, hend;
  uint8_t *img = read_file (a_path, &len), *b = xmalloc (len);
  const char *p = tpath ("fuzz.udml");
  UdmlRng rng;
  int counts[UDML_ERR_NUMERIC + 1] = { 0 };
  UdmlError err;

  hend = header_end (img);
  udml_rng_seed (&rng, 2024, 0);
  for (int it = 0; it < 300; it++) {
    int nflip = 1 + (int) (udml_rng_u64 (&rng) % 4);
    UdmlStatus s;
    memcpy (b, img, len);
    for (int k = 0; k < nflip; k++) {
      size_t at = 32 + udml_rng_u64 (&rng) % (hend - 32);
      if (it % 10 == 9)
        at = udml_rng_u64 (&rng) % 32;
      b[at] = (uint8_t) udml_rng_u64 (&rng);
    }
    if (it % 10 != 9)
      fix_header_crc (b);
    write_file (p, b, len);
    s = load_status (p, &err);
    CHECK ((int) s >= 0 && s <= UDML_ERR_NUMERIC, "fuzz %d: status %d", it,
        (int) s);
    if ((int) s >= 0 && s <= UDML_ERR_NUMERIC)
      counts[s]++;
    udml_model_verify (p, &err);
  }
  printf ("fuzz: 300 damaged headers: %d ok, %d format, %d dims, %d crc, "
      "%d truncated, %d mismatch, %d magic, %d version\n", counts[UDML_OK],
      counts[UDML_ERR_FORMAT], counts[UDML_ERR_DIMS], counts[UDML_ERR_CRC],
      counts[UDML_ERR_TRUNCATED], counts[UDML_ERR_MISMATCH],
      counts[UDML_ERR_MAGIC], counts[UDML_ERR_VERSION]);
  free (b);
  free (img);
}

static void
test_atomic (const UdmlConfig * cfg, const char *a_path)
{
  UdmlError err;
  UdmlModel *m = udml_model_new (cfg, 99, NULL);
  size_t len = 0;
  uint8_t *before = read_file (a_path, &len), *after;
  struct rlimit old, lim;
  UdmlStatus s;
  size_t n2 = 0;

  /* A write that fails half way (file size limit) must leave the old file
   * and no temporary file. Works as root too, unlike a read-only dir. */
  signal (SIGXFSZ, SIG_IGN);
  getrlimit (RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  CHECK (len > 4096, "model file too small for the size-limit test");
  setrlimit (RLIMIT_FSIZE, &lim);
  memset (&err, 0, sizeof err);
  s = udml_model_save (m, a_path, &err);
  setrlimit (RLIMIT_FSIZE, &old);
  CHECK (s == UDML_ERR_IO, "save past the size limit gave %s: %s",
      udml_status_name (s), err.msg);
  CHECK (strstr (err.msg, a_path) != NULL, "message lacks the path: %s",
      err.msg);
  after = read_file (a_path, &n2);
  CHECK (after && n2 == len && !memcmp (before, after, len),
      "failed save changed the existing file");
  free (after);
  CHECK (count_temp_files () == 0, "failed save left a temporary file");
  CHECK (udml_model_verify (a_path, &err) == UDML_OK,
      "old file no longer verifies: %s", err.msg);

  /* unwritable directory: only meaningful without root's override */
  if (geteuid () != 0) {
    const char *ro = tpath ("ro");
    char target[600];
    mkdir (ro, 0700);
    snprintf (target, sizeof target, "%s/m.udml", ro);
    CHECK (udml_model_save (m, target, &err) == UDML_OK, "save: %s", err.msg);
    chmod (ro, 0500);
    s = udml_model_save (m, target, &err);
    chmod (ro, 0700);
    CHECK (s == UDML_ERR_IO, "save into read-only dir gave %s",
        udml_status_name (s));
    CHECK (udml_model_verify (target, &err) == UDML_OK,
        "old file damaged: %s", err.msg);
    unlink (target);
    rmdir (ro);
  }

  /* missing directory; a directory as the target */
  s = udml_model_save (m, tpath ("no-such-dir/m.udml"), &err);
  CHECK (s == UDML_ERR_IO && strstr (err.msg, "no-such-dir"),
      "save into a missing dir gave %s: %s", udml_status_name (s), err.msg);
  mkdir (tpath ("adir"), 0700);
  s = udml_model_save (m, tpath ("adir"), &err);
  CHECK (s == UDML_ERR_IO, "save over a directory gave %s",
      udml_status_name (s));
  rmdir (tpath ("adir"));
  CHECK (count_temp_files () == 0, "temporary files left behind");

  /* a good save replaces the file */
  CHECK (udml_model_save (m, a_path, &err) == UDML_OK, "save: %s", err.msg);
  CHECK (!files_equal (a_path, tpath ("b.udml"), 0), "file was not replaced");
  CHECK (count_temp_files () == 0, "temporary files left behind");
  free (before);
  udml_model_free (m);
}

/* A checkpoint from before the data fingerprint (key absent) loads with
 * fingerprint 0, unknown. */
static void
test_legacy_fingerprint (const char *ck, UdmlModel * r, size_t n)
{
  static const char key[] = "checkpoint.data_fingerprint";
  const char *old = tpath ("old.ckpt");
  UdmlCheckpointState got;
  UdmlError err = { 0 };
  float *mom = xcalloc (n + 1, sizeof *mom);
  size_t len = 0, off;
  uint8_t *b = read_file (ck, &len);
  uint64_t fp = 1;
  UdmlStatus s;

  off = b ? meta_value (b, key) : 0;
  CHECK (off > 0, "no %s in the checkpoint", key);
  if (off) {
    b[off - 2] = 'X';           /* last key byte: an unknown key now */
    fix_header_crc (b);
    write_file (old, b, len);
    memset (&got, 0xab, sizeof got);
    s = udml_checkpoint_load (old, r, &got, mom, n, &err);
    CHECK (s == UDML_OK && got.data_fingerprint == 0,
        "checkpoint without a fingerprint gave %s (%s), fingerprint %016llx",
        udml_status_name (s), err.msg,
        (unsigned long long) got.data_fingerprint);
    s = udml_checkpoint_data_fingerprint (old, &fp, &err);
    CHECK (s == UDML_OK && fp == 0, "its fingerprint: %s, %016llx",
        udml_status_name (s), (unsigned long long) fp);
  }
  free (b);
  free (mom);
}

/* Non-finite run state, weights or momentum in a checkpoint are refused
 * before the model is touched. */
static void
test_checkpoint_non_finite (UdmlModel * m, const UdmlCheckpointState * st,
    float *mom, size_t n)
{
  const char *ck = tpath ("nonfinite.ckpt");
  UdmlModel *r = udml_model_new (udml_model_config (m), 9, NULL);
  UdmlModel *snap = udml_model_new (udml_model_config (m), 9, NULL);
  float *mom2 = xcalloc (n + 1, sizeof *mom2);
  UdmlError err = { 0 };
  UdmlCheckpointState bad, got;
  float keep = mom[n / 2];
  float mean = udml_model_config (m)->mod[1].norm_mean;
  float std = udml_model_config (m)->mod[1].norm_std;
  UdmlStatus s;

  for (int k = 0; k < 4; k++) {
    bad = *st;
    if (k == 0)
      bad.loss_sum = NAN;
    else if (k == 1)
      bad.dep_ema[1] = INFINITY;
    else if (k == 2)
      mom[n / 2] = -INFINITY;
    else
      udml_model_set_normalisation (m, 1, INFINITY, std);
    s = udml_checkpoint_save (ck, m, &bad, mom, n, &err);
    CHECK (s == UDML_OK, "save of non-finite checkpoint %d: %s", k, err.msg);
    mom[n / 2] = keep;
    udml_model_set_normalisation (m, 1, mean, std);
    s = udml_checkpoint_load (ck, r, &got, mom2, n, &err);
    CHECK (s == UDML_ERR_FORMAT && strstr (err.msg, "non-finite"),
        "non-finite checkpoint %d gave %s: %s", k, udml_status_name (s),
        err.msg);
    check_tensors_equal ("refused checkpoint leaves the model", snap, r);
  }
  free (mom2);
  udml_model_free (r);
  udml_model_free (snap);
}

static void
test_checkpoint (const UdmlConfig * cfg)
{
  UdmlError err = { 0 };
  UdmlModel *m = udml_model_new (cfg, 5, NULL);
  UdmlModel *r = udml_model_new (cfg, 6, NULL);
  UdmlCheckpointState st, got;
  size_t n = 0, len = 0;
  float *mom, *mom2;
  const char *ck = tpath ("run.ckpt"), *ck2 = tpath ("run2.ckpt");
  UdmlStatus s;
  UdmlRng rng;

  udml_model_params (m, &n);
  mom = xmalloc (n * sizeof *mom);
  mom2 = xcalloc (n + 1, sizeof *mom2);
  udml_rng_seed (&rng, 77, 0);
  for (size_t i = 0; i < n; i++)
    mom[i] = udml_rng_normal (&rng);
  fill_model (m, 2);
  udml_model_set_dependency (m, 0, 2.5f);
  udml_model_set_dependency (m, 1, 0.125f);
  udml_model_set_provenance (m, "run=ckpt");
  udml_model_set_normalisation (m, 0, -3.0f, 2.0f);

  memset (&st, 0, sizeof st);
  st.seed = 0xfedcba9876543210ull;
  st.policy = UDML_POLICY_UDML_NUE;
  st.epochs = 30;
  st.batch = 64;
  st.epoch = 17;
  st.step = 5;
  st.global_step = 12345678901ll;
  st.dep[0] = 1.5f;
  st.dep[1] = 0.75f;
  st.dep_ema[0] = 1.25f;
  st.dep_ema[1] = 0.5f;
  st.loss_sum = 1234.5678901234;
  st.correct_sum = 321.0;
  st.seen = 640;
  st.data_fingerprint = 0xc0ffee0123456789ull;  /* top bit set: all 64 kept */

  s = udml_checkpoint_save (ck, m, &st, mom, n, &err);
  CHECK (s == UDML_OK, "checkpoint save: %s", err.msg);
  memset (&got, 0, sizeof got);
  s = udml_checkpoint_load (ck, r, &got, mom2, n, &err);
  CHECK (s == UDML_OK, "checkpoint load: %s", err.msg);
  CHECK (got.data_fingerprint == st.data_fingerprint,
      "data fingerprint not restored: %016llx",
      (unsigned long long) got.data_fingerprint);
  {
    uint64_t fp = 0;
    s = udml_checkpoint_data_fingerprint (ck, &fp, &err);
    CHECK (s == UDML_OK && fp == st.data_fingerprint,
        "udml_checkpoint_data_fingerprint gave %s, %016llx (%s)",
        udml_status_name (s), (unsigned long long) fp, err.msg);
    s = udml_checkpoint_data_fingerprint (tpath ("none.ckpt"), &fp, &err);
    CHECK (s == UDML_ERR_IO, "fingerprint of a missing file gave %s",
        udml_status_name (s));
  }
  check_tensors_equal ("checkpoint", m, r);
  CHECK (!memcmp (mom, mom2, n * sizeof *mom), "momentum not restored");
  CHECK (got.seed == st.seed && got.policy == st.policy
      && got.epochs == st.epochs && got.batch == st.batch
      && got.epoch == st.epoch && got.step == st.step
      && got.global_step == st.global_step && got.seen == st.seen
      && !memcmp (got.dep, st.dep, sizeof st.dep)
      && !memcmp (got.dep_ema, st.dep_ema, sizeof st.dep_ema)
      && got.loss_sum == st.loss_sum && got.correct_sum == st.correct_sum,
      "checkpoint state not restored");
  CHECK (udml_model_dependency (r, 1) == 0.125f, "D not restored: %g",
      udml_model_dependency (r, 1));
  CHECK (udml_model_config (r)->mod[0].norm_mean == -3.0f,
      "normalisation not restored");
  udml_model_set_provenance (r, "run=ckpt");
  s = udml_checkpoint_save (ck2, r, &got, mom2, n, &err);
  CHECK (s == UDML_OK && files_equal (ck, ck2, 1),
      "checkpoint save -> load -> save not byte-identical");

  /* cross-loading and damage */
  expect_refused ("checkpoint as model", ck, UDML_ERR_MAGIC, 1);
  udml_model_save (m, tpath ("m.udml"), &err);
  s = udml_checkpoint_load (tpath ("m.udml"), r, &got, mom2, n, &err);
  CHECK (s == UDML_ERR_MAGIC, "model as checkpoint gave %s",
      udml_status_name (s));
  s = udml_checkpoint_load (ck, r, &got, mom2, n - 1, &err);
  CHECK (s == UDML_ERR_MISMATCH, "momentum size mismatch gave %s",
      udml_status_name (s));
  {
    uint8_t *b = read_file (ck, &len);
    UdmlModel *snap = udml_model_new (cfg, 8, NULL);
    fill_model (r, 3);
    fill_model (snap, 3);
    b[len - 1] ^= 1;            /* the momentum, read last */
    write_file (ck2, b, len);
    s = udml_checkpoint_load (ck2, r, &got, mom2, n, &err);
    CHECK (s == UDML_ERR_CRC, "damaged checkpoint gave %s",
        udml_status_name (s));
    check_tensors_equal ("damaged checkpoint leaves the model", snap, r);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 3) {
      write_file (ck2, b, cut);
      s = udml_checkpoint_load (ck2, r, &got, mom2, n, &err);
      CHECK (s == UDML_ERR_TRUNCATED, "checkpoint cut at %zu gave %s", cut,
          udml_status_name (s));
    }
    udml_model_free (snap);
    free (b);
  }
  {
    UdmlConfig c2 = *cfg;
    UdmlModel *o;
    c2.mod[1].channels[1] = 11;
    o = udml_model_new (&c2, 1, NULL);
    s = udml_checkpoint_load (ck, o, &got, mom2, udml_model_num_params (o) <=
        n ? udml_model_num_params (o) : n, &err);
    CHECK (s == UDML_ERR_MISMATCH && strstr (err.msg, ck),
        "checkpoint into a different architecture gave %s: %s",
        udml_status_name (s), err.msg);
    udml_model_free (o);
    c2 = *cfg;
    snprintf (c2.labels[1], UDML_NAME_LEN, "maybe");
    o = udml_model_new (&c2, 1, NULL);
    s = udml_checkpoint_load (ck, o, &got, mom2, n, &err);
    CHECK (s == UDML_ERR_MISMATCH, "checkpoint with other labels gave %s",
        udml_status_name (s));
    udml_model_free (o);
  }
  test_legacy_fingerprint (ck, r, n);
  test_checkpoint_non_finite (m, &st, mom, n);
  CHECK (count_temp_files () == 0, "temporary files left behind");
  free (mom);
  free (mom2);
  udml_model_free (m);
  udml_model_free (r);
}

static void
remove_tmpdir (void)
{
  DIR *d = opendir (tmpdir);
  struct dirent *e;
  if (!d)
    return;
  while ((e = readdir (d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      unlink (tpath (e->d_name));
  closedir (d);
  rmdir (tmpdir);
}

/* ------------------------------------------------------- load-time limits */

/* A small file may declare an input of gigabytes: load and verify refuse an
 * input over UDML_MAX_INPUT_VALUES or an inference workspace over
 * UDML_MAX_SAMPLE_WORKSPACE per sample, naming the figure. */
static void
test_load_limits (const UdmlConfig * base)
{
  static const struct
  {
    int h, w, c0;
    const char *figure;         /* must appear in the error */
  } cases[] = {
    {4096, 4096, 2, "16777216 values (limit 4194304)"},
    {1024, 1024, 64, "MiB of workspace per sample (limit 256 MiB)"},
  };
  const char *path = tpath ("big.udml");
  UdmlError err = { 0 };
  UdmlModel *m;
  size_t bytes;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    UdmlConfig c = *base;
    c.mod[1].in_c = 1;
    c.mod[1].in_h = cases[i].h;
    c.mod[1].in_w = cases[i].w;
    c.mod[1].channels[0] = cases[i].c0;
    m = udml_model_new (&c, 1, &err);
    CHECK (m && udml_model_save (m, path, &err) == UDML_OK, "save %dx%d: %s",
        cases[i].h, cases[i].w, err.msg);
    udml_model_free (m);
    expect_refused (cases[i].figure, path, UDML_ERR_DIMS, 1);
    memset (&err, 0, sizeof err);
    udml_model_load (path, &m, &err);
    CHECK (strstr (err.msg, cases[i].figure), "error does not state '%s': %s",
        cases[i].figure, err.msg);
  }

  /* the shipped shape is far inside the limit */
  {
    UdmlConfig c;
    udml_config_default (&c);
    m = udml_model_new (&c, 1, &err);
    bytes = m ? udml_work_bytes (m, 1, 0) : SIZE_MAX;
    CHECK (bytes < UDML_MAX_SAMPLE_WORKSPACE / 16,
        "default model needs %zu bytes per sample", bytes);
    udml_model_free (m);
  }
}

/* Non-finite configuration values, D or weights are refused at load (and
 * by verify): they would give wrong labels with no other sign. */
static void
test_non_finite (const UdmlConfig * cfg)
{
  const char *path = tpath ("nonfinite.udml");
  UdmlError err = { 0 };
  UdmlConfig c = *cfg;

  for (int k = 0; k < 5; k++) {
    UdmlModel *m = udml_model_new (cfg, 4, &err);
    const char *what[] = { "norm_std = inf", "norm_mean = inf",
      "NaN weight", "inf running statistic", "NaN dependency"
    };
    if (k == 0)
      udml_model_set_normalisation (m, 1, 0.0f, INFINITY);
    else if (k == 1)
      udml_model_set_normalisation (m, 0, INFINITY, 1.0f);
    else if (k == 2)
      udml_model_tensor_data (m, 1)[3] = NAN;
    else if (k == 3)
      udml_model_tensor_data (m, udml_model_num_tensors (m) - 1)[0] = INFINITY;
    CHECK (udml_model_save (m, path, &err) == UDML_OK, "save: %s", err.msg);
    udml_model_free (m);
    if (k == 4) {
      size_t len = 0, off;
      uint8_t *b = read_file (path, &len);
      off = b ? meta_value (b, "modality.0.dependency") : 0;
      CHECK (off > 0, "no dependency key");
      if (off) {
        set_le32 (b + off, 0x7fc00000u);
        fix_header_crc (b);
        write_file (path, b, len);
      }
      free (b);
    }
    expect_refused (what[k], path, UDML_ERR_FORMAT, 1);
    memset (&err, 0, sizeof err);
    load_status (path, &err);
    CHECK (strstr (err.msg, "non-finite"), "%s: error '%s'", what[k], err.msg);
  }

  /* and a configuration that says so is invalid before any file exists */
  c.mod[0].norm_std = INFINITY;
  CHECK (udml_config_validate (&c, &err) == UDML_ERR_ARG,
      "config with norm_std inf validated");
  c = *cfg;
  c.mod[1].norm_mean = -INFINITY;
  CHECK (udml_model_new (&c, 1, &err) == NULL,
      "model with norm_mean -inf built");
}

/* Files written before the estimator input was normalised have no
 * config.est_norm key: they load as est_norm 0; a normalised model whose key
 * went missing is refused, its extra tensors do not fit. */
static void
test_legacy_est_norm (const UdmlConfig * cfg)
{
  static const char key[] = "config.est_norm";
  for (int norm = 0; norm <= 1; norm++) {
    UdmlConfig c = *cfg;
    UdmlError err = { 0 };
    UdmlModel *m, *l = NULL;
    uint8_t *b;
    size_t len = 0, off;
    const char *path = tpath ("legacy.udml");

    c.est_norm = norm ? 0.25f : 0.0f;
    m = udml_model_new (&c, 7, &err);
    CHECK (m && udml_model_save (m, path, &err) == UDML_OK, "save: %s",
        err.msg);
    udml_model_free (m);
    b = read_file (path, &len);
    off = b ? meta_value (b, key) : 0;
    CHECK (off > 0, "no %s in the file", key);
    if (!off) {
      free (b);
      continue;
    }
    b[off - 2] = 'X';           /* last key byte, before the type byte */
    fix_header_crc (b);
    write_file (path, b, len);
    free (b);
    if (norm) {
      expect_refused ("est_norm model without its key", path, UDML_ERR_MISMATCH,
          0);
      continue;
    }
    CHECK (udml_model_load (path, &l, &err) == UDML_OK, "legacy load: %s",
        err.msg);
    if (l)
      CHECK (udml_model_config (l)->est_norm == 0.0f, "legacy est_norm %g",
          (double) udml_model_config (l)->est_norm);
    udml_model_free (l);
  }
}

/* A model's whole input spec survives the file: RGB frames, two frames
 * per window stacked as channels, 0.5 s windows, another rate and mel
 * count, word labels. A file without the frames key (format as written
 * before it existed) loads as one frame per window. */
static void
test_spec_round_trip (const UdmlConfig * base)
{
  UdmlConfig c = *base;
  UdmlFeatureSpec *fs = &c.features;
  UdmlError err = { 0 };
  UdmlModel *m, *l = NULL;
  const char *path = tpath ("spec.udml");
  uint8_t *b;
  size_t len = 0, off;

  fs->sample_rate = 22050;
  fs->n_fft = 1024;
  fs->win_length = 551;
  fs->hop_length = 221;
  fs->n_mels = 16;
  fs->fmax = 11025.0f;
  fs->frame_width = 12;
  fs->frame_height = 12;
  fs->frame_channels = 3;
  fs->frames_per_window = 2;
  fs->fps_num = 15;
  fs->fps_den = 1;
  fs->window_ns = 500000000;
  fs->hop_ns = 500000000;
  c.mod[1].in_c = 6;
  c.n_classes = 4;
  snprintf (c.labels[0], UDML_NAME_LEN, "hammer");
  snprintf (c.labels[1], UDML_NAME_LEN, "saw");
  snprintf (c.labels[2], UDML_NAME_LEN, "drill");
  snprintf (c.labels[3], UDML_NAME_LEN, "Straße");
  m = udml_model_new (&c, 11, &err);
  CHECK (m && udml_model_save (m, path, &err) == UDML_OK, "spec save: %s",
      err.msg);
  CHECK (udml_model_load (path, &l, &err) == UDML_OK, "spec load: %s", err.msg);
  if (m && l) {
    const UdmlFeatureSpec *g = &udml_model_config (l)->features;
    CHECK (config_equal (udml_model_config (m), udml_model_config (l)),
        "spec not restored: frames %d channels %d %dx%d fps %d/%d window "
        "%lld rate %d mels %d", g->frames_per_window, g->frame_channels,
        g->frame_width, g->frame_height, g->fps_num, g->fps_den,
        (long long) g->window_ns, g->sample_rate, g->n_mels);
  }
  udml_model_free (m);
  udml_model_free (l);
  l = NULL;

  /* the same file without the key: one frame per window, then the video
   * input of 6 channels does not follow from 3-channel frames, which the
   * data layer reports; the core loads it as it is */
  b = read_file (path, &len);
  off = b ? meta_value (b, "features.frames_per_window") : 0;
  CHECK (off > 0, "no features.frames_per_window in the file");
  if (off) {
    b[off - 2] = 'X';
    fix_header_crc (b);
    write_file (path, b, len);
    CHECK (udml_model_load (path, &l, &err) == UDML_OK, "keyless load: %s",
        err.msg);
    if (l)
      CHECK (udml_model_config (l)->features.frames_per_window == 1,
          "a file without the key: %d frames per window",
          udml_model_config (l)->features.frames_per_window);
    udml_model_free (l);
  }
  free (b);
}

int
main (void)
{
  UdmlConfig cfg;
  const char *base = getenv ("TMPDIR");
  char a_path[600];

  snprintf (tmpdir, sizeof tmpdir, "%s/udml-test-io-XXXXXX",
      base && *base ? base : "/tmp");
  if (!mkdtemp (tmpdir)) {
    fprintf (stderr, "test-io: mkdtemp: %s\n", strerror (errno));
    return 1;
  }
  small_config (&cfg);
  snprintf (a_path, sizeof a_path, "%s", tpath ("a.udml"));

  test_round_trip (&cfg, a_path);
  test_legacy_est_norm (&cfg);
  test_spec_round_trip (&cfg);
  test_truncation (a_path);
  test_malformed (&cfg, a_path);
  test_fuzz (a_path);
  test_checkpoint (&cfg);
  test_load_limits (&cfg);
  test_non_finite (&cfg);
  test_atomic (&cfg, a_path);

  remove_tmpdir ();
  return test_summary ("test-io");
}
