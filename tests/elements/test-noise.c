/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-noise.c — udmlnoise with GstHarness: on a frame it gives what the
 * core's noise rule gives on the same frame with the same seed (the rule the
 * model is trained and evaluated on); video noise statistics per level (std
 * of the added field against level² including the clamp), channel sharing,
 * YUV handling, pure noise, salt fraction, burst timing by stream time, seed
 * determinism, and audio SNR per level. */
#include <math.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/controller/controller.h>
#include <gst/video/video.h>
#include "state-cycle.h"

#include "udml.h"
#include "media.h"
#include "../common/udml-test.h"

#define W 320
#define H 240
#define MS (GST_SECOND / 1000)

static GstBuffer *
make_video (const gchar * format, guint8 fill, GstClockTime pts,
    GstVideoInfo * info)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING,
      format, "width", G_TYPE_INT, W, "height", G_TYPE_INT, H, "framerate",
      GST_TYPE_FRACTION, 10, 1, NULL);
  GstBuffer *buf;

  fail_unless (gst_video_info_from_caps (info, caps));
  gst_caps_unref (caps);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  gst_buffer_memset (buf, 0, fill, GST_VIDEO_INFO_SIZE (info));
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = 100 * MS;
  return buf;
}

static GstHarness *
noise_harness (const gchar * caps, const gchar * props)
{
  GstHarness *h = gst_harness_new ("udmlnoise");

  if (props)
    gst_util_set_object_arg (G_OBJECT (h->element), "kind", props);
  gst_harness_set_src_caps_str (h, caps);
  return h;
}

#define GRAY_CAPS "video/x-raw,format=GRAY8,width=320,height=240,framerate=10/1"

/* Expected mean and std of clamp (base + round (s z), 0, 255) - base for
 * z ~ N(0, 1), by numerical integration: the clamp makes the measured std
 * smaller than s at high levels, and the test must not ignore that. */
static void
expected_clamped (double s, int base, double *mean, double *std)
{
  double m0 = 0, m1 = 0, m2 = 0, z;

  for (z = -9.0; z <= 9.0; z += 1e-4) {
    double w = exp (-0.5 * z * z);
    double v = base + rint (s * z);
    v = v < 0 ? 0 : (v > 255 ? 255 : v);
    v -= base;
    m0 += w;
    m1 += w * v;
    m2 += w * v * v;
  }
  *mean = m1 / m0;
  *std = sqrt (m2 / m0 - *mean * *mean);
}

/* Mean and std of (data - base) over n bytes at a pixel stride. */
static void
measure (const guint8 * data, gsize n, gsize step, int base, double *mean,
    double *std)
{
  double s1 = 0, s2 = 0;
  gsize i;

  for (i = 0; i < n; i++) {
    double d = (double) data[i * step] - base;
    s1 += d;
    s2 += d * d;
  }
  *mean = s1 / n;
  *std = sqrt (s2 / n - *mean * *mean);
}

GST_START_TEST (test_gaussian_std_per_level)
{
  const double rtol = 0.02, atol = 0.05;
  int level;

  for (level = 1; level <= 10; level++) {
    GstHarness *h = noise_harness (GRAY_CAPS, "gaussian");
    GstVideoInfo info;
    GstBuffer *out;
    GstMapInfo map;
    double mean, std, emean, estd, tol;

    g_object_set (h->element, "level", level, "seed", (guint64) 11, NULL);
    out = gst_harness_push_and_pull (h, make_video ("GRAY8", 128, 0, &info));
    fail_unless (out != NULL);
    fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
    measure (map.data, W * H, 1, 128, &mean, &std);
    gst_buffer_unmap (out, &map);
    if (level == 1) {
      emean = estd = 0.0;
    } else {
      expected_clamped ((double) level * level, 128, &emean, &estd);
    }
    tol = atol + rtol * estd;
    fail_unless (fabs (std - estd) <= tol,
        "level %d: noise std %.3f, expected %.3f (level^2 = %d with clamp), "
        "|diff| %.3f > tol %.3f", level, std, estd, level * level,
        fabs (std - estd), tol);
    fail_unless (fabs (mean - emean) <= atol + 4.0 * estd / sqrt (W * H),
        "level %d: noise mean %.3f, expected %.3f", level, mean, emean);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* One field shared by the colour channels; padding byte untouched. */
GST_START_TEST (test_gaussian_shared_channels)
{
  GstHarness *h = noise_harness
      ("video/x-raw,format=BGRx,width=320,height=240,framerate=10/1",
      "gaussian");
  GstVideoInfo info;
  GstBuffer *out;
  GstMapInfo map;
  gsize i, bad = 0, changed = 0;

  g_object_set (h->element, "level", 4, NULL);
  out = gst_harness_push_and_pull (h, make_video ("BGRx", 128, 0, &info));
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < W * H; i++) {
    const guint8 *p = map.data + 4 * i;
    if (p[0] != p[1] || p[1] != p[2] || p[3] != 128)
      bad++;
    if (p[0] != 128)
      changed++;
  }
  gst_buffer_unmap (out, &map);
  fail_unless (bad == 0, "%" G_GSIZE_FORMAT " pixels with unequal channel "
      "noise or a touched padding byte", bad);
  fail_unless (changed > W * H / 2, "only %" G_GSIZE_FORMAT " pixels changed",
      changed);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* I420: the field goes to luma only; level 11 sets chroma to neutral. */
GST_START_TEST (test_gaussian_i420)
{
  const char *caps =
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1";
  GstHarness *h = noise_harness (caps, "gaussian");
  GstVideoInfo info;
  GstBuffer *in, *out;
  GstVideoFrame frame;
  double mean, std, emean, estd;
  gint y, x, chroma_changed = 0;

  g_object_set (h->element, "level", 5, NULL);
  in = make_video ("I420", 100, 0, &info);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  measure (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), W * H, 1, 100, &mean, &std);
  expected_clamped (25.0, 100, &emean, &estd);
  fail_unless (fabs (std - estd) <= 0.05 + 0.02 * estd,
      "I420 luma std %.3f, expected %.3f", std, estd);
  for (y = 0; y < H / 2; y++)
    for (x = 0; x < W / 2; x++)
      chroma_changed +=
          ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 1))[y *
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1) + x] != 100;
  fail_unless (chroma_changed == 0, "%d chroma samples changed",
      chroma_changed);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);

  g_object_set (h->element, "level", 11, NULL);
  out = gst_harness_push_and_pull (h, make_video ("I420", 100, 0, &info));
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (y = 0; y < H / 2; y++)
    for (x = 0; x < W / 2; x++)
      chroma_changed +=
          ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 2))[y *
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 2) + x] != 128;
  fail_unless (chroma_changed == 0, "level 11: %d chroma samples not neutral",
      chroma_changed);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* NV12: luma noise, interleaved chroma untouched, neutral at level 11. */
GST_START_TEST (test_gaussian_nv12)
{
  GstHarness *h = noise_harness
      ("video/x-raw,format=NV12,width=320,height=240,framerate=10/1",
      "gaussian");
  GstVideoInfo info;
  GstBuffer *out;
  GstVideoFrame frame;
  double mean, std, emean, estd;
  gint level, y, x, bad = 0;

  for (level = 3; level <= 11; level += 8) {
    g_object_set (h->element, "level", level, NULL);
    out = gst_harness_push_and_pull (h, make_video ("NV12", 60, 0, &info));
    fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
    for (y = 0; y < H / 2; y++)
      for (x = 0; x < W; x++)
        bad += ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 1))[y *
            GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1) + x] !=
            (level == 11 ? 128 : 60);
    fail_unless (bad == 0, "NV12 level %d: %d chroma bytes wrong", level, bad);
    if (level == 3) {
      measure (GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), W * H, 1, 60, &mean,
          &std);
      expected_clamped (9.0, 60, &emean, &estd);
      fail_unless (fabs (std - estd) <= 0.05 + 0.02 * estd,
          "NV12 luma std %.3f, expected %.3f", std, estd);
    }
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Level 11: 25.5 N(0, 121^2) clamped is nearly binary black/white noise,
 * independent of the input. */
GST_START_TEST (test_pure_noise)
{
  GstHarness *h = noise_harness (GRAY_CAPS, "gaussian");
  const double s = 25.5 * 121.0;
  GstVideoInfo info;
  GstBuffer *out;
  GstMapInfo map;
  gsize i, extreme = 0;
  double mean, std, emean, estd, frac, efrac;

  g_object_set (h->element, "level", 11, NULL);
  out = gst_harness_push_and_pull (h, make_video ("GRAY8", 30, 0, &info));
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < W * H; i++)
    extreme += map.data[i] == 0 || map.data[i] == 255;
  measure (map.data, W * H, 1, 0, &mean, &std);
  gst_buffer_unmap (out, &map);
  frac = (double) extreme / (W * H);
  /* Not extreme: 0.5 <= s z < 254.5, i.e. P(0.5/s < z < 254.5/s). */
  efrac = 1.0 - 0.5 * (erfc (0.5 / s / G_SQRT2) - erfc (254.5 / s / G_SQRT2));
  expected_clamped (s, 0, &emean, &estd);
  fail_unless (fabs (frac - efrac) <= 0.005,
      "fraction of 0/255 pixels %.4f, expected %.4f +- 0.005", frac, efrac);
  fail_unless (fabs (mean - emean) <= 2.0 && fabs (std - estd) <= 2.0,
      "mean %.2f std %.2f, expected %.2f %.2f +- 2", mean, std, emean, estd);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_salt_fraction)
{
  int level;

  for (level = 1; level <= 11; level++) {
    GstHarness *h = noise_harness (GRAY_CAPS, "salt");
    GstVideoInfo info;
    GstBuffer *out;
    GstMapInfo map;
    gsize i, black = 0, white = 0, other = 0;
    double frac, expect = level == 1 ? 0.0 : level / 20.0;
    double tol = 0.005;

    g_object_set (h->element, "level", level, "seed", (guint64) 3, NULL);
    out = gst_harness_push_and_pull (h, make_video ("GRAY8", 77, 0, &info));
    fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
    for (i = 0; i < W * H; i++) {
      if (map.data[i] == 0)
        black++;
      else if (map.data[i] == 255)
        white++;
      else if (map.data[i] != 77)
        other++;
    }
    gst_buffer_unmap (out, &map);
    frac = (double) (black + white) / (W * H);
    fail_unless (other == 0, "level %d: %" G_GSIZE_FORMAT " pixels neither "
        "kept nor black/white", level, other);
    fail_unless (fabs (frac - expect) <= tol,
        "salt level %d: fraction %.4f, expected %.4f, |diff| %.4f > %.4f",
        level, frac, expect, fabs (frac - expect), tol);
    if (level > 1)
      fail_unless (fabs ((double) black / (black + white) - 0.5) <= 0.03,
          "salt level %d: black share %.3f, expected 0.5 +- 0.03", level,
          (double) black / (black + white));
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- the element against the core's rule ------------------------------- */

/* Component c of pixel (x, y) of a frame that spans 0..255 in every
 * component, so that salt's frame extremes are 0 and 255. */
static guint8
pattern (gint x, gint y, gint c)
{
  return (guint8) ((x * 7 + y * 13 + c * 85) % 256);
}

/* udmlnoise on one W x H frame of `format` with a seed and a timestamp,
 * compared with the core's float rule (udml_noise_gaussian_planes on the
 * C x H x W frame, udml_noise_salt on the grey frame) seeded with the same
 * (seed, timestamp) the element uses, rounded to grey levels. For YUV the
 * rule applies to luma; n_comp is 1 there and for GRAY8, 3 for RGB. The two
 * must agree exactly: the element draws the same numbers in the same order. */
static void
agree_case (const gchar * format, gint n_comp, UdmlDegrade kind, gint level)
{
  const guint64 seed = 42;
  const GstClockTime pts = 300 * MS;
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=10/1", format, W, H);
  GstHarness *h = noise_harness (caps, udml_degrade_name (kind));
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *in = make_video (format, 128, pts, &info), *out;
  gsize plane = (gsize) W * H;
  gfloat *want = g_new (gfloat, n_comp * plane);
  gfloat *got = g_new (gfloat, n_comp * plane);
  gchar *what;
  UdmlRng rng;
  gint c, x, y;

  fail_unless (gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE));
  for (c = 0; c < n_comp; c++) {
    guint8 *base = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, c);
    gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c);
    for (y = 0; y < H; y++)
      for (x = 0; x < W; x++) {
        base[y * stride + x * ps] = pattern (x, y, c);
        want[c * plane + (gsize) y * W + x] = pattern (x, y, c);
      }
  }
  gst_video_frame_unmap (&frame);

  g_object_set (h->element, "level", level, "seed", seed, NULL);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (c = 0; c < n_comp; c++) {
    const guint8 *base = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, c);
    gint ps = GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c);
    for (y = 0; y < H; y++)
      for (x = 0; x < W; x++)
        got[c * plane + (gsize) y * W + x] = base[y * stride + x * ps];
  }
  gst_video_frame_unmap (&frame);

  udml_rng_seed (&rng, seed, pts);
  if (kind == UDML_DEGRADE_SALT)
    udml_noise_salt (want, n_comp * plane, level, &rng);
  else
    udml_noise_gaussian_planes (UDML_MODALITY_VIDEO, want, n_comp, plane,
        level, &rng);
  for (gsize i = 0; i < n_comp * plane; i++)
    want[i] = rintf (want[i]);

  what = g_strdup_printf ("udmlnoise %s %s level %d vs the core's rule",
      format, udml_degrade_name (kind), level);
  fail_unless (check_close (what, got, want, n_comp * plane, 0.0, 0.0),
      "%s: see the max difference above", what);
  g_free (what);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (got);
  g_free (want);
  g_free (caps);
}

GST_START_TEST (test_gaussian_matches_core_rule)
{
  static const gint levels[] = { 2, 3, 6, 10, 11 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (levels); i++) {
    agree_case ("GRAY8", 1, UDML_DEGRADE_GAUSSIAN, levels[i]);
    agree_case ("RGB", 3, UDML_DEGRADE_GAUSSIAN, levels[i]);
    agree_case ("I420", 1, UDML_DEGRADE_GAUSSIAN, levels[i]);
  }
}

GST_END_TEST;

GST_START_TEST (test_salt_matches_core_rule)
{
  static const gint levels[] = { 2, 5, 10, 11 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (levels); i++) {
    agree_case ("GRAY8", 1, UDML_DEGRADE_SALT, levels[i]);
    agree_case ("NV12", 1, UDML_DEGRADE_SALT, levels[i]);
  }
}

GST_END_TEST;

/* The 8-bit rule's names, level range and identity at level 1. */
GST_START_TEST (test_core_degrade_api)
{
  guint8 px[12] = { 0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6 }, before[12];
  UdmlFrameU8 f = { {px}, 1, 4, 3, 4, 1 };
  UdmlRng rng, fresh;
  UdmlError err;
  gint k;

  for (k = 0; k < UDML_DEGRADE_COUNT; k++)
    fail_unless (udml_degrade_from_name (udml_degrade_name (k)) == k);
  fail_unless (udml_degrade_from_name ("gaussian") == UDML_DEGRADE_GAUSSIAN);
  fail_unless (udml_degrade_from_name ("salt") == UDML_DEGRADE_SALT);
  fail_unless (udml_degrade_from_name ("bogus") == -1);

  memcpy (before, px, sizeof px);
  udml_rng_seed (&rng, 1, 2);
  fresh = rng;
  fail_unless (udml_degrade_frame_u8 (UDML_DEGRADE_GAUSSIAN, 0, &f, &rng,
          &err) == UDML_ERR_ARG);
  fail_unless (udml_degrade_frame_u8 (UDML_DEGRADE_SALT, UDML_NOISE_LEVELS + 1,
          &f, &rng, &err) == UDML_ERR_ARG, "level 12 accepted");
  fail_unless (udml_degrade_frame_u8 (UDML_DEGRADE_COUNT, 5, &f, &rng,
          &err) == UDML_ERR_ARG, "unknown kind accepted");
  fail_unless (udml_degrade_frame_u8 (UDML_DEGRADE_GAUSSIAN, 1, &f, &rng,
          &err) == UDML_OK);
  fail_unless (memcmp (px, before, sizeof px) == 0, "level 1 changed pixels");
  fail_unless (memcmp (&rng, &fresh, sizeof rng) == 0,
      "level 1 drew random numbers");
  fail_unless (udml_degrade_frame_u8 (UDML_DEGRADE_GAUSSIAN, 6, &f, &rng,
          &err) == UDML_OK);
  fail_unless (memcmp (px, before, sizeof px) != 0, "level 6 changed nothing");
}

GST_END_TEST;

static gboolean
frame_changed (GstBuffer * buf, guint8 fill)
{
  GstMapInfo map;
  gsize i, n = 0;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++)
    n += map.data[i] != fill;
  gst_buffer_unmap (buf, &map);
  return n > 0;
}

/* period 2 s, duty 0.5: on for stream time in [0, 1) mod 2 s. The second
 * run moves stream time 0.5 s ahead of the timestamps with a segment. */
GST_START_TEST (test_burst_video_stream_time)
{
  int run, k;

  for (run = 0; run < 2; run++) {
    GstHarness *h = noise_harness (GRAY_CAPS, "gaussian");
    GstClockTime offset = run ? 500 * MS : 0;

    g_object_set (h->element, "level", 8, "period", (guint64) 2 * GST_SECOND,
        "duty", 0.5, NULL);
    if (run) {
      GstSegment seg;
      gst_segment_init (&seg, GST_FORMAT_TIME);
      seg.time = offset;
      fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
    }
    for (k = 0; k < 50; k++) {
      GstVideoInfo info;
      GstClockTime pts = k * 100 * MS;
      gboolean expect = ((pts + offset) % (2 * GST_SECOND)) < GST_SECOND;
      GstBuffer *out = gst_harness_push_and_pull (h,
          make_video ("GRAY8", 128, pts, &info));
      gboolean got = frame_changed (out, 128);
      fail_unless (got == expect, "run %d frame pts %" GST_TIME_FORMAT
          " (stream time %" GST_TIME_FORMAT "): noise %s, expected %s", run,
          GST_TIME_ARGS (pts), GST_TIME_ARGS (pts + offset),
          got ? "on" : "off", expect ? "on" : "off");
      gst_buffer_unref (out);
    }
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Audio bursts are timed per sample. */
GST_START_TEST (test_burst_audio_per_sample)
{
  GstHarness *h = noise_harness
      ("audio/x-raw,format=F32LE,layout=interleaved,rate=1000,channels=1",
      "gaussian");
  GstBuffer *in, *out;
  GstMapInfo map;
  gsize i, wrong = 0, first = G_MAXSIZE;
  const gsize n = 4000;

  g_object_set (h->element, "level", 5, "period", (guint64) GST_SECOND,
      "duty", 0.25, NULL);
  in = gst_buffer_new_allocate (NULL, n * sizeof (gfloat), NULL);
  gst_buffer_memset (in, 0, 0, n * sizeof (gfloat));
  GST_BUFFER_PTS (in) = 0;
  GST_BUFFER_DURATION (in) = 4 * GST_SECOND;
  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < n; i++) {
    gboolean on = ((const gfloat *) map.data)[i] != 0.0f;
    if (on != ((i % 1000) < 250)) {
      wrong++;
      if (first == G_MAXSIZE)
        first = i;
    }
  }
  gst_buffer_unmap (out, &map);
  fail_unless (wrong == 0, "%" G_GSIZE_FORMAT " samples with the wrong burst "
      "state, first at sample %" G_GSIZE_FORMAT, wrong, first);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static GstBuffer *
run_once (guint64 seed, GstClockTime pts)
{
  GstHarness *h = noise_harness (GRAY_CAPS, "gaussian");
  GstVideoInfo info;
  GstBuffer *out;

  g_object_set (h->element, "level", 6, "seed", seed, NULL);
  out = gst_harness_push_and_pull (h, make_video ("GRAY8", 128, pts, &info));
  gst_harness_teardown (h);
  return out;
}

static gsize
count_diff (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gsize i, n = 0;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  fail_unless (ma.size == mb.size);
  for (i = 0; i < ma.size; i++)
    n += ma.data[i] != mb.data[i];
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return n;
}

GST_START_TEST (test_seed_determinism)
{
  GstBuffer *a = run_once (42, 0), *b = run_once (42, 0);
  GstBuffer *c = run_once (43, 0), *d = run_once (42, 100 * MS);
  gsize same = count_diff (a, b), seed = count_diff (a, c);
  gsize frame = count_diff (a, d);

  fail_unless (same == 0, "same seed and input: %" G_GSIZE_FORMAT
      " bytes differ", same);
  fail_unless (seed > W * H / 2, "other seed: only %" G_GSIZE_FORMAT
      " bytes differ", seed);
  fail_unless (frame > W * H / 2, "next frame: only %" G_GSIZE_FORMAT
      " bytes differ", frame);
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
  gst_buffer_unref (d);
}

GST_END_TEST;

/* A level ramp from a control source: linear from 1 at 0 s to 11 at 1 s,
 * so each frame must equal the element at the fixed level of its stream
 * time (1, 6, 11 at 0, 0.5 and 1 s). */
GST_START_TEST (test_level_controlled)
{
  const GstClockTime t[] = { 0, 500 * MS, GST_SECOND };
  const gint level_at[] = { 1, 6, 11 };
  GstHarness *h = noise_harness (GRAY_CAPS, "gaussian");
  GstControlSource *cs = gst_interpolation_control_source_new ();
  GstTimedValueControlSource *tv = GST_TIMED_VALUE_CONTROL_SOURCE (cs);
  guint i;

  g_object_set (cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  fail_unless (gst_timed_value_control_source_set (tv, 0, 1.0));
  fail_unless (gst_timed_value_control_source_set (tv, GST_SECOND, 11.0));
  fail_unless (gst_object_add_control_binding (GST_OBJECT (h->element),
          gst_direct_control_binding_new_absolute (GST_OBJECT (h->element),
              "level", cs)));
  g_object_set (h->element, "seed", (guint64) 9, NULL);

  for (i = 0; i < G_N_ELEMENTS (t); i++) {
    GstHarness *ref = noise_harness (GRAY_CAPS, "gaussian");
    GstVideoInfo info;
    GstBuffer *got, *want;
    gsize diff;
    gint level;

    g_object_set (ref->element, "level", level_at[i], "seed", (guint64) 9,
        NULL);
    got = gst_harness_push_and_pull (h, make_video ("GRAY8", 90, t[i], &info));
    want = gst_harness_push_and_pull (ref, make_video ("GRAY8", 90, t[i],
            &info));
    g_object_get (h->element, "level", &level, NULL);
    diff = count_diff (got, want);
    fail_unless (level == level_at[i] && diff == 0, "at %" GST_TIME_FORMAT
        ": level %d, expected %d; %" G_GSIZE_FORMAT " bytes differ from the "
        "element at that level", GST_TIME_ARGS (t[i]), level, level_at[i],
        diff);
    fail_unless (frame_changed (got, 90) == (level_at[i] > 1));
    gst_buffer_unref (got);
    gst_buffer_unref (want);
    gst_harness_teardown (ref);
  }
  gst_object_unref (cs);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Audio is offered interleaved only: planar caps are refused. */
GST_START_TEST (test_audio_caps_interleaved)
{
  GstElement *e = gst_element_factory_make ("udmlnoise", NULL);
  GstPad *sink = gst_element_get_static_pad (e, "sink");
  GstCaps *planar = gst_caps_from_string ("audio/x-raw,format=F32LE,"
      "layout=non-interleaved,rate=16000,channels=2");
  GstCaps *inter = gst_caps_from_string ("audio/x-raw,format=F32LE,"
      "layout=interleaved,rate=16000,channels=2");

  fail_unless (gst_pad_query_accept_caps (sink, inter));
  fail_if (gst_pad_query_accept_caps (sink, planar),
      "non-interleaved audio accepted");
  gst_caps_unref (planar);
  gst_caps_unref (inter);
  gst_object_unref (sink);
  gst_object_unref (e);
}

GST_END_TEST;

/* SNR against the -20 dBFS reference: a sine of that RMS must measure
 * 30 - 5 (level - 2) dB; level 11 drops the signal. */
static void
audio_snr_case (const gchar * format, int level, double *snr_db, double *corr)
{
  const int rate = 48000, n = 48000;
  gboolean s16 = g_str_equal (format, "S16LE");
  gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,layout=interleaved,"
      "rate=%d,channels=1", format, rate);
  GstHarness *h = noise_harness (caps, "gaussian");
  gsize bps = s16 ? 2 : 4;
  GstBuffer *in = gst_buffer_new_allocate (NULL, n * bps, NULL), *out;
  double *ref = g_new (double, n);
  double ps = 0, pn = 0, so = 0, sio = 0;
  GstMapInfo map;
  int i;

  fail_unless (gst_buffer_map (in, &map, GST_MAP_WRITE));
  for (i = 0; i < n; i++) {
    double x = sqrt (2.0) * 0.1 * sin (2 * G_PI * 440.0 * i / rate);
    if (s16) {
      ((gint16 *) map.data)[i] = (gint16) lrint (x * 32768.0);
      ref[i] = ((gint16 *) map.data)[i] / 32768.0;
    } else {
      ((gfloat *) map.data)[i] = (gfloat) x;
      ref[i] = (gfloat) x;
    }
  }
  gst_buffer_unmap (in, &map);
  GST_BUFFER_PTS (in) = 0;
  g_object_set (h->element, "level", level, "seed", (guint64) 5, NULL);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < n; i++) {
    double y = s16 ? ((gint16 *) map.data)[i] / 32768.0 :
        ((gfloat *) map.data)[i];
    ps += ref[i] * ref[i];
    pn += (y - ref[i]) * (y - ref[i]);
    so += y * y;
    sio += y * ref[i];
  }
  gst_buffer_unmap (out, &map);
  *snr_db = 10.0 * log10 (ps / pn);
  *corr = sio / sqrt (ps * so);
  if (level == 11)              /* noise RMS in dB relative to the signal */
    *snr_db = 10.0 * log10 (ps / so);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (ref);
  g_free (caps);
}

GST_START_TEST (test_audio_snr_per_level)
{
  const double atol_db = 0.15;
  int level, f;

  for (f = 0; f < 2; f++) {
    const gchar *format = f ? "S16LE" : "F32LE";
    for (level = 2; level <= 11; level++) {
      double snr, corr, expect = 30.0 - 5.0 * (MIN (level, 10) - 2);
      if (f && level > 8)       /* S16 clips at -5 dB and below */
        continue;
      audio_snr_case (format, level, &snr, &corr);
      fail_unless (fabs (snr - expect) <= atol_db,
          "%s level %d: SNR %.3f dB, expected %.1f dB, |diff| %.3f > %.2f",
          format, level, snr, expect, fabs (snr - expect), atol_db);
      if (level == 11)
        fail_unless (fabs (corr) < 0.02, "level 11 output correlates with "
            "the input: %.4f", corr);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_audio_salt)
{
  static const int levels[] = { 2, 5, 8, 11 };
  const gsize n = 48000;

  for (gsize l = 0; l < G_N_ELEMENTS (levels); l++) {
    GstHarness *h = noise_harness
        ("audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=2",
        "salt");
    GstBuffer *in = gst_buffer_new_allocate (NULL, n * 2 * 4, NULL), *out;
    GstMapInfo map;
    gsize i, hit = 0, other = 0;
    /* method.md: 0.5 x 10^(-3 (11 - L) / 9) of the samples */
    double frac, want = 0.5 * pow (10.0, -3.0 * (11 - levels[l]) / 9.0);
    double tol = 4.0 * sqrt (want * (1.0 - want) / (2 * n));

    gst_buffer_memset (in, 0, 0, n * 2 * 4);
    GST_BUFFER_PTS (in) = 0;
    g_object_set (h->element, "level", levels[l], NULL);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
    for (i = 0; i < 2 * n; i++) {
      gfloat v = ((gfloat *) map.data)[i];
      if (v == 1.0f || v == -1.0f)
        hit++;
      else if (v != 0.0f)
        other++;
    }
    gst_buffer_unmap (out, &map);
    frac = (double) hit / (2 * n);
    fail_unless (other == 0 && fabs (frac - want) <= tol,
        "audio salt level %d: fraction %.5f (expected %.5f +- %.5f), %"
        G_GSIZE_FORMAT " other values", levels[l], frac, want, tol, other);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- every degradation kind ------------------------------------------- */

/* blocky (libav) has tests of its own, which the valgrind run leaves out */
static const UdmlDegrade video_kinds[] = { UDML_DEGRADE_GAUSSIAN,
  UDML_DEGRADE_SALT, UDML_DEGRADE_DARK, UDML_DEGRADE_BLUR,
  UDML_DEGRADE_MOTION, UDML_DEGRADE_OCCLUSION
};

static const UdmlDegrade audio_kinds[] = { UDML_DEGRADE_GAUSSIAN,
  UDML_DEGRADE_SALT, UDML_DEGRADE_BABBLE, UDML_DEGRADE_CLIP,
  UDML_DEGRADE_DROPOUT, UDML_DEGRADE_MUFFLE, UDML_DEGRADE_HUM
};

/* A textured C x H x W frame, 0..255 in integral values: a gentle ramp
 * plus white noise in cells of min(H, W) / 64 pixels, i.e. white detail at
 * the model's resolution. White, so that the blurs' loss grows with their
 * size (on one spatial frequency it need not: the disk's response has
 * zeros); in cells, so that it survives blocky's scaling to 64 lines. */
static void
texture (float *x, int c, int h, int w, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  gint cell = MAX (1, MIN (h, w) / 64), ch, y, xx;
  gint cw = (w + cell - 1) / cell, chh = (h + cell - 1) / cell;
  gdouble *noise = g_new (gdouble, cw * chh);

  for (ch = 0; ch < c; ch++) {
    for (y = 0; y < cw * chh; y++)
      noise[y] = g_rand_double_range (r, -100.0, 100.0);
    for (y = 0; y < h; y++)
      for (xx = 0; xx < w; xx++)
        x[((gsize) ch * h + y) * w + xx] = CLAMP (rint (128.0 + 0.05 * (xx -
                    y) + noise[(y / cell) * cw + xx / cell]), 0.0, 255.0);
  }
  g_free (noise);
  g_rand_free (r);
}

/* Strokes like a handwritten digit's: two bright rings on black,
 * anti-aliased, sized relative to min(H, W); colour differs per channel.
 * Compression loses such a frame step by step as its quality and coded
 * size fall, where on white texture its loss saturates early. */
static void
strokes (float *x, int c, int h, int w, guint32 seed G_GNUC_UNUSED)
{
  double d = MIN (h, w), t = 0.06 * d;
  const double ring[2][3] = { {0.40, 0.38, 0.22}, {0.60, 0.62, 0.16} };

  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < h; y++)
      for (int xx = 0; xx < w; xx++) {
        double v = 0.0;
        for (int k = 0; k < 2; k++) {
          double dx = xx + 0.5 - ring[k][0] * w, dy = y + 0.5 - ring[k][1] * h;
          double e = fabs (sqrt (dx * dx + dy * dy) - ring[k][2] * d) / t;
          v = MAX (v, CLAMP (1.5 - e, 0.0, 1.0));
        }
        x[((gsize) ch * h + y) * w + xx] = rint ((255.0 - 40.0 * ch) * v);
      }
}

static double
mse (const float *a, const float *b, gsize n)
{
  double s = 0.0;
  gsize i;

  for (i = 0; i < n; i++)
    s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
  return s / n;
}

/* One video kind at one level on a float frame (blocky via lib/media). */
static void
video_float (UdmlDegrade kind, gint level, float *x, int c, int h, int w,
    UdmlMediaBlocky * blocky, guint64 seed, guint64 stream)
{
  UdmlRng rng;
  UdmlError err;
  UdmlStatus st;

  udml_rng_seed (&rng, seed, stream);
  if (kind == UDML_DEGRADE_BLOCKY)
    st = udml_media_blocky_planes (blocky, level, x, c, h, w, &err);
  else
    st = udml_degrade_video (kind, level, x, c, h, w, &rng, &err);
  fail_unless (st == UDML_OK, "%s level %d: %s", udml_degrade_name (kind),
      level, err.msg);
}

/* Level 1 is the identity; the MSE against the clean frame rises with
 * every level; occlusion 11 is an all-black frame. On the model's 64 x 64
 * and on a 320 x 240 camera frame. */
static void
video_kinds_grow (const UdmlDegrade * kinds, guint n_kinds,
    void (*frame) (float *x, int c, int h, int w, guint32 seed))
{
  const int sizes[2][2] = { {64, 64}, {240, 320} };
  UdmlMediaBlocky *blocky = udml_media_blocky_new (NULL);
  guint k, s;

  for (s = 0; s < 2; s++) {
    int c = 3, h = sizes[s][0], w = sizes[s][1];
    gsize n = (gsize) c * h * w;
    float *clean = g_new (float, n), *x = g_new (float, n);

    frame (clean, c, h, w, 5);
    for (k = 0; k < n_kinds; k++) {
      UdmlDegrade kind = kinds[k];
      double prev = -1.0;
      gint level;

      for (level = 1; level <= UDML_NOISE_LEVELS; level++) {
        double m;
        memcpy (x, clean, n * sizeof (float));
        video_float (kind, level, x, c, h, w, blocky, 7, 99);
        m = mse (x, clean, n);
        if (level == 1)
          fail_unless (m == 0.0, "%s level 1 on %dx%d changed the frame "
              "(MSE %g)", udml_degrade_name (kind), w, h, m);
        else
          fail_unless (m > prev, "%s on %dx%d: MSE %.3f at level %d, not "
              "above %.3f at level %d", udml_degrade_name (kind), w, h, m,
              level, prev, level - 1);
        prev = m;
      }
      if (kind == UDML_DEGRADE_BLOCKY) {
        /* the top level is a ruin, not a softer copy: a good share of the
         * strokes' energy (their variance about the mean) is lost */
        double mean = 0.0, var;
        gsize i;
        for (i = 0; i < n; i++)
          mean += clean[i] / n;
        for (i = 0, var = 0.0; i < n; i++)
          var += (clean[i] - mean) * (clean[i] - mean) / n;
        fail_unless (prev >= 0.25 * var, "blocky 11 on %dx%d: MSE %.1f, "
            "below a quarter of the frame's variance %.1f", w, h, prev, var);
      }
      if (kind == UDML_DEGRADE_OCCLUSION) {
        gsize i, lit = 0;
        for (i = 0; i < n; i++)
          lit += x[i] != 0.0f;
        fail_unless (lit == 0, "occlusion 11 on %dx%d left %" G_GSIZE_FORMAT
            " values uncovered", w, h, lit);
      }
    }
    g_free (clean);
    g_free (x);
  }
  udml_media_blocky_free (blocky);
}

GST_START_TEST (test_video_kinds_grow_with_level)
{
  video_kinds_grow (video_kinds, G_N_ELEMENTS (video_kinds), texture);
}

GST_END_TEST;

GST_START_TEST (test_blocky_grows_with_level)
{
  const UdmlDegrade blocky = UDML_DEGRADE_BLOCKY;

  video_kinds_grow (&blocky, 1, strokes);
}

GST_END_TEST;

/* Names, modalities, and the core's answers for the kinds it cannot do
 * frame by frame. */
GST_START_TEST (test_kind_names_and_limits)
{
  static const char *names[] = { "gaussian", "salt", "dark", "blur",
    "motion", "occlusion", "blocky", "freeze", "babble", "clip", "dropout",
    "muffle", "hum"
  };
  float x[3 * 8 * 8] = { 0 };
  UdmlRng rng;
  UdmlError err;
  GstElement *e = gst_element_factory_make ("udmlnoise", NULL);
  GEnumClass *ec = G_PARAM_SPEC_ENUM (g_object_class_find_property
      (G_OBJECT_GET_CLASS (e), "kind"))->enum_class;
  gint k;

  fail_unless (G_N_ELEMENTS (names) == UDML_DEGRADE_COUNT);
  for (k = 0; k < UDML_DEGRADE_COUNT; k++) {
    GEnumValue *v = g_enum_get_value (ec, k);
    fail_unless (strcmp (udml_degrade_name (k), names[k]) == 0);
    fail_unless (udml_degrade_from_name (names[k]) == k);
    fail_unless (v && strcmp (v->value_nick, names[k]) == 0,
        "udmlnoise kind %d is %s, the core's %s", k, v ? v->value_nick :
        "missing", names[k]);
    fail_unless (udml_degrade_applies (k, UDML_MODALITY_VIDEO) ||
        udml_degrade_applies (k, UDML_MODALITY_AUDIO));
  }
  gst_object_unref (e);
  fail_unless (udml_degrade_applies (UDML_DEGRADE_HUM, UDML_MODALITY_AUDIO));
  fail_if (udml_degrade_applies (UDML_DEGRADE_HUM, UDML_MODALITY_VIDEO));
  fail_if (udml_degrade_applies (UDML_DEGRADE_BLUR, UDML_MODALITY_AUDIO));
  udml_rng_seed (&rng, 1, 1);
  fail_unless (udml_degrade_video (UDML_DEGRADE_BLOCKY, 5, x, 3, 8, 8, &rng,
          &err) == UDML_ERR_UNSUPPORTED && strstr (err.msg, "lib/media"),
      "blocky in the core: %s", err.msg);
  fail_unless (udml_degrade_video (UDML_DEGRADE_FREEZE, 5, x, 3, 8, 8, &rng,
          &err) == UDML_ERR_ARG);
  fail_unless (udml_degrade_video (UDML_DEGRADE_HUM, 5, x, 3, 8, 8, &rng,
          &err) == UDML_ERR_ARG);
}

GST_END_TEST;

/* udmlnoise on a frame equals the library's 8-bit rule on the same frame,
 * and that equals the float rule rounded to grey levels, for every video
 * kind, on grey and on RGB frames. */
static void
video_agree_case (const gchar * format, gint n_comp, UdmlDegrade kind,
    gint level)
{
  const guint64 seed = 4;
  const GstClockTime pts = 200 * MS;
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
      "framerate=10/1", format, W, H);
  GstHarness *h = noise_harness (caps, udml_degrade_name (kind));
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *in = make_video (format, 0, pts, &info), *out;
  gsize plane = (gsize) W * H, i;
  gfloat *ref = g_new (gfloat, n_comp * plane);
  guint8 *lib = g_new (guint8, n_comp * plane);
  UdmlFrameU8 f = { {NULL}, n_comp, W, H, W, 1 };
  UdmlMediaBlocky *blocky = udml_media_blocky_new (NULL);
  UdmlRng rng;
  UdmlError err;
  gsize bad_lib = 0, bad_float = 0, first = 0;
  gint c, x, y;

  texture (ref, n_comp, H, W, 11);
  for (i = 0; i < n_comp * plane; i++)
    lib[i] = (guint8) ref[i];
  for (c = 0; c < n_comp; c++)
    f.comp[c] = lib + c * plane;
  fail_unless (gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE));
  for (c = 0; c < n_comp; c++)
    for (y = 0; y < H; y++)
      for (x = 0; x < W; x++)
        ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&frame, c))[y *
            GST_VIDEO_FRAME_COMP_STRIDE (&frame, c) + x *
            GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)] =
            lib[c * plane + (gsize) y * W + x];
  gst_video_frame_unmap (&frame);

  g_object_set (h->element, "level", level, "seed", seed, NULL);
  out = gst_harness_push_and_pull (h, in);

  udml_rng_seed (&rng, seed, pts);
  if (kind == UDML_DEGRADE_BLOCKY)
    fail_unless (udml_media_blocky_frame_u8 (blocky, level, &f, &err) ==
        UDML_OK, "%s", err.msg);
  else
    fail_unless (udml_degrade_frame_u8 (kind, level, &f, &rng, &err) ==
        UDML_OK, "%s", err.msg);
  video_float (kind, level, ref, n_comp, H, W, blocky, seed, pts);

  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (c = 0; c < n_comp; c++)
    for (y = 0; y < H; y++)
      for (x = 0; x < W; x++) {
        gsize k = c * plane + (gsize) y * W + x;
        guint8 got = ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&frame, c))[y *
            GST_VIDEO_FRAME_COMP_STRIDE (&frame, c) + x *
            GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)];
        if (got != lib[k] && bad_lib++ == 0)
          first = k;
        bad_float += lib[k] != (guint8) rintf (CLAMP (ref[k], 0.0f, 255.0f));
      }
  gst_video_frame_unmap (&frame);
  fail_unless (bad_lib == 0, "udmlnoise %s %s level %d: %" G_GSIZE_FORMAT
      " values differ from udml_degrade_frame_u8, first at %" G_GSIZE_FORMAT,
      format, udml_degrade_name (kind), level, bad_lib, first);
  /* salt's float rule uses the frame's extremes (test_salt_matches_core_rule
   * checks it on a frame that spans 0..255) */
  if (kind != UDML_DEGRADE_SALT)
    fail_unless (bad_float == 0, "%s %s level %d: the 8-bit rule differs "
        "from the rounded float rule in %" G_GSIZE_FORMAT " values", format,
        udml_degrade_name (kind), level, bad_float);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  udml_media_blocky_free (blocky);
  g_free (ref);
  g_free (lib);
  g_free (caps);
}

GST_START_TEST (test_video_kinds_element_agrees)
{
  const gint levels[] = { 2, 6, 11 };
  guint k, l;

  for (k = 0; k < G_N_ELEMENTS (video_kinds); k++)
    for (l = 0; l < G_N_ELEMENTS (levels); l++) {
      video_agree_case ("GRAY8", 1, video_kinds[k], levels[l]);
      video_agree_case ("RGB", 3, video_kinds[k], levels[l]);
    }
}

GST_END_TEST;

GST_START_TEST (test_blocky_element_agrees)
{
  const gint levels[] = { 2, 6, 11 };
  guint l;

  for (l = 0; l < G_N_ELEMENTS (levels); l++) {
    video_agree_case ("GRAY8", 1, UDML_DEGRADE_BLOCKY, levels[l]);
    video_agree_case ("RGB", 3, UDML_DEGRADE_BLOCKY, levels[l]);
  }
}

GST_END_TEST;

/* Occlusion 11 is a covered lens: black luma and neutral chroma. */
GST_START_TEST (test_occlusion_covers_lens)
{
  GstHarness *h = noise_harness
      ("video/x-raw,format=I420,width=320,height=240,framerate=10/1",
      "occlusion");
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *out;
  gint p, x, y, bad = 0;

  g_object_set (h->element, "level", 11, NULL);
  out = gst_harness_push_and_pull (h, make_video ("I420", 90, 0, &info));
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  for (p = 0; p < 3; p++)
    for (y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, p); y++)
      for (x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&frame, p); x++)
        bad += ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, p))[y *
            GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p) + x] != (p ? 128 : 0);
  gst_video_frame_unmap (&frame);
  fail_unless (bad == 0, "occlusion 11: %d samples not black", bad);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Freeze: frame k of a stream shows frame level * floor(k / level); level
 * 11 shows the first frame for ever; the float rule on a sample's frames
 * is the same. */
GST_START_TEST (test_freeze)
{
  const gint levels[] = { 2, 3, 7, 11 };
  guint l;

  for (l = 0; l < G_N_ELEMENTS (levels); l++) {
    GstHarness *h = noise_harness (GRAY_CAPS, "freeze");
    gint level = levels[l], k;
    float seq[22];

    g_object_set (h->element, "level", level, NULL);
    for (k = 0; k < 22; k++) {
      GstVideoInfo info;
      GstBuffer *out = gst_harness_push_and_pull (h,
          make_video ("GRAY8", (guint8) (10 * k), k * 100 * MS, &info));
      gint want = level >= 11 ? 0 : level * (k / level);
      fail_if (frame_changed (out, (guint8) (10 * want)),
          "freeze level %d: frame %d does not show frame %d", level, k, want);
      gst_buffer_unref (out);
      seq[k] = 10.0f * k;
    }
    udml_degrade_freeze_frames (seq, 22, 1, level);
    for (k = 0; k < 22; k++)
      fail_unless (seq[k] == 10.0f * (level >= 11 ? 0 : level * (k / level)),
          "freeze_frames level %d: frame %d shows %g", level, k, seq[k]);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- audio kinds ------------------------------------------------------- */

#define ARATE 16000

/* Speech-like test signal at -20 dBFS RMS: tones plus a noise floor. */
static void
speech (float *x, gsize n, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  double s2 = 0.0, g;
  gsize i;

  for (i = 0; i < n; i++) {
    double t = (double) i / ARATE;
    x[i] = (float) (sin (2 * G_PI * 220 * t) + 0.6 * sin (2 * G_PI * 1230 *
            t) + 0.4 * sin (2 * G_PI * 3100 * t) *
        (1.0 + sin (2 * G_PI * 3 * t)) + 0.3 * g_rand_double_range (r, -1, 1));
    s2 += (double) x[i] * x[i];
  }
  g = 0.1 / sqrt (s2 / n);
  for (i = 0; i < n; i++)
    x[i] *= (float) g;
  g_rand_free (r);
}

static double
diff_power (const float *x, gsize n)
{
  double s = 0.0;
  gsize i;

  for (i = 1; i < n; i++)
    s += ((double) x[i] - x[i - 1]) * ((double) x[i] - x[i - 1]);
  return s / (n - 1);
}

GST_START_TEST (test_audio_kinds_grow_with_level)
{
  const gsize n = ARATE;
  float *clean = g_new (float, n), *x = g_new (float, n);
  float *other = g_new (float, n);
  UdmlAudioParams p = { ARATE, 1, 0, 0.0f, 0.0f, NULL, 0, 0.0 };
  guint k;

  speech (clean, n, 1);
  speech (other, n, 2);
  p.other = other;
  p.n_other = n;
  for (k = 0; k < G_N_ELEMENTS (audio_kinds); k++) {
    UdmlDegrade kind = audio_kinds[k];
    double prev = -1.0;
    gint level;

    for (level = 1; level <= UDML_NOISE_LEVELS; level++) {
      UdmlRng rng;
      UdmlError err;
      double m;

      udml_rng_seed (&rng, 3, 4);
      memcpy (x, clean, n * sizeof (float));
      fail_unless (udml_degrade_audio (NULL, kind, level, &p, x, n, &rng,
              &err) == UDML_OK, "%s level %d: %s", udml_degrade_name (kind),
          level, err.msg);
      /* muffle: the share of the high-frequency power (first differences)
       * lost; its phase shifts make the MSE no measure of the cut */
      m = kind == UDML_DEGRADE_MUFFLE ? 1.0 - diff_power (x, n) /
          diff_power (clean, n) : mse (x, clean, n);
      if (level == 1)
        fail_unless (m == 0.0, "%s level 1 changed the signal (MSE %g)",
            udml_degrade_name (kind), m);
      else
        fail_unless (m > prev, "%s: MSE %.3g at level %d, not above %.3g at "
            "level %d", udml_degrade_name (kind), m, level, prev, level - 1);
      prev = m;
    }
    if (kind == UDML_DEGRADE_DROPOUT) {
      gsize i, loud = 0;
      for (i = 0; i < n; i++)
        loud += x[i] != 0.0f;
      fail_unless (loud == 0, "dropout 11 left %" G_GSIZE_FORMAT
          " samples unmuted", loud);
    }
  }
  g_free (clean);
  g_free (x);
  g_free (other);
}

GST_END_TEST;

/* udmlnoise on an F32 or S16 stereo buffer equals the library's rule on
 * the same samples (reference -20 dBFS, position from the timestamp), for
 * every audio kind but babble, whose other speech is the element's own
 * history; dropout 11 is silence. */
static void
audio_agree_case (const gchar * format, UdmlDegrade kind, gint level)
{
  const gsize n = 4000;
  const GstClockTime pts = 250 * MS;
  const guint64 seed = 8;
  gboolean s16 = g_str_equal (format, "S16LE");
  gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,layout=interleaved,"
      "rate=%d,channels=2", format, ARATE);
  GstHarness *h = noise_harness (caps, udml_degrade_name (kind));
  gsize bps = s16 ? 2 : 4, i, bad = 0, loud = 0;
  GstBuffer *in = gst_buffer_new_allocate (NULL, 2 * n * bps, NULL), *out;
  float *mono = g_new (float, n), *want = g_new (float, 2 * n);
  gint16 *want16 = g_new (gint16, 2 * n);
  UdmlAudioParams p = { ARATE, 2, 0, 0.1f, 0.0f, NULL, 0, 0.0 };
  GstMapInfo map;
  UdmlRng rng;
  UdmlError err;

  speech (mono, n, 3);
  fail_unless (gst_buffer_map (in, &map, GST_MAP_WRITE));
  for (i = 0; i < 2 * n; i++) {
    float v = mono[i / 2] * (i % 2 ? 0.5f : 1.0f);
    want16[i] = (gint16) lrintf (v * 32768.0f);
    want[i] = v;
    if (s16)
      ((gint16 *) map.data)[i] = want16[i];
    else
      ((gfloat *) map.data)[i] = v;
  }
  gst_buffer_unmap (in, &map);
  GST_BUFFER_PTS (in) = pts;
  g_object_set (h->element, "level", level, "seed", seed, NULL);
  out = gst_harness_push_and_pull (h, in);

  p.t0 = (gint64) (pts * ARATE / GST_SECOND);
  udml_rng_seed (&rng, seed, pts);
  if (s16)
    fail_unless (udml_degrade_audio_s16 (NULL, kind, level, &p, want16, n,
            &rng, &err) == UDML_OK, "%s", err.msg);
  else
    fail_unless (udml_degrade_audio (NULL, kind, level, &p, want, n, &rng,
            &err) == UDML_OK, "%s", err.msg);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < 2 * n; i++) {
    if (s16) {
      gint16 v = ((gint16 *) map.data)[i];
      bad += v != want16[i];
      loud += v != 0;
    } else {
      gfloat v = ((gfloat *) map.data)[i];
      bad += v != want[i];
      loud += v != 0.0f;
    }
  }
  gst_buffer_unmap (out, &map);
  fail_unless (bad == 0, "udmlnoise %s %s level %d: %" G_GSIZE_FORMAT
      " of %" G_GSIZE_FORMAT " samples differ from the library", format,
      udml_degrade_name (kind), level, bad, 2 * n);
  if (kind == UDML_DEGRADE_DROPOUT && level == 11)
    fail_unless (loud == 0, "dropout 11: %" G_GSIZE_FORMAT " samples not "
        "silent", loud);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (mono);
  g_free (want);
  g_free (want16);
  g_free (caps);
}

GST_START_TEST (test_audio_kinds_element_agrees)
{
  const gint levels[] = { 2, 6, 11 };
  guint k, l;

  for (k = 0; k < G_N_ELEMENTS (audio_kinds); k++)
    for (l = 0; l < G_N_ELEMENTS (levels); l++) {
      if (audio_kinds[k] == UDML_DEGRADE_BABBLE)
        continue;
      audio_agree_case ("F32LE", audio_kinds[k], levels[l]);
      audio_agree_case ("S16LE", audio_kinds[k], levels[l]);
    }
}

GST_END_TEST;

/* The core's babble rule: four talkers, the other speech read a quarter of
 * its length apart, together at the level's SNR against the reference. An
 * impulse as the other speech shows each talker as one sample. */
GST_START_TEST (test_babble_four_talkers)
{
  const gsize n = 4000;
  float *x = g_new0 (float, n), *other = g_new0 (float, n);
  UdmlAudioParams p = { ARATE, 1, 0, 0.1f, 0.0f, NULL, 0, 0.0 };
  UdmlRng rng;
  UdmlError err;
  double s2 = 0.0;
  gsize i, hits = 0;

  other[0] = 1.0f;
  p.other = other;
  p.n_other = n;
  p.t0 = 250;
  udml_rng_seed (&rng, 1, 2);
  /* level 8: SNR 0 dB, the babble's RMS is the reference's */
  fail_unless (udml_degrade_audio (NULL, UDML_DEGRADE_BABBLE, 8, &p, x, n,
          &rng, &err) == UDML_OK, "%s", err.msg);
  for (i = 0; i < n; i++) {
    s2 += (double) x[i] * x[i];
    if (x[i] != 0.0f) {
      hits++;
      fail_unless ((i + 250) % 1000 == 0, "a talker at sample %"
          G_GSIZE_FORMAT ", not a quarter period apart", i);
    }
  }
  fail_unless (hits == 4, "%" G_GSIZE_FORMAT " talkers, not 4", hits);
  fail_unless (fabs (sqrt (s2 / n) - 0.1) < 1e-6, "babble RMS %.7f, not the "
      "reference 0.1 at 0 dB", sqrt (s2 / n));
  g_free (x);
  g_free (other);
}

GST_END_TEST;

/* Babble mixes in the stream's own clean signal of 0.5, 1.5, 2.5 and 3.5 s
 * earlier: on the second second of a stream that is silent in its first,
 * nothing in its first half, then the speech of its own first half. */
GST_START_TEST (test_babble_uses_history)
{
  GstHarness *h = noise_harness
      ("audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1",
      "babble");
  gsize n = ARATE, i, changed = 0;
  GstBuffer *a = gst_buffer_new_allocate (NULL, n * 4, NULL), *b, *out;
  GstMapInfo map;
  float *x = g_new (float, n);

  g_object_set (h->element, "level", 8, NULL);
  gst_buffer_memset (a, 0, 0, n * 4);
  GST_BUFFER_PTS (a) = 0;
  speech (x, n, 4);
  b = gst_buffer_new_wrapped (g_memdup2 (x, n * 4), n * 4);
  GST_BUFFER_PTS (b) = GST_SECOND;
  out = gst_harness_push_and_pull (h, a);
  gst_buffer_unref (out);
  out = gst_harness_push_and_pull (h, b);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < n / 2; i++)
    changed += ((gfloat *) map.data)[i] != x[i];
  fail_unless (changed == 0, "babble after a silent second changed %"
      G_GSIZE_FORMAT " samples of the first half", changed);
  for (i = n / 2; i < n; i++)
    changed += ((gfloat *) map.data)[i] != x[i];
  gst_buffer_unmap (out, &map);
  fail_unless (changed > n / 4, "babble over the speech of half a second "
      "earlier changed only %" G_GSIZE_FORMAT " samples", changed);
  changed = 0;
  gst_buffer_unref (out);
  /* the third second hears the second */
  b = gst_buffer_new_wrapped (g_memdup2 (x, n * 4), n * 4);
  GST_BUFFER_PTS (b) = 2 * GST_SECOND;
  out = gst_harness_push_and_pull (h, b);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (i = 0; i < n; i++)
    changed += ((gfloat *) map.data)[i] != x[i];
  gst_buffer_unmap (out, &map);
  fail_unless (changed > n / 2, "babble over speech changed only %"
      G_GSIZE_FORMAT " samples", changed);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (x);
}

GST_END_TEST;

/* NULL -> PLAYING -> NULL twice: start, stop and start again. */
GST_START_TEST (test_state_cycle)
{
  check_state_cycle ("udmlnoise");
}

GST_END_TEST;

static Suite *
udmlnoise_suite (void)
{
  Suite *s = suite_create ("udmlnoise");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_gaussian_matches_core_rule);
  tcase_add_test (tc, test_salt_matches_core_rule);
  tcase_add_test (tc, test_core_degrade_api);
  tcase_add_test (tc, test_gaussian_std_per_level);
  tcase_add_test (tc, test_gaussian_shared_channels);
  tcase_add_test (tc, test_gaussian_i420);
  tcase_add_test (tc, test_gaussian_nv12);
  tcase_add_test (tc, test_pure_noise);
  tcase_add_test (tc, test_salt_fraction);
  tcase_add_test (tc, test_burst_video_stream_time);
  tcase_add_test (tc, test_burst_audio_per_sample);
  tcase_add_test (tc, test_seed_determinism);
  tcase_add_test (tc, test_audio_snr_per_level);
  tcase_add_test (tc, test_audio_salt);
  tcase_add_test (tc, test_state_cycle);
  tcase_add_test (tc, test_level_controlled);
  tcase_add_test (tc, test_audio_caps_interleaved);
  tcase_add_test (tc, test_kind_names_and_limits);
  tcase_add_test (tc, test_video_kinds_grow_with_level);
  tcase_add_test (tc, test_video_kinds_element_agrees);
  tcase_add_test (tc, test_blocky_grows_with_level);
  tcase_add_test (tc, test_blocky_element_agrees);
  tcase_add_test (tc, test_occlusion_covers_lens);
  tcase_add_test (tc, test_freeze);
  tcase_add_test (tc, test_audio_kinds_grow_with_level);
  tcase_add_test (tc, test_audio_kinds_element_agrees);
  tcase_add_test (tc, test_babble_four_talkers);
  tcase_add_test (tc, test_babble_uses_history);
  return s;
}

GST_CHECK_MAIN (udmlnoise);
