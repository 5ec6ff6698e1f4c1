/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* train-mpi.h — udml-train across processes (MPI). Without MPI in the build
 * (meson option mpi) every call is that of rank 0 of 1.
 *
 * Rank r of R decodes and caches only rows r, r + R, ... of each manifest
 * (its shard); the whole set is the good rows of all manifests in order,
 * as one process would read them. Batch-norm statistics and gradients are
 * summed with MPI_Allreduce through the trainer's reduce hook. */
#ifndef UDML_TRAIN_MPI_H
#define UDML_TRAIN_MPI_H

#include "tool.h"
#include "trainer.h"

/* MPI_Init when built with MPI (the batch workers never call MPI). */
void tool_mpi_init (int *argc, char ***argv);
int tool_mpi_rank (void);
int tool_mpi_size (void);

/* This rank's shard of the manifests into train (validation only on rank
 * 0), and with waves (initialised) the shard's waveforms, row for row;
 * every rank returns the same verdict: 0, or 1 when any rank found the
 * data unusable (each rank reports its own rows). */
int tool_mpi_load (char **manifests, int n_manifests, const char *val_manifest,
    const UdmlConfig * cfg, const ToolDataOptions * opt,
    UdmlFeatureSet * train, UdmlFeatureSet * val, UdmlWaveSet * waves);

/* The distribution of the loaded shard for udml_train_dist. (transfer none) */
const UdmlTrainDist *tool_mpi_dist (void);

/* MPI_Finalize, or MPI_Abort when this rank fails alone (a rank blocked in
 * a collective would wait forever). Returns ret. */
int tool_mpi_finish (int ret);

#endif /* UDML_TRAIN_MPI_H */
