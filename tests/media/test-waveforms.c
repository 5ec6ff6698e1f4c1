/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-waveforms.c — the waveform of every feature row (lib/data
 * waveform.c): for a clip of several windows and for a segment row, at a
 * hop and start that fall between samples, log-mel of row r's waveform is
 * row r's audio features; the waveforms kept while decoding the features
 * equal those decoded again when the features come from the cache; the
 * last window is zero-padded past the clip's end. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media.h"
#include "udml-data.h"
#include "../common/udml-test.h"

#define RATE 8000
#define PI 3.14159265358979323846

/* 16-bit mono WAV of seconds s: a chirp under noise, so that every window
 * differs from its neighbours. */
static void
write_wav (const char *path, double s)
{
  int n = (int) (s * RATE + 0.5);
  FILE *f = fopen (path, "wb");
  uint32_t u32;
  uint16_t u16;
  uint64_t r = 0x9e3779b97f4a7c15ull;
  if (!f) {
    TEST_FAIL ("cannot write %s", path);
    return;
  }
#define PUT32(v) (u32 = (v), fwrite (&u32, 4, 1, f))
#define PUT16(v) (u16 = (v), fwrite (&u16, 2, 1, f))
  fwrite ("RIFF", 1, 4, f);
  PUT32 (36 + 2 * n);
  fwrite ("WAVEfmt ", 1, 8, f);
  PUT32 (16);
  PUT16 (1);
  PUT16 (1);
  PUT32 (RATE);
  PUT32 (2 * RATE);
  PUT16 (2);
  PUT16 (16);
  fwrite ("data", 1, 4, f);
  PUT32 (2 * n);
  for (int i = 0; i < n; i++) {
    double t = (double) i / RATE;
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    double noise = ((double) (r >> 40) / (1 << 24) - 0.5) * 0.1;
    int16_t v = (int16_t) (12000 * (sin (2 * PI * (200 + 600 * t) * t)
            + noise));
    fwrite (&v, 2, 1, f);
  }
#undef PUT32
#undef PUT16
  fclose (f);
}

static void
write_pgm (const char *path)
{
  FILE *f = fopen (path, "wb");
  if (!f) {
    TEST_FAIL ("cannot write %s", path);
    return;
  }
  fprintf (f, "P5\n16 16\n255\n");
  for (int i = 0; i < 256; i++)
    fputc (i, f);
  fclose (f);
}

static void
write_text (const char *path, const char *text)
{
  FILE *f = fopen (path, "w");
  if (!f) {
    TEST_FAIL ("cannot write %s", path);
    return;
  }
  fputs (text, f);
  fclose (f);
}

/* log-mel of every row's waveform against the row's audio features */
static void
check_rows (const char *what, const UdmlConfig * cfg,
    const UdmlFeatureSet * set, const UdmlWaveSet * w)
{
  int m = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  UdmlMel *mel = udml_media_mel_new (&cfg->features, NULL);
  float *pcm = calloc (w->len, sizeof (float));
  float *x = calloc (set->F[m], sizeof (float));
  char name[128];

  CHECK (w->n == set->n, "%s: %d waveforms for %d rows", what, w->n, set->n);
  for (int r = 0; r < set->n && r < w->n && mel; r++) {
    udml_wave_set_row (w, r, pcm);
    udml_media_mel_compute (mel, pcm, w->len, x);
    snprintf (name, sizeof name, "%s: log-mel of row %d's waveform", what, r);
    /* the same samples through the same code: equal to rounding */
    check_close (name, x, set->x[m] + (size_t) r * set->F[m], set->F[m],
        1e-6, 0.0);
  }
  udml_media_mel_free (mel);
  free (pcm);
  free (x);
}

/* the rows of a and b hold the same samples */
static void
check_same (const char *what, const UdmlWaveSet * a, const UdmlWaveSet * b)
{
  float *pa = calloc (a->len, sizeof (float));
  float *pb = calloc (a->len, sizeof (float));
  int diff = -1;
  CHECK (a->n == b->n && a->len == b->len, "%s: %d x %zu and %d x %zu",
      what, a->n, a->len, b->n, b->len);
  for (int r = 0; r < a->n && r < b->n && a->len == b->len && diff < 0; r++) {
    udml_wave_set_row (a, r, pa);
    udml_wave_set_row (b, r, pb);
    if (memcmp (pa, pb, a->len * sizeof (float)))
      diff = r;
  }
  CHECK (diff < 0, "%s: row %d differs", what, diff);
  free (pa);
  free (pb);
}

/* Extracts list at hop (features and waveforms); returns the rows. */
static int
extract (const char *manifest, const UdmlConfig * cfg, int64_t hop,
    int no_cache, UdmlFeatureSet * set, UdmlWaveSet * w, int *from_cache,
    UdmlDataList * list)
{
  UdmlExtractOptions xo = { NULL, no_cache, NULL, NULL, hop, w };
  UdmlExtractReport rep;
  UdmlError err = { 0 };
  if (udml_data_list_read (list, manifest, &err) != UDML_OK
      || udml_data_list_bind (list, cfg, &err) != UDML_OK
      || udml_data_extract (list, cfg, &xo, set, &rep, &err) != UDML_OK) {
    TEST_FAIL ("%s: %s", manifest, err.msg);
    return -1;
  }
  CHECK (rep.n_bad == 0, "%s: %d bad rows", manifest, rep.n_bad);
  *from_cache = rep.from_cache;
  return set->n;
}

static void
check_manifest (const char *what, const char *manifest, const UdmlConfig * cfg,
    int64_t hop, int want_rows)
{
  UdmlFeatureSet set, cached;
  UdmlWaveSet w, wc, again;
  UdmlDataList list, list2;
  UdmlError err = { 0 };
  int fc = 0, n;
  char name[160];

  memset (&w, 0, sizeof w);
  memset (&wc, 0, sizeof wc);
  memset (&again, 0, sizeof again);
  memset (&set, 0, sizeof set);
  memset (&cached, 0, sizeof cached);
  memset (&list2, 0, sizeof list2);
  /* decoded: the waveforms come from the decode of the features */
  n = extract (manifest, cfg, hop, 0, &set, &w, &fc, &list);
  if (n < 0)
    return;
  CHECK (n == want_rows && !fc, "%s: %d rows decoded, want %d", what, n,
      want_rows);
  snprintf (name, sizeof name, "%s, decoded", what);
  check_rows (name, cfg, &set, &w);

  /* from the cache: decoded again for the waveforms alone */
  if (extract (manifest, cfg, hop, 0, &cached, &wc, &fc, &list2) >= 0) {
    CHECK (fc, "%s: second extraction from the cache", what);
    snprintf (name, sizeof name, "%s, from the cache", what);
    check_rows (name, cfg, &cached, &wc);
    check_same (name, &w, &wc);
  }
  if (udml_data_waveforms (&list, cfg, hop, &again, &err) != UDML_OK)
    TEST_FAIL ("%s: udml_data_waveforms: %s", what, err.msg);
  snprintf (name, sizeof name, "%s, udml_data_waveforms", what);
  check_same (name, &w, &again);

  /* the windows share their samples: the clip is kept once */
  CHECK (w.n_pcm < (size_t) w.n * w.len, "%s: %zu samples kept for %d "
      "windows of %zu", what, w.n_pcm, w.n, w.len);

  udml_feature_set_clear (&set);
  udml_feature_set_clear (&cached);
  udml_wave_set_clear (&w);
  udml_wave_set_clear (&wc);
  udml_wave_set_clear (&again);
  udml_data_list_clear (&list);
  udml_data_list_clear (&list2);
}

/* Row j of the clip row is the decoded clip from round(t_j * rate), zero
 * past its end. */
static void
check_placement (const char *dir, const char *manifest, const UdmlConfig * cfg,
    int64_t hop)
{
  UdmlFeatureSet set;
  UdmlWaveSet w;
  UdmlDataList list;
  UdmlMediaClip clip;
  UdmlError err = { 0 };
  int fc;
  char path[1024];

  memset (&w, 0, sizeof w);
  memset (&set, 0, sizeof set);
  memset (&clip, 0, sizeof clip);
  if (extract (manifest, cfg, hop, 1, &set, &w, &fc, &list) < 2)
    goto out;
  snprintf (path, sizeof path, "%s/a.wav", dir);
  if (udml_media_decode_file (path, &cfg->features, &clip, &err) != UDML_OK) {
    TEST_FAIL ("%s: %s", path, err.msg);
    goto out;
  }
  float *row = calloc (w.len, sizeof (float));
  for (int j = 0; j < w.n; j++) {
    int64_t s0 = (j * hop * (int64_t) w.rate + 500000000LL) / 1000000000LL;
    size_t k = (size_t) s0 < clip.n_samples ? clip.n_samples - s0 : 0;
    size_t bad = 0;
    k = k < w.len ? k : w.len;
    udml_wave_set_row (&w, j, row);
    for (size_t i = 0; i < w.len; i++)
      bad += row[i] != (i < k ? clip.pcm[s0 + i] : 0.0f);
    CHECK (bad == 0, "row %d (from sample %lld, %zu of the clip): %zu "
        "samples differ", j, (long long) s0, k, bad);
    if (j == w.n - 1)
      CHECK (k < w.len, "the last window (%zu samples of the clip) reaches "
          "past the clip's end", k);
  }
  free (row);
out:
  udml_media_clip_clear (&clip);
  udml_feature_set_clear (&set);
  udml_wave_set_clear (&w);
  udml_data_list_clear (&list);
}

int
main (void)
{
  char dir[] = "/tmp/udml-waves-XXXXXX";
  char path[1024], clips[1024], segs[1024];
  UdmlSpecParams p;
  UdmlConfig cfg;
  UdmlError err = { 0 };
  /* a third of a second: window starts between samples */
  const int64_t hop = 333333333;

  if (!mkdtemp (dir)) {
    TEST_FAIL ("mkdtemp");
    return test_summary ("test-waveforms");
  }
  snprintf (path, sizeof path, "%s/a.wav", dir);
  /* 1.995 s: windows at 0, 1/3, 2/3 and 1 s, the last 5 ms past the end
   * (within the extraction's slack) */
  write_wav (path, 1.995);
  snprintf (path, sizeof path, "%s/v.pgm", dir);
  write_pgm (path);
  snprintf (clips, sizeof clips, "%s/clips.csv", dir);
  write_text (clips, "audio,video,label\na.wav,v.pgm,0\n");
  snprintf (segs, sizeof segs, "%s/segs.csv", dir);
  /* windows at 0.35123 and 0.68456 s */
  write_text (segs, "audio,video,label,start,end\n"
      "a.wav,v.pgm,1,0.35123,1.9\n" "a.wav,v.pgm,0,0,1.0\n");

  udml_spec_params_default (&p);
  p.width = p.height = 16;
  p.widths[0] = 4;
  p.widths[1] = 4;
  p.n_stages = 2;
  if (udml_data_config_build (&cfg, &p, &err) != UDML_OK
      || udml_data_choose_labels (&cfg, NULL, 0, "0\n1\n", "labels",
          &err) != UDML_OK) {
    TEST_FAIL ("config: %s", err.msg);
    return test_summary ("test-waveforms");
  }

  check_manifest ("a clip of 4 windows", clips, &cfg, hop, 4);
  check_manifest ("segments of 2 and 1 windows", segs, &cfg, hop, 3);
  check_placement (dir, clips, &cfg, hop);

  /* the temporary directory: clips, manifests and their caches */
  char cmd[1100];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", dir);
  return test_summary ("test-waveforms");
}
