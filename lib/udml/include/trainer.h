/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trainer.h — per-step training API (public, beside udml.h; used by
 * udml_train, the tests and the benchmarks).
 *
 * A UdmlTrainer owns the gradient and momentum arenas (laid out like the
 * model's parameter arena), the activation workspace for one batch size and
 * the dependency state. Nothing is allocated after udml_trainer_new.
 *
 * With UdmlTrainOptions.threads = T > 1 each batch is split across T
 * workers (a thread pool created here), each with its own workspace and
 * gradient arena and one BLAS thread: batch-norm statistics are summed over
 * the workers, so a step computes the full-batch statistics, and the
 * gradient arenas are summed in a fixed order, so runs with the same T are
 * bit-identical and runs with other T agree to rounding.
 *
 * Dimensions: the glossary in udml.h.
 */
#ifndef UDML_TRAINER_H
#define UDML_TRAINER_H

#include "udml.h"

typedef enum {
  UDML_PHASE_STAGE1 = 0,      /* clean; CE + gamma uni + beta KL; weights from D only */
  UDML_PHASE_STAGE2,          /* noisy; + lambda L_est; weights still from D only */
  UDML_PHASE_UNCERTAINTY,     /* stage 2 with the uncertainty term in the weights */
} UdmlPhase;

typedef struct UdmlTrainer UdmlTrainer;

typedef struct {
  double total, ce, uni, kl, est;
  int correct;                /* fused argmax == y */
} UdmlLossParts;

typedef enum {
  UDML_FREEZE_OFF = 0,
  UDML_FREEZE_RECORD,         /* copy the detached inputs aside */
  UDML_FREEZE_USE,            /* replace them by the recorded copy */
} UdmlFreeze;

/* opt: NULL for udml_train_options_default. (transfer full) */
UdmlTrainer *udml_trainer_new (UdmlModel *model, const UdmlTrainOptions *opt, int batch,
    UdmlError *err);
void udml_trainer_free (UdmlTrainer *tr);

/* Loss (and, if backward, the gradient arena, zeroed first) of one batch.
 * x[m]: n x F_m raw features, copied before the noise; y: n labels;
 * levels: n x M noise labels 1..11 (NULL = clean); key: all randomness of
 * the pass (noise, eps, dropout) derives from (seed, key). Updates neither
 * parameters, BN running statistics nor D. */
UdmlStatus udml_trainer_compute (UdmlTrainer *tr, int n, const float *const x[],
    const int *y, const uint8_t *levels, UdmlPhase phase, uint64_t key, int backward,
    UdmlLossParts *parts, UdmlError *err);

/* Data-parallel training across processes: the trainer sums batch-norm
 * statistics, loss parts and gradients through these callbacks (MPI_Allreduce
 * in udml-train; the library itself knows nothing of MPI). Every process
 * calls them the same number of times with the same n. */
typedef struct {
  void (*sum_f64) (double *buf, size_t n, void *user);   /* in place */
  void (*sum_f32) (float *buf, size_t n, void *user);    /* in place */
  void *user;
} UdmlReduce;

/* r NULL: this process is the whole run. Copied. */
void udml_trainer_set_reduce (UdmlTrainer *tr, const UdmlReduce *r);

/* The part of a global batch of n samples this process computes: positions
 * rows[0..n_rows) (ascending) of x, y and levels, which are indexed by
 * position; other positions are not read. Statistics, loss parts and
 * gradients are those of the whole batch once summed over processes. */
UdmlStatus udml_trainer_step_rows (UdmlTrainer *tr, int n, const int *rows,
    int n_rows, const float *const x[], const int *y, const uint8_t *levels,
    UdmlPhase phase, uint64_t key, float lr, UdmlLossParts *parts, UdmlError *err);

/* udml_train across processes, data-parallel. Process `rank` of `size`
 * holds only its shard of the training set: train->n samples whose indices
 * in the whole set (n_global samples, the order a single process would
 * see) are index[0..train->n), ascending. Every process runs the same
 * schedule over the whole set; each computes the rows of every global
 * batch it holds, and reduce sums statistics and gradients, so the result
 * is the single-process one to rounding. Only rank 0 writes checkpoints
 * (every rank reads opt->resume); validation runs where val is given. */
typedef struct {
  int rank, size;
  UdmlReduce reduce;
  int n_global;
  const int *index;
} UdmlTrainDist;

UdmlStatus udml_train_dist (UdmlModel *model, const UdmlDataset *train,
    const UdmlDataset *val, const UdmlTrainOptions *opt, const UdmlTrainDist *dist,
    UdmlError *err);

/* One training step (method.md §4 step order): forward with the D of the
 * previous step, losses, D and its EMA from this step's unimodal logits,
 * backward, global-norm clip, SGD. Updates BN running statistics. */
UdmlStatus udml_trainer_step (UdmlTrainer *tr, int n, const float *const x[],
    const int *y, const uint8_t *levels, UdmlPhase phase, uint64_t key, float lr,
    UdmlLossParts *parts, UdmlError *err);

/* (transfer none) arenas laid out like udml_model_params. */
float *udml_trainer_grads (UdmlTrainer *tr, size_t *n);
float *udml_trainer_momentum (UdmlTrainer *tr, size_t *n);

/* D of the previous step (used by the next forward) and its EMA. */
void udml_trainer_get_dependency (const UdmlTrainer *tr, float *dep, float *ema);
void udml_trainer_set_dependency (UdmlTrainer *tr, const float *dep, const float *ema);

/* Gradient checks: record the detached inputs (estimator input, pe
 * uncertainty) once, then reuse them so finite differences see the same
 * constants the backward treats as constant. */
void udml_trainer_set_freeze (UdmlTrainer *tr, UdmlFreeze freeze);

/* Raw input staging buffers (n x F_m); passing them as x skips the copy. */
float *udml_trainer_input (UdmlTrainer *tr, int m);

/* Values of stored tensor i (parameters first, then running statistics)
 * and their count in n; NULL if i is out of range. (transfer none) */
const float *udml_model_tensor_values (const UdmlModel *model, int i, size_t *n);

/* optim.c */
double udml_grad_norm (const float *g, size_t n);
/* Scales g so its L2 norm is at most max_norm; returns the norm before. */
double udml_clip_grad_norm (float *g, size_t n, float max_norm);
/* buf = momentum buf + (g + wd p); p -= lr buf */
void udml_sgd_step (float *p, float *buf, const float *g, size_t n, float lr,
    float momentum, float weight_decay);

#endif /* UDML_TRAINER_H */
