/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-weights.c — the modality weights of method.md §1 on hand-computed
 * cases: w_m = M softmax_m (-g_m - ln D_m) over the present modalities. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "../common/udml-test.h"

#define ATOL 1e-6
#define RTOL 1e-5

static void
check (const char *what, double got, double want)
{
  check_scalar (what, got, want, ATOL, RTOL);
}

static UdmlWeighting
weighting (UdmlPolicy p)
{
  return udml_weighting_train (p, 1);
}

/* reference-code §2.4: alpha 1.6 / 0.4 (D_a / D_v = 4) and equal
 * uncertainty give audio 0.2 and video 0.8 of the weight: each modality's
 * share is set by the other's dependency. */
static void
test_alpha_equal_uncertainty (void)
{
  float w[2], g[2] = { 0.0f, 0.0f }, dep[2] = { 32.0f, 8.0f };
  uint8_t present[2] = { 1, 1 };
  UdmlWeighting wt = weighting (UDML_POLICY_UDML);

  udml_weights_compute (w, g, dep, present, 2, &wt);
  check ("alpha 1.6/0.4: audio w/M", w[0] / 2.0, 0.2);
  check ("alpha 1.6/0.4: video w/M", w[1] / 2.0, 0.8);
  check ("alpha 1.6/0.4: sum w", w[0] + w[1], 2.0);
  /* alpha_m = M D_m / sum D */
  check ("alpha audio", 2.0 * dep[0] / (dep[0] + dep[1]), 1.6);
}

/* reference-code §2.4 table: video noise sigma with a calibrated estimator
 * (sigma-hat = sigma, g = ln sigma^2), audio clean, alpha 1.6 / 0.4. */
static void
test_sweep_table (void)
{
  static const struct
  {
    int sigma;
    double share_v;
    double final_v;
  } rows[] = {
    {1, 0.5, 0.8},
    {2, 0.2, 0.5},
    {4, 1.0 / 17.0, 0.2},
    {10, 1.0 / 101.0, 0.01 / 0.26},
    {11, 1.0 / 122.0, (1.0 / 121.0) / (1.0 / 121.0 + 0.25)},
  };
  float dep[2] = { 4.0f, 1.0f };
  uint8_t present[2] = { 1, 1 };

  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    float w[2], wu[2], g[2] =
        { 0.0f, (float) log ((double) rows[r].sigma * rows[r].sigma) };
    UdmlWeighting full = weighting (UDML_POLICY_UDML);
    UdmlWeighting unc_only = weighting (UDML_POLICY_UDML_MC);
    char what[64];

    udml_weights_compute (w, g, dep, present, 2, &full);
    udml_weights_compute (wu, g, dep, present, 2, &unc_only);
    snprintf (what, sizeof what, "sweep sigma %d: final video w/M",
        rows[r].sigma);
    check (what, w[1] / 2.0, rows[r].final_v);
    snprintf (what, sizeof what, "sweep sigma %d: uncertainty-only video w/M",
        rows[r].sigma);
    check (what, wu[1] / 2.0, rows[r].share_v);
  }
}

/* M = 2 closed form: w_a = 2 sigmoid ((g_v - g_a) + ln (D_v / D_a)). */
static void
test_closed_form (void)
{
  UdmlWeighting wt = weighting (UDML_POLICY_UDML);
  uint8_t present[2] = { 1, 1 };
  unsigned s = 12345;

  for (int t = 0; t < 200; t++) {
    float w[2], g[2], dep[2];
    double delta, want;
    s = s * 1103515245u + 12345u;
    g[0] = (float) ((s >> 8) % 2000) / 100.0f - 10.0f;
    s = s * 1103515245u + 12345u;
    g[1] = (float) ((s >> 8) % 2000) / 100.0f - 10.0f;
    s = s * 1103515245u + 12345u;
    dep[0] = 0.1f + (float) ((s >> 8) % 1000) / 10.0f;
    s = s * 1103515245u + 12345u;
    dep[1] = 0.1f + (float) ((s >> 8) % 1000) / 10.0f;
    udml_weights_compute (w, g, dep, present, 2, &wt);
    delta = ((double) g[1] - g[0]) + log ((double) dep[1] / dep[0]);
    want = 2.0 / (1.0 + exp (-delta));
    check ("closed form w_a", w[0], want);
    check ("closed form w_v", w[1], 2.0 - want);
  }
}

/* Absent modality: excluded from the softmax, weight 0; the other gets
 * all of it (w/M over present = 1). */
static void
test_absent (void)
{
  float w[2], g[2] = { 5.0f, -3.0f }, dep[2] = { 32.0f, 10.0f };
  uint8_t present[2] = { 1, 0 };
  UdmlWeighting wt = weighting (UDML_POLICY_UDML);

  udml_weights_compute (w, g, dep, present, 2, &wt);
  check ("absent video: w_v", w[1], 0.0);
  check ("absent video: audio share", w[0] / (w[0] + w[1]), 1.0);
  check ("absent video: w_a = M", w[0], 2.0);
}

/* M = 3: D = (1, 2, 4), g = (0, ln 2, 0): exp(u) = 1, 1/4, 1/4, so the
 * shares are 2/3, 1/6, 1/6 and w = 2, 1/2, 1/2. With the third absent:
 * 1 : 1/4 -> shares 4/5, 1/5, w = 12/5, 3/5. */
static void
test_three (void)
{
  float w[3], g[3] = { 0.0f, (float) log (2.0), 0.0f }, dep[3] =
      { 1.0f, 2.0f, 4.0f };
  uint8_t all[3] = { 1, 1, 1 }, two[3] = { 1, 1, 0 };
  UdmlWeighting wt = weighting (UDML_POLICY_UDML);

  udml_weights_compute (w, g, dep, all, 3, &wt);
  check ("M=3 w0", w[0], 2.0);
  check ("M=3 w1", w[1], 0.5);
  check ("M=3 w2", w[2], 0.5);
  udml_weights_compute (w, g, dep, two, 3, &wt);
  check ("M=3 absent: w0", w[0], 12.0 / 5.0);
  check ("M=3 absent: w1", w[1], 3.0 / 5.0);
  check ("M=3 absent: w2", w[2], 0.0);
}

/* Policies: static is 1; udml-mc ignores D; pe/udml-nue use the embedding
 * term; uncertainty off leaves D only. */
static void
test_policies (void)
{
  float w[2], unc[2] = { (float) log (4.0), 0.0f }, dep[2] = { 4.0f, 1.0f };
  uint8_t present[2] = { 1, 1 };
  UdmlWeighting wt;

  wt = weighting (UDML_POLICY_STATIC);
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("static w_a", w[0], 1.0);
  check ("static w_v", w[1], 1.0);

  wt = weighting (UDML_POLICY_UDML_MC);
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("udml-mc w_a/M (1/4 : 1)", w[0] / 2.0, 0.2);

  wt = weighting (UDML_POLICY_PE);
  CHECK (wt.unc == UDML_UNC_PE && !wt.use_dep,
      "pe weighting: unc %d use_dep %d", wt.unc, wt.use_dep);
  wt = weighting (UDML_POLICY_UDML_NUE);
  CHECK (wt.unc == UDML_UNC_PE && wt.use_dep,
      "udml-nue weighting: unc %d use_dep %d", wt.unc, wt.use_dep);
  /* 1/(4*4) : 1/(1*1) */
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("udml-nue w_a/M", w[0] / 2.0, (1.0 / 16.0) / (1.0 / 16.0 + 1.0));

  wt = udml_weighting_train (UDML_POLICY_UDML, 0);
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("uncertainty off: w_a/M = D_v / sum D", w[0] / 2.0, 0.2);

  wt = udml_weighting_infer (UDML_POLICY_UDML, UDML_INFER_NO_DEPENDENCY);
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("infer no-dependency w_a/M", w[0] / 2.0, 0.2);
  wt = udml_weighting_infer (UDML_POLICY_UDML, UDML_INFER_NO_UNCERTAINTY);
  udml_weights_compute (w, unc, dep, present, 2, &wt);
  check ("infer no-uncertainty w_a/M", w[0] / 2.0, 0.2);

  CHECK (udml_policy_from_name ("udml-pos") == UDML_POLICY_UDML_POS
      && strcmp (udml_policy_name (UDML_POLICY_UDML_NUE), "udml-nue") == 0
      && udml_policy_from_name ("bogus") == -1, "policy names");
}

/* Through the public inference API on a tiny model: with the uncertainty
 * term off the weights follow D exactly, alpha is reported as D_m / sum D,
 * and an absent modality gets weight 0, present = 0. */
static void
test_infer (void)
{
  UdmlConfig cfg;
  UdmlModel *model;
  UdmlInfer *inf;
  UdmlError err;
  UdmlResult res[3];
  float *xa, *xv;
  const float *in[2];
  uint8_t present[6] = { 1, 1, 1, 0, 0, 1 };

  udml_config_default (&cfg);
  for (int m = 0; m < 2; m++) {
    cfg.mod[m].in_h = 8;
    cfg.mod[m].in_w = 8;
    cfg.mod[m].n_stages = 2;
    cfg.mod[m].channels[0] = 4;
    cfg.mod[m].channels[1] = 8;
  }
  model = udml_model_new (&cfg, 7, &err);
  if (!model) {
    TEST_FAIL ("model: %s", err.msg);
    return;
  }
  udml_model_set_dependency (model, 0, 32.0f);
  udml_model_set_dependency (model, 1, 8.0f);
  check ("udml_model_alpha audio", udml_model_alpha (model, 0), 1.6);
  inf = udml_infer_new (model, 3, &err);
  xa = xcalloc (3 * 64, sizeof (float));
  xv = xcalloc (3 * 64, sizeof (float));
  for (int i = 0; i < 3 * 64; i++) {
    xa[i] = (float) ((i * 37) % 11) - 5.0f;
    xv[i] = (float) ((i * 53) % 256);
  }
  in[0] = xa;
  in[1] = xv;
  if (!inf
      || udml_infer_run (inf, 3, in, present, UDML_INFER_NO_UNCERTAINTY, res,
          &err)) {
    TEST_FAIL ("infer: %s", err.msg);
  } else {
    double psum = 0.0;
    check ("infer both: audio weight", res[0].mod[0].weight, 0.2);
    check ("infer both: video weight", res[0].mod[1].weight, 0.8);
    check ("infer alpha fraction audio", res[0].mod[0].alpha, 0.8);
    check ("infer absent video: weight", res[1].mod[1].weight, 0.0);
    check ("infer absent video: present", res[1].mod[1].present, 0.0);
    check ("infer absent video: audio weight", res[1].mod[0].weight, 1.0);
    check ("infer absent audio: video weight", res[2].mod[1].weight, 1.0);
    check ("infer absent audio: noise 0", res[2].mod[0].noise, 0.0);
    for (int k = 0; k < cfg.n_classes; k++)
      psum += res[0].probs[k];
    check ("probs sum", psum, 1.0);
    /* as trained: shares still sum to 1 */
    if (udml_infer_run (inf, 3, in, NULL, UDML_INFER_AS_TRAINED, res,
            &err) == UDML_OK)
      check ("as trained: weight sum",
          res[0].mod[0].weight + res[0].mod[1].weight, 1.0);
    CHECK (udml_infer_run (inf, 4, in, NULL, UDML_INFER_AS_TRAINED, res,
            &err) == UDML_ERR_ARG, "infer accepted a batch above max_batch");
  }
  free (xa);
  free (xv);
  udml_infer_free (inf);
  udml_model_free (model);
}

int
main (void)
{
  test_alpha_equal_uncertainty ();
  test_sweep_table ();
  test_closed_form ();
  test_absent ();
  test_three ();
  test_policies ();
  test_infer ();
  return test_summary ("test-weights");
}
