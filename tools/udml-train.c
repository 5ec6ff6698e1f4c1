/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-train — trains a UDML model (or a baseline/ablation policy) from
 * manifests of media clips or a folder per class (design.md "Tools",
 * method.md §4-5).
 *
 * The model's input spec (window, frame size and format, frames per window,
 * rate, mels, encoder widths) and its labels come from the options and the
 * data, and are stored in the model. Every window of each clip is
 * extracted once through lib/data and lib/media, the path the element
 * uses, and cached next to the output.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "degrade-tool.h"
#include "tool.h"
#include "train-mpi.h"
#include "udml.h"

#define PROG "udml-train"

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal (int sig)
{
  stop_requested = 1;
  /* a second interrupt kills at once */
  signal (sig, SIG_DFL);
}

static void
fmt_duration (char *buf, size_t n, double s)
{
  if (!(s >= 0) || s > 1e7) {
    snprintf (buf, n, "--:--");
    return;
  }
  long t = (long) (s + 0.5);
  if (t >= 3600)
    snprintf (buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf (buf, n, "%ld:%02ld", t / 60, t % 60);
}

typedef struct
{
  int tty, quiet;
  double t0, last_draw;
  long done0;                   /* global step at the first callback (resume) */
  double last_val_acc;
  double last_val_loss;
  float last_acc, last_loss;
  int last_epoch;
  int first_epoch;              /* of this session */
} Progress;

static int
on_progress (const UdmlTrainProgress * p, void *user)
{
  Progress *pr = user;
  int spe = p->steps_per_epoch > 0 ? p->steps_per_epoch : 1;
  long total = (long) p->epochs * spe;
  int step = p->epoch_done ? spe : (p->step + 1 < spe ? p->step + 1 : spe);
  long done = (long) p->epoch * spe + step;
  double now = tool_now ();
  char eta[32], el[32];

  if (pr->done0 < 0) {
    pr->done0 = done - 1;
    pr->first_epoch = p->epoch;
    pr->t0 = now;
  }
  double rate = (done - pr->done0) / (now - pr->t0 + 1e-9);
  fmt_duration (eta, sizeof eta, rate > 0 ? (total - done) / rate : -1);
  fmt_duration (el, sizeof el, now - pr->t0);
  pr->last_acc = p->accuracy;
  pr->last_loss = p->loss;
  pr->last_epoch = p->epoch;
  if (p->epoch_done) {
    pr->last_val_acc = p->val_accuracy;
    pr->last_val_loss = p->val_loss;
  }

  if (pr->quiet)
    return stop_requested;
  if (pr->tty && (p->epoch_done || now - pr->last_draw > 0.2)) {
    int bar = 20, fill = (int) ((double) step / spe * bar);
    char b[32];
    for (int i = 0; i < bar; i++)
      b[i] = i < fill ? '#' : '.';
    b[bar] = '\0';
    fprintf (stderr, "\repoch %d/%d s%d [%s] %d/%d loss %.4f acc %.3f lr %.2g "
        "elapsed %s ETA %s   ", p->epoch + 1, p->epochs, p->stage, b, step, spe,
        p->loss, p->accuracy, p->lr, el, eta);
    pr->last_draw = now;
  }
  if (p->epoch_done) {
    char val[64] = "";
    if (p->val_accuracy >= 0)
      snprintf (val, sizeof val, " val_loss %.4f val_acc %.4f", p->val_loss,
          p->val_accuracy);
    if (pr->tty)
      fprintf (stderr, "\r\033[K");
    fprintf (stderr,
        "epoch %d/%d stage %d loss %.4f acc %.4f%s lr %.3g elapsed %s "
        "ETA %s\n", p->epoch + 1, p->epochs, p->stage, p->loss, p->accuracy,
        val, p->lr, el, eta);
  }
  return stop_requested;
}

/* Appends s to buf, quoted for a POSIX shell when needed. */
static void
append_arg (char *buf, size_t n, const char *s)
{
  size_t l = strlen (buf);
  int plain = *s != '\0';
  for (const char *p = s; *p; p++)
    if (!strchr ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "0123456789-_./=,:+%@", *p))
      plain = 0;
  if (l && l + 1 < n)
    buf[l++] = ' ';
  buf[l] = '\0';
  if (plain) {
    strncat (buf, s, n - l - 1);
    return;
  }
  strncat (buf, "'", n - strlen (buf) - 1);
  for (const char *p = s; *p; p++) {
    if (*p == '\'')
      strncat (buf, "'\\''", n - strlen (buf) - 1);
    else {
      char c[2] = { *p, 0 };
      strncat (buf, c, n - strlen (buf) - 1);
    }
  }
  strncat (buf, "'", n - strlen (buf) - 1);
}

typedef struct
{
  char *out, *val, *ckpt, *resume, *cache_dir;
  char **manifests;             /* (transfer full) */
  int n_manifests;
  gboolean skip_bad, task_grad, no_cache, quiet, verbose;
  gboolean feature_noise;       /* --noise features: the trainer's own */
  int policy;
  long epochs, batch, threads, seed;
  double lr, beta, lambda, est_norm;
  int ckpt_default;             /* ckpt is MODEL.ckpt: removed after success */
  char *noise, *hold_out;       /* --noise, --hold-out as given */
  DegradeMask kinds;            /* stage-2 degradation kinds */
  DegradeNoise *dn;             /* their noise function, once set up */
  /* the input spec and labels */
  UdmlSpecParams spec;
  double hop_s;                 /* step between training windows */
  char *labels;                 /* --labels FILE */
  double val_split;             /* 0: none */
} TrainOptions;

static const char help_text[] =
    "DATA is a folder per class (DATA/<label>/<clip>, any file libav opens\n"
    "with an audio and a video stream) or a CSV manifest with a header\n"
    "`path,label` or `audio,video,label`, optionally with `start,end`\n"
    "(seconds); paths are relative to the manifest. Every window that fits\n"
    "in a clip or segment is a sample, at --hop steps. Labels are the sorted\n"
    "union of the training labels unless --labels gives them in order. --epochs E: stage 2 starts at E/2;\n"
    "the learning rate drops x0.1 at 0.7 E. --beta defaults to a weight\n"
    "scaled to the map size (method.md section 2). --est-norm 0 feeds the\n"
    "estimator raw input, as method.md. --estimator-task-grad lets the task\n"
    "loss train the estimator through the weights, as the reference code\n"
    "does (off: only the estimator loss trains it, docs/method.md). With\n"
    "it, a small --lambda lets the task rather than the noise label set the\n"
    "weights (docs/results.md, \"Degradations\").";

static void
parse_values (TrainOptions * o, const char *policy, const char *epochs,
    const char *seed, const char *threads, const char *batch, const char *lr,
    const char *beta, const char *lambda, const char *est_norm)
{
  if (policy) {
    o->policy = udml_policy_from_name (policy);
    if (o->policy < 0)
      tool_usage_error ("--policy: unknown policy '%s' (static, pe, udml, "
          "udml-nue, udml-mc, udml-pos)", policy);
  }
  tool_opt_long ("--epochs", epochs, 1, 100000, &o->epochs);
  tool_opt_long ("--seed", seed, 0, 0x7fffffffL, &o->seed);
  tool_opt_long ("--threads", threads, 1, 256, &o->threads);
  tool_opt_long ("--batch", batch, 1, 65536, &o->batch);
  if (lr)
    tool_opt_double ("--lr", lr, 1e-300, 10, "a rate in (0, 10]", &o->lr);
  tool_opt_double ("--beta", beta, 0, 100, "a weight in [0, 100]", &o->beta);
  tool_opt_double ("--lambda", lambda, 0, 100, "a weight in [0, 100]",
      &o->lambda);
  tool_opt_double ("--est-norm", est_norm, 0, 16, "a scale in [0, 16]",
      &o->est_norm);
}

/* "WxH" into two positive ints. */
static void
parse_size (const char *opt, const char *v, int *w, int *h)
{
  char *end;
  long a, b;
  if (!v)
    return;
  a = strtol (v, &end, 10);
  if (end == v || (*end != 'x' && *end != 'X'))
    tool_usage_error ("%s '%s': expected WIDTHxHEIGHT, e.g. 64x64", opt, v);
  b = strtol (end + 1, &end, 10);
  if (*end || a < 1 || b < 1 || a > 4096 || b > 4096)
    tool_usage_error ("%s '%s': expected WIDTHxHEIGHT, each 1..4096", opt, v);
  *w = (int) a;
  *h = (int) b;
}

/* "16,32,64" into the encoder widths. */
static void
parse_widths (const char *v, UdmlSpecParams * p)
{
  char **parts;
  int n;
  if (!v)
    return;
  parts = g_strsplit (v, ",", -1);
  n = (int) g_strv_length (parts);
  if (n < 1 || n > UDML_MAX_STAGES) {
    g_strfreev (parts);
    tool_usage_error ("--widths '%s': %d stages, the core allows 1..%d", v, n,
        UDML_MAX_STAGES);
  }
  for (int i = 0; i < n; i++) {
    long c;
    tool_opt_long ("--widths", parts[i], 1, 4096, &c);
    p->widths[i] = (int) c;
  }
  p->n_stages = n;
  g_strfreev (parts);
}

typedef struct
{
  char *window, *hop, *size, *format, *fps, *frames, *rate, *mels, *widths;
  char *val_split;
} SpecArgs;

/* The spec options, each value checked on its own; then together. */
static void
parse_spec (TrainOptions * o, const SpecArgs * a)
{
  UdmlSpecParams *p = &o->spec;
  UdmlConfig cfg;
  UdmlError err = { 0 };
  long v;

  tool_opt_double ("--window", a->window, 0.001, 60, "seconds in (0, 60]",
      &p->window_s);
  o->hop_s = p->window_s / 2;
  tool_opt_double ("--hop", a->hop, 0.001, 60, "seconds in (0, 60]", &o->hop_s);
  parse_size ("--video-size", a->size, &p->width, &p->height);
  if (a->format) {
    if (strcmp (a->format, "gray") == 0 || strcmp (a->format, "grey") == 0)
      p->channels = 1;
    else if (strcmp (a->format, "rgb") == 0)
      p->channels = 3;
    else
      tool_usage_error ("--video-format '%s': expected gray or rgb", a->format);
  }
  v = p->fps;
  tool_opt_long ("--fps", a->fps, 1, 120, &v);
  p->fps = (int) v;
  v = p->frames;
  tool_opt_long ("--frames", a->frames, 1, UDML_MAX_WINDOW_FRAMES, &v);
  p->frames = (int) v;
  v = p->sample_rate;
  tool_opt_long ("--sample-rate", a->rate, 4000, 192000, &v);
  p->sample_rate = (int) v;
  v = p->n_mels;
  tool_opt_long ("--mels", a->mels, 1, 512, &v);
  p->n_mels = (int) v;
  parse_widths (a->widths, p);
  tool_opt_double ("--val-split", a->val_split, 0.001, 0.999,
      "a fraction in (0, 1)", &o->val_split);
  if (udml_data_config_build (&cfg, p, &err) != UDML_OK)
    tool_usage_error ("%s", err.msg);
}

static void
parse_options (int argc, char **argv, TrainOptions * o)
{
  SpecArgs sa = { 0 };
  char *policy = NULL, *epochs = NULL, *seed = NULL, *threads = NULL;
  char *batch = NULL, *lr = NULL, *beta = NULL, *lambda = NULL;
  char *est_norm = NULL;
  UdmlTrainOptions d;
  UdmlConfig dc;
  udml_train_options_default (&d);
  udml_config_default (&dc);
  char *h_epochs = g_strdup_printf ("epochs (%d)", d.epochs);
  char *h_lr = g_strdup_printf ("initial SGD learning rate (%g)", d.lr);
  char *h_batch = g_strdup_printf ("batch size (%d)", d.batch);
  char *h_est = g_strdup_printf ("scale of the batch-normalised estimator "
      "input (%g)", (double) dc.est_norm);
  char *h_lambda = g_strdup_printf ("weight of the estimator loss (%g)",
      (double) d.lambda);
  const GOptionEntry entries[] = {
    {"out", 'o', 0, G_OPTION_ARG_FILENAME, &o->out,
        "model file to write (atomically)", "MODEL"},
    {"policy", 0, 0, G_OPTION_ARG_STRING, &policy,
        "static, pe, udml, udml-nue, udml-mc, udml-pos (udml)", "P"},
    {"epochs", 0, 0, G_OPTION_ARG_STRING, &epochs, h_epochs, "E"},
    {"lr", 0, 0, G_OPTION_ARG_STRING, &lr, h_lr, "LR"},
    {"batch", 0, 0, G_OPTION_ARG_STRING, &batch, h_batch, "B"},
    {"beta", 0, 0, G_OPTION_ARG_STRING, &beta,
        "weight of the embedding KL term", "B"},
    {"lambda", 0, 0, G_OPTION_ARG_STRING, &lambda, h_lambda, "L"},
    {"est-norm", 0, 0, G_OPTION_ARG_STRING, &est_norm, h_est, "K"},
    {"estimator-task-grad", 0, 0, G_OPTION_ARG_NONE, &o->task_grad,
        "let the task loss train the estimator", NULL},
    {"seed", 0, 0, G_OPTION_ARG_STRING, &seed,
        "seed for initialisation, shuffling and noise (1)", "S"},
    {"threads", 0, 0, G_OPTION_ARG_STRING, &threads,
        "workers splitting each batch, 1 BLAS thread each (1)", "T"},
    {"val", 0, 0, G_OPTION_ARG_FILENAME, &o->val,
        "validation manifest, evaluated every epoch", "VAL.csv"},
    {"checkpoint", 0, 0, G_OPTION_ARG_FILENAME, &o->ckpt,
        "checkpoint written after every epoch (MODEL.ckpt)", "CKPT"},
    {"resume", 0, 0, G_OPTION_ARG_FILENAME, &o->resume,
        "continue an interrupted run (same data and options)", "CKPT"},
    {"skip-bad", 0, 0, G_OPTION_ARG_NONE, &o->skip_bad,
        "skip bad manifest rows (reported) instead of stopping", NULL},
    {"cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->cache_dir,
        "where feature caches go (the model's directory)", "DIR"},
    {"no-cache", 0, 0, G_OPTION_ARG_NONE, &o->no_cache,
        "always decode, never read or write a feature cache", NULL},
    {"noise", 0, 0, G_OPTION_ARG_STRING, &o->noise,
          "degradation kinds drawn in stage 2 (all: every kind a modality "
          "can see); 'features' for the trainer's Gaussian noise on the "
          "features instead (all)",
        "KIND,..."},
    {"hold-out", 0, 0, G_OPTION_ARG_STRING, &o->hold_out,
        "kinds left out of stage 2", "KIND,..."},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &o->quiet, "no progress output", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose,
        "also print the core's informational log", NULL},
    {"window", 0, 0, G_OPTION_ARG_STRING, &sa.window,
        "window length in seconds (1.0)", "SECONDS"},
    {"hop", 0, 0, G_OPTION_ARG_STRING, &sa.hop,
        "step between training windows (window/2)", "SECONDS"},
    {"video-size", 0, 0, G_OPTION_ARG_STRING, &sa.size,
        "video input size (64x64)", "WxH"},
    {"video-format", 0, 0, G_OPTION_ARG_STRING, &sa.format,
        "gray or rgb (gray)", "F"},
    {"fps", 0, 0, G_OPTION_ARG_STRING, &sa.fps, "video frame rate (10)", "N"},
    {"frames", 0, 0, G_OPTION_ARG_STRING, &sa.frames,
        "frames per window, evenly spaced, stacked as channels (1)", "N"},
    {"sample-rate", 0, 0, G_OPTION_ARG_STRING, &sa.rate,
        "audio sample rate (16000)", "HZ"},
    {"mels", 0, 0, G_OPTION_ARG_STRING, &sa.mels, "mel bands (64)", "N"},
    {"widths", 0, 0, G_OPTION_ARG_STRING, &sa.widths,
        "encoder channels per stage, both modalities (16,32,64,128)", "LIST"},
    {"labels", 0, 0, G_OPTION_ARG_FILENAME, &o->labels,
        "the labels in model order, one per line", "FILE"},
    {"val-split", 0, 0, G_OPTION_ARG_STRING, &sa.val_split,
        "without --val: hold out this fraction of each label's files", "F"},
    {NULL}
  };

  memset (o, 0, sizeof *o);
  o->policy = UDML_POLICY_UDML;
  o->epochs = o->batch = -1;
  o->threads = o->seed = 1;
  o->lr = o->beta = o->lambda = o->est_norm = -1;
  udml_spec_params_default (&o->spec);
  o->manifests = tool_parse (entries, "--out MODEL DATA...",
      "Trains a model on labelled clips: folders per class or manifests.",
      help_text, argc, argv);
  parse_values (o, policy, epochs, seed, threads, batch, lr, beta, lambda,
      est_norm);
  parse_spec (o, &sa);
  for (char **p = (char **)&sa; p < (char **) (&sa + 1); p++)
    g_free (*p);
  g_free (policy);
  g_free (epochs);
  g_free (seed);
  g_free (threads);
  g_free (batch);
  g_free (lr);
  g_free (beta);
  g_free (lambda);
  g_free (est_norm);
  g_free (h_epochs);
  g_free (h_lr);
  g_free (h_batch);
  g_free (h_est);
  g_free (h_lambda);
  o->n_manifests = (int) g_strv_length (o->manifests);
  o->feature_noise = o->noise && strcmp (o->noise, "features") == 0;
  if (o->feature_noise && o->hold_out)
    tool_usage_error ("--hold-out leaves degradation kinds out; "
        "--noise features draws none");
  o->kinds = o->feature_noise ? 0 : o->noise
      ? degrade_parse_kinds ("--noise", o->noise) : DEGRADE_ALL;
  if (o->hold_out)
    o->kinds &= ~degrade_parse_kinds ("--hold-out", o->hold_out);
  if (!o->out)
    tool_usage_error ("--out MODEL is required");
  if (o->n_manifests == 0)
    tool_usage_error ("no training data given");
  if (o->val && o->val_split > 0)
    tool_usage_error ("--val and --val-split exclude each other");
  if (!o->ckpt) {
    o->ckpt = g_strdup_printf ("%s.ckpt", o->out);
    o->ckpt_default = 1;
  }
  if (!o->cache_dir)
    o->cache_dir = g_path_get_dirname (o->out);
}

static void
options_clear (TrainOptions * o)
{
  g_free (o->out);
  g_free (o->val);
  g_free (o->ckpt);
  g_free (o->resume);
  g_free (o->cache_dir);
  g_free (o->noise);
  g_free (o->hold_out);
  g_free (o->labels);
  g_strfreev (o->manifests);
}

static int
setup_config (const TrainOptions * o, UdmlConfig * cfg)
{
  UdmlError err = { 0 };
  if (udml_data_config_build (cfg, &o->spec, &err) != UDML_OK) {
    tool_error ("configuration: %s", err.msg);
    return -1;
  }
  cfg->policy = (UdmlPolicy) o->policy;
  if (o->est_norm >= 0)
    cfg->est_norm = (float) o->est_norm;
  if (udml_config_validate (cfg, &err) != UDML_OK
      || udml_data_check_config (cfg, &err) != UDML_OK) {
    tool_error ("configuration: %s", err.msg);
    return -1;
  }
  return 0;
}

/* The labels from the training lists (and --labels), into cfg. */
static int
choose_labels (const TrainOptions * o, UdmlConfig * cfg, UdmlDataList * lists,
    int n)
{
  const UdmlDataList **lp = g_new (const UdmlDataList *, n);
  UdmlError err = { 0 };
  gchar *text = NULL;
  GError *gerr = NULL;
  int ret = 0;

  for (int i = 0; i < n; i++)
    lp[i] = &lists[i];
  if (o->labels && !g_file_get_contents (o->labels, &text, NULL, &gerr)) {
    tool_error ("--labels: %s", gerr->message);
    g_error_free (gerr);
    ret = -1;
  } else if (udml_data_choose_labels (cfg, lp, n, text, o->labels,
          &err) != UDML_OK) {
    tool_error ("labels: %s", err.msg);
    ret = -1;
  }
  g_free (text);
  g_free (lp);
  return ret;
}

/* Every data source, all problems reported before stopping; with waves,
 * also the training rows' waveforms (each rank its shard's), and with
 * bank the other speech of babble. */
static int
load_data (const TrainOptions * o, UdmlConfig * cfg,
    UdmlFeatureSet * train, UdmlFeatureSet * val, UdmlWaveSet * waves,
    UdmlWaveSet * bank, int **bank_y)
{
  ToolDataOptions dopt = { o->skip_bad, o->cache_dir, o->no_cache, o->quiet,
    llround (o->hop_s * 1e9)
  };
  int n = o->n_manifests, n_val = 0, bad = 0;
  UdmlDataList *lists = g_new0 (UdmlDataList, n);
  UdmlDataList *vals = g_new0 (UdmlDataList, n > 1 ? n : 1);
  UdmlError err = { 0 };

  udml_feature_set_init (train, cfg);
  udml_feature_set_init (val, cfg);
  for (int i = 0; i < n; i++)
    bad |= tool_read_list (o->manifests[i], &lists[i]);
  if (o->val)
    bad |= tool_read_list (o->val, &vals[n_val++]);
  for (int i = 0; i < n && !bad && o->val_split > 0; i++) {
    if (udml_data_list_split (&lists[i], o->val_split, &vals[n_val],
            &err) != UDML_OK) {
      tool_error ("%s: %s", o->manifests[i], err.msg);
      bad = 1;
    }
    n_val++;
  }
  if (!bad && choose_labels (o, cfg, lists, n))
    bad = 1;
  if (waves)
    udml_wave_set_init (waves, cfg);
  if (!bad && bank && degrade_load_babble (lists, n, cfg, bank, bank_y))
    bad = 1;
  if (!bad && tool_mpi_size () > 1) {   /* each rank decodes its shard */
    if (o->val_split > 0) {
      tool_error ("--val-split needs one process: give --val");
      bad = 1;
    } else {
      bad = tool_mpi_load (o->manifests, o->n_manifests, o->val, cfg, &dopt,
          train, val, waves) ? 1 : 0;
    }
  } else if (!bad) {
    udml_feature_set_init (train, cfg);
    udml_feature_set_init (val, cfg);
    for (int i = 0; i < n; i++)
      bad |= tool_extract_waves (&lists[i], cfg, &dopt, train, waves);
    for (int i = 0; i < n_val; i++)
      bad |= tool_extract (&vals[i], cfg, &dopt, val);
  }
  if (bad)
    tool_error ("stopping before training");
  for (int i = 0; i < n; i++)
    udml_data_list_clear (&lists[i]);
  for (int i = 0; i < n_val; i++)
    udml_data_list_clear (&vals[i]);
  g_free (lists);
  g_free (vals);
  return bad ? -1 : 0;
}

static void
train_options (const TrainOptions * o, UdmlTrainOptions * opt, Progress * pr)
{
  udml_train_options_default (opt);
  if (o->epochs > 0)
    opt->epochs = (int) o->epochs;
  if (o->batch > 0)
    opt->batch = (int) o->batch;
  if (o->lr > 0)
    opt->lr = (float) o->lr;
  if (o->beta >= 0)
    opt->beta = (float) o->beta;
  if (o->lambda >= 0)
    opt->lambda = (float) o->lambda;
  opt->estimator_task_grad = o->task_grad;
  opt->seed = (uint64_t) o->seed;
  opt->threads = (int) o->threads;
  opt->checkpoint = o->ckpt;
  opt->resume = o->resume;
  opt->progress = on_progress;
  opt->progress_user = pr;
  if (o->dn) {
    opt->noise = degrade_noise_func;
    opt->noise_user = o->dn;
  }
}

/* The stage-2 kinds each modality draws, before any decoding (a modality
 * left with none is a usage error). */
static void
plan_noise (TrainOptions * o, const UdmlConfig * cfg, DegradeNoise * dn)
{
  if (o->feature_noise)
    return;
  degrade_noise_plan (dn, cfg, o->kinds);
  o->kinds = 0;                 /* what is drawn: the kinds some modality sees */
  for (int m = 0; m < cfg->n_modalities; m++)
    for (int k = 0; k < dn->n_kinds[m]; k++)
      o->kinds |= 1u << dn->kinds[m][k];
}

/* The noise hook on the training rows and their waveforms (loaded with
 * the features when an audio kind is drawn). */
static int
setup_noise (TrainOptions * o, const UdmlConfig * cfg,
    const UdmlFeatureSet * train, DegradeNoise * dn, const UdmlWaveSet * waves,
    const UdmlWaveSet * bank, const int *bank_y)
{
  char names[256];
  if (o->feature_noise)
    return 0;
  if (degrade_noise_needs_waves (dn, cfg) && waves->n != train->n) {
    tool_error ("%d training windows but %d waveforms", train->n, waves->n);
    return -1;
  }
  if (degrade_noise_start (dn, cfg, waves, train->y, (int) o->threads,
          bank->n > 0 ? bank : NULL, bank_y))
    return -1;
  o->dn = dn;
  degrade_format_kinds (o->kinds, names, sizeof names);
  if (!o->quiet) {
    tool_note ("stage-2 kinds: %s", names);
    if (waves->n > 0)
      tool_note ("waveforms of %d windows in %.1f MB%s", waves->n,
          (double) (waves->n_pcm * sizeof (float) + (size_t) waves->n
              * (sizeof *waves->off + sizeof *waves->n_valid)) / 1e6,
          tool_mpi_size () > 1 ? " on this rank" : "");
  }
  return 0;
}

/* Trains with SIGINT/SIGTERM asking for a clean stop. */
static UdmlStatus
run_training (UdmlModel * model, const UdmlFeatureSet * train,
    const UdmlFeatureSet * val, int have_val, const UdmlTrainOptions * opt,
    UdmlError * err)
{
  UdmlDataset dtrain = { train->n, {0}, train->y };
  UdmlDataset dval = { val->n, {0}, val->y };
  for (int m = 0; m < train->n_mod; m++) {
    dtrain.x[m] = train->x[m];
    dval.x[m] = val->x[m];
  }
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  UdmlStatus st = tool_mpi_size () > 1 ? udml_train_dist (model, &dtrain,
      have_val && val->n ? &dval : NULL, opt, tool_mpi_dist (), err)
      : udml_train (model, &dtrain, have_val ? &dval : NULL, opt, err);
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  return st;
}

static void
report_interrupted (int argc, char **argv, const TrainOptions * o,
    const Progress * pr)
{
  char again[4200] = "";
  append_arg (again, sizeof again, PROG);
  append_arg (again, sizeof again, "--resume");
  append_arg (again, sizeof again, o->ckpt);
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--resume") == 0) {
      i++;
      continue;
    }
    append_arg (again, sizeof again, argv[i]);
  }
  tool_note ("interrupted during epoch %d; checkpoint written to %s",
      pr->last_epoch + 1, o->ckpt);
  tool_note ("resume with: %s", again);
}

/* What made this model, stored in it. */
static void
set_provenance (UdmlModel * model, int argc, char **argv,
    const TrainOptions * o, const UdmlTrainOptions * opt,
    const UdmlFeatureSet * train, const UdmlFeatureSet * val,
    const Progress * pr, double train_s)
{
  const UdmlConfig *cfg = udml_model_config (model);
  char prov[8192], date[64], data[2048] = "", cmd[4096] = "", kinds[256];
  time_t t = time (NULL);
  struct tm tm;
  gmtime_r (&t, &tm);
  degrade_format_kinds (o->kinds, kinds, sizeof kinds);
  strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  for (int i = 0; i < argc; i++)
    append_arg (cmd, sizeof cmd, i == 0 ? PROG : argv[i]);
  for (int i = 0; i < o->n_manifests; i++) {
    strncat (data, i ? " " : "", sizeof data - strlen (data) - 1);
    strncat (data, o->manifests[i], sizeof data - strlen (data) - 1);
  }
  snprintf (prov, sizeof prov,
      "tool=" PROG "\n" "command=%s\n" "seed=%ld\n" "policy=%s\n"
      "epochs=%d\n" "batch=%d\n" "lr=%g\n" "beta=%g%s\n" "lambda=%g\n"
      "estimator_task_grad=%d\n" "threads=%ld\n" "noise=%s\n"
      "data=%s (%d windows, %d clips skipped)\n" "val=%s (%d windows)\n"
      "final_train_accuracy=%.4f\n" "final_val_accuracy=%.4f\n" "date=%s\n"
      "train_time_s=%.1f%s\n" "train_hop_s=%g\n",
      cmd, o->seed, udml_policy_name (cfg->policy), opt->epochs, opt->batch,
      opt->lr, opt->beta, opt->beta < 0 ? " (scaled to the map size)" : "",
      opt->lambda, opt->estimator_task_grad, o->threads,
      o->feature_noise ? "features" : kinds, data, train->n,
      train->n_bad, o->val ? o->val : o->val_split > 0 ? "split" : "none",
      val->n, pr->last_acc, pr->last_val_acc, date, train_s,
      o->resume ? " (this session, resumed)" : "", o->hop_s);
  udml_model_set_provenance (model, prov);
}

/* What the training data was: its labels and features under the spec,
 * so --resume refuses other data. 0 (unknown) across ranks, where each
 * holds only its shard. */
static uint64_t
data_fingerprint (const UdmlConfig * cfg, const UdmlFeatureSet * train)
{
  uint64_t h = UDML_DATA_HASH_INIT, key = udml_data_config_key (cfg);

  if (tool_mpi_size () > 1)
    return 0;
  h = udml_data_hash (h, &key, sizeof key);
  h = udml_data_hash (h, &train->n, sizeof train->n);
  h = udml_data_hash (h, train->y, (size_t) train->n * sizeof *train->y);
  for (int m = 0; m < train->n_mod; m++)
    h = udml_data_hash (h, train->x[m],
        (size_t) train->n * train->F[m] * sizeof (float));
  return h ? h : 1;
}

/* Trains, saves and reports; returns the exit status. */
static int
train_and_save (int argc, char **argv, const TrainOptions * o,
    UdmlModel * model, const UdmlFeatureSet * train, const UdmlFeatureSet * val)
{
  UdmlTrainOptions opt;
  UdmlError err = { 0 };
  Progress pr = { isatty (2), o->quiet, 0, 0, -1, -1, -1, 0, 0, 0, 0 };
  char el[32];

  train_options (o, &opt, &pr);
  opt.data_fingerprint = data_fingerprint (udml_model_config (model), train);
  if (!o->quiet)
    tool_note ("training %s on %d windows (%d validation), %d epochs, "
        "batch %d, lr %g, seed %ld, %ld thread%s; %zu parameters",
        udml_policy_name (udml_model_config (model)->policy),
        tool_mpi_size () > 1 ? tool_mpi_dist ()->n_global : train->n, val->n,
        opt.epochs, opt.batch, opt.lr, o->seed, o->threads,
        o->threads == 1 ? "" : "s", udml_model_num_params (model));
  double t0 = tool_now ();
  UdmlStatus st = run_training (model, train, val, val->n > 0, &opt, &err);
  double train_s = tool_now () - t0;
  if (tool_mpi_rank () != 0)    /* rank 0 alone reports and writes */
    return st == UDML_OK ? 0 : st == UDML_ERR_INTERRUPTED ? 130 : 1;
  if (pr.tty && !o->quiet)
    fprintf (stderr, "\r\033[K");
  if (st == UDML_ERR_INTERRUPTED) {
    report_interrupted (argc, argv, o, &pr);
    return 130;
  }
  if (st != UDML_OK) {
    tool_error ("training failed (%s): %s", udml_status_name (st), err.msg);
    return 1;
  }
  float cal[UDML_MAX_MODALITIES];
  /* validation windows (--val or --val-split), as the training windows
   * read lower: the model has fitted them */
  if (degrade_calibrate (model, val->n > 0 ? val : train, opt.batch, cal))
    return 1;
  for (int m = 0; m < udml_model_config (model)->n_modalities && !o->quiet; m++)
    tool_note ("calibration %s: clean noise p99 %.4f (%s windows)",
        udml_model_config (model)->mod[m].name, cal[m],
        val->n > 0 ? "validation" : "training");
  set_provenance (model, argc, argv, o, &opt, train, val, &pr, train_s);
  if (udml_model_save (model, o->out, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    return 1;
  }
  if (o->ckpt_default)
    unlink (o->ckpt);
  if (!o->quiet) {
    const UdmlTrainDist *d = tool_mpi_dist ();
    int n = tool_mpi_size () > 1 ? d->n_global : train->n;
    /* this session's epochs (a resumed run trains fewer) */
    double rate = (pr.last_epoch + 1 - pr.first_epoch) * (double) n
        / (train_s > 0 ? train_s : 1e-9);
    fmt_duration (el, sizeof el, train_s);
    if (val->n > 0)
      tool_note ("wrote %s (train time %s, %.0f samples/s, validation "
          "accuracy %.4f)", o->out, el, rate, pr.last_val_acc);
    else
      tool_note ("wrote %s (train time %s, %.0f samples/s)", o->out, el, rate);
  }
  return 0;
}

int
main (int argc, char **argv)
{
  TrainOptions o;
  UdmlConfig cfg;
  UdmlModel *model = NULL;
  UdmlError err = { 0 };
  UdmlFeatureSet train, val;
  DegradeNoise dn;
  UdmlWaveSet waves, bank;
  int *bank_y = NULL;
  int ret = 1;

  tool_init (PROG);
  tool_mpi_init (&argc, &argv);
  parse_options (argc, argv, &o);
  o.quiet |= tool_mpi_rank () != 0;
  memset (&train, 0, sizeof train);
  memset (&val, 0, sizeof val);
  memset (&dn, 0, sizeof dn);
  memset (&waves, 0, sizeof waves);
  memset (&bank, 0, sizeof bank);
  udml_set_log_func (tool_log, &o.verbose);
  udml_set_num_threads (1);

  /* every output path before any decoding or training */
  if (tool_check_output ("--out", o.out)
      || tool_check_output ("--checkpoint", o.ckpt)
      || setup_config (&o, &cfg))
    goto out;
  plan_noise (&o, &cfg, &dn);
  int need_waves = !o.feature_noise && degrade_noise_needs_waves (&dn, &cfg);
  int need_bank = !o.feature_noise
      && degrade_noise_has (&dn, &cfg, UDML_DEGRADE_BABBLE);
  if (load_data (&o, &cfg, &train, &val, need_waves ? &waves : NULL,
          need_bank ? &bank : NULL, &bank_y)
      || setup_noise (&o, &cfg, &train, &dn, &waves, &bank, bank_y))
    goto out;
  model = udml_model_new (&cfg, (uint64_t) o.seed, &err);
  if (!model) {
    tool_error ("%s", err.msg);
    goto out;
  }
  ret = train_and_save (argc, argv, &o, model, &train, &val);

out:
  udml_model_free (model);
  udml_feature_set_clear (&train);
  udml_feature_set_clear (&val);
  degrade_noise_clear (&dn);
  udml_wave_set_clear (&waves);
  udml_wave_set_clear (&bank);
  free (bank_y);
  options_clear (&o);
  return tool_mpi_finish (tool_finish (ret));
}
