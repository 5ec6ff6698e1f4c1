/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* internal.h — declarations shared inside lib/udml (not installed). */
#ifndef UDML_INTERNAL_H
#define UDML_INTERNAL_H

#include <stdarg.h>
#include "udml.h"

void udml_log (UdmlLogLevel level, const char *fmt, ...) UDML_PRINTF (2, 3);

/* Fills n normals (pairs of Box-Muller draws). */
void udml_rng_fill_normal (UdmlRng *rng, float *x, size_t n);
/* Uniform integer in [0, n). */
uint32_t udml_rng_below (UdmlRng *rng, uint32_t n);

/* ---- model internals used by the file schemas and train.c ---- */

/* Every stored tensor (parameters first, then BN running stats). Data is
 * borrowed. (transfer none) */
float *udml_model_tensor_data (UdmlModel *model, int i);
size_t udml_model_tensor_size (const UdmlModel *model, int i);
/* 1 for trainable parameters, 0 for running statistics. */
int udml_model_tensor_trainable (const UdmlModel *model, int i);

/* The contiguous arena of trainable parameters (optimiser state matches it). */
float *udml_model_params (UdmlModel *model, size_t *n);

void udml_model_set_dependency (UdmlModel *model, int m, float d);

/* Bytes of activation workspace for batch n (grad: with the gradient
 * buffers), as udml_work_init would allocate them. */
size_t udml_work_bytes (const UdmlModel *model, int n, int grad);

/* ---- checkpoints (checkpoint.c) ---- */

typedef struct {
  uint64_t seed;
  int policy;
  int epochs, batch;         /* run shape, checked on resume */
  int epoch;                 /* next epoch to run */
  int step;                  /* next step within that epoch */
  int64_t global_step;
  float dep[UDML_MAX_MODALITIES];      /* D of the previous step */
  float dep_ema[UDML_MAX_MODALITIES];
  double loss_sum, correct_sum;        /* running epoch sums */
  int seen;                            /* samples seen this epoch */
  uint64_t data_fingerprint;           /* UdmlTrainOptions.data_fingerprint */
} UdmlCheckpointState;

/* Written atomically (temp file + fsync + rename). momentum: n floats. */
UdmlStatus udml_checkpoint_save (const char *path, const UdmlModel *model,
    const UdmlCheckpointState *st, const float *momentum, size_t n, UdmlError *err);
/* model must be built from the same config (else UDML_ERR_MISMATCH); its
 * tensors, st and momentum are overwritten. */
UdmlStatus udml_checkpoint_load (const char *path, UdmlModel *model,
    UdmlCheckpointState *st, float *momentum, size_t n, UdmlError *err);

#endif /* UDML_INTERNAL_H */
