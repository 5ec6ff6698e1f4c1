/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-model-grad.c — finite-difference check of the whole model's loss
 * gradient with respect to every parameter tensor, for every policy and
 * training phase (method.md §2 detach rules: the estimator input and the
 * pe uncertainty are held at their recorded values, as the backward treats
 * them as constants; D is a constant input). Without the task-loss path
 * into the estimator, its tensors are checked against the estimator loss
 * alone, the only loss that then trains them.
 *
 * Each evaluation uses training-mode BN and the same noise, eps and dropout
 * (same key), so the loss is a deterministic function of the parameters.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "trainer.h"
#include "../common/udml-test.h"

#define N 6
#define SAMPLES_PER_TENSOR 16
#define H_STEP 2e-3f
#define ATOL 1e-3
#define RTOL 5e-2
#define VEC_RTOL 5e-2           /* relative L2 error over a tensor's samples */
#define MAX_UNRELIABLE 0.4      /* fraction of kink-affected samples tolerated */
#define MAX_OUTLIERS 1          /* undetected near-kink samples tolerated per tensor */
#define KINK_ATOL 2e-2
#define KINK_RTOL 0.25

typedef struct
{
  const char *name;
  UdmlPolicy policy;
  UdmlPhase phase;
  UdmlScaling scaling;
  float beta;
  int task_grad;                /* UdmlTrainOptions.estimator_task_grad */
} Case;

/* The loss a tensor's gradient must match. */
static double
objective (const UdmlLossParts * parts, int est_only, float lambda)
{
  return est_only ? lambda * parts->est : parts->total;
}

static UdmlModel *
tiny_model (const Case * c, UdmlError * err)
{
  UdmlConfig cfg;
  UdmlModel *model;

  udml_config_default (&cfg);
  /* audio 1 x 8 x 10, video 2 x 8 x 6: odd shapes, two stages each */
  cfg.mod[0].in_c = 1;
  cfg.mod[0].in_h = 8;
  cfg.mod[0].in_w = 10;
  cfg.mod[1].in_c = 2;
  cfg.mod[1].in_h = 8;
  cfg.mod[1].in_w = 6;
  for (int m = 0; m < 2; m++) {
    cfg.mod[m].n_stages = 2;
    cfg.mod[m].channels[0] = 3;
    cfg.mod[m].channels[1] = 5;
  }
  cfg.n_classes = 4;
  cfg.est_hidden = 6;
  cfg.policy = c->policy;
  cfg.scaling = c->scaling;
  model = udml_model_new (&cfg, 11, err);
  if (model)
    udml_model_set_normalisation (model, 1, 120.0f, 60.0f);
  return model;
}

static int
run_case (const Case * c)
{
  UdmlError err = { 0 };
  UdmlModel *model = tiny_model (c, &err);
  UdmlTrainer *tr = NULL;
  UdmlTrainOptions opt;
  float *xa = NULL, *xv = NULL, *grads, *params, *an = NULL;
  const float *x[2];
  int y[N] = { 0, 1, 2, 3, 1, 2 };
  uint8_t levels[N * 2] = { 1, 1, 3, 1, 1, 7, 11, 2, 5, 11, 1, 1 };
  const uint8_t *lv = c->phase == UDML_PHASE_STAGE1 ? NULL : levels;
  float dep[2] = { 3.0f, 1.25f };
  size_t np;
  int bad_tensors = 0, checked = 0;
  UdmlLossParts parts, base;
  UdmlRng rng;
  const uint64_t key = 42;

  if (!model) {
    fprintf (stderr, "FAIL %s: model: %s\n", c->name, err.msg);
    return 1;
  }
  udml_train_options_default (&opt);
  opt.seed = 5;
  opt.beta = c->beta;
  opt.estimator_task_grad = c->task_grad;
  tr = udml_trainer_new (model, &opt, N, &err);
  xa = malloc (N * 80 * sizeof (float));
  xv = malloc (N * 96 * sizeof (float));
  if (!tr || !xa || !xv) {
    fprintf (stderr, "FAIL %s: setup: %s\n", c->name, err.msg);
    return 1;
  }
  udml_rng_seed (&rng, 99, 0);
  for (int i = 0; i < N * 80; i++)
    xa[i] = udml_rng_normal (&rng) * 2.0f - 3.0f + (float) y[i / 80];
  for (int i = 0; i < N * 96; i++)
    xv[i] = 128.0f + 50.0f * udml_rng_normal (&rng) + 10.0f * y[i / 96];
  x[0] = xa;
  x[1] = xv;
  udml_trainer_set_dependency (tr, dep, dep);

  /* analytic gradient, recording the detached inputs */
  udml_trainer_set_freeze (tr, UDML_FREEZE_RECORD);
  if (udml_trainer_compute (tr, N, x, y, lv, c->phase, key, 1, &parts,
          &err) != UDML_OK) {
    fprintf (stderr, "FAIL %s: compute: %s\n", c->name, err.msg);
    return 1;
  }
  grads = udml_trainer_grads (tr, &np);
  an = xmalloc (np * sizeof (float));
  memcpy (an, grads, np * sizeof (float));
  params = udml_model_params (model, NULL);
  udml_trainer_set_freeze (tr, UDML_FREEZE_USE);
  if (udml_trainer_compute (tr, N, x, y, lv, c->phase, key, 0, &parts,
          &err) != UDML_OK) {
    fprintf (stderr, "FAIL %s: frozen compute: %s\n", c->name, err.msg);
    return 1;
  }
  base = parts;
  for (int t = 0; t < udml_model_num_tensors (model); t++) {
    size_t size = udml_model_tensor_size (model, t);
    float *p = udml_model_tensor_data (model, t);
    int est_only = !c->task_grad
        && strstr (udml_model_tensor_name (model, t), ".est.") != NULL;
    double l0 = objective (&base, est_only, opt.lambda);
    int samples = size < SAMPLES_PER_TENSOR ? (int) size : SAMPLES_PER_TENSOR;
    double num = 0.0, den = 0.0, worst = 0.0;
    int worst_j = -1, unreliable = 0, bad = 0;
    float worst_an = 0.0f, worst_fd = 0.0f;

    if (!udml_model_tensor_trainable (model, t))
      continue;
    for (int s = 0; s < samples; s++) {
      size_t j =
          size <= SAMPLES_PER_TENSOR ? (size_t) s : udml_rng_u64 (&rng) % size;
      float a = an[(p - params) + j], orig = p[j];
      double fd[2];

      /* central differences at h and h/2, plus one-sided ones at h/2: a
       * jump between the one-sided slopes marks a kink (ReLU, max-pool
       * ties on saturated pixels, the l clamp) where the derivative is not
       * defined; smooth curvature only gives a jump of order h f'' */
      int kink = 0;
      for (int r = 0; r < 2; r++) {
        float h = H_STEP / (float) (1 << r);
        double lp, lm;
        p[j] = orig + h;
        udml_trainer_compute (tr, N, x, y, lv, c->phase, key, 0, &parts, NULL);
        lp = objective (&parts, est_only, opt.lambda);
        p[j] = orig - h;
        udml_trainer_compute (tr, N, x, y, lv, c->phase, key, 0, &parts, NULL);
        lm = objective (&parts, est_only, opt.lambda);
        p[j] = orig;
        fd[r] = (lp - lm) / (2.0 * h);
        if (r == 1
            && fabs ((lp - l0) / h - (l0 - lm) / h) >
            KINK_ATOL + KINK_RTOL * fabs (fd[r]))
          kink = 1;
      }
      if (kink || fabs (fd[0] - fd[1]) > ATOL + RTOL * fabs (fd[1])) {
        unreliable++;
        continue;
      }
      {
        double diff = fabs (a - fd[1]);
        num += (a - fd[1]) * (a - fd[1]);
        den += fd[1] * fd[1] + (double) a *a;
        if (diff > ATOL + RTOL * fabs (fd[1]))
          bad++;
        if (diff > worst) {
          worst = diff;
          worst_j = (int) j;
          worst_an = a;
          worst_fd = (float) fd[1];
        }
      }
    }
    checked++;
    {
      /* relative L2 error, with an absolute floor for all-zero gradients
       * (conv biases in front of a training-mode BN) */
      double vec =
          sqrt (num) / fmax (sqrt (den / 2.0), 1e-2 * sqrt ((double) samples));
      int too_noisy = unreliable > 1 && unreliable > MAX_UNRELIABLE * samples;
      if (bad > MAX_OUTLIERS || vec > VEC_RTOL || too_noisy) {
        fprintf (stderr,
            "FAIL %s: %s: %d/%d samples off (atol %g rtol %g), rel L2 %.3g, %d kink-affected; "
            "max |diff| %.3g at [%d]: analytic %.6g fd %.6g\n",
            c->name, udml_model_tensor_name (model, t), bad, samples, ATOL,
            RTOL, vec, unreliable, worst, worst_j, worst_an, worst_fd);
        bad_tensors++;
      }
    }
  }
  printf
      ("%-24s loss %.4f (ce %.3f uni %.3f kl %.4f est %.3f): %d tensors, %d wrong\n",
      c->name, base.total, base.ce, base.uni, base.kl, base.est, checked,
      bad_tensors);
  free (an);
  free (xa);
  free (xv);
  udml_trainer_free (tr);
  udml_model_free (model);
  return bad_tensors ? 1 : 0;
}

int
main (void)
{
  static const Case cases[] = {
    {"udml stage1", UDML_POLICY_UDML, UDML_PHASE_STAGE1, UDML_SCALING_RESIDUAL,
        -1.0f, 1},
    {"udml stage2", UDML_POLICY_UDML, UDML_PHASE_STAGE2, UDML_SCALING_RESIDUAL,
        -1.0f, 1},
    {"udml uncertainty", UDML_POLICY_UDML, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, 0.05f, 1},
    {"udml L_est alone", UDML_POLICY_UDML, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, 0.05f, 0},
    {"udml paper scaling", UDML_POLICY_UDML, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_PAPER, 0.0f, 1},
    {"static", UDML_POLICY_STATIC, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, -1.0f, 1},
    {"pe", UDML_POLICY_PE, UDML_PHASE_UNCERTAINTY, UDML_SCALING_RESIDUAL,
        -1.0f, 1},
    {"udml-nue", UDML_POLICY_UDML_NUE, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, -1.0f, 1},
    {"udml-mc", UDML_POLICY_UDML_MC, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, -1.0f, 1},
    {"udml-pos", UDML_POLICY_UDML_POS, UDML_PHASE_UNCERTAINTY,
        UDML_SCALING_RESIDUAL, -1.0f, 1},
  };
  int failed = 0;

  udml_set_num_threads (1);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    failed += run_case (&cases[i]);
  if (failed) {
    fprintf (stderr, "test-model-grad: %d case(s) failed\n", failed);
    return 1;
  }
  printf ("test-model-grad: ok\n");
  return 0;
}
