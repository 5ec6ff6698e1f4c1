/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* train.c — the per-step trainer and the progressive schedule of
 * method.md §4 for the six policies of §5.
 *
 * All randomness derives from (seed, global step), so a run resumed from a
 * checkpoint replays exactly what the uninterrupted run would have done.
 * Dimensions: the glossary in udml.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "workers.h"

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
  int T, per;
  size_t scratch;

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
  T = tr->opt.threads < 1 ? 1 : tr->opt.threads > 256 ? 256 : tr->opt.threads;
  tr->batch = batch;
  tr->n_workers = T;
  tr->split = T > 1;
  per = (batch + T - 1) / T;
  tr->grads = calloc (model->n_params, sizeof (float));
  tr->momentum = calloc (model->n_params, sizeof (float));
  tr->workers = calloc ((size_t) T, sizeof *tr->workers);
  tr->all_rows = malloc ((size_t) batch * sizeof (int));
  tr->local_rows = malloc ((size_t) batch * sizeof (int));
  if (!tr->grads || !tr->momentum || !tr->workers || !tr->all_rows
      || !tr->local_rows)
    goto nomem;
  for (int i = 0; i < batch; i++)
    tr->all_rows[i] = i;
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModLayout *lay = &model->lay[m];
    tr->xraw[m] = malloc ((size_t) batch * lay->F * sizeof (float));
    if (!tr->xraw[m])
      goto nomem;
    tr->dep[m] = 1.0f;
    tr->dep_ema[m] = model->dep[m];
  }

  scratch = udml_model_sync_scratch (model);
  if (scratch < (size_t) PARTS_LEN (cfg->n_modalities))
    scratch = PARTS_LEN (cfg->n_modalities);
  tr->sync.n_workers = T;
  tr->sync.cap = scratch;
  tr->sync.slots = malloc (2 * (size_t) T * scratch * sizeof (double));
  tr->sync.sum = malloc (scratch * sizeof (double));
  tr->sync.turn = calloc ((size_t) T, sizeof (int));
  if (!tr->sync.slots || !tr->sync.sum || !tr->sync.turn)
    goto nomem;
  for (int w = 0; w < T; w++) {
    Worker *wk = &tr->workers[w];
    wk->tr = tr;
    wk->id = w;
    if (udml_work_init (&wk->ws, model, per, 1, err) != UDML_OK) {
      udml_trainer_free (tr);
      return NULL;
    }
    wk->grads = T == 1 ? tr->grads : calloc (model->n_params, sizeof (float));
    wk->red = malloc (scratch * sizeof (double));
    wk->y = malloc ((size_t) batch * sizeof (int));
    wk->levels = malloc ((size_t) batch * cfg->n_modalities);
    if (!wk->grads || !wk->red || !wk->y || !wk->levels)
      goto nomem;
  }
  if (T > 1) {
    if (pthread_barrier_init (&tr->sync.barrier, NULL, (unsigned) T) != 0)
      goto nomem;
    tr->sync.have_barrier = 1;
    for (int w = 1; w < T; w++) {
      if (pthread_create (&tr->workers[w].thread, NULL, udml_worker_main,
              &tr->workers[w]) != 0) {
        udml_trainer_free (tr);
        udml_error_set (err, UDML_ERR_NOMEM,
            "trainer: cannot start worker %d of %d", w, T);
        return NULL;
      }
      tr->workers[w].started = 1;
    }
  }
  return tr;

nomem:
  udml_trainer_free (tr);
  udml_error_set (err, UDML_ERR_NOMEM,
      "trainer: out of memory (batch %d, %d workers)", batch,
      opt ? opt->threads : 1);
  return NULL;
}

void
udml_trainer_free (UdmlTrainer * tr)
{
  int started = 0;

  if (!tr)
    return;
  for (int w = 1; tr->workers && w < tr->n_workers; w++)
    started += tr->workers[w].started;
  if (started) {
    /* a partly started pool cannot meet at the barrier: only a full one is
     * released that way; udml_trainer_new fails before that otherwise */
    if (started == tr->n_workers - 1) {
      tr->quit = 1;
      pthread_barrier_wait (&tr->sync.barrier);
    } else {
      for (int w = 1; w < tr->n_workers; w++)
        if (tr->workers[w].started)
          pthread_cancel (tr->workers[w].thread);
    }
    for (int w = 1; w < tr->n_workers; w++)
      if (tr->workers[w].started)
        pthread_join (tr->workers[w].thread, NULL);
  }
  if (tr->sync.have_barrier)
    pthread_barrier_destroy (&tr->sync.barrier);
  for (int w = 0; tr->workers && w < tr->n_workers; w++) {
    Worker *wk = &tr->workers[w];
    udml_work_clear (&wk->ws);
    if (wk->grads != tr->grads)
      free (wk->grads);
    free (wk->red);
    free (wk->y);
    free (wk->levels);
  }
  free (tr->workers);
  free (tr->sync.slots);
  free (tr->sync.sum);
  free (tr->sync.turn);
  free (tr->grads);
  free (tr->momentum);
  free (tr->all_rows);
  free (tr->local_rows);
  for (int m = 0; m < UDML_MAX_MODALITIES; m++) {
    free (tr->xraw[m]);
  }
  free (tr);
}

void
udml_trainer_set_reduce (UdmlTrainer * tr, const UdmlReduce * r)
{
  tr->have_reduce = r != NULL;
  if (r)
    tr->reduce = *r;
  tr->sync.reduce = r ? &tr->reduce : NULL;
  tr->split = tr->n_workers > 1 || r != NULL;
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


UdmlStatus
udml_trainer_compute (UdmlTrainer * tr, int n, const float *const x[],
    const int *y, const uint8_t * levels, UdmlPhase phase, uint64_t key,
    int backward, UdmlLossParts * parts, UdmlError * err)
{
  UdmlLossParts tmp;

  return udml_trainer_run_pass (tr, n, NULL, 0, x, y, levels, phase, key,
      backward, 0, parts ? parts : &tmp, err);
}

UdmlStatus
udml_trainer_step_rows (UdmlTrainer * tr, int n, const int *rows, int n_rows,
    const float *const x[], const int *y, const uint8_t * levels,
    UdmlPhase phase, uint64_t key, float lr, UdmlLossParts * parts,
    UdmlError * err)
{
  UdmlModel *model = tr->model;
  int M = model->cfg.n_modalities;
  UdmlLossParts tmp;
  UdmlStatus st;

  if (!parts)
    parts = &tmp;
  st = udml_trainer_run_pass (tr, n, rows, n_rows, x, y, levels, phase, key, 1,
      1, parts, err);
  if (st != UDML_OK)
    return st;

  /* D_m: batch-mean L1 norm of the unimodal logits, a constant for the
   * next step; its EMA is what the model keeps (method.md §1) */
  for (int m = 0; m < M; m++) {
    tr->dep[m] = (float) (tr->dep_sum[m] / n);
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

UdmlStatus
udml_trainer_step (UdmlTrainer * tr, int n, const float *const x[],
    const int *y, const uint8_t * levels, UdmlPhase phase, uint64_t key,
    float lr, UdmlLossParts * parts, UdmlError * err)
{
  return udml_trainer_step_rows (tr, n, NULL, 0, x, y, levels, phase, key, lr,
      parts, err);
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
set_normalisation (UdmlModel * model, const UdmlDataset * train,
    const UdmlTrainDist * dist)
{
  for (int m = 0; m < model->cfg.n_modalities; m++) {
    size_t count = (size_t) train->n * model->lay[m].F;
    double sum = 0.0, sq = 0.0, mean, var, s[2];
    for (size_t j = 0; j < count; j++) {
      double v = train->x[m][j];
      sum += v;
      sq += v * v;
    }
    if (dist) {
      s[0] = sum;
      s[1] = sq;
      dist->reduce.sum_f64 (s, 2, dist->reduce.user);
      sum = s[0];
      sq = s[1];
      count = (size_t) dist->n_global * model->lay[m].F;
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

  if (!opt->checkpoint || tr->rank != 0)
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
  tr->data_rows = idx;
}

/* The rows of a global batch this process holds (local: global index ->
 * local sample or -1), staged at their positions; returns their count. */
static int
gather_rows (UdmlTrainer * tr, const UdmlDataset * train, const int *local,
    const int *idx, int batch, const float *xs[], int *y, int *rows)
{
  const UdmlModel *model = tr->model;
  int n_rows = 0;

  for (int m = 0; m < model->cfg.n_modalities; m++)
    xs[m] = udml_trainer_input (tr, m);
  for (int p = 0; p < batch; p++) {
    int i = local[idx[p]];
    y[p] = 0;
    tr->local_rows[p] = i;
    if (i < 0)
      continue;
    rows[n_rows++] = p;
    y[p] = train->y[i];
    for (int m = 0; m < model->cfg.n_modalities; m++) {
      size_t F = model->lay[m].F;
      memcpy (udml_trainer_input (tr, m) + p * F,
          train->x[m] + (size_t) i * F, F * sizeof (float));
    }
  }
  tr->data_rows = tr->local_rows;
  return n_rows;
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
  return udml_train_dist (model, train, val, opt_in, NULL, err);
}

static UdmlStatus
check_dist (const UdmlModel * model, const UdmlDataset * ds,
    const UdmlTrainDist * d, UdmlError * err)
{
  if (d->n_global < 2 || d->size < 1 || d->rank < 0 || d->rank >= d->size
      || !d->reduce.sum_f64 || !d->reduce.sum_f32 || ds->n < 0
      || ds->n > d->n_global || (ds->n > 0 && (!d->index || !ds->y)))
    return udml_error_set (err, UDML_ERR_ARG,
        "train: bad distribution (rank %d of %d, %d of %d samples)", d->rank,
        d->size, ds->n, d->n_global);
  for (int i = 0; i < ds->n; i++) {
    if (d->index[i] < 0 || d->index[i] >= d->n_global
        || (i > 0 && d->index[i] <= d->index[i - 1]))
      return udml_error_set (err, UDML_ERR_ARG,
          "train: sample %d has global index %d (not ascending in 0..%d)", i,
          d->index[i], d->n_global - 1);
    if (ds->y[i] < 0 || ds->y[i] >= model->cfg.n_classes)
      return udml_error_set (err, UDML_ERR_ARG,
          "train: sample %d has label %d, expected 0..%d", d->index[i],
          ds->y[i], model->cfg.n_classes - 1);
  }
  for (int m = 0; ds->n > 0 && m < model->cfg.n_modalities; m++)
    if (!ds->x[m])
      return udml_error_set (err, UDML_ERR_ARG,
          "train: training set has no %s features", model->cfg.mod[m].name);
  return UDML_OK;
}

/* The progress callback's verdict; a stop asked of any process stops all
 * of them at the same step. */
static int
progress_stop (const UdmlTrainOptions * opt, const UdmlTrainProgress * pr,
    const UdmlTrainDist * dist)
{
  double stop = opt->progress && opt->progress (pr, opt->progress_user);

  if (dist)
    dist->reduce.sum_f64 (&stop, 1, dist->reduce.user);
  return stop > 0.0;
}

/* The per-run buffers of udml_train_dist; local and rows only when
 * distributed. */
typedef struct
{
  int *perm;                    /* n_all: the epoch's order */
  int *order;                   /* batch: scratch of draw_levels */
  int *ybuf;                    /* batch labels */
  uint8_t *levels;              /* batch x M */
  int *local;                   /* n_all: local row of a global index, or -1 */
  int *rows;                    /* batch: positions this process computes */
} RunBuffers;

/* 0 when out of memory; what was allocated is freed by free_run. */
static int
alloc_run (RunBuffers * r, int n_all, int batch, int M,
    const UdmlDataset * train, const UdmlTrainDist * dist)
{
  r->perm = malloc ((size_t) n_all * sizeof (int));
  r->order = malloc ((size_t) batch * sizeof (int));
  r->ybuf = malloc ((size_t) batch * sizeof (int));
  r->levels = malloc ((size_t) batch * M);
  if (dist) {
    r->local = malloc ((size_t) n_all * sizeof (int));
    r->rows = malloc ((size_t) batch * sizeof (int));
  }
  if (!r->perm || !r->order || !r->ybuf || !r->levels || (dist && (!r->local
              || !r->rows)))
    return 0;
  for (int i = 0; dist && i < n_all; i++)
    r->local[i] = -1;
  for (int i = 0; dist && i < train->n; i++)
    r->local[dist->index[i]] = i;
  return 1;
}

static void
free_run (RunBuffers * r)
{
  free (r->perm);
  free (r->order);
  free (r->ybuf);
  free (r->levels);
  free (r->local);
  free (r->rows);
}

static void
progress_begin (UdmlTrainProgress * pr, int epoch, int epochs, int steps,
    UdmlPhase phase, float lr)
{
  memset (pr, 0, sizeof *pr);
  pr->epoch = epoch;
  pr->epochs = epochs;
  pr->steps_per_epoch = steps;
  pr->stage = phase == UDML_PHASE_STAGE1 ? 1 : 2;
  pr->lr = lr;
  pr->val_accuracy = -1.0f;
  pr->val_loss = -1.0f;
}

/* A numeric failure says where in the run it happened. */
static void
step_error (UdmlError * err, UdmlStatus st, int epoch, int step)
{
  if (st == UDML_ERR_NUMERIC && err) {
    char tmp[sizeof err->msg];
    memcpy (tmp, err->msg, sizeof tmp);
    udml_error_set (err, st, "epoch %d step %d: %s", epoch, step, tmp);
  }
}

UdmlStatus
udml_train_dist (UdmlModel * model, const UdmlDataset * train,
    const UdmlDataset * val, const UdmlTrainOptions * opt_in,
    const UdmlTrainDist * dist, UdmlError * err)
{
  UdmlTrainOptions opt;
  UdmlTrainer *tr = NULL;
  UdmlWork vws;
  RunBuffers run = { 0 };
  int n_all, n_rows = 0;
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
  if ((st = dist ? check_dist (model, train, dist, err)
          : check_dataset (model, train, "training", err)) != UDML_OK)
    return st;
  if (val && (st = check_dataset (model, val, "validation", err)) != UDML_OK)
    return st;

  M = model->cfg.n_modalities;
  n_all = dist ? dist->n_global : train->n;
  batch = opt.batch < n_all ? opt.batch : n_all;
  steps = n_all / batch;
  sched = schedule_for (opt.epochs);
  /* parallel over the batch (opt.threads workers), one BLAS thread each */
  udml_set_num_threads (1);
  set_normalisation (model, train, dist);

  tr = udml_trainer_new (model, &opt, batch, err);
  if (!tr) {
    st = err ? err->code : UDML_ERR_NOMEM;
    goto out;
  }
  if (dist) {
    udml_trainer_set_reduce (tr, &dist->reduce);
    tr->rank = dist->rank;
  }
  if (!alloc_run (&run, n_all, batch, M, train, dist)) {
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

    shuffle (run.perm, n_all, opt.seed, epoch);
    progress_begin (&pr, epoch, opt.epochs, steps, phase, lr);

    for (; step < steps; step++) {
      const float *xs[UDML_MAX_MODALITIES];
      UdmlLossParts parts;

      if (dist)
        n_rows =
            gather_rows (tr, train, run.local, run.perm + (size_t) step * batch,
            batch, xs, run.ybuf, run.rows);
      else
        gather_batch (tr, train, run.perm + (size_t) step * batch, batch, xs,
            run.ybuf);
      if (phase != UDML_PHASE_STAGE1)
        draw_levels (run.levels, run.order, batch, M, opt.seed, global_step);
      st = udml_trainer_step_rows (tr, batch, run.rows, n_rows, xs, run.ybuf,
          phase != UDML_PHASE_STAGE1 ? run.levels : NULL, phase,
          (uint64_t) global_step, lr, &parts, err);
      tr->data_rows = NULL;
      if (st != UDML_OK) {
        step_error (err, st, epoch, step);
        goto out;
      }
      global_step++;
      loss_sum += parts.total * batch;
      correct_sum += parts.correct;
      seen += batch;

      pr.step = step + 1;
      pr.loss = (float) (loss_sum / seen);
      pr.accuracy = (float) (correct_sum / seen);
      if (progress_stop (&opt, &pr, dist)) {
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
    if (progress_stop (&opt, &pr, dist)) {
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
  free_run (&run);
  return st;
}
