/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eval-degrade.h — udml-eval --protocol degradations: accuracy, weights and
 * noise estimates per degradation kind and level. */
#ifndef UDML_EVAL_DEGRADE_H
#define UDML_EVAL_DEGRADE_H

#include <json-glib/json-glib.h>

#include "degrade-tool.h"

typedef struct
{
  UdmlDegrade kind;
  int modality;                 /* the degraded one */
  int level;
  double accuracy;
  double weight[UDML_MAX_MODALITIES];   /* mean w/M */
  double noise[UDML_MAX_MODALITIES];    /* mean sigma-hat */
  double unimodal[UDML_MAX_MODALITIES]; /* accuracy of each o_m alone */
} DegradePoint;

typedef struct
{
  DegradePoint *pts;
  int n;
} DegradeResults;

/* Waveforms of the test manifest's rows (only when a model has audio). */
int eval_degrade_load (const char *test, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlWaveSet * waves);

/* Every kind the model can see, on each of its modalities alone, at
 * levels 1..11, over set (waves: its waveforms, or NULL for a model
 * without audio). Returns 0, or 1 with the error printed. */
int eval_degrade_run (const char *path, const UdmlModel * model,
    const UdmlFeatureSet * set, const UdmlWaveSet * waves, uint64_t seed,
    int batch, UdmlInferMode mode, int quiet, DegradeResults * out);
void eval_degrade_clear (DegradeResults * r);

/* Adds the member "degradations" to the open object of b. */
void eval_degrade_json (JsonBuilder * b, const UdmlConfig * cfg,
    const DegradeResults * r);
void eval_degrade_print (FILE * f, const UdmlConfig * cfg,
    const DegradeResults * r);
/* DIR/degrade-KIND.svg for every kind any model saw: the degraded
 * modality's weight (solid) and the accuracy (dashed) per model. */
int eval_degrade_plots (const char *dir, const char *const *paths,
    const UdmlConfig * const *cfgs, const DegradeResults * r, int n_models);

/* {"audio": v[0], "video": v[1], ...} as member key. */
void eval_json_mods (JsonBuilder * b, const char *key, const UdmlConfig * cfg,
    const double *v);

#endif /* UDML_EVAL_DEGRADE_H */
