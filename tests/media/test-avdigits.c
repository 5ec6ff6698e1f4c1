/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-avdigits.c — runs udml-avdigits on the bundled fixtures and checks
 * the manifests, the clips (decoded with lib/media) and the stream.
 * argv[1]: the udml-avdigits executable, argv[2]: tests/data. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <libavutil/log.h>

#include "media.h"
#include "../common/udml-test.h"


#define MAX_ROWS 512

typedef struct
{
  int n;
  char path[MAX_ROWS][160];
  int label[MAX_ROWS];
} Manifest;

static const char *tool, *data;
static UdmlFeatureSpec spec;

static int
run (const char *args)
{
  char cmd[4096];
  int st;
  snprintf (cmd, sizeof cmd, "'%s' %s 2>/dev/null >/dev/null", tool, args);
  st = system (cmd);
  return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

static int
read_manifest (const char *path, Manifest * m)
{
  FILE *f = fopen (path, "r");
  char line[512];
  m->n = 0;
  if (!f)
    return 0;
  if (!fgets (line, sizeof line, f) || strcmp (line, "path,label\n") != 0) {
    fclose (f);
    return 0;
  }
  while (fgets (line, sizeof line, f) && m->n < MAX_ROWS) {
    char *comma = strchr (line, ',');
    if (!comma)
      break;
    *comma = '\0';
    snprintf (m->path[m->n], sizeof m->path[0], "%.150s", line);
    m->label[m->n] = atoi (comma + 1);
    m->n++;
  }
  fclose (f);
  return 1;
}

/* MNIST fixture, with each image's split (per digit: 70 / 10 / 20 %). */
static uint8_t *mn_pix, *mn_lab;
static int mn_n, *mn_split;

static void
load_mnist (void)
{
  char p[1024];
  FILE *f;
  int d, i;
  snprintf (p, sizeof p, "%s/mnist/digits-images-idx3-ubyte", data);
  f = fopen (p, "rb");
  fseek (f, 4, SEEK_SET);
  mn_n = fgetc (f) << 24 | fgetc (f) << 16 | fgetc (f) << 8 | fgetc (f);
  fseek (f, 16, SEEK_SET);
  mn_pix = malloc ((size_t) mn_n * 784);
  if (fread (mn_pix, 784, mn_n, f) != (size_t) mn_n)
    CHECK (0, "short MNIST fixture");
  fclose (f);
  snprintf (p, sizeof p, "%s/mnist/digits-labels-idx1-ubyte", data);
  f = fopen (p, "rb");
  fseek (f, 8, SEEK_SET);
  mn_lab = malloc (mn_n);
  if (fread (mn_lab, 1, mn_n, f) != (size_t) mn_n)
    CHECK (0, "short MNIST labels");
  fclose (f);
  mn_split = malloc (mn_n * sizeof (int));
  for (d = 0; d < 10; d++) {
    int count = 0, seen = 0;
    for (i = 0; i < mn_n; i++)
      count += mn_lab[i] == d;
    for (i = 0; i < mn_n; i++)
      if (mn_lab[i] == d) {
        mn_split[i] = seen < count * 7 / 10 ? 0 : seen < count * 8 / 10 ? 1 : 2;
        seen++;
      }
  }
}

/* Index of the MNIST image shown (x2, centred, offset within +-4), or -1. */
static int
find_image (const float *frame, int digit)
{
  int i, dx, dy, x, y;
  for (i = 0; i < mn_n; i++) {
    if (mn_lab[i] != digit)
      continue;
    for (dy = -4; dy <= 4; dy++)
      for (dx = -4; dx <= 4; dx++) {
        int ok = 1;
        for (y = 0; y < 64 && ok; y++)
          for (x = 0; x < 64 && ok; x++) {
            int ix = (x - 4 - dx), iy = (y - 4 - dy);
            float want = (ix >= 0 && ix < 56 && iy >= 0 && iy < 56)
                ? mn_pix[(size_t) i * 784 + (iy / 2) * 28 + ix / 2] : 0;
            ok = frame[y * 64 + x] == want;
          }
        if (ok)
          return i;
      }
  }
  return -1;
}

/* Source recording at 16 kHz, compared with the clip's first second. */
static double
audio_diff (const char *rec_name, const float *pcm)
{
  char p[1024];
  UdmlMediaClip c;
  double maxd = 0;
  size_t i;
  snprintf (p, sizeof p, "%s/fsdd/recordings/%s.wav", data, rec_name);
  if (udml_media_decode_file (p, &spec, &c, NULL) != UDML_OK)
    return 1e9;
  for (i = 0; i < 16000; i++) {
    double want = i < c.n_samples ? c.pcm[i] : 0;
    if (want > 32767.0 / 32768)
      want = 32767.0 / 32768;
    if (fabs (pcm[i] - want) > maxd)
      maxd = fabs (pcm[i] - want);
  }
  udml_media_clip_clear (&c);
  return maxd;
}

static void
count_recordings (int want[3])
{
  char p[1024];
  DIR *d;
  struct dirent *e;
  snprintf (p, sizeof p, "%s/fsdd/recordings", data);
  d = opendir (p);
  want[0] = want[1] = want[2] = 0;
  while (d && (e = readdir (d))) {
    int digit, take;
    char spk[64];
    if (sscanf (e->d_name, "%d_%63[a-z]_%d.wav", &digit, spk, &take) == 3)
      want[take < 5 ? 2 : take < 10 ? 1 : 0] += take < 5 ? 4 : 1;
  }
  if (d)
    closedir (d);
}

static const char *splits[3] = { "train", "val", "test" };

/* Checks every clip of a build; hard: vision is PCA-projected. */
static void
check_build (const char *dir, int hard, int all_test)
{
  int want[3], s, i, checked = 0;
  char p[1024];
  Manifest *m = malloc (sizeof *m);
  UdmlMediaClip c;
  UdmlError err = { 0 };

  count_recordings (want);
  if (all_test) {
    want[2] += want[0] + want[1];
    want[0] = want[1] = 0;
  }
  for (s = 0; s < 3; s++) {
    snprintf (p, sizeof p, "%s/%s.csv", dir, splits[s]);
    CHECK (read_manifest (p, m), "%s: missing or bad header", p);
    CHECK (m->n == want[s], "%s: %d rows, want %d", p, m->n, want[s]);
    for (i = 0; i < m->n; i++) {
      char rec[128], split_dir[16];
      const char *base = strrchr (m->path[i], '/');
      int digit = base ? base[1] - '0' : -1, f, img;
      double ad;
      if (sscanf (m->path[i], "clips/%15[a-z]/", split_dir) != 1)
        split_dir[0] = '\0';
      CHECK (m->label[i] == digit, "%s row %d: label %d but file %s", p, i + 1,
          m->label[i], m->path[i]);
      CHECK (all_test
          || strcmp (split_dir, splits[s]) == 0,
          "%s row %d: %s not in clips/%s", p, i + 1, m->path[i], splits[s]);
      snprintf (p, sizeof p, "%s/%s", dir, m->path[i]);
      if (udml_media_decode_file (p, &spec, &c, &err) != UDML_OK) {
        CHECK (0, "%s", err.msg);
        snprintf (p, sizeof p, "%s/%s.csv", dir, splits[s]);
        continue;
      }
      CHECK (c.n_samples == 16000 && c.n_frames == 10
          && c.duration_ns == 1000000000,
          "%s: %zu samples, %d frames, %lld ns; want 16000, 10, 1 s", p,
          c.n_samples, c.n_frames, (long long) c.duration_ns);
      for (f = 0; f < c.n_frames; f++) {
        CHECK (c.frame_pts[f] == f * 100000000LL, "%s: frame %d at %lld ns", p,
            f, (long long) c.frame_pts[f]);
        CHECK (memcmp (c.frames, c.frames + 4096 * f,
                4096 * sizeof (float)) == 0,
            "%s: frame %d differs from frame 0", p, f);
      }
      /* audio: the recording at 16 kHz, quantised to 16 bits, zero-padded */
      snprintf (rec, sizeof rec, "%.*s", (int) strcspn (base + 1, "."),
          base + 1);
      if (!strcmp (split_dir, "test"))
        rec[strlen (rec) - 2] = '\0';   /* drop _j */
      ad = c.n_samples == 16000 ? audio_diff (rec, c.pcm) : 1e9;
      CHECK (ad <= 1.0 / 32768 + 1e-7,
          "%s: audio differs from %s.wav by %g (atol 1/32768)", p, rec, ad);
      /* video: an image of the right digit and split, x2, centred +- 4 px */
      if (!hard && c.n_frames) {
        img = find_image (c.frames, digit);
        CHECK (img >= 0,
            "%s: the frame is no x2 MNIST %d within +-4 px of the centre", p,
            digit);
        CHECK (img < 0
            || !strcmp (splits[mn_split[img]], split_dir),
            "%s: image %d is from the %s split", p, img,
            img < 0 ? "?" : splits[mn_split[img]]);
      } else if (c.n_frames) {
        CHECK (find_image (c.frames, digit) < 0,
            "%s: hard variant shows an unprojected image", p);
      }
      udml_media_clip_clear (&c);
      checked++;
      snprintf (p, sizeof p, "%s/%s.csv", dir, splits[s]);
    }
  }
  printf ("%s   %s: %d clips checked (counts, labels, 1.0 s, audio, video)\n",
      test_failures ? "FAIL" : "ok", dir, checked);
  free (m);
}

static void
check_stream (const char *dir, int n)
{
  char p[1024], line[256];
  FILE *f;
  UdmlMediaClip c;
  UdmlError err = { 0 };
  int rows = 0, labels[64];

  snprintf (p, sizeof p, "%.1000s/stream.csv", dir);
  f = fopen (p, "r");
  CHECK (f && fgets (line, sizeof line, f)
      && !strcmp (line, "start,end,label\n"), "%s: missing or bad header", p);
  while (f && fgets (line, sizeof line, f)) {
    double a, b;
    int l;
    CHECK (sscanf (line, "%lf,%lf,%d", &a, &b, &l) == 3 && a == rows
        && b == rows + 1 && l >= 0
        && l <= 9, "%s row %d: '%s'", p, rows + 1, line);
    if (rows < 64)
      labels[rows] = l;
    rows++;
  }
  if (f)
    fclose (f);
  CHECK (rows == n, "%s: %d rows, want %d", p, rows, n);
  snprintf (p, sizeof p, "%.1000s/stream.mkv", dir);
  if (udml_media_decode_file (p, &spec, &c, &err) != UDML_OK) {
    CHECK (0, "%s", err.msg);
    return;
  }
  CHECK (c.n_samples == 16000 * (size_t) n && c.n_frames == 10 * n
      && c.duration_ns == n * 1000000000LL, "%s: %zu samples %d frames %lld ns",
      p, c.n_samples, c.n_frames, (long long) c.duration_ns);
  /* each second shows an MNIST image of its label */
  for (int i = 0; i < rows && i < 64 && c.n_frames == 10 * n; i++)
    CHECK (find_image (c.frames + 4096 * 10 * i + 4096 * 5, labels[i]) >= 0,
        "%s: second %d does not show a %d", p, i, labels[i]);
  udml_media_clip_clear (&c);
  printf ("%s   %s: %d s stream checked\n", test_failures ? "FAIL" : "ok", p,
      n);
}

static int
same_file (const char *a, const char *b)
{
  FILE *f = fopen (a, "rb"), *g = fopen (b, "rb");
  int same = f && g, x, y;
  while (same) {
    x = fgetc (f);
    y = fgetc (g);
    if (x != y)
      same = 0;
    if (x == EOF || y == EOF)
      break;
  }
  if (f)
    fclose (f);
  if (g)
    fclose (g);
  return same;
}

int
main (int argc, char **argv)
{
  char tmp[] = "/tmp/udml-avdigits-test-XXXXXX", args[4096], a[1024], b[1024];
  UdmlConfig cfg;
  int rc;

  if (argc < 3) {
    fprintf (stderr, "usage: test-avdigits UDML_AVDIGITS DATA_DIR\n");
    return 2;
  }
  tool = argv[1];
  data = argv[2];
  av_log_set_level (AV_LOG_ERROR);
  udml_config_default (&cfg);
  spec = cfg.features;
  load_mnist ();
  if (!mkdtemp (tmp)) {
    perror ("mkdtemp");
    return 1;
  }

  CHECK ((rc = run ("")) == 2, "no arguments: exit %d, want 2", rc);
  CHECK ((rc = run ("--fsdd x --mnist y --out z --variant nope")) == 2,
      "bad variant: exit %d, want 2", rc);
  snprintf (args, sizeof args,
      "--fsdd /nonexistent --mnist '%s/mnist' --out '%s/x'", data, tmp);
  CHECK ((rc = run (args)) == 1, "missing FSDD dir: exit %d, want 1", rc);

  snprintf (args, sizeof args,
      "--fsdd '%s/fsdd' --mnist '%s/mnist' --out '%s/a' --stream 6 " "--seed 7",
      data, data, tmp);
  CHECK ((rc = run (args)) == 0, "build: exit %d", rc);
  snprintf (a, sizeof a, "%s/a", tmp);
  check_build (a, 0, 0);
  check_stream (a, 6);

  snprintf (args, sizeof args,
      "--fsdd '%s/fsdd' --mnist '%s/mnist' --out '%s/b' "
      "--variant avdigits-hard --all-test --seed 7", data, data, tmp);
  CHECK ((rc = run (args)) == 0, "hard build: exit %d", rc);
  snprintf (b, sizeof b, "%s/b", tmp);
  check_build (b, 1, 1);

  /* same seed, same bytes */
  snprintf (args, sizeof args,
      "--fsdd '%s/fsdd' --mnist '%s/mnist' --out '%s/c' --seed 7", data, data,
      tmp);
  CHECK ((rc = run (args)) == 0, "second build: exit %d", rc);
  {
    const char *files[] =
        { "train.csv", "val.csv", "test.csv", "clips/test/4_lucas_0_3.mkv",
      "clips/train/9_george_11.mkv"
    };
    for (int i = 0; i < 5; i++) {
      snprintf (a, sizeof a, "%s/a/%s", tmp, files[i]);
      snprintf (b, sizeof b, "%s/c/%s", tmp, files[i]);
      CHECK (same_file (a, b),
          "%s differs between two builds with the same seed", files[i]);
    }
  }

  if (!test_failures) {
    snprintf (args, sizeof args, "rm -rf '%s'", tmp);
    if (system (args) != 0)
      fprintf (stderr, "could not remove %s\n", tmp);
  } else {
    fprintf (stderr, "outputs kept in %s\n", tmp);
  }
  free (mn_pix);
  free (mn_lab);
  free (mn_split);
  return test_summary ("test-avdigits");
}
