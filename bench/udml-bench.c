/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-bench — throughput of the UDML core against the machine's sgemm rate.
 *
 * Prints key=value lines:
 *   sgemm_gflops             large square sgemm, 1 thread (median)
 *   forward_ms               batch-1 udml_infer_run of the default model, 1 thread
 *   forward_bound_fraction   (forward FLOPs / sgemm rate) / forward time
 *   train1_samples_per_s     batch-64 training steps, 1 thread
 *   train1_bound_fraction    (3 x forward FLOPs x 64 / sgemm rate) / step time
 *   train2_samples_per_s     the same with the batch split across 2 workers
 *                            (UdmlTrainOptions.threads), 1 BLAS thread each
 *   train2_speedup_wall      train1 wall time / train2 wall time
 *   train2_work_ratio, train2_cpu_share, train2_worker0_wait_ms
 *                            why it falls short of 2 (in main)
 *   allocs_per_train_step_2threads   the same count with 2 workers
 *   allocs_per_forward, allocs_per_train_step   malloc/calloc/realloc and
 *                            aligned_alloc/posix_memalign calls
 *                            in steady state, counted by interposition
 * Every time is the median of several repetitions.  FLOPs count the convs
 * and linears analytically (2 per multiply-add); everything else (BN, ReLU,
 * pooling, im2col, losses, noise) is overhead by this measure.
 *
 * Usage: udml-bench [--quick] [--only forward|train1|train2] [--ops]
 *                   [--spec default|big] [--save-model PATH]
 *   --only runs one part (for a profiler); it skips the sgemm rate too.
 *   --spec big: the bigger input spec (96x96 RGB, 2 frames, 0.5 s windows).
 *   --save-model writes the (untrained) model of the spec and exits.
 *   --ops times each kernel of the encoder and the Gaussian heads alone at
 *   the default model's shapes (batch 1 inference, batch 64 training) and
 *   prints op_<phase>_<op>_ms= lines, each the sum over layers, median.
 */
#define _GNU_SOURCE             /* RTLD_NEXT */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#undef I                        /* <complex.h> via OpenBLAS */

#include "udml.h"
#include "trainer.h"
#include "ops.h"
#include "internal.h"
#include "udml-data.h"

/* ------------------------------------------------------ allocation counter */

/* glibc's own entry points: the wrappers below replace malloc & co for the
 * whole process (the executable's definitions win symbol lookup), and
 * forward to these without going through dlsym, which itself allocates. */
extern void *__libc_malloc (size_t n);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t n);
extern void *__libc_memalign (size_t align, size_t n);

static atomic_long alloc_count;

void *
malloc (size_t n)
{
  atomic_fetch_add_explicit (&alloc_count, 1, memory_order_relaxed);
  return __libc_malloc (n);
}

void *
calloc (size_t n, size_t size)
{
  atomic_fetch_add_explicit (&alloc_count, 1, memory_order_relaxed);
  return __libc_calloc (n, size);
}

void *
realloc (void *p, size_t n)
{
  atomic_fetch_add_explicit (&alloc_count, 1, memory_order_relaxed);
  return __libc_realloc (p, n);
}

/* The workspaces come from aligned_alloc: count the aligned entry points
 * too, or a per-call workspace would go unseen. */
void *
aligned_alloc (size_t align, size_t n)
{
  atomic_fetch_add_explicit (&alloc_count, 1, memory_order_relaxed);
  return __libc_memalign (align, n);
}

int
posix_memalign (void **out, size_t align, size_t n)
{
  void *p;

  atomic_fetch_add_explicit (&alloc_count, 1, memory_order_relaxed);
  if (align < sizeof (void *) || (align & (align - 1)) != 0)
    return EINVAL;
  p = __libc_memalign (align, n);
  if (!p)
    return ENOMEM;
  *out = p;
  return 0;
}

/* Time the calling thread waits in pthread_barrier_wait: with 2 workers,
 * worker 0 waiting for worker 1 (batch-norm sums, the loss, the sum of
 * the gradient arenas, the end of the pass). */
static int (*real_barrier_wait) (pthread_barrier_t *);
static _Thread_local double barrier_wait_s;

static double now (void);

int
pthread_barrier_wait (pthread_barrier_t * b)
{
  double t0 = now ();
  int r = real_barrier_wait (b);

  barrier_wait_s += now () - t0;
  return r;
}

static long
allocs (void)
{
  return atomic_load_explicit (&alloc_count, memory_order_relaxed);
}

/* ----------------------------------------------------------------- helpers */

static double
clock_s (clockid_t id)
{
  struct timespec t;
  clock_gettime (id, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double
now (void)
{
  return clock_s (CLOCK_MONOTONIC);
}

/* CPU time of the calling thread: on a shared machine it leaves out the
 * time other processes hold the core.  With one BLAS thread all the work
 * runs on the calling thread. */
static double
cpu_now (void)
{
  return clock_s (CLOCK_THREAD_CPUTIME_ID);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void
die (const char *what, const UdmlError * err)
{
  fprintf (stderr, "udml-bench: error: %s: %s\n", what,
      err && err->msg[0] ? err->msg : "failed");
  exit (1);
}

/* Median sgemm rates of an n x n x n product, GFLOP/s, by wall clock and
 * by thread CPU time. */
static void
sgemm_gflops (int n, int reps, double *wall, double *cpu)
{
  float *a = malloc ((size_t) n * n * sizeof (float));
  float *b = malloc ((size_t) n * n * sizeof (float));
  float *c = malloc ((size_t) n * n * sizeof (float));
  double *t = malloc (reps * sizeof (double));
  double *tc = malloc (reps * sizeof (double));

  if (!a || !b || !c || !t || !tc)
    die ("sgemm buffers", NULL);
  for (size_t i = 0; i < (size_t) n * n; i++) {
    a[i] = (float) (i % 13) * 0.01f;
    b[i] = (float) (i % 7) * 0.01f;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);       /* warm-up */
  for (int k = 0; k < reps; k++) {
    double t0 = now (), c0 = cpu_now ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a,
        n, b, n, 0.0f, c, n);
    tc[k] = cpu_now () - c0;
    t[k] = now () - t0;
  }
  *wall = 2.0 * n * n * n / median (t, reps) / 1e9;
  *cpu = 2.0 * n * n * n / median (tc, reps) / 1e9;
  free (a);
  free (b);
  free (c);
  free (t);
  free (tc);
}

/* Conv and linear FLOPs of one inference forward of one sample (method.md
 * §1): encoder convs, the two 1x1 heads, the estimator MLP and the shared
 * classifier (fused + M unimodal passes). */
static double
forward_flops (const UdmlConfig * cfg)
{
  double f = 0.0;
  int feat = 0;

  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *s = &cfg->mod[m];
    int h = s->in_h, w = s->in_w, ci = s->in_c, C = 0;
    for (int k = 0; k < s->n_stages; k++) {
      int co = s->channels[k];
      f += 2.0 * co * ci * 9 * h * w;
      if (k < s->n_stages - 1) {
        h /= 2;
        w /= 2;
      }
      ci = C = co;
    }
    f += 2 * 2.0 * C * C * h * w;       /* mu, logvar heads */
    f += 2.0 * (C * cfg->est_hidden + cfg->est_hidden); /* estimator */
    feat += C;
  }
  f += 2.0 * feat * cfg->n_classes * (1 + cfg->n_modalities);
  return f;
}

/* ------------------------------------------------------ per-op profile */

/* As the model runs them: BN and ReLU fused (bn_relu; BN alone in the 1x1
 * heads), every backward writing its din (no zeroing pass). */
enum
{ OP_CONV_F, OP_BN_F, OP_POOL_F, OP_CONV_B, OP_BN_B, OP_POOL_B, N_OPS };
static const char *const op_names[N_OPS] = { "conv_fwd", "bn_relu_fwd",
  "pool_fwd", "conv_bwd", "bn_relu_bwd", "pool_bwd"
};

typedef struct
{
  int ci, co, h, w, k, pool;
} Layer;

/* The encoder stages and the two 1x1 heads of every modality. */
static int
model_layers (const UdmlConfig * cfg, Layer * L, int max)
{
  int n = 0;

  for (int m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalitySpec *s = &cfg->mod[m];
    int h = s->in_h, w = s->in_w, ci = s->in_c;
    for (int k = 0; k < s->n_stages && n < max; k++) {
      int last = k == s->n_stages - 1;
      L[n++] = (Layer) {
      ci, s->channels[k], h, w, 3, !last};
      if (!last) {
        h /= 2;
        w /= 2;
      }
      ci = s->channels[k];
    }
    for (int j = 0; j < 2 && n < max; j++)
      L[n++] = (Layer) {
      ci, ci, h, w, 1, 0};
  }
  return n;
}

static double
secs (double t0)
{
  return cpu_now () - t0;
}

/* One pass over every layer as the model runs it (forward, then for
 * training the backward), op times added to t. */
static void
ops_pass (const Layer * L, int nl, int N, int train, float *x, float *y,
    float *z, float *g, float *wt, float *dw, float *col, float *st, double *t)
{
  for (int i = 0; i < nl; i++) {
    const Layer *l = &L[i];
    size_t hw = (size_t) l->h * l->w;
    float *mean = st, *rstd = st + l->co, *gam = st + 2 * l->co,
        *bet = st + 3 * l->co, *rm = st + 4 * l->co, *rv = st + 5 * l->co;
    float *b = l->k == 1 ? st + 6 * l->co : NULL;
    double t0;

    t0 = cpu_now ();
    udml_conv2d_forward (y, col, x, wt, b, N, l->ci, l->co, l->h, l->w, l->k);
    t[OP_CONV_F] += secs (t0);
    t0 = cpu_now ();
    if (train)
      (l->k == 3 ? udml_batchnorm_relu_forward_train :
          udml_batchnorm_forward_train) (z, mean, rstd, rm, rv, y, gam, bet, N,
          l->co, hw);
    else
      (l->k == 3 ? udml_batchnorm_relu_forward_eval :
          udml_batchnorm_forward_eval) (z, y, gam, bet, rm, rv, N, l->co, hw);
    t[OP_BN_F] += secs (t0);
    if (l->pool) {
      t0 = cpu_now ();
      udml_maxpool2_forward (y, z, N, l->co, l->h, l->w);
      t[OP_POOL_F] += secs (t0);
    }
  }
  if (!train)
    return;
  for (int i = nl - 1; i >= 0; i--) {
    const Layer *l = &L[i];
    size_t hw = (size_t) l->h * l->w;
    float *mean = st, *rstd = st + l->co, *gam = st + 2 * l->co;
    float *db = l->k == 1 ? st + 6 * l->co : NULL;
    double t0;
    if (l->pool) {
      t0 = cpu_now ();
      udml_maxpool2_backward_set (y, g, z, N, l->co, l->h, l->w);
      t[OP_POOL_B] += secs (t0);
    }
    t0 = cpu_now ();
    udml_batchnorm_relu_backward_set (y, gam, gam, g, l->k == 3 ? z : NULL, x,
        mean, rstd, gam, N, l->co, hw);
    t[OP_BN_B] += secs (t0);
    /* the first stage of a modality needs no input gradient */
    t0 = cpu_now ();
    udml_conv2d_backward_set (l->ci != 1 ? z : NULL, dw, db, col, y, x, wt, N,
        l->ci, l->co, l->h, l->w, l->k);
    t[OP_CONV_B] += secs (t0);
  }
}

static void
bench_ops (const UdmlConfig * cfg, int quick)
{
  Layer L[2 * UDML_MAX_MODALITIES * 8];
  int nl = model_layers (cfg, L, (int) (sizeof L / sizeof L[0]));
  size_t big = 0, wmax = 0, colmax = 0;
  int cmax = 0;

  for (int i = 0; i < nl; i++) {
    size_t a =
        (size_t) (L[i].ci > L[i].co ? L[i].ci : L[i].co) * L[i].h * L[i].w;
    size_t wn = (size_t) L[i].co * L[i].ci * L[i].k * L[i].k;
    size_t c = udml_conv2d_workspace (L[i].ci, L[i].h, L[i].w, L[i].k);
    big = a > big ? a : big;
    wmax = wn > wmax ? wn : wmax;
    colmax = c > colmax ? c : colmax;
    cmax = L[i].co > cmax ? L[i].co : cmax;
  }
  for (int train = 0; train <= 1; train++) {
    int N = train ? 64 : 1, reps = train ? (quick ? 3 : 9) : (quick ? 50 : 300);
    size_t n = (size_t) N * big;
    float *buf[4], *wt = malloc (wmax * sizeof (float)),
        *dw = calloc (wmax, sizeof (float)),
        *col = malloc ((colmax ? colmax : 1) * sizeof (float)),
        *st = malloc ((size_t) 7 * cmax * sizeof (float));
    double tot[N_OPS] = { 0 }, *samp = malloc (reps * N_OPS * sizeof (double));
    UdmlRng rng;

    udml_rng_seed (&rng, 3, 0);
    if (!wt || !dw || !col || !st || !samp)
      die ("op buffers", NULL);
    for (int j = 0; j < 4; j++) {
      buf[j] = malloc (n * sizeof (float));
      if (!buf[j])
        die ("op buffers", NULL);
      udml_rng_fill_normal (&rng, buf[j], n);
    }
    udml_rng_fill_normal (&rng, wt, wmax);
    for (int c = 0; c < 7 * cmax; c++)
      st[c] = 0.5f + 0.5f * udml_rng_uniform (&rng);
    for (int r = -1; r < reps; r++) {   /* r = -1 warms up */
      double t[N_OPS] = { 0 };
      ops_pass (L, nl, N, train, buf[0], buf[1], buf[2], buf[3], wt, dw, col,
          st, t);
      for (int o = 0; r >= 0 && o < N_OPS; o++)
        samp[o * reps + r] = t[o];
    }
    for (int o = 0; o < N_OPS; o++) {
      if (!train && o >= OP_CONV_B)
        continue;
      tot[o] = median (samp + o * reps, reps) * 1e3;
      printf ("op_%s_%s_ms=%.3f\n", train ? "train64" : "infer1", op_names[o],
          tot[o]);
    }
    for (int j = 0; j < 4; j++)
      free (buf[j]);
    free (wt);
    free (dw);
    free (col);
    free (st);
    free (samp);
  }
}

/* ---------------------------------------------------------------- benches */

typedef struct
{
  double ms;                    /* wall clock, median */
  double cpu_ms;                /* calling thread's CPU time, median */
  double proc_ms;               /* CPU time of the whole process, median */
  double wait_ms;               /* calling thread in barriers, median */
  double allocs;
} Timing;

static Timing
bench_forward (const UdmlModel * model, int reps)
{
  const UdmlConfig *cfg = udml_model_config (model);
  UdmlError err = { 0 };
  UdmlInfer *inf = udml_infer_new (model, 1, &err);
  float *x[UDML_MAX_MODALITIES] = { 0 };
  const float *cx[UDML_MAX_MODALITIES] = { 0 };
  double *t = malloc (reps * sizeof (double));
  double *tc = malloc (reps * sizeof (double));
  UdmlResult res;
  UdmlRng rng;
  Timing out;
  long a0;

  if (!inf)
    die ("udml_infer_new", &err);
  if (!t || !tc)
    die ("timing buffers", NULL);
  udml_rng_seed (&rng, 1, 0);
  for (int m = 0; m < cfg->n_modalities; m++) {
    size_t F = udml_config_input_size (cfg, m);
    x[m] = malloc (F * sizeof (float));
    if (!x[m])
      die ("input buffers", NULL);
    for (size_t i = 0; i < F; i++)
      x[m][i] = cfg->mod[m].kind == UDML_MODALITY_VIDEO
          ? 255.0f * udml_rng_uniform (&rng) : 3.0f * udml_rng_normal (&rng) -
          5.0f;
    cx[m] = x[m];
  }
  for (int k = 0; k < 20; k++)  /* warm-up: caches, BLAS buffers */
    if (udml_infer_run (inf, 1, cx, NULL, UDML_INFER_AS_TRAINED, &res, &err))
      die ("udml_infer_run", &err);
  a0 = allocs ();
  for (int k = 0; k < reps; k++) {
    double t0 = now (), c0 = cpu_now ();
    if (udml_infer_run (inf, 1, cx, NULL, UDML_INFER_AS_TRAINED, &res, &err))
      die ("udml_infer_run", &err);
    tc[k] = cpu_now () - c0;
    t[k] = now () - t0;
  }
  out.allocs = (double) (allocs () - a0) / reps;
  out.ms = median (t, reps) * 1e3;
  out.cpu_ms = median (tc, reps) * 1e3;
  for (int m = 0; m < cfg->n_modalities; m++)
    free (x[m]);
  free (t);
  free (tc);
  udml_infer_free (inf);
  return out;
}

/* Training steps of `batch` samples on random data; phase STAGE1 is the
 * clean stage, UNCERTAINTY the noisy one with every loss on. */
static Timing
bench_train (UdmlModel * model, int threads, int batch, UdmlPhase phase,
    int reps)
{
  const UdmlConfig *cfg = udml_model_config (model);
  UdmlTrainOptions opt;
  UdmlError err = { 0 };
  UdmlTrainer *tr;
  float *x[UDML_MAX_MODALITIES] = { 0 };
  const float *cx[UDML_MAX_MODALITIES] = { 0 };
  int *y = malloc (batch * sizeof (int));
  uint8_t *levels = malloc ((size_t) batch * cfg->n_modalities);
  double *t = malloc (reps * sizeof (double));
  double *tc = malloc (reps * sizeof (double));
  double *tp = malloc (reps * sizeof (double));
  double *tb = malloc (reps * sizeof (double));
  UdmlLossParts parts;
  UdmlRng rng;
  Timing out;
  long a0;

  udml_train_options_default (&opt);
  opt.threads = threads;
  opt.batch = batch;
  /* threads = workers splitting the batch, one BLAS thread each */
  udml_set_num_threads (1);
  tr = udml_trainer_new (model, &opt, batch, &err);
  if (!tr)
    die ("udml_trainer_new", &err);
  if (!y || !levels || !t || !tc || !tp || !tb)
    die ("batch buffers", NULL);

  udml_rng_seed (&rng, 2, 0);
  for (int m = 0; m < cfg->n_modalities; m++) {
    size_t F = udml_config_input_size (cfg, m) * batch;
    x[m] = malloc (F * sizeof (float));
    if (!x[m])
      die ("input buffers", NULL);
    for (size_t i = 0; i < F; i++)
      x[m][i] = cfg->mod[m].kind == UDML_MODALITY_VIDEO
          ? 255.0f * udml_rng_uniform (&rng) : 3.0f * udml_rng_normal (&rng) -
          5.0f;
    cx[m] = x[m];
  }
  for (int n = 0; n < batch; n++) {
    y[n] = (int) (udml_rng_u64 (&rng) % cfg->n_classes);
    for (int m = 0; m < cfg->n_modalities; m++)
      levels[n * cfg->n_modalities + m] =
          1 + udml_rng_u64 (&rng) % UDML_NOISE_LEVELS;
  }

  /* small lr: the weights must stay finite over the run */
  for (int k = 0; k < 2; k++)
    if (udml_trainer_step (tr, batch, cx, y,
            phase == UDML_PHASE_STAGE1 ? NULL : levels, phase, k, 1e-4f, &parts,
            &err))
      die ("udml_trainer_step", &err);
  a0 = allocs ();
  for (int k = 0; k < reps; k++) {
    double t0 = now (), c0 = cpu_now (), p0 =
        clock_s (CLOCK_PROCESS_CPUTIME_ID);
    barrier_wait_s = 0.0;
    if (udml_trainer_step (tr, batch, cx, y,
            phase == UDML_PHASE_STAGE1 ? NULL : levels, phase, 100 + k, 1e-4f,
            &parts, &err))
      die ("udml_trainer_step", &err);
    tp[k] = clock_s (CLOCK_PROCESS_CPUTIME_ID) - p0;
    tb[k] = barrier_wait_s;
    tc[k] = cpu_now () - c0;
    t[k] = now () - t0;
  }
  out.allocs = (double) (allocs () - a0) / reps;
  out.ms = median (t, reps) * 1e3;
  out.cpu_ms = median (tc, reps) * 1e3;
  out.proc_ms = median (tp, reps) * 1e3;
  out.wait_ms = median (tb, reps) * 1e3;
  free (tp);
  free (tb);
  for (int m = 0; m < cfg->n_modalities; m++)
    free (x[m]);
  free (y);
  free (levels);
  free (t);
  free (tc);
  udml_trainer_free (tr);
  udml_set_num_threads (1);
  return out;
}

/* The bigger input spec of docs/scale.md: what udml-train builds from
 * --window 0.5 --video-size 96x96 --video-format rgb --fps 15 --frames 2. */
static void
config_big (UdmlConfig * cfg)
{
  UdmlSpecParams p;
  UdmlError err = { 0 };

  udml_spec_params_default (&p);
  p.window_s = 0.5;
  p.width = p.height = 96;
  p.channels = 3;
  p.fps = 15;
  p.frames = 2;
  if (udml_data_config_build (cfg, &p, &err) != UDML_OK
      || udml_config_validate (cfg, &err) != UDML_OK)
    die ("big spec", &err);
}

static int
usage (void)
{
  fprintf (stderr, "usage: udml-bench [--quick] [--only forward|train1|train2] "
      "[--ops] [--spec default|big] [--save-model PATH]\n");
  return 2;
}

int
main (int argc, char **argv)
{
  int quick = 0, batch = 64, big = 0;
  const char *only = NULL, *save = NULL;
  int ops = 0;
  UdmlConfig cfg;
  UdmlError err = { 0 };
  UdmlModel *model;
  double gf, gf_wall, flops, bound_ms;
  Timing fwd = { 0 }, tr1 = { 0 }, tr1n, tr2;

  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--quick"))
      quick = 1;
    else if (!strcmp (argv[i], "--only") && i + 1 < argc
        && (!strcmp (argv[i + 1], "forward")
            || !strcmp (argv[i + 1], "train1")
            || !strcmp (argv[i + 1], "train2")))
      only = argv[++i];
    else if (!strcmp (argv[i], "--ops"))
      ops = 1;
    else if (!strcmp (argv[i], "--spec") && i + 1 < argc
        && (!strcmp (argv[i + 1], "default") || !strcmp (argv[i + 1], "big")))
      big = !strcmp (argv[++i], "big");
    else if (!strcmp (argv[i], "--save-model") && i + 1 < argc)
      save = argv[++i];
    else
      return usage ();
  }

  real_barrier_wait = (int (*)(pthread_barrier_t *)) dlsym (RTLD_NEXT,
      "pthread_barrier_wait");
  if (!real_barrier_wait)
    die ("dlsym pthread_barrier_wait", NULL);
  udml_set_num_threads (1);
  if (big)
    config_big (&cfg);
  else
    udml_config_default (&cfg);
  model = udml_model_new (&cfg, 42, &err);
  if (!model)
    die ("udml_model_new", &err);
  if (save) {
    /* untrained: inference speed does not depend on the weights */
    if (udml_model_save (model, save, &err) != UDML_OK)
      die (save, &err);
    udml_model_free (model);
    return 0;
  }
  flops = forward_flops (&cfg);
  printf ("spec=%s\n", big ? "big" : "default");
  for (int m = 0; m < cfg.n_modalities; m++)
    printf ("input_%s=%dx%dx%d\n", cfg.mod[m].name, cfg.mod[m].in_c,
        cfg.mod[m].in_h, cfg.mod[m].in_w);
  if (ops) {
    sgemm_gflops (1024, quick ? 3 : 9, &gf_wall, &gf);
    printf ("sgemm_gflops=%.1f\n", gf);
    bench_ops (&cfg, quick);
    udml_model_free (model);
    return 0;
  }
  if (only) {
    if (!strcmp (only, "forward"))
      fwd = bench_forward (model, quick ? 100 : 2000);
    else
      tr1 = bench_train (model, only[5] == '2' ? 2 : 1, batch,
          UDML_PHASE_STAGE1, quick ? 15 : 60);
    printf ("%s_ms=%.3f\n", only, only[0] == 'f' ? fwd.cpu_ms :
        only[5] == '2' ? tr1.ms : tr1.cpu_ms);
    udml_model_free (model);
    return 0;
  }

  sgemm_gflops (1024, quick ? 3 : 9, &gf_wall, &gf);
  printf ("sgemm_n=1024\n");
  printf ("sgemm_gflops=%.1f\n", gf);
  printf ("sgemm_gflops_wall=%.1f\n", gf_wall);
  printf ("forward_mflops=%.2f\n", flops / 1e6);

  fwd = bench_forward (model, quick ? 50 : 500);
  bound_ms = flops / (gf * 1e9) * 1e3;
  printf ("forward_ms=%.3f\n", fwd.cpu_ms);
  printf ("forward_ms_wall=%.3f\n", fwd.ms);
  printf ("forward_bound_ms=%.3f\n", bound_ms);
  printf ("forward_bound_fraction=%.3f\n", bound_ms / fwd.cpu_ms);

  tr1 = bench_train (model, 1, batch, UDML_PHASE_STAGE1, quick ? 3 : 15);
  bound_ms = 3.0 * flops * batch / (gf * 1e9) * 1e3;
  printf ("train_batch=%d\n", batch);
  printf ("train1_step_ms=%.1f\n", tr1.cpu_ms);
  printf ("train1_step_ms_wall=%.1f\n", tr1.ms);
  printf ("train1_samples_per_s=%.1f\n", batch / (tr1.cpu_ms * 1e-3));
  printf ("train1_bound_fraction=%.3f\n", bound_ms / tr1.cpu_ms);

  tr1n = bench_train (model, 1, batch, UDML_PHASE_UNCERTAINTY, quick ? 3 : 15);
  printf ("train1_noisy_samples_per_s=%.1f\n", batch / (tr1n.cpu_ms * 1e-3));
  printf ("train1_noisy_bound_fraction=%.3f\n", bound_ms / tr1n.cpu_ms);

  /* Two workers splitting the batch, one BLAS thread each. Wall clock is
   * the figure; the CPU times say why it falls short of 2x: work_ratio is
   * the CPU time of both workers over train1's (1.0: the split adds no
   * work), cpu_share the cores they got (1.0: both ran all the time),
   * worker0_wait the time worker 0 spent in the pool's barriers. */
  tr2 = bench_train (model, 2, batch, UDML_PHASE_STAGE1, quick ? 3 : 15);
  printf ("train2_step_ms_wall=%.1f\n", tr2.ms);
  printf ("train2_samples_per_s=%.1f\n", batch / (tr2.ms * 1e-3));
  printf ("train2_speedup_wall=%.2f\n", tr1.ms / tr2.ms);
  printf ("train2_worker0_cpu_ms=%.1f\n", tr2.cpu_ms);
  printf ("train2_process_cpu_ms=%.1f\n", tr2.proc_ms);
  printf ("train2_work_ratio=%.2f\n", tr2.proc_ms / tr1.cpu_ms);
  printf ("train2_cpu_share=%.2f\n", tr2.proc_ms / (2.0 * tr2.ms));
  printf ("train2_worker0_wait_ms=%.1f\n", tr2.wait_ms);
  /* what a core per worker would give, barrier waits left out */
  printf ("train2_speedup_cpu=%.2f\n", tr1.cpu_ms / tr2.cpu_ms);

  printf ("allocs_per_forward=%.2f\n", fwd.allocs);
  printf ("allocs_per_train_step=%.2f\n",
      tr1.allocs > tr1n.allocs ? tr1.allocs : tr1n.allocs);
  printf ("allocs_per_train_step_2threads=%.2f\n", tr2.allocs);

  udml_model_free (model);
  return 0;
}
