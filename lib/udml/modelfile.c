/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* modelfile.c — the model schema of the container (container.c): the
 * UdmlConfig as metadata, the dependency EMA, provenance and the model's
 * tensors; udml_model_save, udml_model_load and udml_model_verify.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "container.h"
#include "model.h"

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
void
udml_io_put_model (IoMetaOut * m, const UdmlModel * model)
{
  const UdmlConfig *cfg = udml_model_config (model);
  const UdmlFeatureSpec *fs = &cfg->features;
  char k[IO_MAX_KEY + 1];

  udml_io_meta_int (m, "config.n_modalities", cfg->n_modalities);
  udml_io_meta_int (m, "config.n_classes", cfg->n_classes);
  for (int i = 0; i < cfg->n_classes; i++)
    udml_io_meta_str (m, udml_io_key (k, "config.label.%d%s", i, ""),
        cfg->labels[i]);
  udml_io_meta_int (m, "config.est_hidden", cfg->est_hidden);
  udml_io_meta_f32 (m, "config.est_norm", cfg->est_norm);
  udml_io_meta_str (m, "config.policy", udml_policy_name (cfg->policy));
  udml_io_meta_str (m, "config.scaling", scaling_name (cfg->scaling));

  for (int i = 0; i < cfg->n_modalities; i++) {
    const UdmlModalitySpec *ms = &cfg->mod[i];
    int shape[3] = { ms->in_c, ms->in_h, ms->in_w };
    udml_io_meta_str (m, udml_io_key (k, "modality.%d.%s", i, "name"),
        ms->name);
    udml_io_meta_str (m, udml_io_key (k, "modality.%d.%s", i, "kind"),
        kind_name (ms->kind));
    udml_io_meta_ints (m, udml_io_key (k, "modality.%d.%s", i, "input"), shape,
        3);
    udml_io_meta_ints (m, udml_io_key (k, "modality.%d.%s", i, "channels"),
        ms->channels, ms->n_stages);
    udml_io_meta_f32 (m, udml_io_key (k, "modality.%d.%s", i, "norm_mean"),
        ms->norm_mean);
    udml_io_meta_f32 (m, udml_io_key (k, "modality.%d.%s", i, "norm_std"),
        ms->norm_std);
    udml_io_meta_f32 (m, udml_io_key (k, "modality.%d.%s", i, "dependency"),
        udml_model_dependency (model, i));
  }

  udml_io_meta_int (m, "features.sample_rate", fs->sample_rate);
  udml_io_meta_int (m, "features.n_fft", fs->n_fft);
  udml_io_meta_int (m, "features.win_length", fs->win_length);
  udml_io_meta_int (m, "features.hop_length", fs->hop_length);
  udml_io_meta_int (m, "features.n_mels", fs->n_mels);
  udml_io_meta_f32 (m, "features.fmin", fs->fmin);
  udml_io_meta_f32 (m, "features.fmax", fs->fmax);
  udml_io_meta_f32 (m, "features.log_floor", fs->log_floor);
  udml_io_meta_int (m, "features.frame_width", fs->frame_width);
  udml_io_meta_int (m, "features.frame_height", fs->frame_height);
  udml_io_meta_int (m, "features.frame_channels", fs->frame_channels);
  udml_io_meta_int (m, "features.fps_num", fs->fps_num);
  udml_io_meta_int (m, "features.fps_den", fs->fps_den);
  udml_io_meta_int (m, "features.window_ns", fs->window_ns);
  udml_io_meta_int (m, "features.hop_ns", fs->hop_ns);
  udml_io_meta_int (m, "features.frames_per_window",
      fs->frames_per_window > 1 ? fs->frames_per_window : 1);

  udml_io_meta_str (m, "provenance", udml_model_provenance (model));
  for (int i = 0; i < cfg->n_modalities; i++)
    if (udml_model_calibration (model, i) > 0.0f)
      udml_io_meta_f32 (m, udml_io_key (k, "modality.%d.%s", i,
              "calibration"), udml_model_calibration (model, i));
}

float
udml_model_calibration (const UdmlModel * model, int m)
{
  if (!model || m < 0 || m >= model->cfg.n_modalities)
    return 0.0f;
  return model->calibration[m];
}

void
udml_model_set_calibration (UdmlModel * model, int m, float sigma)
{
  if (model && m >= 0 && m < model->cfg.n_modalities)
    model->calibration[m] = sigma > 0.0f && sigma < 1e30f ? sigma : 0.0f;
}

/* The optional calibration of each modality (absent: 0, unknown). */
static UdmlStatus
io_read_calibration (const IoFile * io, UdmlModel * model, UdmlError * err)
{
  char k[IO_MAX_KEY + 1];

  for (int i = 0; i < model->cfg.n_modalities; i++) {
    float v = 0.0f;
    const char *key = udml_io_key (k, "modality.%d.%s", i, "calibration");
    if (!udml_io_find (io, key))
      continue;
    UdmlStatus s = udml_io_get_f32 (io, key, &v, err);
    if (s != UDML_OK)
      return s;
    if (!(v >= 0.0f && v < 1e30f))
      return udml_error_set (err, UDML_ERR_FORMAT,
          "%s: %s is %g, not a noise level", io->path, key, (double) v);
    model->calibration[i] = v;
  }
  return UDML_OK;
}

/* Tensor list of a model; data is only read (the accessor is not const). */
IoTensorOut *
udml_io_model_tensors (const UdmlModel * model, int extra, int *n_out)
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

UdmlStatus
udml_io_check_savable (const UdmlModel * model, const char *path,
    UdmlError * err)
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

  s = udml_io_check_savable (model, path, err);
  if (s != UDML_OK)
    goto out;
  udml_io_put_model (&meta, model);
  t = udml_io_model_tensors (model, 0, &n);
  if (!t || meta.buf.oom) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  s = udml_io_write (path, 0, &meta, t, n, err);

out:
  free (meta.buf.p);
  free (t);
  return s;
}

/* Rebuilds the UdmlConfig from the metadata and validates it. */
UdmlStatus
udml_io_read_config (const IoFile * io, UdmlConfig * cfg, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  UdmlFeatureSpec *fs = &cfg->features;
  char k[IO_MAX_KEY + 1], name[32];
  UdmlError verr = { 0 };
  int64_t v;
  int n, policy;

  memset (cfg, 0, sizeof *cfg);
  TRY (udml_io_get_i (io, "config.n_modalities", 1, UDML_MAX_MODALITIES,
          &cfg->n_modalities, err));
  TRY (udml_io_get_i (io, "config.n_classes", 1, UDML_MAX_CLASSES,
          &cfg->n_classes, err));
  for (int i = 0; i < cfg->n_classes; i++)
    TRY (udml_io_get_str (io, udml_io_key (k, "config.label.%d%s", i, ""),
            cfg->labels[i], UDML_NAME_LEN, err));
  TRY (udml_io_get_i (io, "config.est_hidden", 1, 1 << 20, &cfg->est_hidden,
          err));
  /* files written before the estimator input was normalised lack the key */
  if (udml_io_find (io, "config.est_norm"))
    TRY (udml_io_get_f32 (io, "config.est_norm", &cfg->est_norm, err));
  TRY (udml_io_get_str (io, "config.policy", name, sizeof name, err));
  policy = udml_policy_from_name (name);
  if (policy < 0) {
    s = udml_error_set (err, UDML_ERR_FORMAT, "%s: unknown policy '%s'",
        io->path, name);
    goto out;
  }
  cfg->policy = (UdmlPolicy) policy;
  TRY (udml_io_get_str (io, "config.scaling", name, sizeof name, err));
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

    TRY (udml_io_get_str (io, udml_io_key (k, "modality.%d.%s", i, "name"),
            ms->name, UDML_NAME_LEN, err));
    TRY (udml_io_get_str (io, udml_io_key (k, "modality.%d.%s", i, "kind"),
            name, sizeof name, err));
    if (!strcmp (name, "audio"))
      ms->kind = UDML_MODALITY_AUDIO;
    else if (!strcmp (name, "video"))
      ms->kind = UDML_MODALITY_VIDEO;
    else {
      s = udml_error_set (err, UDML_ERR_FORMAT,
          "%s: modality %d: unknown kind '%s'", io->path, i, name);
      goto out;
    }
    TRY (udml_io_get_ints (io, udml_io_key (k, "modality.%d.%s", i, "input"),
            shape, 3, &n, 1, 1 << 16, err));
    if (n != 3) {
      s = udml_error_set (err, UDML_ERR_FORMAT,
          "%s: modality %d: input shape has %d values, expected 3 (C H W)",
          io->path, i, n);
      goto out;
    }
    ms->in_c = shape[0];
    ms->in_h = shape[1];
    ms->in_w = shape[2];
    TRY (udml_io_get_ints (io, udml_io_key (k, "modality.%d.%s", i, "channels"),
            ms->channels, UDML_MAX_STAGES, &ms->n_stages, 1, 1 << 16, err));
    TRY (udml_io_get_f32 (io, udml_io_key (k, "modality.%d.%s", i, "norm_mean"),
            &ms->norm_mean, err));
    TRY (udml_io_get_f32 (io, udml_io_key (k, "modality.%d.%s", i, "norm_std"),
            &ms->norm_std, err));
  }

  TRY (udml_io_get_i (io, "features.sample_rate", 0, 1 << 24, &fs->sample_rate,
          err));
  TRY (udml_io_get_i (io, "features.n_fft", 0, 1 << 24, &fs->n_fft, err));
  TRY (udml_io_get_i (io, "features.win_length", 0, 1 << 24, &fs->win_length,
          err));
  TRY (udml_io_get_i (io, "features.hop_length", 0, 1 << 24, &fs->hop_length,
          err));
  TRY (udml_io_get_i (io, "features.n_mels", 0, 1 << 16, &fs->n_mels, err));
  TRY (udml_io_get_f32 (io, "features.fmin", &fs->fmin, err));
  TRY (udml_io_get_f32 (io, "features.fmax", &fs->fmax, err));
  TRY (udml_io_get_f32 (io, "features.log_floor", &fs->log_floor, err));
  TRY (udml_io_get_i (io, "features.frame_width", 0, 1 << 16, &fs->frame_width,
          err));
  TRY (udml_io_get_i (io, "features.frame_height", 0, 1 << 16,
          &fs->frame_height, err));
  TRY (udml_io_get_i (io, "features.frame_channels", 0, 1 << 16,
          &fs->frame_channels, err));
  TRY (udml_io_get_i (io, "features.fps_num", 0, 1 << 30, &fs->fps_num, err));
  TRY (udml_io_get_i (io, "features.fps_den", 0, 1 << 30, &fs->fps_den, err));
  TRY (udml_io_get_int (io, "features.window_ns", 0, INT64_MAX, &v, err));
  fs->window_ns = v;
  TRY (udml_io_get_int (io, "features.hop_ns", 0, INT64_MAX, &v, err));
  fs->hop_ns = v;
  /* files from before stacked frames hold one frame per window */
  fs->frames_per_window = 1;
  if (udml_io_find (io, "features.frames_per_window"))
    TRY (udml_io_get_i (io, "features.frames_per_window", 1,
            UDML_MAX_WINDOW_FRAMES, &fs->frames_per_window, err));

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
UdmlStatus
udml_io_read_deps (const IoFile * io, int n_mod, float *d, UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  char k[IO_MAX_KEY + 1];

  for (int i = 0; i < n_mod && s == UDML_OK; i++)
    s = udml_io_get_f32 (io, udml_io_key (k, "modality.%d.%s", i, "dependency"),
        &d[i], err);
  return s;
}

/* Provenance text, NUL-terminated. (transfer full) */
static UdmlStatus
io_read_provenance (const IoFile * io, char **out, UdmlError * err)
{
  const IoMeta *m = NULL;
  UdmlStatus s = udml_io_need (io, "provenance", IO_META_STR, &m, err);

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
UdmlStatus
udml_io_match_tensors (const IoFile * io, const UdmlModel * model, int *map,
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

/* Builds the model of cfg once the file is known to hold it and its input
 * and inference workspace are within what a loader accepts. (transfer full) */
static UdmlStatus
io_build_model (const IoFile * io, const UdmlConfig * cfg, UdmlModel ** out,
    UdmlError * err)
{
  UdmlError merr = { 0 };
  size_t bytes;
  UdmlStatus s;

  *out = NULL;
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *ms = &cfg->mod[m];
    size_t F = udml_config_input_size (cfg, m);
    if (F > UDML_MAX_INPUT_VALUES)
      return udml_error_set (err, UDML_ERR_DIMS,
          "%s: modality '%s' input %dx%dx%d is %zu values (limit %zu)",
          io->path, ms->name, ms->in_c, ms->in_h, ms->in_w, F,
          UDML_MAX_INPUT_VALUES);
  }
  if ((s = io_check_config_fits (io, cfg, err)) != UDML_OK)
    return s;
  *out = udml_model_new (cfg, 0, &merr);
  if (!*out)
    return udml_error_set (err, merr.code ? merr.code : UDML_ERR_NOMEM,
        "%s: cannot build the model: %s", io->path, merr.msg);
  bytes = udml_work_bytes (*out, 1, 0);
  if (bytes > UDML_MAX_SAMPLE_WORKSPACE) {
    udml_model_free (*out);
    *out = NULL;
    return udml_error_set (err, UDML_ERR_DIMS,
        "%s: inference would need %.1f MiB of workspace per sample (limit "
        "%zu MiB)", io->path, bytes / 1048576.0,
        UDML_MAX_SAMPLE_WORKSPACE >> 20);
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
  uint8_t *chunk = NULL;
  int *map = NULL;
  char *prov = NULL;
  float dep[UDML_MAX_MODALITIES];

  if (out)
    *out = NULL;
  TRY (udml_io_open (&io, path, 0, err));
  if (!out) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: out is NULL", path);
    goto out;
  }
  TRY (udml_io_read_config (&io, &cfg, err));
  TRY (io_build_model (&io, &cfg, &model, err));
  TRY (udml_io_read_deps (&io, cfg.n_modalities, dep, err));
  TRY (io_read_provenance (&io, &prov, err));
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_dependency (model, i, dep[i]);
  udml_model_set_provenance (model, prov);
  TRY (io_read_calibration (&io, model, err));
  chunk = malloc (4 * IO_CHUNK);
  map = malloc (sizeof (int) * (size_t) (udml_model_num_tensors (model) + 1));
  if (!chunk || !map) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  TRY (udml_io_match_tensors (&io, model, map, NULL, err));
  for (int i = 0; i < udml_model_num_tensors (model); i++)
    TRY (udml_io_read_tensor (&io, &io.tensors[map[i]],
            udml_model_tensor_data (model, i), chunk, err));
  *out = model;
  model = NULL;

out:
  udml_io_close (&io);
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
  UdmlModel *model = NULL;
  uint8_t *chunk = NULL;
  float dep[UDML_MAX_MODALITIES];

  TRY (udml_io_open (&io, path, 0, err));
  TRY (udml_io_read_config (&io, &cfg, err));
  TRY (io_build_model (&io, &cfg, &model, err));
  TRY (udml_io_read_deps (&io, cfg.n_modalities, dep, err));
  chunk = malloc (4 * IO_CHUNK);
  if (!chunk) {
    s = udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  for (int j = 0; j < io.n_tensors; j++)
    TRY (udml_io_read_tensor (&io, &io.tensors[j], NULL, chunk, err));

out:
  udml_io_close (&io);
  udml_model_free (model);
  free (chunk);
  return s;
}
