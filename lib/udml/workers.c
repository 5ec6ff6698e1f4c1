/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* workers.c — the trainer's worker pool: batch-norm statistics and loss
 * parts summed over the workers (and processes, through the reduce hook),
 * each worker's part of a pass, and the gradient arenas summed in order.
 * Dimensions: the glossary in udml.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "workers.h"

void
udml_sync_sum (UdmlSync * s, int worker, double *buf, size_t n)
{
  if (s->n_workers == 1) {
    if (s->reduce)
      s->reduce->sum_f64 (buf, n, s->reduce->user);
    return;
  }
  if (!s->reduce) {
    /* Two slot sets used in turn: a worker writes a set again only after
     * the barrier of the next call, when everyone has read it. Every
     * worker sums in the same order, so all get the same bits. */
    int set = s->turn[worker];
    double *slots = s->slots + (size_t) set * s->n_workers * s->cap;

    s->turn[worker] = !set;
    memcpy (slots + (size_t) worker * s->cap, buf, n * sizeof (double));
    pthread_barrier_wait (&s->barrier);
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (int w = 0; w < s->n_workers; w++)
        acc += slots[(size_t) w * s->cap + j];
      buf[j] = acc;
    }
    return;
  }
  memcpy (s->slots + (size_t) worker * s->cap, buf, n * sizeof (double));
  pthread_barrier_wait (&s->barrier);
  if (worker == 0) {
    /* fixed order: the same T gives the same bits */
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (int w = 0; w < s->n_workers; w++)
        acc += s->slots[(size_t) w * s->cap + j];
      s->sum[j] = acc;
    }
    if (s->reduce)
      s->reduce->sum_f64 (s->sum, n, s->reduce->user);
  }
  pthread_barrier_wait (&s->barrier);
  memcpy (buf, s->sum, n * sizeof (double));
}

static void worker_run (Worker * wk);

void *
udml_worker_main (void *data)
{
  Worker *wk = data;
  UdmlTrainer *tr = wk->tr;

  for (;;) {
    pthread_barrier_wait (&tr->sync.barrier);
    if (tr->quit)
      break;
    worker_run (wk);
    pthread_barrier_wait (&tr->sync.barrier);
  }
  return NULL;
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

/* The forward options of this worker's part of the pass in tr->job. */
static void
worker_forward_opts (Worker * wk, UdmlForward * fw)
{
  UdmlTrainer *tr = wk->tr;
  const Job *job = &tr->job;
  const UdmlConfig *cfg = &tr->model->cfg;

  memset (fw, 0, sizeof *fw);
  fw->train = 1;
  fw->unc_grad = tr->opt.estimator_task_grad;
  fw->update_stats = job->update_stats;
  fw->wt = udml_weighting_train (cfg->policy,
      job->phase == UDML_PHASE_UNCERTAINTY);
  fw->dep = tr->dep;
  fw->seed = tr->opt.seed;
  fw->stream = stream_id (TAG_FORWARD, job->key, 0);
  fw->freeze = tr->freeze;
  fw->sync = tr->split ? &tr->sync : NULL;
  fw->worker = wk->id;
  fw->n_global = job->n;
  fw->red = wk->red;
  fw->drawn = 1;
}

/* Labels and levels of the worker's rows, then raw copy -> noise at the
 * sample's level -> standardise (method.md §3) into its workspace. */
static void
worker_inputs (Worker * wk, const int *rows)
{
  UdmlTrainer *tr = wk->tr;
  const Job *job = &tr->job;
  UdmlModel *model = tr->model;
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, n = wk->n;
  UdmlWork *ws = &wk->ws;

  for (int i = 0; i < n; i++) {
    int p = rows[i];
    wk->y[i] = job->y[p];
    for (int m = 0; m < M; m++)
      wk->levels[i * M + m] = job->levels ? job->levels[p * M + m] : 1;
  }
  for (int m = 0; m < M; m++) {
    const UdmlModalitySpec *spec = &cfg->mod[m];
    const UdmlModLayout *lay = &model->lay[m];
    size_t F = lay->F;
    UdmlModWork *mw = &ws->mod[m];

    for (int i = 0; i < n; i++) {
      int p = rows[i], level = wk->levels[i * M + m];
      float *xr = tr->xraw[m] + (size_t) p * F;
      if (job->x[m] != tr->xraw[m])
        memcpy (xr, job->x[m] + (size_t) p * F, F * sizeof (float));
      if (level > 1) {
        UdmlRng rng;
        udml_rng_seed (&rng, tr->opt.seed, stream_id (TAG_NOISE, job->key,
                (uint64_t) p * M + m));
        if (tr->opt.noise) {
          /* a failure is kept, not returned: every worker must still
           * reach the batch-norm barriers of this pass */
          UdmlStatus st = tr->opt.noise (tr->opt.noise_user, m, level,
              tr->data_rows ? tr->data_rows[p] : -1, xr, &rng, &wk->err);
          if (st != UDML_OK && wk->st == UDML_OK)
            wk->st = st;
        } else {
          udml_noise_gaussian_planes (spec->kind, xr, spec->in_c,
              (size_t) spec->in_h * spec->in_w, level, &rng);
        }
      }
      udml_model_standardise (model, mw->x + (size_t) i * F, xr, m, F);
    }
  }
  memset (ws->present, 1, (size_t) n * M);
}

/* The loss of the worker's rows, its parts summed over everyone into red
 * (PARTS_LEN (M) doubles); worker 0 keeps the whole-batch parts. */
static void
worker_loss (Worker * wk, const UdmlLossWeights * lw)
{
  UdmlTrainer *tr = wk->tr;
  const Job *job = &tr->job;
  UdmlModel *model = tr->model;
  int M = model->cfg.n_modalities, K = model->cfg.n_classes;
  int n = wk->n, N = job->n;
  UdmlWork *ws = &wk->ws;
  UdmlLossParts parts;
  double *red = wk->red;

  memset (&parts, 0, sizeof parts);
  memset (red, 0, PARTS_LEN (M) * sizeof (double));
  if (n > 0) {
    udml_loss_forward (model, ws, n, wk->y, job->levels ? wk->levels : NULL,
        lw, &parts);
    red[0] = parts.ce * n;
    red[1] = parts.uni * n;
    red[2] = parts.kl * n;
    red[3] = parts.est * n;
    red[4] = parts.correct;
    for (int m = 0; m < M; m++)
      for (size_t j = 0; j < (size_t) n * K; j++)
        red[5 + m] += fabsf (ws->o_m[m][j]);
  }
  if (tr->split)
    udml_sync_sum (&tr->sync, wk->id, red, PARTS_LEN (M));
  if (wk->id == 0) {
    UdmlLossParts *g = &tr->parts;
    if (tr->split) {
      g->ce = red[0] / N;
      g->uni = red[1] / N;
      g->kl = red[2] / N;
      g->est = red[3] / N;
      g->total = g->ce + lw->gamma * g->uni + g->kl + lw->lambda * g->est;
    } else {
      *g = parts;
    }
    g->correct = (int) red[4];
    for (int m = 0; m < M; m++)
      tr->dep_sum[m] = red[5 + m];
  }
}

/* Backward of the worker's rows into its gradient arena, then its share
 * of the sum of the arenas. */
static void
worker_backward (Worker * wk, const UdmlForward * fw,
    const UdmlLossWeights * lw)
{
  UdmlTrainer *tr = wk->tr;
  UdmlModel *model = tr->model;
  int M = model->cfg.n_modalities, K = model->cfg.n_classes;
  int T = tr->n_workers, n = wk->n, N = tr->job.n;
  UdmlWork *ws = &wk->ws;

  memset (wk->grads, 0, model->n_params * sizeof (float));
  if (n > 0) {
    udml_loss_backward (model, ws, n, wk->y, lw);
    if (n != N) {
      /* the loss is a mean over the whole batch, not over these rows */
      float s = (float) n / (float) N;
      for (size_t j = 0; j < (size_t) n * K; j++)
        ws->do_[j] *= s;
      for (int m = 0; m < M; m++) {
        const UdmlModLayout *lay = &model->lay[m];
        size_t t = (size_t) n * lay->C * lay->h * lay->w;
        for (size_t j = 0; j < (size_t) n * K; j++)
          ws->do_m[m][j] *= s;
        for (size_t j = 0; j < t; j++) {
          ws->dmu[m][j] *= s;
          ws->dl[m][j] *= s;
        }
        for (int i = 0; i < n; i++)
          ws->dg[m][i] *= s;
      }
    }
  }
  udml_model_backward (model, ws, n, fw, wk->grads);

  if (T > 1) {
    /* this worker's slice of the sum of the arenas, workers in order */
    size_t P = model->n_params, a = P * wk->id / T, b = P * (wk->id + 1) / T;
    pthread_barrier_wait (&tr->sync.barrier);
    for (size_t j = a; j < b; j++) {
      float acc = tr->workers[0].grads[j];
      for (int w = 1; w < T; w++)
        acc += tr->workers[w].grads[j];
      tr->grads[j] = acc;
    }
  }
}

/* One worker's part of the pass in tr->job: its rows through noise,
 * forward and loss (parts summed over everyone), then backward into its
 * gradient arena and its share of the sum of the arenas. */
static void
worker_run (Worker * wk)
{
  UdmlTrainer *tr = wk->tr;
  const Job *job = &tr->job;
  UdmlModel *model = tr->model;
  int M = model->cfg.n_modalities, n = wk->n;
  const int *rows = job->rows + wk->row0;
  UdmlWork *ws = &wk->ws;
  UdmlForward fw;
  UdmlLossWeights lw;
  double *red = wk->red;

  wk->st = UDML_OK;
  worker_forward_opts (wk, &fw);

  /* eps and dropout of these rows as one forward over the whole batch
   * draws them: the split does not change the numbers a sample sees */
  for (int m = 0; m < M; m++)
    udml_model_draw (model, m, rows, n, fw.seed, fw.stream, ws->mod[m].eps,
        ws->mod[m].mask);
  worker_inputs (wk, rows);

  udml_model_forward (model, ws, n, &fw);
  loss_weights (tr, job->phase, &lw);
  worker_loss (wk, &lw);
  /* every worker sees the same sums, so all stop here together */
  if (!isfinite (red[0] + lw.gamma * red[1] + red[2] + lw.lambda * red[3])) {
    wk->st = UDML_ERR_NUMERIC;
    return;
  }
  if (!job->backward)
    return;
  worker_backward (wk, &fw, &lw);
}

UdmlStatus
udml_trainer_run_pass (UdmlTrainer * tr, int n, const int *rows, int n_rows,
    const float *const x[], const int *y, const uint8_t * levels,
    UdmlPhase phase, uint64_t key, int backward, int update_stats,
    UdmlLossParts * parts, UdmlError * err)
{
  UdmlModel *model = tr->model;
  const UdmlConfig *cfg = &model->cfg;
  int M = cfg->n_modalities, T = tr->n_workers;
  Job *job = &tr->job;

  if (n < 1 || n > tr->batch)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: batch of %d, planned for 1..%d", n, tr->batch);
  if (n < 2)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: batch of 1 (batch norm needs at least 2 samples)");
  if (!rows) {
    rows = tr->all_rows;
    n_rows = n;
  }
  if (n_rows < 0 || n_rows > n)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: %d rows of a batch of %d", n_rows, n);
  if (n_rows < n && !tr->have_reduce)
    return udml_error_set (err, UDML_ERR_ARG,
        "trainer: %d rows of a batch of %d without a reduce hook", n_rows, n);
  for (int i = 0; i < n_rows; i++) {
    int p = rows[i];
    if (p < 0 || p >= n || (i > 0 && p <= rows[i - 1]))
      return udml_error_set (err, UDML_ERR_ARG,
          "trainer: row %d is %d, not ascending in 0..%d", i, p, n - 1);
    if (y[p] < 0 || y[p] >= cfg->n_classes)
      return udml_error_set (err, UDML_ERR_ARG,
          "trainer: label %d of sample %d not in 0..%d", y[p], p,
          cfg->n_classes - 1);
    for (int m = 0; levels && m < M; m++)
      if (levels[p * M + m] < 1 || levels[p * M + m] > UDML_NOISE_LEVELS)
        return udml_error_set (err, UDML_ERR_ARG,
            "trainer: noise level %d of sample %d (%s) not in 1..%d",
            levels[p * M + m], p, cfg->mod[m].name, UDML_NOISE_LEVELS);
  }
  for (int m = 0; m < M; m++)
    if (!x[m])
      return udml_error_set (err, UDML_ERR_ARG,
          "trainer: no input for modality %s", cfg->mod[m].name);

  job->n = n;
  job->rows = rows;
  job->n_rows = n_rows;
  job->x = x;
  job->y = y;
  job->levels = levels;
  job->phase = phase;
  job->key = key;
  job->backward = backward;
  job->update_stats = update_stats;
  for (int w = 0; w < T; w++) {
    tr->workers[w].row0 = (int) ((int64_t) n_rows * w / T);
    tr->workers[w].n = (int) ((int64_t) n_rows * (w + 1) / T)
        - tr->workers[w].row0;
  }
  if (T > 1)
    pthread_barrier_wait (&tr->sync.barrier);
  worker_run (&tr->workers[0]);
  if (T > 1)
    pthread_barrier_wait (&tr->sync.barrier);

  *parts = tr->parts;
  for (int w = 0; w < T; w++) {
    Worker *wk = &tr->workers[w];
    if (wk->st != UDML_OK && wk->st != UDML_ERR_NUMERIC)
      return udml_error_set (err, wk->st, "%s", wk->err.msg);
  }
  if (tr->workers[0].st == UDML_ERR_NUMERIC)
    return udml_error_set (err, UDML_ERR_NUMERIC,
        "trainer: loss is %g (ce %g, uni %g, kl %g, est %g)", parts->total,
        parts->ce, parts->uni, parts->kl, parts->est);
  if (backward && tr->have_reduce)
    tr->reduce.sum_f32 (tr->grads, model->n_params, tr->reduce.user);
  return UDML_OK;
}
