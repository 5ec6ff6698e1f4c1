/* udml-train — trains a UDML model (or a baseline/ablation policy) from
 * manifests of media clips (design.md "Tools", method.md §4-5).
 *
 * Features of window 0 of each clip are extracted once through lib/media,
 * the path the element uses, and cached next to the output.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "manifest.h"
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
usage (FILE * f)
{
  UdmlTrainOptions d;
  UdmlConfig dc;
  udml_train_options_default (&d);
  udml_config_default (&dc);
  fprintf (f,
      "usage: " PROG " [OPTIONS] --out MODEL TRAIN.csv...\n"
      "\n"
      "Trains a model on the clips listed in the manifests (CSV with a header\n"
      "`path,label` or `audio,video,label`; paths relative to the manifest).\n"
      "\n"
      "  --out MODEL        model file to write (atomically)\n"
      "  --policy P         static, pe, udml, udml-nue, udml-mc, udml-pos (udml)\n"
      "  --epochs E         epochs (%d); stage 2 starts at E/2\n"
      "  --lr LR            initial SGD learning rate (%g), x0.1 at 0.7 E\n"
      "  --batch B          batch size (%d)\n"
      "  --beta B           weight of the embedding KL term (default: scaled to\n"
      "                     the map size, method.md section 2)\n"
      "  --est-norm K       scale of the batch-normalised estimator input\n"
      "                     (%g); 0 feeds it raw, as method.md\n"
      "  --estimator-task-grad\n"
      "                     let the task loss train the estimator through the\n"
      "                     weights, as the reference code does (off: only the\n"
      "                     estimator loss trains it, docs/method.md)\n"
      "  --seed S           seed for initialisation, shuffling and noise (1)\n"
      "  --threads T        BLAS threads (1)\n"
      "  --val VAL.csv      validation manifest, evaluated every epoch\n"
      "  --checkpoint CKPT  checkpoint written after every epoch (MODEL.ckpt)\n"
      "  --resume CKPT      continue an interrupted run (same data and options)\n"
      "  --skip-bad         skip bad manifest rows (reported) instead of stopping\n"
      "  --cache-dir DIR    where feature caches go (the model's directory)\n"
      "  --no-cache         always decode, never read or write a feature cache\n"
      "  --quiet            no progress output\n"
      "  --verbose          also print the core's informational log\n"
      "  --help             this text\n", d.epochs, d.lr, d.batch,
      (double) dc.est_norm);
}

static void
log_to_stderr (UdmlLogLevel level, const char *msg, void *user)
{
  int verbose = *(int *) user;
  if (level == UDML_LOG_ERROR)
    fprintf (stderr, PROG ": error: %s\n", msg);
  else if (level == UDML_LOG_WARNING)
    fprintf (stderr, PROG ": warning: %s\n", msg);
  else if (verbose)
    fprintf (stderr, PROG ": %s\n", msg);
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
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
} Progress;

static int
on_progress (const UdmlTrainProgress * p, void *user)
{
  Progress *pr = user;
  int spe = p->steps_per_epoch > 0 ? p->steps_per_epoch : 1;
  long total = (long) p->epochs * spe;
  int step = p->epoch_done ? spe : (p->step + 1 < spe ? p->step + 1 : spe);
  long done = (long) p->epoch * spe + step;
  double now = now_s ();
  char eta[32], el[32];

  if (pr->done0 < 0) {
    pr->done0 = done - 1;
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

static int
parse_int (const char *opt, const char *v, long lo, long hi, long *out)
{
  char *end;
  errno = 0;
  long x = strtol (v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) {
    fprintf (stderr, PROG ": error: %s: '%s' is not an integer in [%ld, %ld]\n",
        opt, v, lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

int
main (int argc, char **argv)
{
  const char *out = NULL, *val_path = NULL, *ckpt = NULL, *resume = NULL;
  const char *cache_dir = NULL;
  const char *manifests[256];
  int n_manifests = 0, skip_bad = 0, task_grad = 0, no_cache = 0, quiet =
      0, verbose = 0;
  int policy = UDML_POLICY_UDML;
  long epochs = -1, batch = -1, threads = 1, seed = 1;
  double lr = -1, beta = -1, est_norm = -1;
  char *ckpt_alloc = NULL, *cache_alloc = NULL;
  UdmlConfig cfg;
  UdmlModel *model = NULL;
  UdmlTrainOptions opt;
  UdmlError err = { 0 };
  FeatureSet train, val;
  int ret = 1, ckpt_default = 0;
  char cmd[4096] = "";
  char msg[512];

  memset (&train, 0, sizeof train);
  memset (&val, 0, sizeof val);
  for (int i = 0; i < argc; i++)
    append_arg (cmd, sizeof cmd, i == 0 ? PROG : argv[i]);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    int takes = 0;
#define IS(name) (strcmp (a, name) == 0)
    if (IS ("--out") || IS ("--policy") || IS ("--epochs") || IS ("--seed")
        || IS ("--threads") || IS ("--lr") || IS ("--beta") || IS ("--batch")
        || IS ("--val") || IS ("--est-norm")
        || IS ("--resume") || IS ("--checkpoint") || IS ("--cache-dir")
        || IS ("-o")) {
      takes = 1;
      if (i + 1 >= argc) {
        fprintf (stderr, PROG ": error: %s needs a value\n", a);
        usage (stderr);
        return 2;
      }
      v = argv[++i];
    }
    if (IS ("--help") || IS ("-h")) {
      usage (stdout);
      return 0;
    } else if (IS ("--out") || IS ("-o"))
      out = v;
    else if (IS ("--policy")) {
      policy = udml_policy_from_name (v);
      if (policy < 0) {
        fprintf (stderr,
            PROG ": error: --policy: unknown policy '%s' (static, pe, "
            "udml, udml-nue, udml-mc, udml-pos)\n", v);
        return 2;
      }
    } else if (IS ("--epochs")) {
      if (parse_int (a, v, 1, 100000, &epochs))
        return 2;
    } else if (IS ("--seed")) {
      if (parse_int (a, v, 0, 0x7fffffffL, &seed))
        return 2;
    } else if (IS ("--threads")) {
      if (parse_int (a, v, 1, 256, &threads))
        return 2;
    } else if (IS ("--batch")) {
      if (parse_int (a, v, 1, 65536, &batch))
        return 2;
    } else if (IS ("--lr")) {
      char *end;
      lr = strtod (v, &end);
      if (*end || end == v || !(lr > 0) || lr > 10) {
        fprintf (stderr, PROG ": error: --lr: '%s' is not a rate in (0, 10]\n",
            v);
        return 2;
      }
    } else if (IS ("--beta")) {
      char *end;
      beta = strtod (v, &end);
      if (*end || end == v || !(beta >= 0) || beta > 100) {
        fprintf (stderr, PROG ": error: --beta: '%s' is not a weight in "
            "[0, 100]\n", v);
        return 2;
      }
    } else if (IS ("--val"))
      val_path = v;
    else if (IS ("--resume"))
      resume = v;
    else if (IS ("--checkpoint"))
      ckpt = v;
    else if (IS ("--cache-dir"))
      cache_dir = v;
    else if (IS ("--skip-bad"))
      skip_bad = 1;
    else if (IS ("--estimator-task-grad"))
      task_grad = 1;
    else if (IS ("--est-norm")) {
      char *end;
      est_norm = strtod (v, &end);
      if (*end || end == v || !(est_norm >= 0) || est_norm > 16) {
        fprintf (stderr, PROG ": error: --est-norm: '%s' is not a scale in "
            "[0, 16]\n", v);
        return 2;
      }
    } else if (IS ("--no-cache"))
      no_cache = 1;
    else if (IS ("--quiet") || IS ("-q"))
      quiet = 1;
    else if (IS ("--verbose") || IS ("-v"))
      verbose = 1;
    else if (a[0] == '-' && a[1] != '\0' && !takes) {
      fprintf (stderr, PROG ": error: unknown option '%s'\n", a);
      usage (stderr);
      return 2;
    } else {
      if (n_manifests == 256) {
        fprintf (stderr, PROG ": error: too many manifests\n");
        return 2;
      }
      manifests[n_manifests++] = a;
    }
#undef IS
  }
  if (!out || n_manifests == 0) {
    fprintf (stderr, PROG ": error: %s\n", !out ? "--out MODEL is required"
        : "no training manifest given");
    usage (stderr);
    return 2;
  }

  udml_set_log_func (log_to_stderr, &verbose);
  udml_set_num_threads ((int) threads);

  udml_config_default (&cfg);
  cfg.policy = (UdmlPolicy) policy;
  if (est_norm >= 0)
    cfg.est_norm = (float) est_norm;
  if (udml_config_validate (&cfg, &err) != UDML_OK) {
    fprintf (stderr, PROG ": error: configuration: %s\n", err.msg);
    goto out;
  }
  if (manifest_check_config (&cfg, msg, sizeof msg)) {
    fprintf (stderr, PROG ": error: configuration: %s\n", msg);
    goto out;
  }

  if (!ckpt) {
    size_t l = strlen (out) + 6;
    ckpt_alloc = malloc (l);
    if (!ckpt_alloc) {
      fprintf (stderr, PROG ": error: out of memory\n");
      goto out;
    }
    snprintf (ckpt_alloc, l, "%s.ckpt", out);
    ckpt = ckpt_alloc;
    ckpt_default = 1;
  }
  if (!cache_dir) {
    const char *slash = strrchr (out, '/');
    if (slash) {
      cache_alloc = strndup (out, slash == out ? 1 : (size_t) (slash - out));
      if (!cache_alloc) {
        fprintf (stderr, PROG ": error: out of memory\n");
        goto out;
      }
      cache_dir = cache_alloc;
    } else {
      cache_dir = ".";
    }
  }

  ManifestOptions mo = { PROG, skip_bad, cache_dir, no_cache, quiet };
  feature_set_init (&train, &cfg);
  int bad = 0;
  for (int i = 0; i < n_manifests; i++)
    if (manifest_load_features (manifests[i], &cfg, &mo, &train))
      bad = 1;
  if (val_path) {
    feature_set_init (&val, &cfg);
    if (manifest_load_features (val_path, &cfg, &mo, &val))
      bad = 1;
  }
  if (bad) {
    fprintf (stderr, PROG ": error: stopping before training\n");
    goto out;
  }

  model = udml_model_new (&cfg, (uint64_t) seed, &err);
  if (!model) {
    fprintf (stderr, PROG ": error: %s\n", err.msg);
    goto out;
  }

  udml_train_options_default (&opt);
  if (epochs > 0)
    opt.epochs = (int) epochs;
  if (batch > 0)
    opt.batch = (int) batch;
  if (lr > 0)
    opt.lr = (float) lr;
  if (beta >= 0)
    opt.beta = (float) beta;
  opt.estimator_task_grad = task_grad;
  opt.seed = (uint64_t) seed;
  opt.threads = (int) threads;
  opt.checkpoint = ckpt;
  opt.resume = resume;
  Progress pr = { isatty (2), quiet, 0, 0, -1, -1, -1, 0, 0, 0 };
  opt.progress = on_progress;
  opt.progress_user = &pr;

  UdmlDataset dtrain = { train.n, {0}, train.y };
  UdmlDataset dval = { val.n, {0}, val.y };
  for (int m = 0; m < cfg.n_modalities; m++) {
    dtrain.x[m] = train.x[m];
    dval.x[m] = val.x[m];
  }

  if (!quiet)
    fprintf (stderr,
        PROG ": training %s on %d clips (%d validation), %d epochs, "
        "batch %d, lr %g, seed %ld, %ld thread%s; %zu parameters\n",
        udml_policy_name (cfg.policy), train.n, val.n, opt.epochs, opt.batch,
        opt.lr, seed, threads, threads == 1 ? "" : "s",
        udml_model_num_params (model));

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  double t0 = now_s ();
  UdmlStatus st =
      udml_train (model, &dtrain, val_path ? &dval : NULL, &opt, &err);
  double train_s = now_s () - t0;
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  if (pr.tty && !quiet)
    fprintf (stderr, "\r\033[K");

  if (st == UDML_ERR_INTERRUPTED) {
    char again[4200] = "";
    append_arg (again, sizeof again, PROG);
    append_arg (again, sizeof again, "--resume");
    append_arg (again, sizeof again, ckpt);
    for (int i = 1; i < argc; i++) {
      if (strcmp (argv[i], "--resume") == 0) {
        i++;
        continue;
      }
      append_arg (again, sizeof again, argv[i]);
    }
    fprintf (stderr,
        PROG ": interrupted during epoch %d; checkpoint written to %s\n" PROG
        ": resume with: %s\n", pr.last_epoch + 1, ckpt, again);
    ret = 130;
    goto out;
  }
  if (st != UDML_OK) {
    fprintf (stderr, PROG ": error: training failed (%s): %s\n",
        udml_status_name (st), err.msg);
    goto out;
  }

  /* provenance */
  {
    char prov[8192], date[64], data[2048] = "";
    time_t t = time (NULL);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < n_manifests; i++) {
      strncat (data, i ? " " : "", sizeof data - strlen (data) - 1);
      strncat (data, manifests[i], sizeof data - strlen (data) - 1);
    }
    snprintf (prov, sizeof prov,
        "tool=" PROG "\n"
        "command=%s\n"
        "seed=%ld\n"
        "policy=%s\n"
        "epochs=%d\n"
        "batch=%d\n"
        "lr=%g\n"
        "beta=%g%s\n"
        "estimator_task_grad=%d\n"
        "threads=%ld\n"
        "data=%s (%d clips, %d skipped)\n"
        "val=%s (%d clips)\n"
        "final_train_accuracy=%.4f\n"
        "final_val_accuracy=%.4f\n"
        "date=%s\n"
        "train_time_s=%.1f%s\n",
        cmd, seed, udml_policy_name (cfg.policy), opt.epochs, opt.batch, opt.lr,
        opt.beta, opt.beta < 0 ? " (scaled to the map size)" : "",
        opt.estimator_task_grad, threads,
        data, train.n, train.n_bad, val_path ? val_path : "none", val.n,
        pr.last_acc, pr.last_val_acc, date, train_s,
        resume ? " (this session, resumed)" : "");
    udml_model_set_provenance (model, prov);
  }
  if (udml_model_save (model, out, &err) != UDML_OK) {
    fprintf (stderr, PROG ": error: %s\n", err.msg);
    goto out;
  }
  if (ckpt_default)
    unlink (ckpt);
  if (!quiet) {
    char el[32];
    fmt_duration (el, sizeof el, train_s);
    fprintf (stderr, PROG ": wrote %s (train time %s", out, el);
    if (val_path)
      fprintf (stderr, ", validation accuracy %.4f", pr.last_val_acc);
    fprintf (stderr, ")\n");
  }
  ret = 0;

out:
  udml_model_free (model);
  feature_set_clear (&train);
  feature_set_clear (&val);
  free (ckpt_alloc);
  free (cache_alloc);
  return ret;
}
