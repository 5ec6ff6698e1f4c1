/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-inspect — prints a model file's metadata, architecture and tensor
 * table, and verifies its checksums. Exit 0 if the file is sound, 1 if
 * not, 2 on bad usage. --compare A B prints how far two models of the
 * same architecture are apart. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"
#include "udml.h"
#include "trainer.h"

#define PROG "udml-inspect"

static void
print_features (const UdmlConfig * cfg)
{
  const UdmlFeatureSpec *fs = &cfg->features;

  printf ("features:\n");
  printf ("  audio      %d Hz mono, n_fft %d, window %d, hop %d, %d mel bands "
      "%g..%g Hz, ln(power + %g)\n", fs->sample_rate, fs->n_fft,
      fs->win_length, fs->hop_length, fs->n_mels, (double) fs->fmin,
      (double) fs->fmax, (double) fs->log_floor);
  int frames = fs->frames_per_window > 1 ? fs->frames_per_window : 1;
  printf ("  video      %dx%d %s (%d channel%s), %d/%d fps, %d frame%s per "
      "window\n", fs->frame_width, fs->frame_height,
      fs->frame_channels == 3 ? "rgb" : fs->frame_channels == 1 ? "gray" :
      "?", fs->frame_channels, fs->frame_channels == 1 ? "" : "s",
      fs->fps_num, fs->fps_den, frames, frames == 1 ? "" : "s");
  printf ("  window     %.3f s, hop %.3f s\n", (double) fs->window_ns / 1e9,
      (double) fs->hop_ns / 1e9);
}

static void
print_modalities (const UdmlModel * model)
{
  const UdmlConfig *cfg = udml_model_config (model);

  printf ("modalities: %d\n", cfg->n_modalities);
  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *ms = &cfg->mod[m];
    printf ("  %d %-8s %s, input %dx%dx%d, encoder ", m, ms->name,
        ms->kind == UDML_MODALITY_AUDIO ? "audio" : "video", ms->in_c,
        ms->in_h, ms->in_w);
    for (int i = 0; i < ms->n_stages; i++)
      printf ("%s%d", i ? "-" : "", ms->channels[i]);
    printf (" (%d stages)\n", ms->n_stages);
    printf ("    normalisation mean %g std %g; D %.6g, alpha %.4f\n",
        (double) ms->norm_mean, (double) ms->norm_std,
        (double) udml_model_dependency (model, m),
        (double) udml_model_alpha (model, m));
    if (udml_model_calibration (model, m) > 0.0f)
      printf ("    calibration: clean noise p99 %.6g\n",
          (double) udml_model_calibration (model, m));
    else
      printf ("    calibration: unknown\n");
  }
  if (cfg->est_norm > 0.0f)
    printf ("estimator:  hidden %d, input batch-normalised x %g\n",
        cfg->est_hidden, (double) cfg->est_norm);
  else
    printf ("estimator:  hidden %d, raw input\n", cfg->est_hidden);
}

static void
print_provenance (const char *text)
{
  const char *p = text;

  printf ("provenance:%s\n", *p ? "" : " (none)");
  while (*p) {
    const char *nl = strchr (p, '\n');
    int n = nl ? (int) (nl - p) : (int) strlen (p);
    printf ("  %.*s\n", n, p);
    p += n + (nl ? 1 : 0);
  }
}

static size_t
print_tensors (const UdmlModel * model)
{
  int n = udml_model_num_tensors (model);
  size_t total = 0;
  int width = 4;

  for (int i = 0; i < n; i++) {
    int l = (int) strlen (udml_model_tensor_name (model, i));
    if (l > width)
      width = l;
  }
  printf ("tensors: %d\n", n);
  printf ("  %-*s  %-16s %10s\n", width, "name", "dims", "count");
  for (int i = 0; i < n; i++) {
    int dims[4] = { 0 };
    int nd = udml_model_tensor_dims (model, i, dims);
    char buf[64];
    size_t off = 0, count = 1;

    buf[0] = '\0';
    for (int d = 0; d < nd; d++) {
      off += snprintf (buf + off, sizeof buf - off, "%s%d", d ? "x" : "",
          dims[d]);
      count *= (size_t) dims[d];
    }
    total += count;
    printf ("  %-*s  %-16s %10zu\n", width, udml_model_tensor_name (model, i),
        buf, count);
  }
  return total;
}

static void
print_summary (const char *path, const UdmlModel * model)
{
  const UdmlConfig *cfg = udml_model_config (model);

  printf ("file:       %s\n", path);
  printf ("checksums:  ok (header and %d tensors)\n",
      udml_model_num_tensors (model));
  printf ("policy:     %s\n", udml_policy_name (cfg->policy));
  printf ("scaling:    %s\n",
      cfg->scaling == UDML_SCALING_PAPER ? "paper (M w f)" :
      "residual ((1 + w) f)");
  printf ("labels:     %d:", cfg->n_classes);
  for (int k = 0; k < cfg->n_classes; k++)
    printf (" %s", cfg->labels[k]);
  printf ("\n");
}

/* Largest |a - b| over every stored value (and D), and the largest of
 * that relative to the tensor's own scale, max |a|: a near-zero entry of a
 * large tensor does not blow the ratio up. */
static int
compare (const char *pa, const char *pb)
{
  UdmlError err = { 0 };
  UdmlModel *a = NULL, *b = NULL;
  double abs_d = 0.0, rel_d = 0.0;
  const char *where = "none";
  int ret = 1, n;

  if (udml_model_load (pa, &a, &err) != UDML_OK
      || udml_model_load (pb, &b, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    goto out;
  }
  n = udml_model_num_tensors (a);
  if (n != udml_model_num_tensors (b)) {
    tool_error ("%s has %d tensors, %s has %d: not the same architecture", pa,
        n, pb, udml_model_num_tensors (b));
    goto out;
  }
  for (int t = 0; t < n; t++) {
    size_t len, len_b;
    const float *x = udml_model_tensor_values (a, t, &len);
    const float *y = udml_model_tensor_values (b, t, &len_b);
    double d = 0.0, s = 0.0;

    if (len != len_b || strcmp (udml_model_tensor_name (a, t),
            udml_model_tensor_name (b, t))) {
      tool_error ("tensor %d: %s (%zu values) vs %s (%zu values)", t,
          udml_model_tensor_name (a, t), len, udml_model_tensor_name (b, t),
          len_b);
      goto out;
    }
    for (size_t i = 0; i < len; i++) {
      double e = fabs ((double) x[i] - y[i]);
      d = e > d || isnan (e) ? e : d;
      s = fabs (x[i]) > s ? fabs (x[i]) : s;
    }
    if (d > abs_d || isnan (d))
      abs_d = d;
    d = s > 0.0 ? d / s : d > 0.0 ? INFINITY : d;
    if (d > rel_d || isnan (d)) {
      rel_d = d;
      where = udml_model_tensor_name (a, t);
    }
  }
  for (int m = 0; m < udml_model_config (a)->n_modalities; m++) {
    double da = udml_model_dependency (a, m), db = udml_model_dependency (b, m);
    double d = fabs (da - db);
    if (d > abs_d)
      abs_d = d;
    if (da > 0.0 && d / da > rel_d) {
      rel_d = d / da;
      where = "D";
    }
  }
  printf ("tensors=%d\n", n);
  printf ("max_abs_diff=%.6g\n", abs_d);
  printf ("max_rel_diff=%.6g\n", rel_d);
  printf ("max_rel_diff_at=%s\n", where);
  ret = 0;
out:
  udml_model_free (a);
  udml_model_free (b);
  return ret;
}

int
main (int argc, char **argv)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;
  gboolean cmp = FALSE;
  const GOptionEntry entries[] = {
    {"compare", 0, 0, G_OPTION_ARG_NONE, &cmp,
        "compare two models: max_abs_diff= and max_rel_diff= (relative to "
          "each tensor's largest magnitude) over all tensors", NULL},
    {NULL}
  };

  tool_init (PROG);
  char **pos = tool_parse (entries, "MODEL | --compare A B",
      "Prints the metadata (policy, scaling, labels, feature spec,\n"
      "provenance), the architecture, dependency D and alpha of each\n"
      "modality and the tensor table of a .udml model file, after\n"
      "verifying the header and every tensor checksum.",
      "Exit status: 0 sound file, 1 unreadable or corrupt file, 2 bad usage.",
      argc, argv);
  if (cmp) {
    int ret;
    if (g_strv_length (pos) != 2)
      tool_usage_error ("--compare: two model files expected");
    ret = compare (pos[0], pos[1]);
    g_strfreev (pos);
    return tool_finish (ret);
  }
  if (g_strv_length (pos) != 1)
    tool_usage_error ("%s", pos[0] ? "one model file expected"
        : "no model file given");
  const char *path = pos[0];

  /* Checksums first: a corrupt file is reported as such, not as whatever
   * the loader trips over. */
  if (udml_model_verify (path, &err) != UDML_OK
      || udml_model_load (path, &model, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    g_strfreev (pos);
    return tool_finish (1);
  }
  print_summary (path, model);
  print_features (udml_model_config (model));
  print_modalities (model);
  print_provenance (udml_model_provenance (model));
  size_t stored = print_tensors (model);
  printf ("parameters: %zu trainable, %zu stored values (with running "
      "statistics)\n", udml_model_num_params (model), stored);

  udml_model_free (model);
  g_strfreev (pos);
  return tool_finish (0);
}
