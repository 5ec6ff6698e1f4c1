/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-overlay.c — udmloverlay with GstHarness: the weight bars are drawn
 * where the layout puts them, their filled length tracks the weight, and
 * enable / keep-last / position / scale / absent modalities behave. The
 * panel is blended into every accepted format (YUV and RGB) inside its box
 * and nowhere else, the same result draws the same pixels on every frame,
 * and a new result redraws the bars. A downstream that renders
 * GstVideoOverlayCompositionMeta gets the panel as that meta on untouched
 * frames; any other downstream gets it blended, together with a composition
 * that came from upstream. */
#include <math.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "udmlmeta.h"
#include "udmloverlay.h"
#include "state-cycle.h"

/* counts malloc / calloc / realloc for the allocation tests */
#define UDML_TEST_COUNT_ALLOCS
#include "../common/udml-test.h"

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

static void
add_meta (GstBuffer * buf, gboolean valid, gdouble wa, gboolean audio,
    gboolean video)
{
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

static GstBuffer *
make_frame (gboolean with_meta, gboolean valid, gdouble wa, gboolean audio,
    gboolean video)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, W * H * 4, NULL);

  gst_buffer_memset (buf, 0, 0, W * H * 4);
  GST_BUFFER_PTS (buf) = 0;
  if (with_meta)
    add_meta (buf, valid, wa, audio, video);
  return buf;
}

/* Pixels of colour bgr in a w x h image of 4-byte pixels (BGRx, or the
 * BGRA of an overlay rectangle on little-endian). */
static Blob
find_colour_in (const guint8 * data, gint stride, gint w, gint h,
    const guint8 bgr[3])
{
  Blob b = { 0, w, h, -1, -1 };
  gint x, y;

  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++) {
      const guint8 *p = data + y * stride + 4 * x;
      if (p[0] == bgr[0] && p[1] == bgr[1] && p[2] == bgr[2]) {
        b.count++;
        b.x0 = MIN (b.x0, x);
        b.y0 = MIN (b.y0, y);
        b.x1 = MAX (b.x1, x);
        b.y1 = MAX (b.y1, y);
      }
    }
  return b;
}

/* In a packed w x h BGRx frame. */
static Blob
find_colour_wh (GstBuffer * buf, gint w, gint h, const guint8 bgr[3])
{
  GstMapInfo map;
  Blob b;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (map.size >= (gsize) (4 * w * h));
  b = find_colour_in (map.data, 4 * w, w, h, bgr);
  gst_buffer_unmap (buf, &map);
  return b;
}

static Blob
find_colour (GstBuffer * buf, const guint8 bgr[3])
{
  return find_colour_wh (buf, W, H, bgr);
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

/* A 64x64 frame (the model's input size): the panel is scaled down to fit
 * inside the frame with a margin, both bars whole and in proportion. */
GST_START_TEST (test_small_frame_fits)
{
  const gint w = 64, hgt = 64;
  GstHarness *h = gst_harness_new ("udmloverlay");
  GstBuffer *in = gst_buffer_new_allocate (NULL, w * hgt * 4, NULL), *out;
  GstMapInfo map;
  Blob a, v, all = { 0, w, hgt, -1, -1 };
  gint x, y;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=64,height=64,framerate=10/1");
  gst_buffer_memset (in, 0, 0, w * hgt * 4);
  GST_BUFFER_PTS (in) = 0;
  add_meta (in, TRUE, 0.5, TRUE, TRUE);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (y = 0; y < hgt; y++)
    for (x = 0; x < w; x++) {
      const guint8 *p = map.data + 4 * (y * w + x);
      if (p[0] || p[1] || p[2]) {
        all.count++;
        all.x0 = MIN (all.x0, x);
        all.y0 = MIN (all.y0, y);
        all.x1 = MAX (all.x1, x);
        all.y1 = MAX (all.y1, y);
      }
    }
  gst_buffer_unmap (out, &map);
  a = find_colour_wh (out, w, hgt, AUDIO_BGR);
  v = find_colour_wh (out, w, hgt, VIDEO_BGR);
  fail_unless (all.count > 0 && all.x0 > 0 && all.y0 > 0 && all.x1 < w - 1
      && all.y1 < hgt - 1, "panel spans (%d,%d)-(%d,%d) on a %dx%d frame: "
      "clipped", all.x0, all.y0, all.x1, all.y1, w, hgt);
  fail_unless (a.count > 0 && v.count > 0, "bars missing: audio %"
      G_GSIZE_FORMAT " px, video %" G_GSIZE_FORMAT " px", a.count, v.count);
  fail_unless (a.x1 - a.x0 == v.x1 - v.x0 && a.y1 - a.y0 == v.y1 - v.y0
      && a.x0 == v.x0 && v.y0 > a.y1, "equal weights drew unequal or "
      "misplaced bars: audio (%d,%d)-(%d,%d), video (%d,%d)-(%d,%d)", a.x0,
      a.y0, a.x1, a.y1, v.x0, v.y0, v.x1, v.y1);
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
  check_state_cycle ("udmloverlay");
}

GST_END_TEST;

/* ---- any format: compare frames plane by plane ------------------------- */

#define FW 320
#define FH 240
/* Chroma subsampling smears a panel edge by up to this many pixels. */
#define EDGE 2

typedef struct
{
  gint x0, y0, x1, y1;          /* inclusive, image pixels */
} Box;

/* A frame of fmt filled with a pattern in [64, 191] on every byte, so
 * darkening and colour both show up; same content for the same fmt. */
static GstBuffer *
make_pattern_frame (const GstVideoInfo * info)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info->size, NULL);
  GstVideoFrame f;
  guint p;
  gint r, b;

  fail_unless (gst_video_frame_map (&f, (GstVideoInfo *) info, buf,
          GST_MAP_WRITE));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&f); p++) {
    guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&f, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&f, p);
    gint rows;

    if (p + 1 < GST_VIDEO_FRAME_N_PLANES (&f))
      rows = (gint) ((GST_VIDEO_FRAME_PLANE_OFFSET (&f, p + 1) -
              GST_VIDEO_FRAME_PLANE_OFFSET (&f, p)) / stride);
    else
      rows = (gint) ((info->size - GST_VIDEO_FRAME_PLANE_OFFSET (&f, p)) /
          stride);
    for (r = 0; r < rows; r++)
      for (b = 0; b < stride; b++)
        d[r * stride + b] = 64 + (3 * b + 5 * r + 41 * p) % 128;
  }
  gst_video_frame_unmap (&f);
  GST_BUFFER_PTS (buf) = 0;
  return buf;
}

/* Bytes per row and rows of plane p of the image area. */
static void
plane_extent (const GstVideoInfo * info, guint p, gint * rowbytes, gint * rows)
{
  guint c;

  for (c = 0; c < GST_VIDEO_INFO_N_COMPONENTS (info); c++)
    if (GST_VIDEO_INFO_COMP_PLANE (info, c) == p)
      break;
  fail_unless (c < GST_VIDEO_INFO_N_COMPONENTS (info));
  *rowbytes = GST_VIDEO_INFO_COMP_WIDTH (info, c) *
      GST_VIDEO_INFO_COMP_PSTRIDE (info, c);
  *rows = GST_VIDEO_INFO_COMP_HEIGHT (info, c);
}

typedef struct
{
  gsize in_changed, in_total;   /* inside the box shrunk by EDGE */
  gsize out_changed;            /* outside the box grown by EDGE */
  gint out_x, out_y, out_plane; /* first change outside */
  Box bbox;                     /* all changed bytes, image pixels */
} Diff;

/* Compares a and b byte by byte on every plane; a byte at row r, offset k
 * of plane p stands for image pixel (k * width / rowbytes, r * height /
 * rows). */
static Diff
diff_frames (const GstVideoInfo * info, GstBuffer * a, GstBuffer * b, Box box)
{
  Diff d = { 0, 0, 0, -1, -1, -1, {G_MAXINT, G_MAXINT, -1, -1} };
  GstVideoFrame fa, fb;
  guint p;
  gint r, k;

  fail_unless (gst_video_frame_map (&fa, (GstVideoInfo *) info, a,
          GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fb, (GstVideoInfo *) info, b,
          GST_MAP_READ));
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&fa); p++) {
    const guint8 *da = GST_VIDEO_FRAME_PLANE_DATA (&fa, p);
    const guint8 *db = GST_VIDEO_FRAME_PLANE_DATA (&fb, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&fa, p);
    gint rowbytes, rows;

    plane_extent (info, p, &rowbytes, &rows);
    for (r = 0; r < rows; r++)
      for (k = 0; k < rowbytes; k++) {
        gint x = k * GST_VIDEO_INFO_WIDTH (info) / rowbytes;
        gint y = r * GST_VIDEO_INFO_HEIGHT (info) / rows;
        gboolean changed = da[r * stride + k] != db[r * stride + k];
        gboolean inside = x >= box.x0 + EDGE && x <= box.x1 - EDGE
            && y >= box.y0 + EDGE && y <= box.y1 - EDGE;
        gboolean outside = x < box.x0 - EDGE || x > box.x1 + EDGE
            || y < box.y0 - EDGE || y > box.y1 + EDGE;

        if (changed) {
          d.bbox.x0 = MIN (d.bbox.x0, x);
          d.bbox.y0 = MIN (d.bbox.y0, y);
          d.bbox.x1 = MAX (d.bbox.x1, x);
          d.bbox.y1 = MAX (d.bbox.y1, y);
        }
        if (inside) {
          d.in_total++;
          d.in_changed += changed;
        } else if (outside && changed) {
          if (d.out_changed++ == 0) {
            d.out_x = x;
            d.out_y = y;
            d.out_plane = p;
          }
        }
      }
  }
  gst_video_frame_unmap (&fa);
  gst_video_frame_unmap (&fb);
  return d;
}

static gboolean
buffers_equal (GstBuffer * a, GstBuffer * b, gsize * first)
{
  GstMapInfo ma, mb;
  gsize i;
  gboolean eq;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  eq = ma.size == mb.size;
  *first = 0;
  for (i = 0; eq && i < ma.size; i++)
    if (ma.data[i] != mb.data[i]) {
      eq = FALSE;
      *first = i;
    }
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return eq;
}

static GstHarness *
format_harness (const gchar * format, GstVideoInfo * info)
{
  GstHarness *h = gst_harness_new ("udmloverlay");
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
      G_TYPE_STRING, format, "width", G_TYPE_INT, FW, "height", G_TYPE_INT,
      FH, "framerate", GST_TYPE_FRACTION, 10, 1, NULL);

  fail_unless (gst_video_info_from_caps (info, caps), "bad caps for %s",
      format);
  gst_harness_set_src_caps (h, caps);
  return h;
}

/* Pushes the pattern frame, with the meta (weight wa for audio) or
 * without, and returns the output. */
static GstBuffer *
push_pattern (GstHarness * h, const GstVideoInfo * info, gboolean meta,
    gdouble wa)
{
  GstBuffer *in = make_pattern_frame (info);

  if (meta)
    add_meta (in, TRUE, wa, TRUE, TRUE);
  return gst_harness_push_and_pull (h, in);
}

/* The panel's box, measured on BGRx where the element is known to draw
 * right (test_bar_length_tracks_weight): every changed pixel. */
static Box
reference_panel_box (void)
{
  GstVideoInfo info;
  GstHarness *h = format_harness ("BGRx", &info);
  GstBuffer *plain = push_pattern (h, &info, FALSE, 0);
  GstBuffer *drawn = push_pattern (h, &info, TRUE, 0.5);
  Box all = { 0, 0, FW - 1, FH - 1 };
  Diff d = diff_frames (&info, plain, drawn, all);

  /* Top-left panel, a few bars high and ~200 px wide at scale 1. */
  fail_unless (d.bbox.x1 >= 0 && d.bbox.x0 < 16 && d.bbox.y0 < 16
      && d.bbox.x1 > 150 && d.bbox.x1 < FW * 3 / 4 && d.bbox.y1 > 40
      && d.bbox.y1 < FH / 2, "BGRx panel box (%d,%d)-(%d,%d) is off",
      d.bbox.x0, d.bbox.y0, d.bbox.x1, d.bbox.y1);
  gst_buffer_unref (plain);
  gst_buffer_unref (drawn);
  gst_harness_teardown (h);
  return d.bbox;
}

static const gchar *formats[] = { "I420", "NV12", "YV12", "NV21", "Y42B",
  "Y444", "YUY2", "UYVY", "YVYU", "AYUV", "BGRx", "BGRA", "RGBx", "RGBA",
  "xRGB", "ARGB", "xBGR", "ABGR", "RGB", "BGR"
};

/* Every format the element accepts: the panel area changes (at least half
 * of its bytes, the panel being a 55% black veil over the pattern) and
 * nothing outside it does, against the same frame without meta. */
GST_START_TEST (test_formats_draw_in_panel_only)
{
  Box box = reference_panel_box ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    GstVideoInfo info;
    GstHarness *h = format_harness (formats[i], &info);
    GstBuffer *plain, *drawn;
    Diff d;

    g_object_set (h->element, "keep-last", FALSE, NULL);
    plain = push_pattern (h, &info, FALSE, 0);
    drawn = push_pattern (h, &info, TRUE, 0.5);
    d = diff_frames (&info, plain, drawn, box);
    fail_unless (d.in_total > 0 && d.in_changed * 2 >= d.in_total,
        "%s: only %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " panel bytes "
        "changed", formats[i], d.in_changed, d.in_total);
    fail_unless (d.out_changed == 0, "%s: %" G_GSIZE_FORMAT " bytes changed "
        "outside the panel (%d,%d)-(%d,%d), first at (%d,%d) plane %d",
        formats[i], d.out_changed, box.x0, box.y0, box.x1, box.y1, d.out_x,
        d.out_y, d.out_plane);
    gst_buffer_unref (plain);
    gst_buffer_unref (drawn);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* The same result on consecutive frames (a fresh meta each time, then a
 * buffer without meta under keep-last) draws byte-identical frames, and so
 * does the result coming back after another one. */
GST_START_TEST (test_same_meta_same_pixels)
{
  const gchar *fmts[] = { "I420", "NV12", "BGRx" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
    GstVideoInfo info;
    GstHarness *h = format_harness (fmts[i], &info);
    GstBuffer *first = push_pattern (h, &info, TRUE, 0.3);
    GstBuffer *again = push_pattern (h, &info, TRUE, 0.3);
    GstBuffer *kept = push_pattern (h, &info, FALSE, 0);
    GstBuffer *other, *back;
    gsize at;

    fail_unless (buffers_equal (first, again, &at), "%s: same meta, frame 2 "
        "differs from frame 1 at byte %" G_GSIZE_FORMAT, fmts[i], at);
    fail_unless (buffers_equal (first, kept, &at), "%s: kept meta differs "
        "at byte %" G_GSIZE_FORMAT, fmts[i], at);
    other = push_pattern (h, &info, TRUE, 0.8);
    fail_if (buffers_equal (first, other, &at), "%s: a new weight drew the "
        "same frame", fmts[i]);
    back = push_pattern (h, &info, TRUE, 0.3);
    fail_unless (buffers_equal (first, back, &at), "%s: redrawing the first "
        "result differs at byte %" G_GSIZE_FORMAT, fmts[i], at);
    gst_buffer_unref (first);
    gst_buffer_unref (again);
    gst_buffer_unref (kept);
    gst_buffer_unref (other);
    gst_buffer_unref (back);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* A new result with other weights redraws the bars: between audio weights
 * 0.3 and 0.8 the audio bar's stretch from 30% to 80% of its track changes
 * (orange vs track grey), its first 30% does not, and nothing outside the
 * panel changes. Bar rows are measured on BGRx. */
GST_START_TEST (test_new_meta_changes_bars)
{
  const gchar *fmts[] = { "I420", "NV12", "YUY2", "BGRx" };
  Box box = reference_panel_box ();
  GstHarness *h;
  GstBuffer *out;
  Blob a;
  gint len3, len8;
  guint i;

  h = overlay_harness ();
  out = gst_harness_push_and_pull (h, make_frame (TRUE, TRUE, 0.3, TRUE, TRUE));
  a = find_colour (out, AUDIO_BGR);
  check_bar ("audio", a, 0.3, 1.0);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  len3 = (gint) lround (0.3 * GST_UDML_OVERLAY_BAR_WIDTH);
  len8 = (gint) lround (0.8 * GST_UDML_OVERLAY_BAR_WIDTH);

  for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
    GstVideoInfo info;
    GstBuffer *w3, *w8;
    Box grown = { a.x0 + len3, a.y0, a.x0 + len8 - 1, a.y1 };
    Box same = { a.x0, a.y0, a.x0 + len3 - 1, a.y1 };
    Diff d;

    h = format_harness (fmts[i], &info);
    w3 = push_pattern (h, &info, TRUE, 0.3);
    w8 = push_pattern (h, &info, TRUE, 0.8);
    d = diff_frames (&info, w3, w8, grown);
    /* Two thirds: the x byte of BGRx is padding and never changes. */
    fail_unless (d.in_total > 0 && d.in_changed * 3 >= d.in_total * 2,
        "%s: only %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes of the "
        "grown bar stretch changed", fmts[i], d.in_changed, d.in_total);
    d = diff_frames (&info, w3, w8, same);
    fail_unless (d.in_total > 0 && d.in_changed == 0, "%s: %" G_GSIZE_FORMAT
        " bytes of the common bar part changed", fmts[i], d.in_changed);
    d = diff_frames (&info, w3, w8, box);
    fail_unless (d.out_changed == 0, "%s: %" G_GSIZE_FORMAT " bytes changed "
        "outside the panel, first at (%d,%d)", fmts[i], d.out_changed,
        d.out_x, d.out_y);
    gst_buffer_unref (w3);
    gst_buffer_unref (w8);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ---- allocations per frame --------------------------------------------- */

static void (*orig_before) (GstBaseTransform *, GstBuffer *);
static GstFlowReturn (*orig_frame_ip) (GstVideoFilter *, GstVideoFrame *);

static void
counted_before (GstBaseTransform * trans, GstBuffer * buf)
{
  test_alloc_counting = TRUE;
  orig_before (trans, buf);
  test_alloc_counting = FALSE;
}

static GstFlowReturn
counted_frame_ip (GstVideoFilter * filter, GstVideoFrame * frame)
{
  GstFlowReturn ret;

  test_alloc_counting = TRUE;
  ret = orig_frame_ip (filter, frame);
  test_alloc_counting = FALSE;
  return ret;
}

/* What gst_video_overlay_composition_blend () allocates by itself for one
 * rectangle on one frame (gst_video_blend () mallocs line buffers). */
static guint
library_blend_allocs (const GstVideoInfo * info)
{
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint stride[GST_VIDEO_MAX_PLANES] = { 64 * 4 };
  GstBuffer *pixels = gst_buffer_new_allocate (NULL, 64 * 32 * 4, NULL);
  GstBuffer *video = make_pattern_frame (info);
  GstVideoOverlayRectangle *rect;
  GstVideoOverlayComposition *comp;
  GstVideoFrame f;
  guint n;

  gst_buffer_memset (pixels, 0, 0x80, 64 * 32 * 4);
  gst_buffer_add_video_meta_full (pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, 64, 32, 1, offset, stride);
  rect = gst_video_overlay_rectangle_new_raw (pixels, 8, 8, 64, 32,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  comp = gst_video_overlay_composition_new (rect);
  fail_unless (gst_video_frame_map (&f, (GstVideoInfo *) info, video,
          GST_MAP_READWRITE));
  fail_unless (gst_video_overlay_composition_blend (comp, &f));
  test_alloc_count = 0;
  test_alloc_counting = TRUE;
  gst_video_overlay_composition_blend (comp, &f);
  test_alloc_counting = FALSE;
  n = test_alloc_count;
  gst_video_frame_unmap (&f);
  gst_video_overlay_composition_unref (comp);
  gst_video_overlay_rectangle_unref (rect);
  gst_buffer_unref (pixels);
  gst_buffer_unref (video);
  return n;
}

/* Once the panel is rendered, a frame with the same result (fresh meta or
 * kept) costs the element no more allocations than the library's own blend
 * does; the first frame, which renders, costs more. */
GST_START_TEST (test_no_allocation_per_frame)
{
  const gchar *fmts[] = { "I420", "BGRx" };
  GstElement *e = gst_element_factory_make ("udmloverlay", NULL);
  GstBaseTransformClass *tclass;
  GstVideoFilterClass *vclass;
  guint i, k;

  /* The element type lives in the plugin: take it from an instance. */
  fail_unless (e != NULL, "could not make udmloverlay");
  tclass = g_type_class_ref (G_OBJECT_TYPE (e));
  gst_object_unref (e);
  vclass = (GstVideoFilterClass *) tclass;
  orig_before = tclass->before_transform;
  orig_frame_ip = vclass->transform_frame_ip;
  tclass->before_transform = counted_before;
  vclass->transform_frame_ip = counted_frame_ip;

  for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
    GstVideoInfo info;
    GstHarness *h = format_harness (fmts[i], &info);
    guint lib = library_blend_allocs (&info), first;

    test_alloc_count = 0;
    gst_buffer_unref (push_pattern (h, &info, TRUE, 0.3));
    first = test_alloc_count;
    fail_unless (first > lib, "%s: rendering the panel made only %u "
        "allocations (blend alone: %u); is anything counted?", fmts[i],
        first, lib);
    for (k = 0; k < 6; k++) {
      GstBuffer *in = make_pattern_frame (&info);

      if (k % 2 == 0)
        add_meta (in, TRUE, 0.3, TRUE, TRUE);
      test_alloc_count = 0;
      gst_buffer_unref (gst_harness_push_and_pull (h, in));
      fail_unless (test_alloc_count <= lib,
          "%s frame %u: %u allocations in the "
          "element, the library blend alone makes %u", fmts[i], k + 2,
          test_alloc_count, lib);
    }
    gst_harness_teardown (h);
  }
  tclass->before_transform = orig_before;
  vclass->transform_frame_ip = orig_frame_ip;
  g_type_class_unref (tclass);
}

GST_END_TEST;

/* ---- overlay composition meta ------------------------------------------ */

#define OVERLAY_META GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE

typedef enum
{
  DOWN_PLAIN,                   /* plain caps only, no meta in ALLOCATION */
  DOWN_ANY,                     /* any caps, no meta in ALLOCATION */
  DOWN_FEATURE_ONLY,            /* feature caps only, no meta in ALLOCATION */
  DOWN_RENDERS,                 /* feature caps, meta in ALLOCATION */
} Downstream;

static const gchar *down_names[] = { "plain", "any", "feature-only",
  "renders"
};

static GstCaps *
video_caps (const gchar * format, gboolean feature)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
      G_TYPE_STRING, format, "width", G_TYPE_INT, FW, "height", G_TYPE_INT,
      FH, "framerate", GST_TYPE_FRACTION, 10, 1, NULL);

  if (feature)
    gst_caps_set_features (caps, 0,
        gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY,
            GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION, NULL));
  return caps;
}

/* A harness whose downstream behaves as down; upstream sends format, with
 * the overlay feature when in_feature. */
static GstHarness *
meta_harness (const gchar * format, gboolean in_feature, Downstream down,
    GstVideoInfo * info)
{
  GstHarness *h = gst_harness_new ("udmloverlay");
  GstCaps *in = video_caps (format, in_feature);

  fail_unless (gst_video_info_from_caps (info, in), "bad caps for %s", format);
  if (down == DOWN_RENDERS)
    gst_harness_add_propose_allocation_meta (h, OVERLAY_META, NULL);
  if (down != DOWN_ANY)
    gst_harness_set_sink_caps (h, video_caps (format, down != DOWN_PLAIN));
  gst_harness_set_src_caps (h, in);
  return h;
}

/* Whether the caps downstream received carry the overlay feature. */
static gboolean
out_caps_have_feature (GstHarness * h)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  gboolean has;

  fail_unless (caps != NULL, "no caps reached downstream");
  has = gst_caps_features_contains (gst_caps_get_features (caps, 0),
      GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
  gst_caps_unref (caps);
  return has;
}

static guint
n_composition_metas (GstBuffer * buf)
{
  gpointer state = NULL;
  guint n = 0;

  while (gst_buffer_iterate_meta_filtered (buf, &state, OVERLAY_META))
    n++;
  return n;
}

static void
check_rect_is_box (const char *what, GstVideoOverlayRectangle * rect, Box box)
{
  gint x, y;
  guint w, h;

  fail_unless (gst_video_overlay_rectangle_get_render_rectangle (rect, &x,
          &y, &w, &h));
  fail_unless (x == box.x0 && y == box.y0 && (gint) w == box.x1 - box.x0 + 1
      && (gint) h == box.y1 - box.y0 + 1, "%s: rectangle %ux%u at (%d,%d), "
      "the blended panel is %dx%d at (%d,%d)", what, w, h, x, y,
      box.x1 - box.x0 + 1, box.y1 - box.y0 + 1, box.x0, box.y0);
}

/* The audio bar inside the rectangle's own ARGB pixels (premultiplied,
 * as drawn), in rectangle coordinates. */
static Blob
rect_audio_bar (GstVideoOverlayRectangle * rect)
{
  /* Opaque orange in memory order B, G, R, then A = 255. */
  GstBuffer *px = gst_video_overlay_rectangle_get_pixels_unscaled_argb (rect,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  GstVideoMeta *vm = gst_buffer_get_video_meta (px);
  GstMapInfo map;
  Blob b;

  fail_unless (vm != NULL, "rectangle pixels without video meta");
  fail_unless (gst_buffer_map (px, &map, GST_MAP_READ));
  b = find_colour_in (map.data + vm->offset[0], vm->stride[0], vm->width,
      vm->height, AUDIO_BGR);
  gst_buffer_unmap (px, &map);
  return b;
}

/* The audio bar as the blend path draws it on a FW x FH BGRx pattern. */
static Blob
blended_audio_bar (gdouble wa)
{
  GstVideoInfo info;
  GstHarness *h = meta_harness ("BGRx", FALSE, DOWN_PLAIN, &info);
  GstBuffer *out = push_pattern (h, &info, TRUE, wa);
  Blob b = find_colour_wh (out, FW, FH, AUDIO_BGR);

  gst_buffer_unref (out);
  gst_harness_teardown (h);
  return b;
}

/* A downstream that lists the meta in ALLOCATION and accepts the feature
 * caps: the buffer leaves with one GstVideoOverlayCompositionMeta holding
 * one rectangle exactly where the blend path draws the panel, with the bars
 * inside it; the frame's bytes are those of the input, in the input's own
 * memory (not copied, not written). Consecutive frames with the same result
 * share one composition; a new result makes a new one and leaves the
 * pixels of the old one, still on a buffer downstream, as they were. */
GST_START_TEST (test_meta_attached_when_downstream_renders)
{
  Box box = reference_panel_box ();
  Blob ref_bar = blended_audio_bar (0.3);
  const gchar *fmts[] = { "BGRx", "I420", "NV12" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
    GstVideoInfo info;
    GstHarness *h = meta_harness (fmts[i], FALSE, DOWN_RENDERS, &info);
    GstBuffer *in = make_pattern_frame (&info);
    GstBuffer *expect = make_pattern_frame (&info);
    GstBuffer *out, *out2, *out3;
    GstVideoOverlayCompositionMeta *meta;
    GstVideoOverlayRectangle *rect;
    GstMapInfo mi, mo;
    Blob bar;
    gsize at;

    add_meta (in, TRUE, 0.3, TRUE, TRUE);
    /* Keep a ref: the element then works on a shallow copy, and the
     * pixels must still be the input's memory. */
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    fail_unless (out_caps_have_feature (h), "%s: output caps lack the "
        "overlay feature", fmts[i]);
    fail_unless (n_composition_metas (out) == 1, "%s: %u composition metas",
        fmts[i], n_composition_metas (out));
    meta = gst_buffer_get_video_overlay_composition_meta (out);
    fail_unless (gst_video_overlay_composition_n_rectangles (meta->overlay)
        == 1, "%s: %u rectangles", fmts[i],
        gst_video_overlay_composition_n_rectangles (meta->overlay));
    rect = gst_video_overlay_composition_get_rectangle (meta->overlay, 0);
    check_rect_is_box (fmts[i], rect, box);

    bar = rect_audio_bar (rect);
    check_bar ("attached audio", bar, 0.3, 1.0);
    fail_unless (bar.x0 + box.x0 == ref_bar.x0 && bar.y0 + box.y0 ==
        ref_bar.y0, "%s: attached bar at (%d,%d) in the frame, blended at "
        "(%d,%d)", fmts[i], bar.x0 + box.x0, bar.y0 + box.y0, ref_bar.x0,
        ref_bar.y0);

    fail_unless (buffers_equal (out, expect, &at), "%s: attaching changed "
        "the frame at byte %" G_GSIZE_FORMAT, fmts[i], at);
    fail_unless (gst_buffer_map (in, &mi, GST_MAP_READ));
    fail_unless (gst_buffer_map (out, &mo, GST_MAP_READ));
    fail_unless (mi.data == mo.data, "%s: the frame was copied", fmts[i]);
    gst_buffer_unmap (in, &mi);
    gst_buffer_unmap (out, &mo);
    fail_unless (n_composition_metas (in) == 0, "%s: the input buffer got "
        "a meta", fmts[i]);

    /* Same result (a meta, then keep-last): the same composition. */
    out2 = push_pattern (h, &info, TRUE, 0.3);
    meta = gst_buffer_get_video_overlay_composition_meta (out2);
    fail_unless (meta != NULL && meta->overlay ==
        gst_buffer_get_video_overlay_composition_meta (out)->overlay,
        "%s: same result, new composition", fmts[i]);
    gst_buffer_unref (out2);
    out2 = push_pattern (h, &info, FALSE, 0);
    meta = gst_buffer_get_video_overlay_composition_meta (out2);
    fail_unless (meta != NULL && meta->overlay ==
        gst_buffer_get_video_overlay_composition_meta (out)->overlay,
        "%s: kept result, new composition", fmts[i]);
    gst_buffer_unref (out2);

    /* New weights while out still holds the old composition. */
    out3 = push_pattern (h, &info, TRUE, 0.8);
    meta = gst_buffer_get_video_overlay_composition_meta (out3);
    fail_unless (meta != NULL && gst_video_overlay_composition_n_rectangles
        (meta->overlay) == 1, "%s: no single-rectangle meta for the new "
        "result", fmts[i]);
    check_bar ("new audio", rect_audio_bar
        (gst_video_overlay_composition_get_rectangle (meta->overlay, 0)),
        0.8, 1.0);
    check_bar ("old audio", rect_audio_bar (rect), 0.3, 1.0);

    gst_buffer_unref (in);
    gst_buffer_unref (expect);
    gst_buffer_unref (out);
    gst_buffer_unref (out3);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* Downstreams that do not render the meta get the panel blended, no meta,
 * and, unless they take the feature caps only, plain caps: against the
 * same frame without a result, the panel area changes (at least half of
 * its bytes) and nothing outside it does. */
GST_START_TEST (test_blend_when_downstream_does_not_render)
{
  const Downstream downs[] = { DOWN_PLAIN, DOWN_ANY, DOWN_FEATURE_ONLY };
  const gchar *fmts[] = { "BGRx", "I420", "YUY2" };
  Box box = reference_panel_box ();
  guint i, k;

  for (k = 0; k < G_N_ELEMENTS (downs); k++)
    for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
      GstVideoInfo info;
      GstHarness *h = meta_harness (fmts[i], FALSE, downs[k], &info);
      GstBuffer *plain, *drawn;
      const char *d = down_names[downs[k]];
      Diff df;

      g_object_set (h->element, "keep-last", FALSE, NULL);
      plain = push_pattern (h, &info, FALSE, 0);
      drawn = push_pattern (h, &info, TRUE, 0.5);
      fail_unless (out_caps_have_feature (h) == (downs[k] ==
              DOWN_FEATURE_ONLY), "%s, %s downstream: output caps %s the "
          "overlay feature", fmts[i], d, out_caps_have_feature (h) ? "have" :
          "lack");
      fail_unless (n_composition_metas (drawn) == 0, "%s, %s downstream: "
          "%u composition metas on a blended frame", fmts[i], d,
          n_composition_metas (drawn));
      df = diff_frames (&info, plain, drawn, box);
      fail_unless (df.in_total > 0 && df.in_changed * 2 >= df.in_total,
          "%s, %s downstream: only %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
          " panel bytes changed", fmts[i], d, df.in_changed, df.in_total);
      fail_unless (df.out_changed == 0, "%s, %s downstream: %" G_GSIZE_FORMAT
          " bytes changed outside the panel, first at (%d,%d) plane %d",
          fmts[i], d, df.out_changed, df.out_x, df.out_y, df.out_plane);
      gst_buffer_unref (plain);
      gst_buffer_unref (drawn);
      gst_harness_teardown (h);
    }
}

GST_END_TEST;

/* Upstream's composition: a 16 x 16 opaque red square away from the
 * panel, on buffers of feature caps. */
#define RED_X 280
#define RED_Y 200
#define RED_S 16
static const guint8 RED_BGR[3] = { 0, 0, 255 };

static GstVideoOverlayComposition *
red_square (void)
{
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint stride[GST_VIDEO_MAX_PLANES] = { 4 * RED_S };
  GstBuffer *px = gst_buffer_new_allocate (NULL, 4 * RED_S * RED_S, NULL);
  GstVideoOverlayRectangle *rect;
  GstVideoOverlayComposition *comp;
  GstMapInfo map;
  gint i;

  fail_unless (gst_buffer_map (px, &map, GST_MAP_WRITE));
  for (i = 0; i < RED_S * RED_S; i++) {
    map.data[4 * i] = RED_BGR[0];
    map.data[4 * i + 1] = RED_BGR[1];
    map.data[4 * i + 2] = RED_BGR[2];
    map.data[4 * i + 3] = 255;
  }
  gst_buffer_unmap (px, &map);
  gst_buffer_add_video_meta_full (px, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, RED_S, RED_S, 1, offset,
      stride);
  rect = gst_video_overlay_rectangle_new_raw (px, RED_X, RED_Y, RED_S, RED_S,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  comp = gst_video_overlay_composition_new (rect);
  gst_video_overlay_rectangle_unref (rect);
  gst_buffer_unref (px);
  return comp;
}

static GstBuffer *
push_with_square (GstHarness * h, const GstVideoInfo * info,
    GstVideoOverlayComposition * comp, gboolean meta, gdouble wa)
{
  GstBuffer *in = make_pattern_frame (info);

  gst_buffer_add_video_overlay_composition_meta (in, comp);
  if (meta)
    add_meta (in, TRUE, wa, TRUE, TRUE);
  return gst_harness_push_and_pull (h, in);
}

/* Pixels of a and b (BGRx, FW x FH) that differ outside boxes p and q. */
static gsize
changed_outside (GstBuffer * a, GstBuffer * b, Box p, Box q)
{
  GstMapInfo ma, mb;
  gsize n = 0;
  gint x, y;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  for (y = 0; y < FH; y++)
    for (x = 0; x < FW; x++) {
      gboolean in_p = x >= p.x0 && x <= p.x1 && y >= p.y0 && y <= p.y1;
      gboolean in_q = x >= q.x0 && x <= q.x1 && y >= q.y0 && y <= q.y1;

      n += !in_p && !in_q && memcmp (ma.data + 4 * (y * FW + x),
          mb.data + 4 * (y * FW + x), 4) != 0;
    }
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return n;
}

/* Upstream feature caps with a composition on the buffers. A rendering
 * downstream gets one meta whose composition is upstream's rectangle then
 * the panel, on untouched pixels, and upstream's composition itself is not
 * modified. A plain downstream gets both blended, the square even before
 * any result arrives, and no meta. */
GST_START_TEST (test_upstream_composition)
{
  GstVideoOverlayComposition *comp = red_square ();
  Box box = reference_panel_box ();
  Box red = { RED_X, RED_Y, RED_X + RED_S - 1, RED_Y + RED_S - 1 };
  GstVideoOverlayCompositionMeta *meta;
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *out, *expect, *plain;
  Blob sq;
  gsize at, n;

  h = meta_harness ("BGRx", TRUE, DOWN_RENDERS, &info);
  out = push_with_square (h, &info, comp, TRUE, 0.3);
  expect = make_pattern_frame (&info);
  fail_unless (out_caps_have_feature (h), "output caps lack the feature");
  fail_unless (n_composition_metas (out) == 1, "%u composition metas",
      n_composition_metas (out));
  meta = gst_buffer_get_video_overlay_composition_meta (out);
  fail_unless (gst_video_overlay_composition_n_rectangles (meta->overlay)
      == 2, "%u rectangles, expected upstream's and the panel",
      gst_video_overlay_composition_n_rectangles (meta->overlay));
  check_rect_is_box ("upstream's",
      gst_video_overlay_composition_get_rectangle (meta->overlay, 0), red);
  check_rect_is_box ("panel",
      gst_video_overlay_composition_get_rectangle (meta->overlay, 1), box);
  fail_unless (gst_video_overlay_composition_n_rectangles (comp) == 1,
      "upstream's composition was modified");
  fail_unless (buffers_equal (out, expect, &at), "attaching changed the "
      "frame at byte %" G_GSIZE_FORMAT, at);
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  h = meta_harness ("BGRx", TRUE, DOWN_PLAIN, &info);
  /* No result yet: the square alone. */
  out = push_with_square (h, &info, comp, FALSE, 0);
  fail_if (out_caps_have_feature (h), "plain downstream got feature caps");
  fail_unless (n_composition_metas (out) == 0, "blended frame kept %u "
      "composition metas", n_composition_metas (out));
  sq = find_colour_wh (out, FW, FH, RED_BGR);
  fail_unless (sq.count == RED_S * RED_S && sq.x0 == RED_X && sq.y0 == RED_Y,
      "square blended as %" G_GSIZE_FORMAT " px at (%d,%d), expected %d at "
      "(%d,%d)", sq.count, sq.x0, sq.y0, RED_S * RED_S, RED_X, RED_Y);
  n = changed_outside (out, expect, red, red);
  fail_unless (n == 0, "%" G_GSIZE_FORMAT " px changed outside the square", n);
  gst_buffer_unref (out);

  /* With a result: square and panel, nothing else. */
  out = push_with_square (h, &info, comp, TRUE, 0.3);
  plain = make_pattern_frame (&info);
  fail_unless (n_composition_metas (out) == 0, "blended frame kept %u "
      "composition metas", n_composition_metas (out));
  sq = find_colour_wh (out, FW, FH, RED_BGR);
  fail_unless (sq.count == RED_S * RED_S && sq.x0 == RED_X && sq.y0 == RED_Y,
      "square blended as %" G_GSIZE_FORMAT " px at (%d,%d)", sq.count, sq.x0,
      sq.y0);
  check_bar ("blended audio", find_colour_wh (out, FW, FH, AUDIO_BGR), 0.3,
      1.0);
  n = changed_outside (out, plain, red, box);
  fail_unless (n == 0, "%" G_GSIZE_FORMAT " px changed outside the square "
      "and the panel", n);
  gst_buffer_unref (out);
  gst_buffer_unref (plain);
  gst_buffer_unref (expect);
  gst_harness_teardown (h);
  gst_video_overlay_composition_unref (comp);
}

GST_END_TEST;

static GstFlowReturn (*orig_ip) (GstBaseTransform *, GstBuffer *);

static GstFlowReturn
counted_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstFlowReturn ret;

  test_alloc_counting = TRUE;
  ret = orig_ip (trans, buf);
  test_alloc_counting = FALSE;
  return ret;
}

/* Attaching: once the panel is rendered, a frame with the same result
 * costs at most the GstMeta itself, and the frame is never mapped (no
 * transform_frame_ip call). */
GST_START_TEST (test_attach_allocates_only_the_meta)
{
  GstElement *e = gst_element_factory_make ("udmloverlay", NULL);
  GstBaseTransformClass *tclass;
  GstVideoFilterClass *vclass;
  GstVideoInfo info;
  GstHarness *h;
  guint k, first;

  fail_unless (e != NULL, "could not make udmloverlay");
  tclass = g_type_class_ref (G_OBJECT_TYPE (e));
  gst_object_unref (e);
  vclass = (GstVideoFilterClass *) tclass;
  orig_before = tclass->before_transform;
  orig_ip = tclass->transform_ip;
  orig_frame_ip = vclass->transform_frame_ip;
  tclass->before_transform = counted_before;
  tclass->transform_ip = counted_ip;
  vclass->transform_frame_ip = counted_frame_ip;

  h = meta_harness ("I420", FALSE, DOWN_RENDERS, &info);
  test_alloc_count = 0;
  gst_buffer_unref (push_pattern (h, &info, TRUE, 0.3));
  first = test_alloc_count;
  fail_unless (first > 1, "rendering the panel made only %u allocations; "
      "is anything counted?", first);
  for (k = 0; k < 6; k++) {
    GstBuffer *in = make_pattern_frame (&info), *out;

    if (k % 2 == 0)
      add_meta (in, TRUE, 0.3, TRUE, TRUE);
    test_alloc_count = 0;
    out = gst_harness_push_and_pull (h, in);
    fail_unless (test_alloc_count <= 1,
        "frame %u: %u allocations in the element, "
        "at most 1 (the meta) expected", k + 2, test_alloc_count);
    fail_unless (n_composition_metas (out) == 1, "frame %u: no meta", k + 2);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
  tclass->before_transform = orig_before;
  tclass->transform_ip = orig_ip;
  vclass->transform_frame_ip = orig_frame_ip;
  g_type_class_unref (tclass);
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
  tcase_add_test (tc, test_small_frame_fits);
  tcase_add_test (tc, test_enable_and_keep_last);
  tcase_add_test (tc, test_state_cycle);
  tcase_add_test (tc, test_formats_draw_in_panel_only);
  tcase_add_test (tc, test_same_meta_same_pixels);
  tcase_add_test (tc, test_new_meta_changes_bars);
  tcase_add_test (tc, test_no_allocation_per_frame);
  tcase_add_test (tc, test_meta_attached_when_downstream_renders);
  tcase_add_test (tc, test_blend_when_downstream_does_not_render);
  tcase_add_test (tc, test_upstream_composition);
  tcase_add_test (tc, test_attach_allocates_only_the_meta);
  return s;
}

GST_CHECK_MAIN (udmloverlay);
