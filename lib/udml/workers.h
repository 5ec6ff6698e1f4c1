/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* workers.h — the trainer's state, its worker pool and the pass they run
 * (workers.c); private to train.c and workers.c. */
#ifndef UDML_WORKERS_H
#define UDML_WORKERS_H

#include <pthread.h>
#include <stdint.h>

#include "model.h"
#include "ops.h"

struct UdmlSync
{
  int n_workers;
  pthread_barrier_t barrier;
  int have_barrier;
  double *slots;                /* 2 x n_workers x cap partial sums */
  int *turn;                    /* per worker: the slot set of its next call */
  double *sum;                  /* cap */
  size_t cap;
  const UdmlReduce *reduce;     /* across processes, or NULL */
};

typedef struct
{
  UdmlTrainer *tr;
  int id;
  pthread_t thread;
  int started;
  UdmlWork ws;
  float *grads;                 /* like params; the trainer's own with 1 worker */
  double *red;                  /* batch-norm scratch */
  int *y;                       /* labels of its rows */
  uint8_t *levels;              /* noise levels of its rows */
  int row0, n;                  /* its part of the rows of the pass */
  UdmlStatus st;
  UdmlError err;                /* why st, when opt.noise failed */
} Worker;

/* The pass the workers run. */
typedef struct
{
  int n;                        /* samples of the whole batch */
  const int *rows;              /* positions this process computes */
  int n_rows;
  const float *const *x;
  const int *y;
  const uint8_t *levels;
  UdmlPhase phase;
  uint64_t key;
  int backward, update_stats;
} Job;

struct UdmlTrainer
{
  UdmlModel *model;
  UdmlTrainOptions opt;
  int batch;
  float *grads;                 /* like params, summed over workers */
  float *momentum;              /* like params */
  float *xraw[UDML_MAX_MODALITIES];     /* N x F_m staging for the noise */
  int *all_rows;                /* 0..N-1 */
  float dep[UDML_MAX_MODALITIES];
  float dep_ema[UDML_MAX_MODALITIES];
  int have_ema;
  UdmlFreeze freeze;
  int n_workers;
  Worker *workers;
  UdmlSync sync;
  int split;                    /* batch-norm statistics go through sync */
  UdmlReduce reduce;
  int have_reduce;
  int rank;                     /* process rank: only 0 writes checkpoints */
  int quit;
  Job job;
  UdmlLossParts parts;          /* of the last pass, whole batch */
  const int *data_rows;         /* training-set row of each batch position,
                                 * for opt.noise (NULL: unknown) */
  int *local_rows;              /* data_rows of a sharded batch */
  double dep_sum[UDML_MAX_MODALITIES];  /* sum |o_m| over the whole batch */
};

#define PARTS_LEN(M) (5 + (M))

/* Stream tags: each consumer of randomness gets its own sequence. */
enum
{
  TAG_NOISE = 1,
  TAG_FORWARD,
  TAG_SHUFFLE,
  TAG_LEVELS,
};

static inline uint64_t
stream_id (int tag, uint64_t key, uint64_t idx)
{
  return ((uint64_t) tag << 56) ^ (key * 0x100000001b3ULL) ^ (idx << 1);
}

/* The loop of workers 1..T-1 (pthread start routine); worker 0 is the
 * caller of udml_trainer_run_pass. */
void *udml_worker_main (void *data);

/* One pass of n samples over positions rows[0..n_rows) (NULL: all) by the
 * worker pool: forward and loss, with backward into tr->grads. */
UdmlStatus udml_trainer_run_pass (UdmlTrainer *tr, int n, const int *rows,
    int n_rows, const float *const x[], const int *y, const uint8_t *levels,
    UdmlPhase phase, uint64_t key, int backward, int update_stats,
    UdmlLossParts *parts, UdmlError *err);

#endif /* UDML_WORKERS_H */
