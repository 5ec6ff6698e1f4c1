/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-inspect — prints a model file's metadata, architecture and tensor
 * table, and verifies its checksums. Exit 0 if the file is sound, 1 if
 * not, 2 on bad usage. */
#include <stdio.h>
#include <string.h>

#include "tool.h"
#include "udml.h"

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

int
main (int argc, char **argv)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;
  const GOptionEntry entries[] = { {NULL} };

  tool_init (PROG);
  char **pos = tool_parse (entries, "MODEL",
      "Prints the metadata (policy, scaling, labels, feature spec,\n"
      "provenance), the architecture, dependency D and alpha of each\n"
      "modality and the tensor table of a .udml model file, after\n"
      "verifying the header and every tensor checksum.",
      "Exit status: 0 sound file, 1 unreadable or corrupt file, 2 bad usage.",
      argc, argv);
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
