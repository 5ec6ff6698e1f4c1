/* train.c — the per-step trainer and the progressive schedule of
 * method.md §4 for the six policies of §5.
 *
 * All randomness derives from (seed, global step), so a run resumed from a
 * checkpoint replays exactly what the uninterrupted run would have done.
 * Dimensions: the glossary in udml.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "ops.h"

struct UdmlTrainer
{
  UdmlModel *model;
  UdmlTrainOptions opt;
  int batch;
  UdmlWork ws;
  float *grads;                 /* like params */
  float *momentum;              /* like params */
  float *xraw[UDML_MAX_MODALITIES];     /* N x F_m staging for the noise */
  float dep[UDML_MAX_MODALITIES];
  float dep_ema[UDML_MAX_MODALITIES];
  int have_ema;
  UdmlFreeze freeze;
  const int *rows;              /* training-set rows of the batch, for opt.noise */
};

/* Stream tags: each consumer of randomness gets its own sequence. */
enum
{
  TAG_NOISE = 1,
  TAG_FORWARD,
  TAG_SHUFFLE,
  TAG_LEVELS,
};

static uint64_t
stream_id (int tag, uint64_t key, uint64_t idx)
{
  return ((uint64_t) tag << 56) ^ (key * 0x100000001b3ULL) ^ (idx << 1);
}

void
udml_train_options_default (UdmlTrainOptions * opt)
{
  memset (opt, 0, sizeof *opt);
  opt->epochs = 30;
  opt->batch = 64;
  opt->lr = 0.01f;
  opt->momentum = 0.9f;
  opt->weight_decay = 1e-4f;
  opt->clip = 40.0f;
  opt->gamma = 4.0f;
  opt->lambda = 0.1f;
  opt->beta = -1.0f;
  opt->seed = 1;
  opt->threads = 1;
}

/* ------------------------------------------------------------ trainer */

UdmlTrainer *
udml_trainer_new (UdmlModel * model, const UdmlTrainOptions * opt, int batch,
    UdmlError * err)
{
  UdmlTrainer *tr;
  const UdmlConfig *cfg;

  if (!model || batch < 1) {
    udml_error_set (err, UDML_ERR_ARG, "trainer: %s",
        !model ? "no model" : "batch < 1");
    return NULL;
  }
  cfg = &model->cfg;
  tr = calloc (1, sizeof *tr);
  if (!tr)
    goto nomem;
  tr->model = model;
  if (opt)
    tr->opt = *opt;
  else
    udml_train_options_default (&tr->opt);
  tr->batch = batch;
  if (udml_work_init (&tr->ws, model, batch, 1, err) != UDML_OK) {
    udml_trainer_free (tr);
    return NULL;
  }
  tr->grads = calloc (model->n_params, sizeof (float));
  tr->momentum = calloc (model->n_params, sizeof (float));
  if (!tr->grads || !tr->momentum)
    goto nomem;
  for (int m = 0; m < cfg->n_modalities; m++) {
    tr->xraw[m] = malloc ((size_t) batch * model->lay[m].F * sizeof (float));
    if (!tr->xraw[m])
      goto nomem;
    tr->dep[m] = 1.0f;
    tr->dep_ema[m] = model->dep[m];
  }
  return tr;

nomem:
  udml_trainer_free (tr);
  udml_error_set (err, UDML_ERR_NOMEM, "trainer: out of memory (batch %d)",
      batch);
  return NULL;
}

void
udml_trainer_free (UdmlTrainer * tr)
{
  if (!tr)
    return;
  udml_work_clear (&tr->ws);
  free (tr->grads);
  free (tr->momentum);
  for (int m = 0; m < UDML_MAX_MODALITIES; m++)
    free (tr->xraw[m]);
  free (tr);
}

float *
udml_trainer_grads (UdmlTrainer * tr, size_t *n)
{
  if (n)
    *n = tr->model->n_params;
  return tr->grads;
}

float *
udml_trainer_momentum (UdmlTrainer * tr, size_t *n)
{
  if (n)
    *n = tr->model->n_params;
  return tr->momentum;
}

void
udml_trainer_get_dependency (const UdmlTrainer * tr, float *dep, float *ema)
{
  for (int m = 0; m < tr->model->cfg.n_modalities; m++) {
    if (dep)
      dep[m] = tr->dep[m];
    if (ema)
      ema[m] = tr->dep_ema[m];
  }
}

void
udml_trainer_set_dependency (UdmlTrainer * tr, const float *dep,
    const float *ema)
{
  for (int m = 0; m < tr->model->cfg.n_modalities; m++) {
    if (dep)
      tr->dep[m] = dep[m];
    if (ema) {
      tr->dep_ema[m] = ema[m];
      udml_model_set_dependency (tr->model, m, ema[m]);
    }
  }
  if (ema)
    tr->have_ema = 1;
}

void
udml_trainer_set_freeze (UdmlTrainer * tr, UdmlFreeze freeze)
{
  tr->freeze = freeze;
}

float *
udml_trainer_input (UdmlTrainer * tr, int m)
{
  if (m < 0 || m >= tr->model->cfg.n_modalities)
    return NULL;
  return tr->xraw[m];
}

static void
loss_weights (const UdmlTrainer * tr, UdmlPhase phase, UdmlLossWeights * lw)
{
  const UdmlModel *model = tr->model;

  lw->gamma = tr->opt.gamma;
  lw->lambda = tr->opt.lambda;
  lw->use_est = phase != UDML_PHASE_STAGE1;
  for (int m = 0; m < model->cfg.n_modalities; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    /* keep the reference's KL magnitude on smaller maps (method.md §2) */
    lw->beta[m] = tr->opt.beta < 0.0f
        ? 1e-5f * 27648.0f / (float) (lay->C * lay->h * lay->w) : tr->opt.beta;
  }
}

static UdmlStatus
run_pass (UdmlTrainer * tr, int n, const float *const x[], const int *y,
    const uint8_t * levels, UdmlPhase phase, uint64_t key, int backward,
    int update_stats, UdmlLossParts * parts, UdmlError * err)
{
  UdmlModel *model = tr->model;
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities;
  UdmlForward fw;
  UdmlLossWeights lw;
  UdmlWork *ws = &tr->ws;

  if (n < 1 || n > tr->batch)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: batch of %d, planned for 1..%d", n, tr->batch);
  if (n < 2)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: batch of 1 (batch norm needs at least 2 samples)");
  for (int i = 0; i < n; i++)
    if (y[i] < 0 || y[i] >= cfg->n_classes)
      return udml_error_set (err, UDML_ERR_ARG,
          "trainer: label %d of sample %d not in 0..%d", y[i], i,
          cfg->n_classes - 1);

  /* raw copy -> noise at the sample's level -> standardise (method.md §3) */
  for (int m = 0; m < M; m++) {
    const UdmlModalitySpec *spec = &cfg->mod[m];
    size_t F = model->lay[m].F;

    if (!x[m])
      return udml_error_set (err, UDML_ERR_ARG,
          "trainer: no input for modality %s", spec->name);
    if (x[m] != tr->xraw[m])
      memcpy (tr->xraw[m], x[m], (size_t) n * F * sizeof (float));
    for (int i = 0; i < n; i++) {
      int level = levels ? levels[i * M + m] : 1;
      if (level < 1 || level > UDML_NOISE_LEVELS)
        return udml_error_set (err, UDML_ERR_ARG,
            "trainer: noise level %d of sample %d (%s) not in 1..%d", level, i,
            spec->name, UDML_NOISE_LEVELS);
      if (level > 1) {
        UdmlRng rng;
        udml_rng_seed (&rng, tr->opt.seed, stream_id (TAG_NOISE, key,
                (uint64_t) i * M + m));
        if (tr->opt.noise) {
          UdmlStatus st = tr->opt.noise (tr->opt.noise_user, m, level,
              tr->rows ? tr->rows[i] : -1, tr->xraw[m] + i * F, &rng, err);
          if (st != UDML_OK)
            return st;
          continue;
        }
        udml_noise_gaussian_planes (spec->kind, tr->xraw[m] + i * F, spec->in_c,
            (size_t) spec->in_h * spec->in_w, level, &rng);
      }
    }
    udml_model_standardise (model, ws->mod[m].x, tr->xraw[m], m,
        (size_t) n * F);
  }
  memset (ws->present, 1, (size_t) n * M);

  fw.train = 1;
  fw.unc_grad = tr->opt.estimator_task_grad;
  fw.update_stats = update_stats;
  fw.wt = udml_weighting_train (cfg->policy, phase == UDML_PHASE_UNCERTAINTY);
  fw.dep = tr->dep;
  fw.seed = tr->opt.seed;
  fw.stream = stream_id (TAG_FORWARD, key, 0);
  fw.freeze = tr->freeze;

  udml_model_forward (model, ws, n, &fw);
  loss_weights (tr, phase, &lw);
  udml_loss_forward (model, ws, n, y, levels, &lw, parts);
  if (!isfinite (parts->total))
    return udml_error_set (err, UDML_ERR_NUMERIC,
        "trainer: loss is %g (ce %g, uni %g, kl %g, est %g)", parts->total,
        parts->ce, parts->uni, parts->kl, parts->est);
  if (backward) {
    memset (tr->grads, 0, model->n_params * sizeof (float));
    udml_loss_backward (model, ws, n, y, &lw);
    udml_model_backward (model, ws, n, &fw, tr->grads);
  }
  return UDML_OK;
}

UdmlStatus
udml_trainer_compute (UdmlTrainer * tr, int n, const float *const x[],
    const int *y, const uint8_t * levels, UdmlPhase phase, uint64_t key,
    int backward, UdmlLossParts * parts, UdmlError * err)
{
  UdmlLossParts tmp;

  return run_pass (tr, n, x, y, levels, phase, key, backward, 0,
      parts ? parts : &tmp, err);
}

UdmlStatus
udml_trainer_step (UdmlTrainer * tr, int n, const float *const x[],
    const int *y, const uint8_t * levels, UdmlPhase phase, uint64_t key,
    float lr, UdmlLossParts * parts, UdmlError * err)
{
  UdmlModel *model = tr->model;
  int M = model->cfg.n_modalities, K = model->cfg.n_classes;
  UdmlLossParts tmp;
  UdmlStatus st;

  if (!parts)
    parts = &tmp;
  st = run_pass (tr, n, x, y, levels, phase, key, 1, 1, parts, err);
  if (st != UDML_OK)
    return st;

  /* D_m: batch-mean L1 norm of the unimodal logits, a constant for the
   * next step; its EMA is what the model keeps (method.md §1) */
  for (int m = 0; m < M; m++) {
    double acc = 0.0;
    for (size_t j = 0; j < (size_t) n * K; j++)
      acc += fabsf (tr->ws.o_m[m][j]);
    tr->dep[m] = (float) (acc / n);
    if (tr->dep[m] < 1e-12f)
      tr->dep[m] = 1e-12f;
    tr->dep_ema[m] = tr->have_ema
        ? UDML_DEP_EMA * tr->dep_ema[m] + (1.0f -
        UDML_DEP_EMA) * tr->dep[m] : tr->dep[m];
    udml_model_set_dependency (model, m, tr->dep_ema[m]);
  }
  tr->have_ema = 1;

  udml_clip_grad_norm (tr->grads, model->n_params, tr->opt.clip);
  udml_sgd_step (model->params, tr->momentum, tr->grads, model->n_params, lr,
      tr->opt.momentum, tr->opt.weight_decay);
  return UDML_OK;
}

/* ------------------------------------------------------------ schedule */

typedef struct
{
  int stage2_start;             /* E/2 */
  int unc_start;                /* E/2 + E/10 */
  int lr_drop;                  /* 0.7 E */
} Schedule;

static Schedule
schedule_for (int epochs)
{
  Schedule s;

  s.stage2_start = epochs / 2;
  s.unc_start = s.stage2_start + (int) lround (epochs / 10.0);
  s.lr_drop = (int) lround (0.7 * epochs);
  return s;
}

static UdmlPhase
phase_for (UdmlPolicy policy, const Schedule * s, int epoch)
{
  if (policy == UDML_POLICY_UDML_POS)
    return UDML_PHASE_UNCERTAINTY;      /* one stage: noise and all terms from epoch 0 */
  if (epoch < s->stage2_start)
    return UDML_PHASE_STAGE1;
  if (epoch < s->unc_start)
    return UDML_PHASE_STAGE2;
  return UDML_PHASE_UNCERTAINTY;
}

static void
shuffle (int *perm, int n, uint64_t seed, int epoch)
{
  UdmlRng rng;

  udml_rng_seed (&rng, seed, stream_id (TAG_SHUFFLE, (uint64_t) epoch, 0));
  for (int i = 0; i < n; i++)
    perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int) udml_rng_below (&rng, (uint32_t) i + 1);
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

/* Stage-2 draw (method.md §3): levels uniform in 1..11 per modality, then a
 * random half of the samples back to clean. order: n ints scratch. */
static void
draw_levels (uint8_t * levels, int *order, int n, int M, uint64_t seed,
    int64_t step)
{
  UdmlRng rng;

  udml_rng_seed (&rng, seed, stream_id (TAG_LEVELS, (uint64_t) step, 0));
  for (int i = 0; i < n * M; i++)
    levels[i] = (uint8_t) (1 + udml_rng_below (&rng, UDML_NOISE_LEVELS));
  for (int i = 0; i < n; i++)
    order[i] = i;
  for (int i = 0; i < n / 2; i++) {
    int j = i + (int) udml_rng_below (&rng, (uint32_t) (n - i));
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
    for (int m = 0; m < M; m++)
      levels[order[i] * M + m] = 1;
  }
}

static UdmlStatus
check_dataset (const UdmlModel * model, const UdmlDataset * ds,
    const char *what, UdmlError * err)
{
  const UdmlConfig *cfg = &model->cfg;

  if (ds->n < 2)
    return udml_error_set (err, UDML_ERR_ARG,
        "train: %s set has %d samples, need >= 2", what, ds->n);
  if (!ds->y)
    return udml_error_set (err, UDML_ERR_ARG, "train: %s set has no labels",
        what);
  for (int m = 0; m < cfg->n_modalities; m++)
    if (!ds->x[m])
      return udml_error_set (err, UDML_ERR_ARG,
          "train: %s set has no %s features", what, cfg->mod[m].name);
  for (int i = 0; i < ds->n; i++)
    if (ds->y[i] < 0 || ds->y[i] >= cfg->n_classes)
      return udml_error_set (err, UDML_ERR_ARG,
          "train: %s sample %d has label %d, expected 0..%d", what, i, ds->y[i],
          cfg->n_classes - 1);
  return UDML_OK;
}

/* Per-modality mean/std over all training features (double accumulation,
 * so the result does not depend on the order of evaluation). */
static void
set_normalisation (UdmlModel * model, const UdmlDataset * train)
{
  for (int m = 0; m < model->cfg.n_modalities; m++) {
    size_t count = (size_t) train->n * model->lay[m].F;
    double sum = 0.0, sq = 0.0, mean, var;
    for (size_t j = 0; j < count; j++) {
      double v = train->x[m][j];
      sum += v;
      sq += v * v;
    }
    mean = sum / (double) count;
    var = sq / (double) count - mean * mean;
    udml_model_set_normalisation (model, m, (float) mean,
        var > 1e-12 ? (float) sqrt (var) : 1.0f);
  }
}

/* Clean validation in eval mode with the current training weighting and
 * the dependency EMA. Uses ws (no grad) in chunks. */
static void
validate (UdmlModel * model, UdmlWork * ws, int chunk, const UdmlDataset * val,
    UdmlPhase phase, float *acc_out, float *loss_out)
{
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, K = cfg->n_classes, correct = 0;
  double loss = 0.0;
  UdmlForward fw;

  memset (&fw, 0, sizeof fw);
  fw.wt = udml_weighting_train (cfg->policy, phase == UDML_PHASE_UNCERTAINTY);
  fw.dep = model->dep;
  for (int start = 0; start < val->n; start += chunk) {
    int n = val->n - start < chunk ? val->n - start : chunk;
    for (int m = 0; m < M; m++) {
      size_t F = model->lay[m].F;
      udml_model_standardise (model, ws->mod[m].x,
          val->x[m] + (size_t) start * F, m, (size_t) n * F);
    }
    memset (ws->present, 1, (size_t) n * M);
    udml_model_forward (model, ws, n, &fw);
    loss +=
        (double) udml_xent_forward (ws->probs, ws->o, val->y + start, n, K) * n;
    for (int i = 0; i < n; i++) {
      const float *o = ws->o + (size_t) i * K;
      int best = 0;
      for (int k = 1; k < K; k++)
        if (o[k] > o[best])
          best = k;
      correct += best == val->y[start + i];
    }
  }
  *acc_out = (float) correct / (float) val->n;
  *loss_out = (float) (loss / val->n);
}

static UdmlStatus
save_checkpoint (UdmlTrainer * tr, const UdmlTrainOptions * opt, int epoch,
    int step, int64_t global_step, double loss_sum, double correct_sum,
    int seen, UdmlError * err)
{
  UdmlCheckpointState st;

  if (!opt->checkpoint)
    return UDML_OK;
  memset (&st, 0, sizeof st);
  st.seed = opt->seed;
  st.policy = tr->model->cfg.policy;
  st.epochs = opt->epochs;
  st.batch = tr->batch;
  st.epoch = epoch;
  st.step = step;
  st.global_step = global_step;
  udml_trainer_get_dependency (tr, st.dep, st.dep_ema);
  st.loss_sum = loss_sum;
  st.correct_sum = correct_sum;
  st.seen = seen;
  st.data_fingerprint = opt->data_fingerprint;
  return udml_checkpoint_save (opt->checkpoint, tr->model, &st, tr->momentum,
      tr->model->n_params, err);
}

static UdmlStatus
check_options (const UdmlTrainOptions * opt, UdmlError * err)
{
  if (opt->epochs < 1 || opt->batch < 2 || !(opt->lr > 0.0f)
      || opt->momentum < 0.0f || opt->weight_decay < 0.0f || opt->gamma < 0.0f
      || opt->lambda < 0.0f)
    return udml_error_set (err, UDML_ERR_ARG,
        "train: bad options (epochs %d, batch %d, lr %g, momentum %g, weight decay %g)",
        opt->epochs, opt->batch, opt->lr, opt->momentum, opt->weight_decay);
  return UDML_OK;
}

/* Copies the samples idx[0..batch) into the trainer's input buffers (xs)
 * and their labels into y. */
static void
gather_batch (UdmlTrainer * tr, const UdmlDataset * train, const int *idx,
    int batch, const float *xs[], int *y)
{
  const UdmlModel *model = tr->model;

  for (int m = 0; m < model->cfg.n_modalities; m++) {
    size_t F = model->lay[m].F;
    float *dst = udml_trainer_input (tr, m);
    for (int i = 0; i < batch; i++)
      memcpy (dst + i * F, train->x[m] + (size_t) idx[i] * F,
          F * sizeof (float));
    xs[m] = dst;
  }
  for (int i = 0; i < batch; i++)
    y[i] = train->y[idx[i]];
  tr->rows = idx;
}

/* Restores model, momentum and dependency state from opt->resume into tr;
 * cs gets the run position. The checkpoint must be of this run. */
static UdmlStatus
resume_run (UdmlTrainer * tr, UdmlModel * model, const UdmlTrainOptions * opt,
    int batch, int steps, UdmlCheckpointState * cs, UdmlError * err)
{
  UdmlModel *probe = NULL;
  UdmlStatus st = UDML_OK;
  int M = model->cfg.n_modalities;

  /* Read into a scratch model first: a checkpoint of another run is
   * refused without touching the caller's model. */
  if (!(probe = udml_model_new (&model->cfg, 0, err))) {
    st = err ? err->code : UDML_ERR_NOMEM;
    goto out;
  }
  if ((st =
          udml_checkpoint_load (opt->resume, probe, cs, tr->momentum,
              model->n_params, err)) != UDML_OK)
    goto out;
  if (cs->seed != opt->seed || cs->policy != (int) model->cfg.policy
      || cs->epochs != opt->epochs || cs->batch != batch) {
    st = udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: checkpoint of seed %llu, policy %s, %d epochs, batch %d; this run has "
        "seed %llu, policy %s, %d epochs, batch %d", opt->resume,
        (unsigned long long) cs->seed,
        udml_policy_name ((UdmlPolicy) cs->policy), cs->epochs, cs->batch,
        (unsigned long long) opt->seed, udml_policy_name (model->cfg.policy),
        opt->epochs, batch);
    goto out;
  }
  /* 0 on either side is unknown (a checkpoint from before the field, or a
   * caller that does not hash its data): nothing to compare. */
  if (cs->data_fingerprint && opt->data_fingerprint
      && cs->data_fingerprint != opt->data_fingerprint) {
    st = udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: checkpoint was trained on other data (fingerprint %016llx, "
        "this run's data %016llx)", opt->resume,
        (unsigned long long) cs->data_fingerprint,
        (unsigned long long) opt->data_fingerprint);
    goto out;
  }
  if (cs->epoch < 0 || cs->epoch > opt->epochs || cs->step < 0
      || cs->step > steps) {
    st = udml_error_set (err, UDML_ERR_MISMATCH,
        "%s: checkpoint position epoch %d step %d outside %d epochs of %d steps",
        opt->resume, cs->epoch, cs->step, opt->epochs, steps);
    goto out;
  }
  for (int i = 0; i < udml_model_num_tensors (model); i++)
    memcpy (udml_model_tensor_data (model, i),
        udml_model_tensor_data (probe, i),
        udml_model_tensor_size (model, i) * sizeof (float));
  for (int m = 0; m < M; m++) {
    udml_model_set_dependency (model, m, udml_model_dependency (probe, m));
    model->cfg.mod[m].norm_mean = probe->cfg.mod[m].norm_mean;
    model->cfg.mod[m].norm_std = probe->cfg.mod[m].norm_std;
  }
  udml_trainer_set_dependency (tr, cs->dep, cs->dep_ema);
  tr->have_ema = cs->global_step > 0;

out:
  udml_model_free (probe);
  return st;
}

UdmlStatus
udml_train (UdmlModel * model, const UdmlDataset * train,
    const UdmlDataset * val, const UdmlTrainOptions * opt_in, UdmlError * err)
{
  UdmlTrainOptions opt;
  UdmlTrainer *tr = NULL;
  UdmlWork vws;
  int *perm = NULL, *order = NULL, *ybuf = NULL;
  uint8_t *levels = NULL;
  int M, batch, steps, epoch = 0, step = 0, seen = 0;
  int64_t global_step = 0;
  double loss_sum = 0.0, correct_sum = 0.0;
  Schedule sched;
  UdmlStatus st = UDML_OK;

  memset (&vws, 0, sizeof vws);
  if (!model || !train)
    return udml_error_set (err, UDML_ERR_ARG, "train: %s",
        !model ? "no model" : "no data");
  if (opt_in)
    opt = *opt_in;
  else
    udml_train_options_default (&opt);
  if ((st = check_options (&opt, err)) != UDML_OK)
    return st;
  if ((st = check_dataset (model, train, "training", err)) != UDML_OK)
    return st;
  if (val && (st = check_dataset (model, val, "validation", err)) != UDML_OK)
    return st;

  M = model->cfg.n_modalities;
  batch = opt.batch < train->n ? opt.batch : train->n;
  steps = train->n / batch;
  sched = schedule_for (opt.epochs);
  udml_set_num_threads (opt.threads);
  set_normalisation (model, train);

  tr = udml_trainer_new (model, &opt, batch, err);
  if (!tr) {
    st = err ? err->code : UDML_ERR_NOMEM;
    goto out;
  }
  perm = malloc ((size_t) train->n * sizeof (int));
  order = malloc ((size_t) batch * sizeof (int));
  ybuf = malloc ((size_t) batch * sizeof (int));
  levels = malloc ((size_t) batch * M);
  if (!perm || !order || !ybuf || !levels) {
    st = udml_error_set (err, UDML_ERR_NOMEM, "train: out of memory");
    goto out;
  }
  if (val && (st = udml_work_init (&vws, model, batch, 0, err)) != UDML_OK)
    goto out;

  if (opt.resume) {
    UdmlCheckpointState cs;
    if ((st = resume_run (tr, model, &opt, batch, steps, &cs, err)) != UDML_OK)
      goto out;
    epoch = cs.epoch;
    step = cs.step;
    global_step = cs.global_step;
    loss_sum = cs.loss_sum;
    correct_sum = cs.correct_sum;
    seen = cs.seen;
  }

  for (; epoch < opt.epochs; epoch++, step = 0) {
    UdmlPhase phase = phase_for (model->cfg.policy, &sched, epoch);
    float lr = epoch >= sched.lr_drop ? opt.lr * 0.1f : opt.lr;
    UdmlTrainProgress pr;

    shuffle (perm, train->n, opt.seed, epoch);
    memset (&pr, 0, sizeof pr);
    pr.epoch = epoch;
    pr.epochs = opt.epochs;
    pr.steps_per_epoch = steps;
    pr.stage = phase == UDML_PHASE_STAGE1 ? 1 : 2;
    pr.lr = lr;
    pr.val_accuracy = -1.0f;
    pr.val_loss = -1.0f;

    for (; step < steps; step++) {
      const float *xs[UDML_MAX_MODALITIES];
      UdmlLossParts parts;

      gather_batch (tr, train, perm + (size_t) step * batch, batch, xs, ybuf);
      if (phase != UDML_PHASE_STAGE1)
        draw_levels (levels, order, batch, M, opt.seed, global_step);
      st = udml_trainer_step (tr, batch, xs, ybuf,
          phase != UDML_PHASE_STAGE1 ? levels : NULL, phase,
          (uint64_t) global_step, lr, &parts, err);
      tr->rows = NULL;
      if (st != UDML_OK) {
        if (st == UDML_ERR_NUMERIC && err) {
          char tmp[sizeof err->msg];
          memcpy (tmp, err->msg, sizeof tmp);
          udml_error_set (err, st, "epoch %d step %d: %s", epoch, step, tmp);
        }
        goto out;
      }
      global_step++;
      loss_sum += parts.total * batch;
      correct_sum += parts.correct;
      seen += batch;

      pr.step = step + 1;
      pr.loss = (float) (loss_sum / seen);
      pr.accuracy = (float) (correct_sum / seen);
      if (opt.progress && opt.progress (&pr, opt.progress_user)) {
        if ((st =
                save_checkpoint (tr, &opt, epoch, step + 1, global_step,
                    loss_sum, correct_sum, seen, err)) == UDML_OK)
          st = udml_error_set (err, UDML_ERR_INTERRUPTED,
              "train: interrupted at epoch %d step %d", epoch, step + 1);
        goto out;
      }
      if (opt.checkpoint_every_steps > 0
          && global_step % opt.checkpoint_every_steps == 0 && step + 1 < steps
          && (st =
              save_checkpoint (tr, &opt, epoch, step + 1, global_step, loss_sum,
                  correct_sum, seen, err)) != UDML_OK)
        goto out;
    }

    if (val)
      validate (model, &vws, batch, val, phase, &pr.val_accuracy, &pr.val_loss);
    pr.step = steps;
    pr.epoch_done = 1;
    loss_sum = correct_sum = 0.0;
    seen = 0;
    if ((st =
            save_checkpoint (tr, &opt, epoch + 1, 0, global_step, 0.0, 0.0, 0,
                err))
        != UDML_OK)
      goto out;
    if (opt.progress && opt.progress (&pr, opt.progress_user)) {
      st = udml_error_set (err, UDML_ERR_INTERRUPTED,
          "train: interrupted after epoch %d", epoch);
      goto out;
    }
    udml_log (UDML_LOG_INFO, "epoch %d/%d: loss %.4f accuracy %.4f", epoch + 1,
        opt.epochs, pr.loss, pr.accuracy);
  }

out:
  udml_work_clear (&vws);
  udml_trainer_free (tr);
  free (perm);
  free (order);
  free (ybuf);
  free (levels);
  return st;
}
