/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* degrade-tool.c — degradation kinds on the tools' features and waveforms
 * (method.md "Degradation kinds"). */
#include "degrade-tool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"

DegradeMask
degrade_parse_kinds (const char *opt, const char *list)
{
  DegradeMask mask = 0;
  char **names = g_strsplit (list, ",", -1);
  char valid[256];

  degrade_format_kinds (DEGRADE_ALL, valid, sizeof valid);
  for (char **p = names; *p; p++) {
    const char *name = g_strstrip (*p);
    if (!*name)
      continue;                 /* "a,,b" and a trailing comma are harmless */
    if (!strcmp (name, "all")) {
      mask |= DEGRADE_ALL;
      continue;
    }
    int k = udml_degrade_from_name (name);
    if (k < 0) {
      char shown[64];
      snprintf (shown, sizeof shown, "%s", name);
      g_strfreev (names);
      tool_usage_error ("%s: unknown kind '%s' (valid: %s)", opt, shown, valid);
    }
    mask |= 1u << k;
  }
  g_strfreev (names);
  if (!mask)
    tool_usage_error ("%s: no kind given (valid: %s)", opt, valid);
  return mask;
}

void
degrade_format_kinds (DegradeMask mask, char *buf, size_t n)
{
  buf[0] = '\0';
  for (int k = 0; k < UDML_DEGRADE_COUNT; k++)
    if (mask & (1u << k)) {
      if (buf[0])
        strncat (buf, ", ", n - strlen (buf) - 1);
      strncat (buf, udml_degrade_name ((UdmlDegrade) k), n - strlen (buf) - 1);
    }
}

int
degrade_visible (UdmlDegrade kind, const UdmlConfig * cfg, int m)
{
  /* a frozen stream looks clean to an input of one frame */
  if (kind == UDML_DEGRADE_FREEZE)
    return cfg->mod[m].kind == UDML_MODALITY_VIDEO
        && cfg->features.frames_per_window >= 2;
  return udml_degrade_applies (kind, cfg->mod[m].kind);
}

int
tool_load_waveforms (const char *manifest, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlWaveSet * waves)
{
  UdmlDataList list;
  UdmlFeatureSet feats;
  UdmlWaveSet got;
  UdmlExtractReport rep;
  UdmlError err = { 0 };
  UdmlExtractOptions xo =
      { opt->cache_dir, opt->no_cache, NULL, NULL, opt->hop_ns, &got };
  double t0 = tool_now ();
  int ret = 1;

  memset (&feats, 0, sizeof feats);
  memset (&got, 0, sizeof got);
  if (udml_data_list_read (&list, manifest, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    return 1;
  }
  /* the extraction (from the cache as a rule) marks the rows that failed
   * and counts each item's windows, so the waveforms are those of the
   * feature rows */
  if (udml_data_list_bind (&list, cfg, &err) != UDML_OK
      || udml_data_extract (&list, cfg, &xo, &feats, &rep, &err) != UDML_OK
      || udml_wave_set_append (waves, &got, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    goto out;
  }
  if (!opt->quiet)
    tool_note ("%s: %d waveforms of %zu samples (%.1f s)", manifest, got.n,
        got.len, tool_now () - t0);
  ret = 0;
out:
  udml_wave_set_clear (&got);
  udml_feature_set_clear (&feats);
  udml_data_list_clear (&list);
  return ret;
}

/* The bank rows of one list, up to per of each label (count: taken so far). */
static int
babble_list (const UdmlDataList * list, const UdmlConfig * cfg, int per,
    int *count, UdmlWaveSet * bank, int **y)
{
  int64_t hop = cfg->features.hop_ns;
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    UdmlMediaClip clip;
    UdmlError err = { 0 };
    if (it->error || it->y < 0 || count[it->y] >= per)
      continue;
    memset (&clip, 0, sizeof clip);
    /* a row that does not decode now is left out, the same in every
     * process; its own error is reported with the features */
    if (udml_media_decode_file (it->a_path, &cfg->features, &clip,
            &err) != UDML_OK || !clip.pcm) {
      udml_media_clip_clear (&clip);
      continue;
    }
    int64_t t0 = it->end_s >= 0 ? (int64_t) (it->start_s * 1e9 + 0.5) : 0;
    int *ny = realloc (*y, (size_t) (bank->n + 1) * sizeof (int));
    if (ny)
      *y = ny;
    UdmlStatus st = ny ? udml_wave_set_add (bank, clip.pcm, clip.n_samples,
        t0, hop, 1, &err) : UDML_ERR_NOMEM;
    udml_media_clip_clear (&clip);
    if (st != UDML_OK) {
      tool_error ("%s: %s", list->origin, ny ? err.msg : "out of memory");
      return 1;
    }
    (*y)[bank->n - 1] = it->y;
    count[it->y]++;
  }
  return 0;
}

int
degrade_load_babble (UdmlDataList * lists, int n_lists,
    const UdmlConfig * cfg, UdmlWaveSet * bank, int **y)
{
  int count[UDML_MAX_CLASSES] = { 0 };
  int K = cfg->n_classes > 0 ? cfg->n_classes : 1;
  int per = DEGRADE_BABBLE_BANK / K > 0 ? DEGRADE_BABBLE_BANK / K : 1;

  udml_wave_set_init (bank, cfg);
  *y = NULL;
  for (int i = 0; i < n_lists; i++) {
    UdmlError err = { 0 };
    if (udml_data_list_bind (&lists[i], cfg, &err) != UDML_OK) {
      tool_error ("%s", err.msg);
      return 1;
    }
    if (babble_list (&lists[i], cfg, per, count, bank, y))
      return 1;
  }
  return 0;
}

struct Degrader
{
  const UdmlConfig *cfg;
  const UdmlWaveSet *waves;
  const int *y;
  const UdmlWaveSet *bank;      /* babble's other speech, or NULL */
  const int *bank_y;
  UdmlMel *mel;
  UdmlMediaBlocky *blocky;
  UdmlDegradeStream *stream;
  float *pcm;                   /* len */
  float *other;                 /* len: babble's other speech */
  void *vws;                    /* video workspace, the largest any kind needs */
  size_t vws_bytes;
};

void
degrader_free (Degrader * dg)
{
  if (!dg)
    return;
  udml_media_mel_free (dg->mel);
  udml_media_blocky_free (dg->blocky);
  udml_degrade_stream_free (dg->stream);
  free (dg->pcm);
  free (dg->other);
  free (dg->vws);
  free (dg);
}

Degrader *
degrader_new (const UdmlConfig * cfg, const UdmlWaveSet * waves, const int *y)
{
  UdmlError err = { 0 };
  Degrader *dg = calloc (1, sizeof *dg);
  if (!dg)
    goto nomem;
  dg->cfg = cfg;
  dg->waves = waves;
  dg->y = y;
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *s = &cfg->mod[m];
    if (s->kind != UDML_MODALITY_VIDEO)
      continue;
    for (int k = 0; k < UDML_DEGRADE_COUNT; k++) {
      size_t b = udml_degrade_video_ws_size ((UdmlDegrade) k,
          UDML_NOISE_LEVELS, s->in_h, s->in_w);
      if (b > dg->vws_bytes)
        dg->vws_bytes = b;
    }
    if (!dg->blocky && !(dg->blocky = udml_media_blocky_new (&err)))
      goto fail;
  }
  if (dg->vws_bytes && !(dg->vws = malloc (dg->vws_bytes)))
    goto nomem;
  if (waves && waves->n > 0) {
    if (!(dg->mel = udml_media_mel_new (&cfg->features, &err)))
      goto fail;
    if (!(dg->pcm = malloc (waves->len * sizeof (float)))
        || !(dg->other = malloc (waves->len * sizeof (float))))
      goto nomem;
  }
  if (!(dg->stream = udml_degrade_stream_new ()))
    goto nomem;
  return dg;

nomem:
  snprintf (err.msg, sizeof err.msg, "out of memory");
fail:
  tool_error ("degradations: %s", err.msg);
  degrader_free (dg);
  return NULL;
}

void
degrader_set_babble (Degrader * dg, const UdmlWaveSet * bank, const int *y)
{
  dg->bank = bank && bank->n > 0 && dg->waves && bank->len == dg->waves->len
      ? bank : NULL;
  dg->bank_y = y;
}

/* Babble of sample i into dg->other: with a bank, one of its rows of
 * another class (any when all share one) drawn from rng; else the
 * waveform of the next sample of another class. */
static void
other_speech (Degrader * dg, int i, UdmlRng * rng)
{
  const UdmlWaveSet *w = dg->waves;
  int n = w->n;
  if (dg->bank) {
    int yi = dg->y ? dg->y[i] : -1, n_other = 0, pick;
    for (int j = 0; j < dg->bank->n; j++)
      n_other += dg->bank_y[j] != yi;
    pick = (int) (udml_rng_u64 (rng) % (uint64_t) (n_other ? n_other
            : dg->bank->n));
    for (int j = 0; j < dg->bank->n; j++)
      if ((!n_other || dg->bank_y[j] != yi) && pick-- == 0) {
        udml_wave_set_row (dg->bank, j, dg->other);
        return;
      }
  }
  for (int d = 1; d < n; d++) {
    int j = (i + d) % n;
    if (!dg->y || dg->y[j] != dg->y[i]) {
      udml_wave_set_row (w, j, dg->other);
      return;
    }
  }
  udml_wave_set_row (w, (i + 1) % n, dg->other);
}

UdmlStatus
degrader_apply (Degrader * dg, UdmlDegrade kind, int level, int m, int i,
    float *x, UdmlRng * rng, UdmlError * err)
{
  const UdmlModalitySpec *s = &dg->cfg->mod[m];

  /* audio at level 1 still goes through the waveform: its log-mel equals
   * the features, which the tests check end to end */
  if (level == 1 && s->kind == UDML_MODALITY_VIDEO)
    return UDML_OK;
  if (!degrade_visible (kind, dg->cfg, m))
    return udml_error_set (err, UDML_ERR_ARG, "%s cannot be applied to %s",
        udml_degrade_name (kind), s->name);
  if (s->kind == UDML_MODALITY_VIDEO) {
    /* the input stacks T frames of C components each: degrade each frame */
    int c = dg->cfg->features.frame_channels > 0
        ? dg->cfg->features.frame_channels : s->in_c;
    size_t frame = (size_t) c * s->in_h * s->in_w;
    if (kind == UDML_DEGRADE_FREEZE) {
      udml_degrade_freeze_frames (x, s->in_c / c, frame, level);
      return UDML_OK;
    }
    for (int t = 0; t < s->in_c / c; t++) {
      float *xf = x + t * frame;
      UdmlStatus st = kind == UDML_DEGRADE_BLOCKY
          ? udml_media_blocky_planes (dg->blocky, level, xf, c, s->in_h,
          s->in_w, err)
          : udml_degrade_video_ws (kind, level, xf, c, s->in_h, s->in_w, rng,
          dg->vws, dg->vws_bytes, err);
      if (st != UDML_OK)
        return st;
    }
    return UDML_OK;
  }

  /* audio: the sample's waveform, degraded, then log-mel again */
  const UdmlWaveSet *w = dg->waves;
  if (!w || i < 0 || i >= w->n || !dg->mel)
    return udml_error_set (err, UDML_ERR_ARG,
        "audio kind %s needs the waveform of sample %d",
        udml_degrade_name (kind), i);
  UdmlAudioParams p;
  memset (&p, 0, sizeof p);
  p.rate = w->rate;
  p.channels = 1;
  if (kind == UDML_DEGRADE_BABBLE) {
    other_speech (dg, i, rng);
    p.other = dg->other;
    p.n_other = w->len;
  }
  udml_wave_set_row (w, i, dg->pcm);
  udml_degrade_stream_reset (dg->stream);
  UdmlStatus st = udml_degrade_audio (dg->stream, kind, level, &p, dg->pcm,
      w->len, rng, err);
  if (st != UDML_OK)
    return st;
  udml_media_mel_compute (dg->mel, dg->pcm, w->len, x);
  return UDML_OK;
}

void
degrade_noise_plan (DegradeNoise * dn, const UdmlConfig * cfg, DegradeMask mask)
{
  memset (dn, 0, sizeof *dn);
  for (int m = 0; m < cfg->n_modalities; m++) {
    for (int k = 0; k < UDML_DEGRADE_COUNT; k++)
      if ((mask & (1u << k)) && degrade_visible ((UdmlDegrade) k, cfg, m))
        dn->kinds[m][dn->n_kinds[m]++] = (UdmlDegrade) k;
    if (dn->n_kinds[m] == 0) {
      char valid[256] = "";
      for (int k = 0; k < UDML_DEGRADE_COUNT; k++)
        if (degrade_visible ((UdmlDegrade) k, cfg, m)) {
          if (valid[0])
            strncat (valid, ", ", sizeof valid - strlen (valid) - 1);
          strncat (valid, udml_degrade_name ((UdmlDegrade) k),
              sizeof valid - strlen (valid) - 1);
        }
      tool_usage_error ("--noise/--hold-out leave no kind for %s "
          "(its kinds: %s)", cfg->mod[m].name, valid);
    }
  }
}

int
degrade_noise_needs_waves (const DegradeNoise * dn, const UdmlConfig * cfg)
{
  for (int m = 0; m < cfg->n_modalities; m++)
    if (cfg->mod[m].kind == UDML_MODALITY_AUDIO && dn->n_kinds[m] > 0)
      return 1;
  return 0;
}

int
degrade_noise_has (const DegradeNoise * dn, const UdmlConfig * cfg,
    UdmlDegrade kind)
{
  for (int m = 0; m < cfg->n_modalities; m++)
    for (int k = 0; k < dn->n_kinds[m]; k++)
      if (dn->kinds[m][k] == kind)
        return 1;
  return 0;
}

int
degrade_noise_start (DegradeNoise * dn, const UdmlConfig * cfg,
    const UdmlWaveSet * waves, const int *y, int n_threads,
    const UdmlWaveSet * bank, const int *bank_y)
{
  int n = n_threads > 0 ? n_threads : 1;
  dn->slots = calloc ((size_t) n, sizeof *dn->slots);
  if (!dn->slots) {
    tool_error ("degradations: out of memory");
    return 1;
  }
  for (; dn->n_slots < n; dn->n_slots++) {
    DegradeSlot *sl = &dn->slots[dn->n_slots];
    if (!(sl->dg = degrader_new (cfg, waves, y)))
      return 1;
    if (bank)
      degrader_set_babble (sl->dg, bank, bank_y);
    g_mutex_init (&sl->lock);
  }
  return 0;
}

UdmlStatus
degrade_noise_func (void *user, int m, int level, int row, float *x,
    UdmlRng * rng, UdmlError * err)
{
  DegradeNoise *dn = user;
  UdmlDegrade kind = dn->kinds[m][udml_rng_u64 (rng) % dn->n_kinds[m]];
  /* one slot per worker: a free one is found in a pass or two; the
   * Degraders are alike, so which one serves changes nothing */
  for (int k = 0;; k = (k + 1) % dn->n_slots) {
    DegradeSlot *sl = &dn->slots[k];
    if (!g_mutex_trylock (&sl->lock))
      continue;
    UdmlStatus st = degrader_apply (sl->dg, kind, level, m, row, x, rng, err);
    g_mutex_unlock (&sl->lock);
    return st;
  }
}

void
degrade_noise_clear (DegradeNoise * dn)
{
  for (int k = 0; k < dn->n_slots; k++) {
    degrader_free (dn->slots[k].dg);
    g_mutex_clear (&dn->slots[k].lock);
  }
  free (dn->slots);
  dn->slots = NULL;
  dn->n_slots = 0;
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

int
degrade_calibrate (UdmlModel * model, const UdmlFeatureSet * set, int batch,
    float out[UDML_MAX_MODALITIES])
{
  const UdmlConfig *cfg = udml_model_config (model);
  UdmlError err = { 0 };
  int M = cfg->n_modalities, ret = 1;
  UdmlInfer *inf = udml_infer_new (model, batch, &err);
  UdmlResult *res = malloc ((size_t) batch * sizeof *res);
  float *sig = malloc ((size_t) (set->n > 0 ? set->n : 1) * M * sizeof (float));

  if (!inf || !res || !sig) {
    tool_error ("calibration: %s", inf ? "out of memory" : err.msg);
    goto out;
  }
  for (int i = 0; i < set->n; i += batch) {
    int nb = set->n - i < batch ? set->n - i : batch;
    const float *in[UDML_MAX_MODALITIES] = { 0 };
    for (int m = 0; m < M; m++)
      in[m] = set->x[m] + (size_t) i *set->F[m];
    if (udml_infer_run (inf, nb, in, NULL, UDML_INFER_AS_TRAINED, res,
            &err) != UDML_OK) {
      tool_error ("calibration: %s", err.msg);
      goto out;
    }
    for (int j = 0; j < nb; j++)
      for (int m = 0; m < M; m++)
        sig[(size_t) m * set->n + i + j] = res[j].mod[m].noise;
  }
  for (int m = 0; m < M; m++) {
    float *v = sig + (size_t) m * set->n;
    qsort (v, set->n, sizeof *v, cmp_float);
    /* nearest rank: the smallest value with 99 % of the windows at or below */
    int r = (int) ceil (0.99 * set->n) - 1;
    out[m] = set->n > 0 ? v[r < 0 ? 0 : r] : 0.0f;
    udml_model_set_calibration (model, m, out[m]);
  }
  ret = 0;
out:
  udml_infer_free (inf);
  free (res);
  free (sig);
  return ret;
}
