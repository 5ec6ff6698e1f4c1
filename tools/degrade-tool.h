/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* degrade-tool.h — the degradation kinds of method.md on the tools' data:
 * kind lists given on the command line, the waveforms of the feature rows
 * beside the features, and a Degrader that applies any kind at any level
 * to one sample's raw features (video on the frame, audio on the
 * waveform, then log-mel again) with workspaces made once. */
#ifndef UDML_DEGRADE_TOOL_H
#define UDML_DEGRADE_TOOL_H

#include "tool.h"

/* Bit k set: kind k. */
typedef unsigned DegradeMask;
#define DEGRADE_ALL ((DegradeMask) ((1u << UDML_DEGRADE_COUNT) - 1))

/* Parses "KIND,KIND,..."; an unknown or empty name is a usage error (exit
 * 2) that lists the valid names. */
DegradeMask degrade_parse_kinds (const char *opt, const char *list);
/* "gaussian, salt, ..." of the kinds in mask, into buf. */
void degrade_format_kinds (DegradeMask mask, char *buf, size_t n);

/* 1 if kind can be applied to modality m of cfg (freeze only to a video
 * input of two or more frames: one frame cannot show it). */
int degrade_visible (UdmlDegrade kind, const UdmlConfig * cfg, int m);

/* Appends the waveforms of the manifest's feature rows (the rows
 * tool_load_features gives for the same options, one per window) to
 * waves, initialised by the caller. Returns 0 or 1 with the error
 * printed. */
int tool_load_waveforms (const char *manifest, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlWaveSet * waves);

/* The other speech of babble in training, the same in every process: the
 * first window of the first rows of each label of lists (bound here to
 * cfg's labels), in order, at most DEGRADE_BABBLE_BANK / K of each of the
 * K labels (at least one); rows that do not decode are left out. Fills
 * bank (initialised here) and *y (transfer full, a label per row).
 * Returns 0 or 1 with the error printed. */
#define DEGRADE_BABBLE_BANK 64
int degrade_load_babble (UdmlDataList * lists, int n_lists,
    const UdmlConfig * cfg, UdmlWaveSet * bank, int **y);

typedef struct Degrader Degrader;

/* For cfg's modalities; waves (borrowed, may be NULL when no audio kind is
 * used) and y give each sample's waveform and the other speech of babble:
 * the next sample of another class, unless a bank is set.
 * (transfer full); NULL with the error printed. */
Degrader *degrader_new (const UdmlConfig * cfg, const UdmlWaveSet * waves,
    const int *y);
void degrader_free (Degrader * dg);
/* Babble then mixes a row of bank (borrowed; y: its labels) of another
 * class than the sample's, drawn from the sample's rng, so the draw does
 * not depend on which rows a process holds. */
void degrader_set_babble (Degrader * dg, const UdmlWaveSet * bank,
    const int *y);

/* Degrades sample i's modality m, x (F_m raw features, in place), with
 * kind at level; level 1 leaves video as it is and computes audio again
 * from the waveform (the same features). Allocates nothing. */
UdmlStatus degrader_apply (Degrader * dg, UdmlDegrade kind, int level, int m,
    int i, float *x, UdmlRng * rng, UdmlError * err);

/* Stage-2 noise of udml-train: at each noisy (sample, modality) one of the
 * chosen kinds that modality can see, drawn uniformly, at the trainer's
 * level. A UdmlNoiseFunc (user: the DegradeNoise); a Degrader per worker
 * thread, each behind its own lock. */
typedef struct
{
  Degrader *dg;
  GMutex lock;
} DegradeSlot;

typedef struct
{
  DegradeSlot *slots;
  int n_slots;
  int n_kinds[UDML_MAX_MODALITIES];
  UdmlDegrade kinds[UDML_MAX_MODALITIES][UDML_DEGRADE_COUNT];
} DegradeNoise;

/* The kinds of mask each modality of cfg can see; a modality left with
 * none is a usage error (exit 2). */
void degrade_noise_plan (DegradeNoise * dn, const UdmlConfig * cfg,
    DegradeMask mask);
/* 1 if the plan has an audio kind (waveforms are needed). */
int degrade_noise_needs_waves (const DegradeNoise * dn, const UdmlConfig * cfg);
/* 1 if the plan draws kind for some modality. */
int degrade_noise_has (const DegradeNoise * dn, const UdmlConfig * cfg,
    UdmlDegrade kind);
/* Makes a Degrader for each of n_threads workers (bank: babble's, or
 * NULL); 0, or 1 with the error printed. */
int degrade_noise_start (DegradeNoise * dn, const UdmlConfig * cfg,
    const UdmlWaveSet * waves, const int *y, int n_threads,
    const UdmlWaveSet * bank, const int *bank_y);
UdmlStatus degrade_noise_func (void *user, int m, int level, int row,
    float *x, UdmlRng * rng, UdmlError * err);
void degrade_noise_clear (DegradeNoise * dn);

/* 99th percentile of the noise estimate of each modality on the clean
 * features of set, stored in the model as its calibration. 0 or 1 with
 * the error printed. */
int degrade_calibrate (UdmlModel * model, const UdmlFeatureSet * set,
    int batch, float out[UDML_MAX_MODALITIES]);

#endif /* UDML_DEGRADE_TOOL_H */
