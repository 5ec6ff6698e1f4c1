/* test-overlay.c — udmloverlay with GstHarness: the weight bars are drawn
 * where the layout puts them, their filled length tracks the weight, and
 * enable / keep-last / position / scale / absent modalities behave. */
#include <math.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "udmlmeta.h"
#include "udmloverlay.h"

#define W 640
#define H 480
#define CAPS "video/x-raw,format=BGRx,width=640,height=480,framerate=10/1"

/* Bar fill colours in BGRx memory order (audio orange, video blue). */
static const guint8 AUDIO_BGR[3] = { 0, 153, 255 };
static const guint8 VIDEO_BGR[3] = { 255, 153, 0 };

typedef struct
{
  gsize count;
  gint x0, y0, x1, y1;          /* bounding box, inclusive */
} Blob;

static GstBuffer *
make_frame (gboolean with_meta, gboolean valid, gdouble wa, gboolean audio,
    gboolean video)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H * 4, NULL);

  gst_buffer_memset (buf, 0, 0, W * H * 4);
  GST_BUFFER_PTS (buf) = 0;
  if (with_meta) {
    GstStructure *s = gst_buffer_add_udml_fusion_meta (buf);
    GstStructure *a = gst_structure_new ("audio", "present", G_TYPE_BOOLEAN,
        audio, "coverage", G_TYPE_DOUBLE, 1.0, "noise", G_TYPE_DOUBLE, 1.0,
        "weight", G_TYPE_DOUBLE, audio ? (video ? wa : 1.0) : 0.0, NULL);
    GstStructure *v = gst_structure_new ("video", "present", G_TYPE_BOOLEAN,
        video, "coverage", G_TYPE_DOUBLE, 1.0, "noise", G_TYPE_DOUBLE, 1.0,
        "weight", G_TYPE_DOUBLE, video ? (audio ? 1.0 - wa : 1.0) : 0.0,
        NULL);
    GstStructure *m = gst_structure_new_empty ("modalities");

    fail_unless (s != NULL);
    gst_structure_set (m, "audio", GST_TYPE_STRUCTURE, a, "video",
        GST_TYPE_STRUCTURE, v, NULL);
    gst_structure_set (s, "label", G_TYPE_STRING, valid ? "7" : "",
        "label_id", G_TYPE_INT, valid ? 7 : -1, "confidence", G_TYPE_DOUBLE,
        0.93, "valid", G_TYPE_BOOLEAN, valid, "modalities",
        GST_TYPE_STRUCTURE, m, NULL);
    gst_structure_free (a);
    gst_structure_free (v);
    gst_structure_free (m);
  }
  return buf;
}

static Blob
find_colour (GstBuffer * buf, const guint8 bgr[3])
{
  Blob b = { 0, W, H, -1, -1 };
  GstMapInfo map;
  gint x, y;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (y = 0; y < H; y++)
    for (x = 0; x < W; x++) {
      const guint8 *p = map.data + 4 * (y * W + x);
      if (p[0] == bgr[0] && p[1] == bgr[1] && p[2] == bgr[2]) {
        b.count++;
        b.x0 = MIN (b.x0, x);
        b.y0 = MIN (b.y0, y);
        b.x1 = MAX (b.x1, x);
        b.y1 = MAX (b.y1, y);
      }
    }
  gst_buffer_unmap (buf, &map);
  return b;
}

static gsize
count_nonblack (GstBuffer * buf)
{
  GstMapInfo map;
  gsize i, n = 0;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i += 4)
    n += map.data[i] || map.data[i + 1] || map.data[i + 2];
  gst_buffer_unmap (buf, &map);
  return n;
}

static GstHarness *
overlay_harness (void)
{
  GstHarness *h = gst_harness_new ("udmloverlay");

  gst_harness_set_src_caps_str (h, CAPS);
  return h;
}

/* Filled length = round (scale * BAR_WIDTH * weight), height = scale *
 * BAR_HEIGHT, exactly: the fills are opaque, pixel-aligned rectangles. */
static void
check_bar (const char *what, Blob b, double weight, double scale)
{
  gint len = (gint) lround (scale * GST_UDML_OVERLAY_BAR_WIDTH * weight);
  gint hgt = (gint) lround (scale * GST_UDML_OVERLAY_BAR_HEIGHT);

  fail_unless (b.count > 0, "%s: no bar pixels for weight %.2f", what, weight);
  fail_unless (b.x1 - b.x0 + 1 == len && b.y1 - b.y0 + 1 == hgt
      && b.count == (gsize) (len * hgt),
      "%s weight %.2f scale %.1f: bar %dx%d (%" G_GSIZE_FORMAT " px) at "
      "(%d,%d), expected %dx%d", what, weight, scale, b.x1 - b.x0 + 1,
      b.y1 - b.y0 + 1, b.count, b.x0, b.y0, len, hgt);
}

GST_START_TEST (test_bar_length_tracks_weight)
{
  const double weights[] = { 0.05, 0.25, 0.5, 0.73, 0.95 };
  gint prev_len = 0;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (weights); i++) {
    GstHarness *h = overlay_harness ();
    GstBuffer *out = gst_harness_push_and_pull (h,
        make_frame (TRUE, TRUE, weights[i], TRUE, TRUE));
    Blob a = find_colour (out, AUDIO_BGR), v = find_colour (out, VIDEO_BGR);

    check_bar ("audio", a, weights[i], 1.0);
    check_bar ("video", v, 1.0 - weights[i], 1.0);
    /* Both bars start at the same x; video is the row below audio. */
    fail_unless (a.x0 == v.x0 && v.y0 > a.y1, "bars misplaced: audio at "
        "(%d,%d), video at (%d,%d)", a.x0, a.y0, v.x0, v.y0);
    fail_unless (a.x1 - a.x0 + 1 > prev_len, "audio bar did not grow with "
        "its weight");
    prev_len = a.x1 - a.x0 + 1;
    /* Top-left panel: nothing drawn in the bottom-right quadrant. */
    fail_unless (a.x1 < W / 2 && a.y1 < H / 2, "top-left bar reaches (%d,%d)",
        a.x1, a.y1);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_scale_and_position)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out;
  Blob a;

  g_object_set (h->element, "scale", 2.0, NULL);
  gst_util_set_object_arg (G_OBJECT (h->element), "position", "bottom-right");
  out = gst_harness_push_and_pull (h, make_frame (TRUE, TRUE, 0.4, TRUE, TRUE));
  a = find_colour (out, AUDIO_BGR);
  check_bar ("audio x2", a, 0.4, 2.0);
  fail_unless (a.x0 > W / 3 && a.y0 > H / 2,
      "bottom-right panel drawn at (%d,%d)", a.x0, a.y0);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_absent_modality)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out = gst_harness_push_and_pull (h,
      make_frame (TRUE, TRUE, 0.5, TRUE, FALSE));
  Blob a = find_colour (out, AUDIO_BGR), v = find_colour (out, VIDEO_BGR);

  check_bar ("audio alone", a, 1.0, 1.0);
  fail_unless (v.count == 0, "absent video drew %" G_GSIZE_FORMAT " bar "
      "pixels", v.count);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_enable_and_keep_last)
{
  GstHarness *h = overlay_harness ();
  GstBuffer *out;
  gsize n;

  /* No meta seen yet: untouched. */
  out = gst_harness_push_and_pull (h, make_frame (FALSE, TRUE, 0, TRUE, TRUE));
  n = count_nonblack (out);
  fail_unless (n == 0, "drew %" G_GSIZE_FORMAT " px without any meta", n);
  gst_buffer_unref (out);

  /* A meta, then a buffer without: the last result is kept. */
  gst_buffer_unref (gst_harness_push_and_pull (h,
          make_frame (TRUE, TRUE, 0.3, TRUE, TRUE)));
  out = gst_harness_push_and_pull (h, make_frame (FALSE, TRUE, 0, TRUE, TRUE));
  check_bar ("kept audio", find_colour (out, AUDIO_BGR), 0.3, 1.0);
  gst_buffer_unref (out);

  g_object_set (h->element, "keep-last", FALSE, NULL);
  out = gst_harness_push_and_pull (h, make_frame (FALSE, TRUE, 0, TRUE, TRUE));
  n = count_nonblack (out);
  fail_unless (n == 0, "keep-last=false drew %" G_GSIZE_FORMAT " px", n);
  gst_buffer_unref (out);

  g_object_set (h->element, "enable", FALSE, NULL);
  out = gst_harness_push_and_pull (h, make_frame (TRUE, TRUE, 0.3, TRUE, TRUE));
  n = count_nonblack (out);
  fail_unless (n == 0, "enable=false drew %" G_GSIZE_FORMAT " px", n);
  gst_buffer_unref (out);

  /* Label text is drawn too: more than the bars and their tracks change. */
  g_object_set (h->element, "enable", TRUE, NULL);
  out = gst_harness_push_and_pull (h, make_frame (TRUE, FALSE, 0.3, TRUE,
          TRUE));
  n = count_nonblack (out);
  fail_unless (n > 2 * GST_UDML_OVERLAY_BAR_WIDTH *
      GST_UDML_OVERLAY_BAR_HEIGHT, "only %" G_GSIZE_FORMAT " px drawn", n);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* NULL -> PLAYING -> NULL twice: start, stop and start again. */
GST_START_TEST (test_state_cycle)
{
  GstElement *e = gst_element_factory_make ("udmloverlay", NULL);
  GstState states[] = { GST_STATE_READY, GST_STATE_PAUSED, GST_STATE_PLAYING,
    GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_NULL
  };
  guint round, i;

  fail_unless (e != NULL, "could not make udmloverlay");
  for (round = 0; round < 2; round++)
    for (i = 0; i < G_N_ELEMENTS (states); i++)
      fail_unless (gst_element_set_state (e, states[i]) !=
          GST_STATE_CHANGE_FAILURE, "round %u: change to %s failed", round,
          gst_element_state_get_name (states[i]));
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
udmloverlay_suite (void)
{
  Suite *s = suite_create ("udmloverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bar_length_tracks_weight);
  tcase_add_test (tc, test_scale_and_position);
  tcase_add_test (tc, test_absent_modality);
  tcase_add_test (tc, test_enable_and_keep_last);
  tcase_add_test (tc, test_state_cycle);
  return s;
}

GST_CHECK_MAIN (udmloverlay);
