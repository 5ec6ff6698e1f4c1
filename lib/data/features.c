/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* features.c — feature sets, the model/feature-spec agreement and the
 * extraction of every window of a data list through lib/media, with the
 * feature cache (and, on request, the windows' waveforms). */
#include "data-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media.h"

void
udml_feature_set_init (UdmlFeatureSet * set, const UdmlConfig * cfg)
{
  memset (set, 0, sizeof *set);
  set->n_mod = cfg->n_modalities;
  for (int m = 0; m < cfg->n_modalities; m++)
    set->F[m] = udml_config_input_size (cfg, m);
}

void
udml_feature_set_clear (UdmlFeatureSet * set)
{
  if (!set)
    return;
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (set->x[m]);
  free (set->y);
  memset (set, 0, sizeof *set);
}

/* Room for n rows in total (at least one, so pointers are never NULL). */
static int
feature_set_reserve (UdmlFeatureSet * set, int n)
{
  size_t rows = (size_t) (n > 0 ? n : 1);
  for (int m = 0; m < set->n_mod; m++) {
    float *nx = realloc (set->x[m], rows * set->F[m] * sizeof (float));
    if (!nx)
      return -1;
    set->x[m] = nx;
  }
  int *ny = realloc (set->y, rows * sizeof (int));
  if (!ny)
    return -1;
  set->y = ny;
  return 0;
}

UdmlStatus
udml_feature_set_append (UdmlFeatureSet * dst, const UdmlFeatureSet * src,
    UdmlError * err)
{
  if (dst->n_mod != src->n_mod)
    return udml_error_set (err, UDML_ERR_MISMATCH,
        "feature sets of %d and %d modalities", dst->n_mod, src->n_mod);
  for (int m = 0; m < dst->n_mod; m++)
    if (dst->F[m] != src->F[m])
      return udml_error_set (err, UDML_ERR_MISMATCH,
          "feature sets of input size %zu and %zu", dst->F[m], src->F[m]);
  if (feature_set_reserve (dst, dst->n + src->n))
    return udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
  for (int m = 0; m < dst->n_mod; m++)
    memcpy (dst->x[m] + (size_t) dst->n * dst->F[m], src->x[m],
        (size_t) src->n * src->F[m] * sizeof (float));
  memcpy (dst->y + dst->n, src->y, (size_t) src->n * sizeof (int));
  dst->n += src->n;
  return UDML_OK;
}

UdmlStatus
udml_data_check_config (const UdmlConfig * cfg, UdmlError * err)
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
      c = s->frame_channels * (s->frames_per_window > 1 ?
          s->frames_per_window : 1);
      h = s->frame_height;
      w = s->frame_width;
    }
    if (ms->in_c != c || ms->in_h != h || ms->in_w != w)
      return udml_error_set (err, UDML_ERR_MISMATCH,
          "modality '%s' expects input %dx%dx%d but the model's feature "
          "spec extracts %dx%dx%d from media", ms->name, ms->in_c, ms->in_h,
          ms->in_w, c, h, w);
  }
  return UDML_OK;
}

static uint64_t
hash_int (uint64_t h, int64_t v)
{
  return udml_data_hash (h, &v, sizeof v);
}

static uint64_t
hash_float (uint64_t h, float v)
{
  return udml_data_hash (h, &v, sizeof v);
}

uint64_t
udml_data_config_key (const UdmlConfig * cfg)
{
  const UdmlFeatureSpec *s = &cfg->features;
  uint64_t h = UDML_DATA_HASH_INIT;
  const int64_t ints[] = { s->sample_rate, s->n_fft, s->win_length,
    s->hop_length, s->n_mels
  };
  const int64_t frame[] = { s->frame_width, s->frame_height,
    s->frame_channels, s->fps_num, s->fps_den, s->window_ns, s->hop_ns,
    cfg->n_modalities
  };
  /* one frame per window hashes as before, so old caches stay valid */
  if (s->frames_per_window > 1)
    h = hash_int (h, s->frames_per_window);
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    h = hash_int (h, ints[i]);
  h = hash_float (h, s->fmin);
  h = hash_float (h, s->fmax);
  h = hash_float (h, s->log_floor);
  for (size_t i = 0; i < sizeof frame / sizeof frame[0]; i++)
    h = hash_int (h, frame[i]);
  for (int m = 0; m < cfg->n_modalities; m++) {
    h = hash_int (h, cfg->mod[m].kind);
    h = hash_int (h, cfg->mod[m].in_c);
    h = hash_int (h, cfg->mod[m].in_h);
    h = hash_int (h, cfg->mod[m].in_w);
  }
  h = hash_int (h, cfg->n_classes);
  for (int k = 0; k < cfg->n_classes; k++)
    h = udml_data_hash (h, cfg->labels[k], strlen (cfg->labels[k]) + 1);
  return h;
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

/* Sets it->error when path is not a regular file; returns 1 then. */
static int
file_error (UdmlDataItem * it, const char *path)
{
  struct stat st;
  if (stat (path, &st) != 0) {
    it->error = udml_data_printf ("%s", strerror (errno));
    return 1;
  }
  if (!S_ISREG (st.st_mode)) {
    it->error = udml_data_printf ("not a regular file");
    return 1;
  }
  return 0;
}

/* Both media of an item, or the reason in it->error. */
static int
decode_media (UdmlDataItem * it, const UdmlFeatureSpec * spec,
    UdmlMediaClip * ca, UdmlMediaClip * cv)
{
  UdmlError e = { 0 };
  if (file_error (it, it->a_path))
    return -1;
  if (it->v_path != it->a_path && file_error (it, it->v_path)) {
    /* name the failing file of the pair */
    char *named = udml_data_printf ("%s: %s", it->v_path, it->error);
    free (it->error);
    it->error = named;
    return -1;
  }
  if (udml_media_decode_file (it->a_path, spec, ca, &e) != UDML_OK) {
    it->error = udml_data_printf ("%s", strip_path (e.msg, it->a_path));
    return -1;
  }
  if (it->v_path != it->a_path
      && udml_media_decode_file (it->v_path, spec, cv, &e) != UDML_OK) {
    it->error = udml_data_printf ("%s: %s", it->v_path,
        strip_path (e.msg, it->v_path));
    return -1;
  }
  return 0;
}

/* Timestamps may round a clip a little short of a whole window. */
#define LENGTH_SLACK_NS INT64_C(20000000)

/* Length of the media the model reads from an item: the shorter of its
 * audio and its video (a still image lasts forever). */
static int64_t
media_length (const UdmlMediaClip * pa, const UdmlMediaClip * pv,
    const UdmlFeatureSpec * spec, int use_audio, int use_video)
{
  int64_t len = INT64_MAX;
  if (use_audio)
    len = (int64_t) ((double) pa->n_samples * 1e9 / spec->sample_rate + 0.5);
  if (use_video && pv->n_frames > 1 && pv->duration_ns < len)
    len = pv->duration_ns;
  return len == INT64_MAX ? spec->window_ns : len;
}

/* Room for n rows in total, growing geometrically. */
static int
feature_set_grow (UdmlFeatureSet * set, int n, int *cap)
{
  if (n <= *cap)
    return 0;
  int nc = *cap * 2 > n ? *cap * 2 : n + 64;
  if (feature_set_reserve (set, nc))
    return -1;
  *cap = nc;
  return 0;
}

/* Every window of one item that fits, appended to out (and their
 * waveforms to waves, when not NULL). Returns 0, or -1 with the reason in
 * it->error (left NULL when even that could not be allocated, or when out
 * or waves could not grow). */
static int
decode_item (UdmlDataItem * it, const UdmlConfig * cfg, int64_t hop,
    UdmlWindower * win, UdmlFeatureSet * out, int *cap, UdmlWaveSet * waves)
{
  const UdmlFeatureSpec *spec = &cfg->features;
  int m_audio = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  int m_video = udml_config_find (cfg, UDML_MODALITY_VIDEO);
  UdmlMediaClip ca, cv;
  UdmlError e = { 0 };
  int ret = -1;
  memset (&ca, 0, sizeof ca);
  memset (&cv, 0, sizeof cv);

  it->n_windows = 0;
  if (decode_media (it, spec, &ca, &cv))
    goto out;
  const UdmlMediaClip *pa = &ca, *pv = it->v_path == it->a_path ? &ca : &cv;
  if (m_audio >= 0 && !pa->pcm) {
    it->error = udml_data_printf ("no audio stream");
    goto out;
  }
  if (m_video >= 0 && !pv->frames) {
    it->error = udml_data_printf ("no video stream%s",
        pv != pa ? " or image" : "");
    goto out;
  }
  int64_t len = media_length (pa, pv, spec, m_audio >= 0, m_video >= 0);
  int64_t t0 = 0, t1 = len;
  if (it->end_s >= 0) {
    t0 = (int64_t) (it->start_s * 1e9 + 0.5);
    t1 = (int64_t) (it->end_s * 1e9 + 0.5);
    if (t1 > len + LENGTH_SLACK_NS) {
      it->error = udml_data_printf ("end %g s is past the end of the media "
          "(%.3f s)", it->end_s, len / 1e9);
      goto out;
    }
  }
  for (int64_t t = t0; t + spec->window_ns <= t1 + LENGTH_SLACK_NS; t += hop) {
    if (feature_set_grow (out, out->n + 1, cap))
      goto out;
    float *a_out = m_audio >= 0 ? out->x[m_audio]
        + (size_t) out->n * out->F[m_audio] : NULL;
    float *v_out = m_video >= 0 ? out->x[m_video]
        + (size_t) out->n * out->F[m_video] : NULL;
    if (udml_media_clip_window (win, pa, pv, t, a_out, v_out, &e) != UDML_OK) {
      it->error = udml_data_printf ("%s", strip_path (e.msg, it->a_path));
      out->n -= it->n_windows;
      it->n_windows = 0;
      goto out;
    }
    out->y[out->n++] = it->y;
    it->n_windows++;
  }
  /* the decoded audio serves the waveforms too: no second decode */
  if (waves && pa->pcm && udml_wave_set_add (waves, pa->pcm, pa->n_samples,
          t0, hop, it->n_windows, &e) != UDML_OK) {
    out->n -= it->n_windows;
    it->n_windows = 0;
    goto out;
  }
  ret = 0;
out:
  udml_media_clip_clear (&ca);
  udml_media_clip_clear (&cv);
  return ret;
}

/* Decodes every usable item of list into out. */
static UdmlStatus
decode_all (UdmlDataList * list, const UdmlConfig * cfg,
    const UdmlExtractOptions * opt, UdmlFeatureSet * out, UdmlError * err)
{
  int64_t hop = opt && opt->hop_ns > 0 ? opt->hop_ns : cfg->features.hop_ns;
  int cap = 0;
  UdmlWindower *win = udml_media_windower_new (&cfg->features, err);
  if (!win)
    return err ? err->code : UDML_ERR_ARG;

  out->n = 0;
  for (int i = 0; i < list->n_items; i++) {
    UdmlDataItem *it = &list->items[i];
    it->n_windows = 0;
    if (!it->error && decode_item (it, cfg, hop, win, out, &cap,
            opt ? opt->waves : NULL)
        && !it->error) {
      udml_media_windower_free (win);
      return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory",
          list->origin);
    }
    if (opt && opt->progress)
      opt->progress (i + 1, list->n_items, opt->progress_user);
  }
  udml_media_windower_free (win);
  return UDML_OK;
}

/* The cache file of list under key, or "" when caching is off. */
static UdmlStatus
cache_path (const UdmlDataList * list, const UdmlExtractOptions * opt,
    uint64_t key, char *path, size_t len, UdmlError * err)
{
  path[0] = '\0';
  if (opt && opt->no_cache)
    return UDML_OK;
  char *dir = opt && opt->cache_dir ? udml_data_strdup (opt->cache_dir)
      : udml_data_dir_of (list->origin);
  if (!dir)
    return udml_error_set (err, UDML_ERR_NOMEM, "out of memory");
  int n = snprintf (path, len, "%s/%s.%016llx.featcache", dir,
      udml_data_base_of (list->origin), (unsigned long long) key);
  free (dir);
  if (n < 0 || (size_t) n >= len) {
    path[0] = '\0';             /* too long a path: no cache */
  }
  return UDML_OK;
}

UdmlStatus
udml_data_extract (UdmlDataList * list, const UdmlConfig * cfg,
    const UdmlExtractOptions * opt, UdmlFeatureSet * out,
    UdmlExtractReport * report, UdmlError * err)
{
  UdmlError cerr = { 0 };
  int64_t hop = opt && opt->hop_ns > 0 ? opt->hop_ns : cfg->features.hop_ns;
  uint64_t key = udml_data_cache_key (list, cfg, hop);
  UdmlStatus st;

  memset (report, 0, sizeof *report);
  udml_feature_set_init (out, cfg);
  if (opt && opt->waves)
    udml_wave_set_init (opt->waves, cfg);
  st = cache_path (list, opt, key, report->cache_path,
      sizeof report->cache_path, err);
  if (st != UDML_OK)
    return st;
  if (report->cache_path[0]) {
    st = udml_data_cache_read (report->cache_path, key, list, cfg, out, &cerr);
    if (st == UDML_ERR_NOMEM)
      return udml_error_set (err, st, "%s", cerr.msg);
    report->from_cache = st == UDML_OK;
    report->cache_rejected = st != UDML_OK && st != UDML_ERR_IO;
    if (report->cache_rejected)
      snprintf (report->cache_reason, sizeof report->cache_reason, "%s",
          cerr.msg);
  }
  if (!report->from_cache) {
    if (feature_set_reserve (out, 1))
      return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory",
          list->origin);
    st = decode_all (list, cfg, opt, out, err);
    if (st != UDML_OK)
      return st;
    if (report->cache_path[0]
        && udml_data_cache_write (report->cache_path, key, list, out,
            &cerr) != UDML_OK)
      report->cache_write_failed = 1;
  } else if (opt && opt->waves) {
    /* the cache holds features only: the audio is decoded for them */
    st = udml_data_waveforms (list, cfg, hop, opt->waves, err);
    if (st != UDML_OK)
      return st;
  }
  report->n_bad = udml_data_list_count_bad (list);
  report->n_good = list->n_items - report->n_bad;
  report->n_windows = out->n;
  for (int i = 0; i < list->n_items; i++)
    report->n_short += !list->items[i].error && list->items[i].n_windows == 0;
  return UDML_OK;
}
