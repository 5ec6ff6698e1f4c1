/* manifest.c — manifest parsing, feature extraction and the feature cache.
 *
 * Cache file (one per manifest and feature configuration), written
 * atomically (temp file + rename):
 *   "UDMLFC01" | u64 key | u32 n_rows | u32 n_mod | n_mod x u32 F
 *   | n_rows x (i32 line, i32 label or -1, u32 len, len bytes of error)
 *   | per modality: n_good x F floats | u64 FNV-1a of everything before.
 * The key hashes the manifest bytes, the feature spec, the input shapes,
 * the labels and the size and mtime of every referenced file, so any change
 * of data or configuration misses the cache instead of reusing stale
 * features.
 */
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "media.h"

#define CACHE_MAGIC "UDMLFC01"
#define CACHE_VERSION_TAG "udml-featcache-1"

typedef struct
{
  int line;
  char *a_path;                 /* resolved; equal to v_path for `path` rows */
  char *v_path;
  char *label;
  int y;                        /* label index, -1 unknown */
  char *error;                  /* NULL when good */
} Row;

typedef struct
{
  Row *rows;
  int n_rows;
  int single;                   /* `path,label` manifest */
} Manifest;

uint64_t
manifest_hash (uint64_t h, const void *data, size_t n)
{
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t
hash_int (uint64_t h, int64_t v)
{
  return manifest_hash (h, &v, sizeof v);
}

static uint64_t
hash_float (uint64_t h, float v)
{
  return manifest_hash (h, &v, sizeof v);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *
xstrdup (const char *s)
{
  size_t n = strlen (s) + 1;
  char *d = malloc (n);
  if (d)
    memcpy (d, s, n);
  return d;
}

static char *
xprintf (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  char *s = malloc (n + 1);
  if (!s)
    return NULL;
  va_start (ap, fmt);
  vsnprintf (s, n + 1, fmt, ap);
  va_end (ap);
  return s;
}

static char *
read_file (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0;
  if (!f)
    return NULL;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 65536;
      char *nb = realloc (buf, cap);
      if (!nb) {
        free (buf);
        fclose (f);
        return NULL;
      }
      buf = nb;
    }
    size_t got = fread (buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  int bad = ferror (f);
  fclose (f);
  if (bad) {
    free (buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* Directory part of path ("." if none), (transfer full). */
static char *
dir_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  if (!slash)
    return xstrdup (".");
  if (slash == path)
    return xstrdup ("/");
  char *d = malloc (slash - path + 1);
  if (d) {
    memcpy (d, path, slash - path);
    d[slash - path] = '\0';
  }
  return d;
}

static const char *
base_of (const char *path)
{
  const char *slash = strrchr (path, '/');
  return slash ? slash + 1 : path;
}

static char *
resolve (const char *dir, const char *path)
{
  if (path[0] == '/' || strcmp (dir, ".") == 0)
    return xstrdup (path);
  return xprintf ("%s/%s", dir, path);
}

/* Splits one CSV line in place into at most max fields; handles double
 * quotes ("" inside quotes is a quote). Returns the field count. */
static int
split_csv (char *line, char **fields, int max)
{
  int n = 0;
  char *p = line;
  for (;;) {
    char *out = p, *start = p;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0')
          break;
        if (*p == '"') {
          if (p[1] == '"') {
            *out++ = '"';
            p += 2;
            continue;
          }
          p++;
          break;
        }
        *out++ = *p++;
      }
      while (*p && *p != ',')
        p++;
    } else {
      while (*p && *p != ',')
        *out++ = *p++;
    }
    char end = *p;
    *out = '\0';
    /* trim surrounding blanks */
    while (*start == ' ' || *start == '\t')
      start++;
    size_t l = strlen (start);
    while (l > 0 && (start[l - 1] == ' ' || start[l - 1] == '\t'))
      start[--l] = '\0';
    if (n < max)
      fields[n] = start;
    n++;
    if (end != ',')
      break;
    p++;
  }
  return n;
}

static void
manifest_free (Manifest * mf)
{
  for (int i = 0; i < mf->n_rows; i++) {
    Row *r = &mf->rows[i];
    if (r->v_path != r->a_path)
      free (r->v_path);
    free (r->a_path);
    free (r->label);
    free (r->error);
  }
  free (mf->rows);
  mf->rows = NULL;
  mf->n_rows = 0;
}

static int
label_index (const UdmlConfig * cfg, const char *label)
{
  for (int k = 0; k < cfg->n_classes; k++)
    if (strcmp (cfg->labels[k], label) == 0)
      return k;
  return -1;
}

/* Parses text into rows. Returns 0 or 1 after printing the reason. */
static int
manifest_parse (const char *manifest, char *text, const UdmlConfig * cfg,
    const char *prog, Manifest * mf)
{
  char *dir = dir_of (manifest);
  int col_path = -1, col_audio = -1, col_video = -1, col_label = -1, n_cols = 0;
  int have_header = 0, cap = 0, ret = 1;
  char *save = text, *line;
  int lineno = 0;

  memset (mf, 0, sizeof *mf);
  while ((line = save) != NULL) {
    char *nl = strchr (line, '\n');
    if (nl) {
      *nl = '\0';
      save = nl + 1;
    } else {
      save = NULL;
      if (*line == '\0')
        break;
    }
    lineno++;
    size_t l = strlen (line);
    if (l > 0 && line[l - 1] == '\r')
      line[--l] = '\0';
    /* a UTF-8 byte order mark on the header */
    if (lineno == 1 && (unsigned char) line[0] == 0xef
        && (unsigned char) line[1] == 0xbb && (unsigned char) line[2] == 0xbf)
      line += 3;
    const char *q = line;
    while (*q == ' ' || *q == '\t')
      q++;
    if (*q == '\0' || *q == '#')
      continue;

    char *f[16];
    int nf = split_csv (line, f, 16);
    if (nf > 16)
      nf = 16;
    if (!have_header) {
      for (int i = 0; i < nf; i++) {
        if (strcmp (f[i], "path") == 0)
          col_path = i;
        else if (strcmp (f[i], "audio") == 0)
          col_audio = i;
        else if (strcmp (f[i], "video") == 0)
          col_video = i;
        else if (strcmp (f[i], "label") == 0)
          col_label = i;
      }
      if (col_label < 0 || (col_path < 0 && (col_audio < 0 || col_video < 0))) {
        fprintf (stderr, "%s: error: %s:%d: header must be `path,label` or "
            "`audio,video,label`\n", prog, manifest, lineno);
        goto out;
      }
      mf->single = col_path >= 0;
      n_cols = nf;
      have_header = 1;
      continue;
    }

    if (mf->n_rows == cap) {
      cap = cap ? cap * 2 : 256;
      Row *nr = realloc (mf->rows, cap * sizeof *nr);
      if (!nr)
        goto nomem;
      mf->rows = nr;
    }
    Row *r = &mf->rows[mf->n_rows++];
    memset (r, 0, sizeof *r);
    r->line = lineno;
    r->y = -1;
    if (nf < n_cols) {
      r->a_path = xstrdup (nf > 0 ? f[0] : "");
      r->v_path = r->a_path;
      r->label = xstrdup ("");
      r->error = xprintf ("expected %d fields, got %d", n_cols, nf);
      if (!r->a_path || !r->label || !r->error)
        goto nomem;
      continue;
    }
    if (mf->single) {
      r->a_path = resolve (dir, f[col_path]);
      r->v_path = r->a_path;
    } else {
      r->a_path = resolve (dir, f[col_audio]);
      r->v_path = resolve (dir, f[col_video]);
    }
    r->label = xstrdup (f[col_label]);
    if (!r->a_path || !r->v_path || !r->label)
      goto nomem;
    r->y = label_index (cfg, r->label);
    if (r->y < 0) {
      char known[256] = "";
      for (int k = 0; k < cfg->n_classes && strlen (known) < 200; k++) {
        strcat (known, k ? "," : "");
        strncat (known, cfg->labels[k], 32);
      }
      r->error =
          xprintf ("unknown label '%s' (the model's labels: %s)", r->label,
          known);
      if (!r->error)
        goto nomem;
    }
  }

  if (!have_header) {
    fprintf (stderr, "%s: error: %s: empty manifest (no header, no rows)\n",
        prog, manifest);
    goto out;
  }
  if (mf->n_rows == 0) {
    fprintf (stderr, "%s: error: %s: manifest has a header but no rows\n", prog,
        manifest);
    goto out;
  }
  ret = 0;
  goto out;

nomem:
  fprintf (stderr, "%s: error: %s: out of memory\n", prog, manifest);
out:
  free (dir);
  if (ret)
    manifest_free (mf);
  return ret;
}

void
feature_set_init (FeatureSet * set, const UdmlConfig * cfg)
{
  memset (set, 0, sizeof *set);
  set->n_mod = cfg->n_modalities;
  for (int m = 0; m < cfg->n_modalities; m++)
    set->F[m] = udml_config_input_size (cfg, m);
}

void
feature_set_clear (FeatureSet * set)
{
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (set->x[m]);
  free (set->y);
  memset (set, 0, sizeof *set);
}

static int
feature_set_reserve (FeatureSet * set, int n_more)
{
  int n = set->n + n_more;
  for (int m = 0; m < set->n_mod; m++) {
    float *nx = realloc (set->x[m],
        (size_t) (n > 0 ? n : 1) * set->F[m] * sizeof (float));
    if (!nx)
      return -1;
    set->x[m] = nx;
  }
  int *ny = realloc (set->y, (size_t) (n > 0 ? n : 1) * sizeof (int));
  if (!ny)
    return -1;
  set->y = ny;
  return 0;
}

int
manifest_check_config (const UdmlConfig * cfg, char *msg, size_t msg_len)
{
  const UdmlFeatureSpec *s = &cfg->features;
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *ms = &cfg->mod[m];
    int c, h, w;
    if (ms->kind == UDML_MODALITY_AUDIO) {
      /* rounded to the nearest sample as the windower does: truncating
       * could admit a shape one mel frame narrower than it writes */
      size_t n = (size_t) ((s->window_ns * (int64_t) s->sample_rate
              + 500000000LL) / 1000000000LL);
      c = 1;
      h = s->n_mels;
      w = udml_media_mel_frames (s, n);
    } else {
      c = s->frame_channels;
      h = s->frame_height;
      w = s->frame_width;
    }
    if (ms->in_c != c || ms->in_h != h || ms->in_w != w) {
      snprintf (msg, msg_len, "modality '%s' expects input %dx%dx%d but the "
          "model's feature spec extracts %dx%dx%d from media", ms->name,
          ms->in_c, ms->in_h, ms->in_w, c, h, w);
      return 1;
    }
  }
  return 0;
}

uint64_t
manifest_config_key (const UdmlConfig * cfg)
{
  const UdmlFeatureSpec *s = &cfg->features;
  uint64_t h = MANIFEST_HASH_INIT;
  h = hash_int (h, s->sample_rate);
  h = hash_int (h, s->n_fft);
  h = hash_int (h, s->win_length);
  h = hash_int (h, s->hop_length);
  h = hash_int (h, s->n_mels);
  h = hash_float (h, s->fmin);
  h = hash_float (h, s->fmax);
  h = hash_float (h, s->log_floor);
  h = hash_int (h, s->frame_width);
  h = hash_int (h, s->frame_height);
  h = hash_int (h, s->frame_channels);
  h = hash_int (h, s->fps_num);
  h = hash_int (h, s->fps_den);
  h = hash_int (h, s->window_ns);
  h = hash_int (h, s->hop_ns);
  h = hash_int (h, cfg->n_modalities);
  for (int m = 0; m < cfg->n_modalities; m++) {
    h = hash_int (h, cfg->mod[m].kind);
    h = hash_int (h, cfg->mod[m].in_c);
    h = hash_int (h, cfg->mod[m].in_h);
    h = hash_int (h, cfg->mod[m].in_w);
  }
  h = hash_int (h, cfg->n_classes);
  for (int k = 0; k < cfg->n_classes; k++)
    h = manifest_hash (h, cfg->labels[k], strlen (cfg->labels[k]) + 1);
  return h;
}

static uint64_t
cache_key (const char *text, size_t len, const UdmlConfig * cfg,
    const Manifest * mf)
{
  uint64_t h = MANIFEST_HASH_INIT;
  h = manifest_hash (h, CACHE_VERSION_TAG, sizeof CACHE_VERSION_TAG);
  h = manifest_hash (h, text, len);
  h = hash_int (h, (int64_t) manifest_config_key (cfg));
  for (int i = 0; i < mf->n_rows; i++) {
    const char *paths[2] = { mf->rows[i].a_path, mf->rows[i].v_path };
    for (int j = 0; j < (paths[0] == paths[1] ? 1 : 2); j++) {
      struct stat st;
      if (stat (paths[j], &st) == 0) {
        h = hash_int (h, st.st_size);
        h = hash_int (h, st.st_mtim.tv_sec);
        h = hash_int (h, st.st_mtim.tv_nsec);
      } else {
        h = hash_int (h, -1);
      }
    }
  }
  return h;
}

/* ---------------------------------------------------------------- cache */

typedef struct
{
  unsigned char *p;
  size_t n, pos;
} Reader;

static int
rd (Reader * r, void *dst, size_t n)
{
  if (r->pos + n > r->n)
    return -1;
  memcpy (dst, r->p + r->pos, n);
  r->pos += n;
  return 0;
}

/* Loads a cache into mf (errors) and the local arrays. Returns n_good, or
 * -1 when the cache is absent, stale or damaged. */
static int
cache_read (const char *path, uint64_t key, const FeatureSet * set,
    Manifest * mf, float **x, int *y)
{
  size_t len = 0;
  char *buf = read_file (path, &len);
  Reader r = { (unsigned char *) buf, len, 0 };
  char magic[8];
  uint64_t k, sum;
  uint32_t n_rows, n_mod, F;
  int n_good = 0, ret = -1;
  char **errs = calloc (mf->n_rows, sizeof *errs);

  if (!buf || !errs || len < 16)
    goto out;
  memcpy (&sum, buf + len - 8, 8);
  if (manifest_hash (MANIFEST_HASH_INIT, buf, len - 8) != sum)
    goto out;
  r.n = len - 8;
  if (rd (&r, magic, 8) || memcmp (magic, CACHE_MAGIC, 8) || rd (&r, &k, 8)
      || k != key || rd (&r, &n_rows, 4) || (int) n_rows != mf->n_rows
      || rd (&r, &n_mod, 4)
      || (int) n_mod != set->n_mod)
    goto out;
  for (int m = 0; m < set->n_mod; m++)
    if (rd (&r, &F, 4) || F != set->F[m])
      goto out;
  for (int i = 0; i < mf->n_rows; i++) {
    int32_t line, lab;
    uint32_t l;
    if (rd (&r, &line, 4) || rd (&r, &lab, 4) || rd (&r, &l, 4)
        || line != mf->rows[i].line || l > 4096 || r.pos + l > r.n)
      goto out;
    if (l > 0) {
      errs[i] = malloc (l + 1);
      if (!errs[i])
        goto out;
      rd (&r, errs[i], l);
      errs[i][l] = '\0';
    } else {
      /* a good row's label is the one its manifest line names */
      if (lab < 0 || lab != mf->rows[i].y)
        goto out;
      y[n_good++] = lab;
    }
  }
  for (int m = 0; m < set->n_mod; m++)
    if (rd (&r, x[m], (size_t) n_good * set->F[m] * sizeof (float)))
      goto out;
  if (r.pos != r.n)
    goto out;
  /* valid: only now replace the parse-time errors */
  for (int i = 0; i < mf->n_rows; i++) {
    free (mf->rows[i].error);
    mf->rows[i].error = errs[i];
    errs[i] = NULL;
  }
  ret = n_good;
out:
  if (errs)
    for (int i = 0; i < mf->n_rows; i++)
      free (errs[i]);
  free (errs);
  free (buf);
  return ret;
}

static int
cache_write (const char *path, uint64_t key, const FeatureSet * set,
    const Manifest * mf, float *const *x, const int *y, int n_good)
{
  char *tmp = xprintf ("%s.tmp.%ld", path, (long) getpid ());
  FILE *f = tmp ? fopen (tmp, "wb") : NULL;
  uint64_t sum = MANIFEST_HASH_INIT;
  int ok = 0, gi = 0;
  if (!f)
    goto out;
#define PUT(ptr, n) do { \
    if (fwrite ((ptr), 1, (n), f) != (size_t) (n)) goto out; \
    sum = manifest_hash (sum, (ptr), (n)); } while (0)
  uint32_t n_rows = mf->n_rows, n_mod = set->n_mod;
  PUT (CACHE_MAGIC, 8);
  PUT (&key, 8);
  PUT (&n_rows, 4);
  PUT (&n_mod, 4);
  for (int m = 0; m < set->n_mod; m++) {
    uint32_t F = set->F[m];
    PUT (&F, 4);
  }
  for (int i = 0; i < mf->n_rows; i++) {
    int32_t line = mf->rows[i].line;
    int32_t lab = mf->rows[i].error ? -1 : y[gi++];
    uint32_t l = mf->rows[i].error ? strlen (mf->rows[i].error) : 0;
    if (l > 4096)
      l = 4096;
    PUT (&line, 4);
    PUT (&lab, 4);
    PUT (&l, 4);
    if (l)
      PUT (mf->rows[i].error, l);
  }
  for (int m = 0; m < set->n_mod; m++)
    PUT (x[m], (size_t) n_good * set->F[m] * sizeof (float));
#undef PUT
  if (fwrite (&sum, 1, 8, f) != 8 || fflush (f) != 0 || fsync (fileno (f)) != 0)
    goto out;
  ok = 1;
out:
  if (f && fclose (f) != 0)
    ok = 0;
  if (ok && rename (tmp, path) != 0)
    ok = 0;
  if (!ok && tmp)
    unlink (tmp);
  free (tmp);
  return ok ? 0 : -1;
}

/* ------------------------------------------------------------- decoding */

/* Drops a leading "PATH: " from a library message that already names it. */
static const char *
strip_path (const char *msg, const char *path)
{
  size_t l = strlen (path);
  if (strncmp (msg, path, l) == 0 && msg[l] == ':' && msg[l + 1] == ' ')
    return msg + l + 2;
  return msg;
}

static int
file_error (Row * r, const char *path)
{
  struct stat st;
  if (stat (path, &st) != 0) {
    r->error = xprintf ("%s", strerror (errno));
    return 1;
  }
  if (!S_ISREG (st.st_mode)) {
    r->error = xprintf ("not a regular file");
    return 1;
  }
  return 0;
}

/* Decodes one row into the given outputs (NULL for a modality the model
 * does not use). Returns 0, or -1 with the reason in r->error (left NULL
 * when even that could not be allocated). */
static int
decode_row (Row * r, const UdmlConfig * cfg, UdmlWindower * win, float *a_out,
    float *v_out)
{
  UdmlMediaClip ca, cv;
  UdmlError err = { 0 };
  const UdmlMediaClip *pa = NULL, *pv = NULL;
  int ret = -1;
  memset (&ca, 0, sizeof ca);
  memset (&cv, 0, sizeof cv);

  if (file_error (r, r->a_path))
    return -1;
  if (r->v_path != r->a_path && file_error (r, r->v_path)) {
    /* name the failing file of the pair */
    char *e = xprintf ("%s: %s", r->v_path, r->error);
    free (r->error);
    r->error = e;
    return -1;
  }
  if (udml_media_decode_file (r->a_path, &cfg->features, &ca, &err) != UDML_OK) {
    r->error = xprintf ("%s", strip_path (err.msg, r->a_path));
    goto out;
  }
  if (r->v_path == r->a_path) {
    pa = pv = &ca;
  } else {
    pa = &ca;
    if (udml_media_decode_file (r->v_path, &cfg->features, &cv,
            &err) != UDML_OK) {
      r->error = xprintf ("%s: %s", r->v_path, strip_path (err.msg, r->v_path));
      goto out;
    }
    pv = &cv;
  }
  if (a_out && !pa->pcm) {
    r->error = xprintf ("no audio stream");
    goto out;
  }
  if (v_out && !pv->frames) {
    r->error = xprintf ("no video stream%s", pv != pa ? " or image" : "");
    goto out;
  }
  udml_media_windower_reset (win, 0);
  if (udml_media_clip_features (win, pa, pv, a_out, v_out, &err) != UDML_OK)
    r->error = xprintf ("%s", strip_path (err.msg, r->a_path));
  else
    ret = 0;
out:
  udml_media_clip_clear (&ca);
  udml_media_clip_clear (&cv);
  return ret;
}

int
manifest_load_features (const char *manifest, const UdmlConfig * cfg,
    const ManifestOptions * opt, FeatureSet * set)
{
  const char *prog = opt->prog;
  Manifest mf = { 0 };
  size_t len = 0;
  char *text = read_file (manifest, &len);
  char *textcopy = NULL, *cache_path = NULL, *dir = NULL;
  float *x[UDML_MAX_MODALITIES] = { 0 };
  int *y = NULL, n_good = 0, n_bad = 0, ret = 1, from_cache = 0;
  UdmlWindower *win = NULL;
  UdmlError err = { 0 };
  int tty = isatty (2) && !opt->quiet;
  int m_audio = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  int m_video = udml_config_find (cfg, UDML_MODALITY_VIDEO);
  double t0 = now_s ();

  if (!text) {
    fprintf (stderr, "%s: error: %s: cannot read manifest: %s\n", prog,
        manifest, strerror (errno));
    return 1;
  }
  textcopy = malloc (len + 1);
  if (!textcopy)
    goto nomem;
  memcpy (textcopy, text, len + 1);
  if (manifest_parse (manifest, textcopy, cfg, prog, &mf))
    goto out;

  for (int m = 0; m < set->n_mod; m++) {
    x[m] = malloc ((size_t) mf.n_rows * set->F[m] * sizeof (float));
    if (!x[m])
      goto nomem;
  }
  y = malloc ((size_t) mf.n_rows * sizeof (int));
  if (!y)
    goto nomem;

  uint64_t key = cache_key (text, len, cfg, &mf);
  if (!opt->no_cache) {
    dir = opt->cache_dir ? xstrdup (opt->cache_dir) : dir_of (manifest);
    cache_path =
        dir ? xprintf ("%s/%s.%016llx.featcache", dir, base_of (manifest),
        (unsigned long long) key) : NULL;
    if (!cache_path)
      goto nomem;
    n_good = cache_read (cache_path, key, set, &mf, x, y);
    from_cache = n_good >= 0;
  }

  if (!from_cache) {
    win = udml_media_windower_new (&cfg->features, &err);
    if (!win) {
      fprintf (stderr, "%s: error: %s\n", prog, err.msg);
      goto out;
    }
    n_good = 0;
    for (int i = 0; i < mf.n_rows; i++) {
      Row *r = &mf.rows[i];
      if (!r->error) {
        float *a_out =
            m_audio >=
            0 ? x[m_audio] + (size_t) n_good * set->F[m_audio] : NULL;
        float *v_out =
            m_video >=
            0 ? x[m_video] + (size_t) n_good * set->F[m_video] : NULL;
        if (decode_row (r, cfg, win, a_out, v_out) == 0)
          y[n_good++] = r->y;
        else if (!r->error)
          goto nomem;
      }
      if (tty && (i % 16 == 15 || i + 1 == mf.n_rows)) {
        double el = now_s () - t0;
        fprintf (stderr, "\r%s: decoding %s: %d/%d clips (%.0f s)", prog,
            manifest, i + 1, mf.n_rows, el);
      }
    }
    if (tty)
      fputc ('\n', stderr);
  }

  /* Report every bad row before deciding. */
  for (int i = 0; i < mf.n_rows; i++) {
    Row *r = &mf.rows[i];
    if (!r->error)
      continue;
    n_bad++;
    const char *path = r->a_path;
    fprintf (stderr, "%s: %s: %s:%d: %s: %s\n", prog,
        opt->skip_bad ? "warning" : "error", manifest, r->line, path, r->error);
  }
  if (!from_cache && cache_path
      && cache_write (cache_path, key, set, &mf, x, y, n_good) != 0)
    fprintf (stderr,
        "%s: warning: %s: cannot write the feature cache (continuing)\n", prog,
        cache_path);
  if (!opt->quiet)
    fprintf (stderr, "%s: %s: %d clips%s, %d bad%s (%.1f s)\n", prog, manifest,
        n_good, from_cache ? " from the feature cache" : " decoded", n_bad,
        n_bad && opt->skip_bad ? " skipped" : "", now_s () - t0);
  set->n_bad += n_bad;
  if (n_bad && !opt->skip_bad) {
    fprintf (stderr,
        "%s: error: %s: %d bad row%s; fix them or pass --skip-bad\n", prog,
        manifest, n_bad, n_bad == 1 ? "" : "s");
    goto out;
  }
  if (n_good == 0) {
    fprintf (stderr, "%s: error: %s: no usable rows\n", prog, manifest);
    goto out;
  }

  if (feature_set_reserve (set, n_good))
    goto nomem;
  for (int m = 0; m < set->n_mod; m++)
    memcpy (set->x[m] + (size_t) set->n * set->F[m], x[m],
        (size_t) n_good * set->F[m] * sizeof (float));
  memcpy (set->y + set->n, y, (size_t) n_good * sizeof (int));
  set->n += n_good;
  ret = 0;
  goto out;

nomem:
  fprintf (stderr, "%s: error: %s: out of memory\n", prog, manifest);
out:
  udml_media_windower_free (win);
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (x[m]);
  free (y);
  free (cache_path);
  free (dir);
  manifest_free (&mf);
  free (textcopy);
  free (text);
  return ret;
}
