/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* checkpoint.c — the checkpoint schema: the model schema (modelfile.c) plus
 * the run position, the dependency state and the optimiser momentum.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "container.h"

#define CKPT_MOMENTUM "checkpoint.momentum"
#define CKPT_FINGERPRINT "checkpoint.data_fingerprint"

/* Checkpoints from before the fingerprint have no key: 0, unknown. */
static UdmlStatus
read_fingerprint (const IoFile * io, uint64_t * out, UdmlError * err)
{
  int64_t v = 0;
  UdmlStatus s = UDML_OK;

  if (udml_io_find (io, CKPT_FINGERPRINT))
    s = udml_io_get_int (io, CKPT_FINGERPRINT, INT64_MIN, INT64_MAX, &v, err);
  *out = (uint64_t) v;
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

  s = udml_io_check_savable (model, path, err);
  if (s != UDML_OK)
    goto out;
  if (!st || (n > 0 && !momentum) || n > IO_MAX_ELEMENTS) {
    s = udml_error_set (err, UDML_ERR_ARG,
        "%s: bad checkpoint arguments (state %p, momentum %p, n %zu)", path,
        (const void *) st, (const void *) momentum, n);
    goto out;
  }
  udml_io_put_model (&meta, model);
  udml_io_meta_int (&meta, "checkpoint.seed", (int64_t) st->seed);
  udml_io_meta_int (&meta, "checkpoint.policy", st->policy);
  udml_io_meta_int (&meta, "checkpoint.epochs", st->epochs);
  udml_io_meta_int (&meta, "checkpoint.batch", st->batch);
  udml_io_meta_int (&meta, "checkpoint.epoch", st->epoch);
  udml_io_meta_int (&meta, "checkpoint.step", st->step);
  udml_io_meta_int (&meta, "checkpoint.global_step", st->global_step);
  udml_io_meta_f32s (&meta, "checkpoint.dep", st->dep, UDML_MAX_MODALITIES);
  udml_io_meta_f32s (&meta, "checkpoint.dep_ema", st->dep_ema,
      UDML_MAX_MODALITIES);
  udml_io_meta_f64 (&meta, "checkpoint.loss_sum", st->loss_sum);
  udml_io_meta_f64 (&meta, "checkpoint.correct_sum", st->correct_sum);
  udml_io_meta_int (&meta, "checkpoint.seen", st->seen);
  udml_io_meta_int (&meta, CKPT_FINGERPRINT, (int64_t) st->data_fingerprint);

  t = udml_io_model_tensors (model, 1, &nt);
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
  s = udml_io_write (path, 1, &meta, t, nt, err);

out:
  free (meta.buf.p);
  free (t);
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
  if (udml_io_f32_bits (a->field) != udml_io_f32_bits (b->field)) { \
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

  TRY (udml_io_open (&io, path, 1, err));
  if (!model || !st || (n > 0 && !momentum)) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: bad checkpoint arguments",
        path);
    goto out;
  }
  mcfg = udml_model_config (model);
  TRY (udml_io_read_config (&io, &cfg, err));
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
  TRY (udml_io_match_tensors (&io, model, map, CKPT_MOMENTUM, err));

  memset (&cs, 0, sizeof cs);
  TRY (udml_io_get_int (&io, "checkpoint.seed", INT64_MIN, INT64_MAX, &v, err));
  cs.seed = (uint64_t) v;
  TRY (udml_io_get_i (&io, "checkpoint.policy", 0, UDML_POLICY_COUNT - 1,
          &cs.policy, err));
  TRY (udml_io_get_i (&io, "checkpoint.epochs", 0, INT32_MAX, &cs.epochs, err));
  TRY (udml_io_get_i (&io, "checkpoint.batch", 0, INT32_MAX, &cs.batch, err));
  TRY (udml_io_get_i (&io, "checkpoint.epoch", 0, INT32_MAX, &cs.epoch, err));
  TRY (udml_io_get_i (&io, "checkpoint.step", 0, INT32_MAX, &cs.step, err));
  TRY (udml_io_get_int (&io, "checkpoint.global_step", 0, INT64_MAX,
          &cs.global_step, err));
  TRY (udml_io_get_f32s (&io, "checkpoint.dep", cs.dep, UDML_MAX_MODALITIES,
          err));
  TRY (udml_io_get_f32s (&io, "checkpoint.dep_ema", cs.dep_ema,
          UDML_MAX_MODALITIES, err));
  TRY (udml_io_get_f64 (&io, "checkpoint.loss_sum", &cs.loss_sum, err));
  TRY (udml_io_get_f64 (&io, "checkpoint.correct_sum", &cs.correct_sum, err));
  TRY (udml_io_get_i (&io, "checkpoint.seen", 0, INT32_MAX, &cs.seen, err));
  TRY (read_fingerprint (&io, &cs.data_fingerprint, err));
  TRY (udml_io_read_deps (&io, cfg.n_modalities, dep, err));

  /* Check every CRC before touching the caller's model, so a damaged
   * checkpoint leaves it as it was. */
  for (int j = 0; j < io.n_tensors; j++)
    TRY (udml_io_read_tensor (&io, &io.tensors[j], NULL, chunk, err));
  for (int i = 0; i < nt; i++)
    TRY (udml_io_read_tensor (&io, &io.tensors[map[i]],
            udml_model_tensor_data (model, i), chunk, err));
  if (mom)
    TRY (udml_io_read_tensor (&io, mom, momentum, chunk, err));
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_normalisation (model, i, cfg.mod[i].norm_mean,
        cfg.mod[i].norm_std);
  for (int i = 0; i < cfg.n_modalities; i++)
    udml_model_set_dependency (model, i, dep[i]);
  *st = cs;

out:
  udml_io_close (&io);
  free (chunk);
  free (map);
  return s;
}

UdmlStatus
udml_checkpoint_data_fingerprint (const char *path, uint64_t * out,
    UdmlError * err)
{
  UdmlStatus s = UDML_OK;
  IoFile io;

  TRY (udml_io_open (&io, path, 1, err));
  if (!out) {
    s = udml_error_set (err, UDML_ERR_ARG, "%s: out is NULL", path);
    goto out;
  }
  TRY (read_fingerprint (&io, out, err));

out:
  udml_io_close (&io);
  return s;
}
