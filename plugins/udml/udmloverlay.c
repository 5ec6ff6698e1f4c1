/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmloverlay.c — draws the fusion result that udmlfuse attaches to video
 * buffers (UdmlFusionMeta): the label with its confidence and, per
 * modality, a bar as long as its final weight share with the value beside
 * it. Buffers without a meta show the last one seen (keep-last).
 *
 * The panel is rendered with cairo into a cached premultiplied ARGB image
 * only when what it shows changes (new result, frame size, position or
 * scale) and wrapped in a GstVideoOverlayComposition. That composition
 * reaches the picture one of two ways, chosen at each negotiation as
 * textoverlay chooses:
 *
 * - attach: the source caps carry the feature
 *   "meta:GstVideoOverlayComposition" and downstream's ALLOCATION answer
 *   lists GstVideoOverlayCompositionMeta. The cached composition is put on
 *   each buffer as that meta and the pixels are left alone (the frame is not
 *   even mapped); a composition already on the buffer gets the panel added
 *   as its last rectangle.
 * - blend: otherwise. Any composition that came from upstream is blended
 *   first and its meta removed, then the panel is blended with
 *   gst_video_overlay_composition_blend (), so any format that function
 *   handles works without videoconvert around the element.
 *
 * Both pads offer each caps structure with and without the feature. The
 * source pad lists the feature first; when downstream accepts those caps
 * but its ALLOCATION answer lacks the meta, the element renegotiates once
 * with the plain caps first (until downstream sends RECONFIGURE), so plain
 * sinks get plain caps, as textoverlay does.
 *
 * Per frame, this element allocates nothing: the meta is copied into a
 * fixed-size struct on the stack and compared with the one on screen, and
 * the cached composition is blended or attached as is (attaching costs the
 * GstMeta itself). The surface, its GstBuffer, the cairo context and the
 * font faces live across frames; only a panel of a new size, or one whose
 * pixels a downstream buffer still references, re-creates the surface, and
 * only a change of content makes a new rectangle. gst_video_blend () itself
 * (GStreamer 1.22) still mallocs two line buffers per call, which this
 * element cannot avoid when it blends.
 *
 * The bar rectangles are pixel aligned and opaque, so on RGB output their
 * length can be measured from the frame.
 *
 * A panel that would not fit the frame at the scale property (with its
 * margins) is drawn at the largest scale that fits, fonts and bars alike.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>
#include <gst/video/video-overlay-composition.h>

#include "udmlmeta.h"
#include "udmloverlay.h"

GST_DEBUG_CATEGORY_STATIC (gst_udml_overlay_debug);
#define GST_CAT_DEFAULT gst_udml_overlay_debug

#define DEFAULT_ENABLE TRUE
#define DEFAULT_POSITION GST_UDML_OVERLAY_POSITION_TOP_LEFT
#define DEFAULT_SCALE 1.0
#define DEFAULT_KEEP_LAST TRUE

#define MAX_MODALITIES 4
#define LABEL_LEN 64
#define NAME_LEN 16

/* Layout at scale 1, in pixels. */
#define MARGIN 8
#define PAD 6
#define TITLE_HEIGHT 22
#define TITLE_FONT 16
#define ROW_HEIGHT 20
#define NAME_WIDTH 46
#define NAME_FONT 12
#define VALUE_WIDTH 48
#define BAR_W GST_UDML_OVERLAY_BAR_WIDTH
#define BAR_H GST_UDML_OVERLAY_BAR_HEIGHT
#define PANEL_WIDTH (PAD + NAME_WIDTH + BAR_W + VALUE_WIDTH + PAD)

enum
{
  PROP_0,
  PROP_ENABLE,
  PROP_POSITION,
  PROP_SCALE,
  PROP_KEEP_LAST,
};

typedef struct
{
  gchar name[NAME_LEN];
  gboolean present;
  gdouble weight;
} OverlayModality;

/* What is drawn: copied out of the meta so no GstStructure is kept. */
typedef struct
{
  gboolean have;
  gboolean valid;
  gboolean unknown;             /* valid, below udmlfuse's min-confidence */
  gchar label[LABEL_LEN];
  gdouble confidence;
  gint n_mod;
  OverlayModality mod[MAX_MODALITIES];
} OverlayState;

struct _GstUdmlOverlay
{
  GstVideoFilter parent;

  /* properties, under the object lock */
  gboolean enable;
  GstUdmlOverlayPosition position;
  gdouble scale;
  gboolean keep_last;

  /* streaming thread only */
  OverlayState state;           /* what the current result shows */
  gboolean draw;                /* this buffer gets the panel */
  gint width, height;           /* negotiated frame size */
  cairo_font_face_t *title_face, *text_face;    /* made once in start () */
  gboolean in_comp;             /* this buffer carries a composition meta */

  /* How the panel reaches the picture (see the top of the file). out_feature:
   * the source caps carry the overlay feature; check_alloc: downstream's
   * ALLOCATION answer is still to be read for these caps; attach: it lists
   * the meta, so the panel is attached instead of blended. prefer_plain
   * (atomic, read by transform_caps in any thread): downstream took the
   * feature caps without the meta, so plain caps go first until it sends
   * RECONFIGURE. */
  gboolean out_feature;
  gboolean check_alloc;
  gboolean attach;
  gint prefer_plain;

  /* The cached panel: a cairo surface whose pixels the GstBuffer wraps, and
   * the composition blended into every frame. rendered_* say what it shows;
   * the composition is rebuilt only when one of them changes. */
  cairo_surface_t *surface;
  cairo_t *cr;
  GstBuffer *pixels;
  GstVideoOverlayComposition *comp;
  OverlayState rendered;
  gint rendered_width, rendered_height;
  GstUdmlOverlayPosition rendered_position;
  gdouble rendered_scale;
};

GType
gst_udml_overlay_position_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_OVERLAY_POSITION_TOP_LEFT, "Top left", "top-left"},
    {GST_UDML_OVERLAY_POSITION_TOP_RIGHT, "Top right", "top-right"},
    {GST_UDML_OVERLAY_POSITION_BOTTOM_LEFT, "Bottom left", "bottom-left"},
    {GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT, "Bottom right", "bottom-right"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type,
        g_enum_register_static ("GstUdmlOverlayPosition", values));
  return type;
}

#define gst_udml_overlay_parent_class parent_class
G_DEFINE_TYPE (GstUdmlOverlay, gst_udml_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (udmloverlay, "udmloverlay", GST_RANK_NONE,
    GST_TYPE_UDML_OVERLAY);

/* The 8-bit formats of GST_VIDEO_OVERLAY_COMPOSITION_BLEND_FORMATS (which
 * lists every format) that the test blends into and checks. System memory
 * only, since the blend path writes the pixels; with or without the overlay
 * composition feature. */
#define OVERLAY_FORMATS "{ I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY, " \
    "YVYU, AYUV, BGRx, BGRA, RGBx, RGBA, xRGB, ARGB, xBGR, ABGR, RGB, BGR }"
#define OVERLAY_FEATURES GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY ", " \
    GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION
#define OVERLAY_CAPS GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS) "; " \
    GST_VIDEO_CAPS_MAKE_WITH_FEATURES (OVERLAY_FEATURES, OVERLAY_FORMATS)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));

/* Bar colour per modality: audio orange, video blue, others green. */
static void
modality_colour (const gchar * name, gdouble rgb[3])
{
  if (g_strcmp0 (name, "audio") == 0) {
    rgb[0] = 1.0;
    rgb[1] = 0.6;
    rgb[2] = 0.0;
  } else if (g_strcmp0 (name, "video") == 0) {
    rgb[0] = 0.0;
    rgb[1] = 0.6;
    rgb[2] = 1.0;
  } else {
    rgb[0] = 0.2;
    rgb[1] = 0.8;
    rgb[2] = 0.2;
  }
}

/* Copies what the overlay draws out of a UdmlFusionMeta structure. */
static void
read_meta (const GstStructure * s, OverlayState * st)
{
  const GValue *mods;
  const gchar *label;
  gint i, n, label_id;

  memset (st, 0, sizeof (*st));
  st->have = TRUE;
  if (!gst_structure_get_boolean (s, "valid", &st->valid))
    st->valid = TRUE;
  label = gst_structure_get_string (s, "label");
  g_strlcpy (st->label, label ? label : "", sizeof (st->label));
  if (!gst_structure_get_double (s, "confidence", &st->confidence))
    st->confidence = 0.0;
  if (!label || !*label)
    st->valid = FALSE;
  /* label_id -1 on a valid window: no class is confident enough */
  if (st->valid && gst_structure_get_int (s, "label_id", &label_id)
      && label_id < 0)
    st->unknown = TRUE;

  mods = gst_structure_get_value (s, "modalities");
  if (!mods || !GST_VALUE_HOLDS_STRUCTURE (mods))
    return;
  n = gst_structure_n_fields (gst_value_get_structure (mods));
  for (i = 0; i < n && st->n_mod < MAX_MODALITIES; i++) {
    const gchar *name =
        gst_structure_nth_field_name (gst_value_get_structure (mods), i);
    OverlayModality *m = &st->mod[st->n_mod];
    gdouble noise, coverage;

    if (!udml_fusion_meta_get_modality (s, name, &m->present, &m->weight,
            &noise, &coverage))
      continue;
    g_strlcpy (m->name, name, sizeof (m->name));
    m->weight = CLAMP (m->weight, 0.0, 1.0);
    st->n_mod++;
  }
}

static gboolean
state_equal (const OverlayState * a, const OverlayState * b)
{
  gint i;

  if (a->have != b->have || a->valid != b->valid || a->unknown != b->unknown
      || a->confidence != b->confidence || a->n_mod != b->n_mod
      || strcmp (a->label, b->label) != 0)
    return FALSE;
  for (i = 0; i < a->n_mod; i++)
    if (a->mod[i].present != b->mod[i].present
        || a->mod[i].weight != b->mod[i].weight
        || strcmp (a->mod[i].name, b->mod[i].name) != 0)
      return FALSE;
  return TRUE;
}

/* The scale the panel is drawn at: the property's, lowered so that the
 * panel with its margins fits the frame (a 64x64 model-size frame gets a
 * small panel, not a clipped one). */
static gdouble
panel_fit_scale (const OverlayState * st, gint width, gint height,
    gdouble scale)
{
  gdouble full_w = 2 * MARGIN + PANEL_WIDTH;
  gdouble full_h = 2 * MARGIN + PAD + TITLE_HEIGHT +
      st->n_mod * ROW_HEIGHT + PAD;

  if (width > 0 && scale * full_w > width)
    scale = width / full_w;
  if (height > 0 && scale * full_h > height)
    scale = height / full_h;
  return scale;
}

/* Panel size and its top-left corner on a width x height frame, at a scale
 * from panel_fit_scale (). */
static void
panel_geometry (const OverlayState * st, gint width, gint height,
    GstUdmlOverlayPosition position, gdouble scale, gint * pw, gint * ph,
    gint * ox, gint * oy)
{
  gint margin = (gint) round (scale * MARGIN);

  *pw = (gint) round (scale * PANEL_WIDTH);
  *ph = (gint) round (scale * (PAD + TITLE_HEIGHT + st->n_mod * ROW_HEIGHT +
          PAD));
  *ox = (position == GST_UDML_OVERLAY_POSITION_TOP_RIGHT ||
      position == GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT) ?
      width - margin - *pw : margin;
  *oy = (position == GST_UDML_OVERLAY_POSITION_BOTTOM_LEFT ||
      position == GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT) ?
      height - margin - *ph : margin;
  /* Rounding can still add a pixel: never draw outside the frame. */
  *pw = MIN (*pw, MAX (width, 1));
  *ph = MIN (*ph, MAX (height, 1));
  *ox = CLAMP (*ox, 0, MAX (width - *pw, 0));
  *oy = CLAMP (*oy, 0, MAX (height - *ph, 0));
}

/* Draws the panel at the origin of a cleared pw x ph surface. */
static void
draw_panel (GstUdmlOverlay * self, cairo_t * cr, const OverlayState * st,
    gint pw, gint ph, gdouble scale)
{
  gchar text[LABEL_LEN + 32];
  gint i;

  cairo_save (cr);
  cairo_set_operator (cr, CAIRO_OPERATOR_CLEAR);
  cairo_paint (cr);
  cairo_restore (cr);

  /* Translucent panel so the video stays visible underneath. */
  cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, 0.55);
  cairo_rectangle (cr, 0, 0, pw, ph);
  cairo_fill (cr);

  cairo_set_font_face (cr, self->title_face);
  cairo_set_font_size (cr, scale * TITLE_FONT);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  if (st->unknown)
    g_strlcpy (text, "unknown", sizeof (text));
  else if (st->valid)
    g_snprintf (text, sizeof (text), "%s  %.0f%%", st->label,
        100.0 * st->confidence);
  else
    g_strlcpy (text, "no result", sizeof (text));
  cairo_move_to (cr, scale * PAD, scale * (PAD + TITLE_FONT));
  cairo_show_text (cr, text);

  cairo_set_font_face (cr, self->text_face);
  cairo_set_font_size (cr, scale * NAME_FONT);
  for (i = 0; i < st->n_mod; i++) {
    const OverlayModality *m = &st->mod[i];
    gdouble row = round (scale * (PAD + TITLE_HEIGHT + i * ROW_HEIGHT));
    gdouble bx = round (scale * (PAD + NAME_WIDTH));
    gdouble bw = round (scale * BAR_W);
    gdouble bh = round (scale * BAR_H);
    gdouble fill = round (scale * BAR_W * (m->present ? m->weight : 0.0));
    gdouble baseline = row + round (scale * (BAR_H - 2));
    gdouble rgb[3];

    cairo_set_source_rgb (cr, 0.85, 0.85, 0.85);
    cairo_move_to (cr, scale * PAD, baseline);
    cairo_show_text (cr, m->name);

    /* Track, then the opaque, pixel-aligned weight fill. */
    cairo_set_source_rgb (cr, 0.25, 0.25, 0.25);
    cairo_rectangle (cr, bx, row, bw, bh);
    cairo_fill (cr);
    if (fill > 0) {
      modality_colour (m->name, rgb);
      cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
      cairo_rectangle (cr, bx, row, fill, bh);
      cairo_fill (cr);
    }

    cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
    cairo_move_to (cr, bx + bw + round (scale * 4), baseline);
    if (m->present)
      g_snprintf (text, sizeof (text), "%.2f", m->weight);
    else
      g_strlcpy (text, "absent", sizeof (text));
    cairo_show_text (cr, text);
  }
}

static void
clear_panel (GstUdmlOverlay * self)
{
  g_clear_pointer (&self->comp, gst_video_overlay_composition_unref);
  gst_clear_buffer (&self->pixels);
  g_clear_pointer (&self->cr, cairo_destroy);
  g_clear_pointer (&self->surface, cairo_surface_destroy);
}

/* (Re)creates the pw x ph surface and the GstBuffer wrapping its pixels,
 * premultiplied ARGB in native word order, which is cairo's ARGB32 and
 * GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB alike. */
static gboolean
ensure_surface (GstUdmlOverlay * self, gint pw, gint ph)
{
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint stride[GST_VIDEO_MAX_PLANES] = { 0 };
  gsize size;

  /* An attached composition may still sit on a buffer downstream: its
   * pixels must not change under it, so they are reused only when nothing
   * else holds them. */
  if (self->surface && cairo_image_surface_get_width (self->surface) == pw
      && cairo_image_surface_get_height (self->surface) == ph
      && gst_buffer_is_writable (self->pixels))
    return TRUE;

  clear_panel (self);
  self->surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, pw, ph);
  if (cairo_surface_status (self->surface) != CAIRO_STATUS_SUCCESS)
    goto failed;
  self->cr = cairo_create (self->surface);
  if (cairo_status (self->cr) != CAIRO_STATUS_SUCCESS)
    goto failed;

  stride[0] = cairo_image_surface_get_stride (self->surface);
  size = (gsize) stride[0] * ph;
  /* The buffer holds a surface reference, so the pixels outlive any
   * rectangle still pointing at them. */
  self->pixels = gst_buffer_new_wrapped_full (0,
      cairo_image_surface_get_data (self->surface), size, 0, size,
      cairo_surface_reference (self->surface),
      (GDestroyNotify) cairo_surface_destroy);
  gst_buffer_add_video_meta_full (self->pixels, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, pw, ph, 1, offset, stride);
  return TRUE;

failed:
  GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
      ("could not make a %dx%d cairo surface for the panel: %s", pw, ph,
          cairo_status_to_string (self->cr ? cairo_status (self->cr) :
              cairo_surface_status (self->surface))));
  clear_panel (self);
  return FALSE;
}

/* Renders the panel and wraps it in a new composition. Runs only when the
 * result, frame size, position or scale differ from what is cached. */
static gboolean
render_panel (GstUdmlOverlay * self, GstUdmlOverlayPosition position,
    gdouble scale)
{
  GstVideoOverlayRectangle *rect;
  gdouble fit = panel_fit_scale (&self->state, self->width, self->height,
      scale);
  gint pw, ph, ox, oy;

  panel_geometry (&self->state, self->width, self->height, position, fit,
      &pw, &ph, &ox, &oy);
  /* Drop the old composition first: its rectangle may cache converted
   * copies of the pixels about to be overwritten. */
  g_clear_pointer (&self->comp, gst_video_overlay_composition_unref);
  if (!ensure_surface (self, pw, ph))
    return FALSE;

  draw_panel (self, self->cr, &self->state, pw, ph, fit);
  cairo_surface_flush (self->surface);
  if (cairo_status (self->cr) != CAIRO_STATUS_SUCCESS) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
        ("cairo drawing of the %dx%d panel failed: %s", pw, ph,
            cairo_status_to_string (cairo_status (self->cr))));
    return FALSE;
  }

  rect = gst_video_overlay_rectangle_new_raw (self->pixels, ox, oy, pw, ph,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  self->comp = gst_video_overlay_composition_new (rect);
  gst_video_overlay_rectangle_unref (rect);

  self->rendered = self->state;
  self->rendered_width = self->width;
  self->rendered_height = self->height;
  self->rendered_position = position;
  self->rendered_scale = scale;
  GST_DEBUG_OBJECT (self, "rendered a %dx%d panel at (%d,%d)", pw, ph, ox, oy);
  return TRUE;
}

/* Reads the meta before the base class decides between passthrough and an
 * in-place write (in submit_input_buffer ()), so frames without anything to
 * draw are never made writable. */
static void
gst_udml_overlay_before_transform (GstBaseTransform * trans, GstBuffer * buf)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);
  const GstStructure *s;
  gboolean enable, keep_last;

  GST_OBJECT_LOCK (self);
  enable = self->enable;
  keep_last = self->keep_last;
  GST_OBJECT_UNLOCK (self);

  s = gst_buffer_get_udml_fusion_meta (buf);
  if (s)
    read_meta (s, &self->state);
  else if (!keep_last)
    self->state.have = FALSE;

  self->draw = enable && self->state.have;
  self->in_comp = gst_buffer_get_video_overlay_composition_meta (buf) != NULL;
}

/* Reads downstream's ALLOCATION answer for the negotiated feature caps:
 * attach when it lists the composition meta. Otherwise renegotiate once
 * with the plain caps first; if downstream takes only the feature caps,
 * blend under them (a buffer without the meta is valid there). Runs in the
 * streaming thread after the caps went downstream, as basetransform's own
 * allocation query does. */
static void
decide_attach (GstUdmlOverlay * self)
{
  GstBaseTransform *trans = GST_BASE_TRANSFORM (self);
  GstQuery *query;
  GstCaps *caps;
  gboolean has_meta = FALSE;

  self->check_alloc = FALSE;
  self->attach = FALSE;
  if (!self->out_feature)
    return;

  caps = gst_pad_get_current_caps (trans->srcpad);
  if (!caps)
    return;
  query = gst_query_new_allocation (caps, FALSE);
  if (gst_pad_peer_query (trans->srcpad, query))
    has_meta = gst_query_find_allocation_meta (query,
        GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE, NULL);
  gst_query_unref (query);
  gst_caps_unref (caps);

  GST_DEBUG_OBJECT (self, "downstream %s the overlay composition meta",
      has_meta ? "renders" : "does not list");
  if (has_meta) {
    self->attach = TRUE;
  } else if (!g_atomic_int_get (&self->prefer_plain)) {
    g_atomic_int_set (&self->prefer_plain, TRUE);
    gst_base_transform_reconfigure_src (trans);
    /* Renegotiates now, before this buffer is handled; set_info () asks
     * for another check if the feature caps stay. */
    if (!gst_base_transform_reconfigure (trans))
      GST_DEBUG_OBJECT (self, "renegotiation failed, retried on the next "
          "buffer");
  }
}

static GstFlowReturn
gst_udml_overlay_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * input)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);
  GstFlowReturn ret;
  gint i;

  /* The parent renegotiates first if downstream asked for it. */
  ret = GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans,
      is_discont, input);
  if (ret != GST_FLOW_OK)
    return ret;
  /* A second round reads the answer to the renegotiated caps; more would
   * only follow RECONFIGURE events arriving meanwhile. */
  for (i = 0; i < 2 && self->check_alloc; i++)
    decide_attach (self);
  /* An upstream composition stays on the buffer when attaching; blending
   * it needs a writable frame even without a panel to draw. */
  gst_base_transform_set_passthrough (trans, !self->draw
      && !(self->in_comp && !self->attach));
  return GST_FLOW_OK;
}

/* Each structure with and without the overlay composition feature. Source
 * caps list the feature first unless downstream showed it does not render
 * the meta; sink caps keep the order downstream asked for. */
static GstCaps *
gst_udml_overlay_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);
  GstCaps *out = gst_caps_new_empty ();
  gboolean prefer_plain = g_atomic_int_get (&self->prefer_plain);
  guint i, n = gst_caps_get_size (caps);

  for (i = 0; i < n; i++) {
    const GstStructure *st = gst_caps_get_structure (caps, i);
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    GstCapsFeatures *with, *without;
    gboolean has, with_first;

    if (f && gst_caps_features_is_any (f)) {
      out = gst_caps_merge_structure_full (out, gst_structure_copy (st),
          gst_caps_features_copy (f));
      continue;
    }
    with = f ? gst_caps_features_copy (f) :
        gst_caps_features_new (GST_CAPS_FEATURE_MEMORY_SYSTEM_MEMORY, NULL);
    has = gst_caps_features_contains (with,
        GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
    without = gst_caps_features_copy (with);
    gst_caps_features_add (with,
        GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
    gst_caps_features_remove (without,
        GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);

    with_first = direction == GST_PAD_SINK ? !prefer_plain : has;
    if (with_first) {
      out = gst_caps_merge_structure_full (out, gst_structure_copy (st), with);
      out = gst_caps_merge_structure_full (out, gst_structure_copy (st),
          without);
    } else {
      out = gst_caps_merge_structure_full (out, gst_structure_copy (st),
          without);
      out = gst_caps_merge_structure_full (out, gst_structure_copy (st), with);
    }
  }

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, out,
        GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (out);
    out = tmp;
  }
  GST_LOG_OBJECT (self, "%s caps %" GST_PTR_FORMAT " -> %" GST_PTR_FORMAT,
      direction == GST_PAD_SINK ? "sink" : "src", caps, out);
  return out;
}

static gboolean
gst_udml_overlay_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);

  /* Downstream changed: offer it the feature caps first again. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_RECONFIGURE)
    g_atomic_int_set (&self->prefer_plain, FALSE);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
}

/* Adds the panel to the buffer's composition meta, or attaches the cached
 * composition as a new meta. The frame is not mapped. */
static void
attach_panel (GstUdmlOverlay * self, GstBuffer * buf)
{
  GstVideoOverlayCompositionMeta *meta =
      gst_buffer_get_video_overlay_composition_meta (buf);
  GstVideoOverlayComposition *comp;

  if (!meta) {
    gst_buffer_add_video_overlay_composition_meta (buf, self->comp);
    return;
  }
  /* The upstream composition may be shared: extend a copy, which shares
   * the pixel buffers of every rectangle. */
  comp = gst_video_overlay_composition_copy (meta->overlay);
  gst_video_overlay_composition_add_rectangle (comp,
      gst_video_overlay_composition_get_rectangle (self->comp, 0));
  gst_video_overlay_composition_unref (meta->overlay);
  meta->overlay = comp;
}

static gboolean
drop_composition_meta (GstBuffer * buf, GstMeta ** meta, gpointer user_data)
{
  if ((*meta)->info->api == GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE)
    *meta = NULL;
  return TRUE;
}

/* Makes sure the cached composition shows the current result. */
static gboolean
update_panel (GstUdmlOverlay * self)
{
  GstUdmlOverlayPosition position;
  gdouble scale;

  GST_OBJECT_LOCK (self);
  position = self->position;
  scale = self->scale;
  GST_OBJECT_UNLOCK (self);

  if (!self->comp || !state_equal (&self->state, &self->rendered)
      || self->width != self->rendered_width
      || self->height != self->rendered_height
      || position != self->rendered_position || scale != self->rendered_scale)
    return render_panel (self, position, scale);
  return TRUE;
}

static GstFlowReturn
gst_udml_overlay_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);
  GstFlowReturn ret;

  if (self->attach && !gst_base_transform_is_passthrough (trans)) {
    if (!update_panel (self))
      return GST_FLOW_ERROR;
    attach_panel (self, buf);
    return GST_FLOW_OK;
  }

  /* Blend: the frame is mapped and transform_frame_ip () draws. */
  ret = GST_BASE_TRANSFORM_CLASS (parent_class)->transform_ip (trans, buf);
  /* Upstream compositions are in the pixels now. */
  if (ret == GST_FLOW_OK && self->in_comp
      && !gst_base_transform_is_passthrough (trans))
    gst_buffer_foreach_meta (buf, drop_composition_meta, NULL);
  return ret;
}

static GstFlowReturn
gst_udml_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (filter);
  gpointer state = NULL;
  GstMeta *meta;

  /* In passthrough the frame is mapped read-only: leave it alone. */
  if (gst_base_transform_is_passthrough (GST_BASE_TRANSFORM (filter)))
    return GST_FLOW_OK;

  /* Upstream compositions go under the panel; transform_ip () drops their
   * metas once the frame is unmapped. */
  while (self->in_comp && (meta = gst_buffer_iterate_meta_filtered
          (frame->buffer, &state,
              GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE))) {
    GstVideoOverlayCompositionMeta *cmeta =
        (GstVideoOverlayCompositionMeta *) meta;

    if (!gst_video_overlay_composition_blend (cmeta->overlay, frame))
      goto blend_failed;
  }

  if (!self->draw)
    return GST_FLOW_OK;
  if (!update_panel (self))
    return GST_FLOW_ERROR;
  if (!gst_video_overlay_composition_blend (self->comp, frame))
    goto blend_failed;
  return GST_FLOW_OK;

blend_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
      ("could not blend an overlay composition into a %dx%d %s frame",
          GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
          gst_video_format_to_string (GST_VIDEO_FRAME_FORMAT (frame))));
  return GST_FLOW_ERROR;
}

static gboolean
gst_udml_overlay_set_info (GstVideoFilter * filter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (filter);
  GstCapsFeatures *f = gst_caps_get_features (outcaps, 0);

  self->width = GST_VIDEO_INFO_WIDTH (in_info);
  self->height = GST_VIDEO_INFO_HEIGHT (in_info);
  /* The caps reach downstream after this returns: the ALLOCATION query
   * waits for the next buffer (submit_input_buffer). */
  self->out_feature = f && gst_caps_features_contains (f,
      GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION);
  self->check_alloc = self->out_feature;
  self->attach = FALSE;
  return TRUE;
}

static gboolean
gst_udml_overlay_start (GstBaseTransform * trans)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);

  memset (&self->state, 0, sizeof (self->state));
  self->draw = FALSE;
  self->in_comp = FALSE;
  self->out_feature = self->check_alloc = self->attach = FALSE;
  g_atomic_int_set (&self->prefer_plain, FALSE);
  /* Font lookup once per stream, not per frame. */
  if (!self->title_face)
    self->title_face = cairo_toy_font_face_create ("Sans",
        CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  if (!self->text_face)
    self->text_face = cairo_toy_font_face_create ("Sans",
        CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  return TRUE;
}

static gboolean
gst_udml_overlay_stop (GstBaseTransform * trans)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);

  clear_panel (self);
  g_clear_pointer (&self->title_face, cairo_font_face_destroy);
  g_clear_pointer (&self->text_face, cairo_font_face_destroy);
  return TRUE;
}

static void
gst_udml_overlay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENABLE:
      self->enable = g_value_get_boolean (value);
      break;
    case PROP_POSITION:
      self->position = g_value_get_enum (value);
      break;
    case PROP_SCALE:
      self->scale = g_value_get_double (value);
      break;
    case PROP_KEEP_LAST:
      self->keep_last = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_udml_overlay_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENABLE:
      g_value_set_boolean (value, self->enable);
      break;
    case PROP_POSITION:
      g_value_set_enum (value, self->position);
      break;
    case PROP_SCALE:
      g_value_set_double (value, self->scale);
      break;
    case PROP_KEEP_LAST:
      g_value_set_boolean (value, self->keep_last);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_udml_overlay_class_init (GstUdmlOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *vfilter_class = GST_VIDEO_FILTER_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_udml_overlay_debug, "udmloverlay", 0,
      "UDML fusion overlay");

  gobject_class->set_property = gst_udml_overlay_set_property;
  gobject_class->get_property = gst_udml_overlay_get_property;

  g_object_class_install_property (gobject_class, PROP_ENABLE,
      g_param_spec_boolean ("enable", "Enable", "Draw the overlay",
          DEFAULT_ENABLE, flags));
  g_object_class_install_property (gobject_class, PROP_POSITION,
      g_param_spec_enum ("position", "Position", "Corner of the panel",
          GST_TYPE_UDML_OVERLAY_POSITION, DEFAULT_POSITION, flags));
  g_object_class_install_property (gobject_class, PROP_SCALE,
      g_param_spec_double ("scale", "Scale",
          "Size of the panel relative to its default (206 pixels wide)", 0.25,
          10.0, DEFAULT_SCALE, flags));
  g_object_class_install_property (gobject_class, PROP_KEEP_LAST,
      g_param_spec_boolean ("keep-last", "Keep last",
          "Draw the last seen result on buffers that carry no meta",
          DEFAULT_KEEP_LAST, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "UDML overlay",
      "Filter/Effect/Video",
      "Draws the UDML label, confidence and per-modality weight bars. "
      "When downstream renders GstVideoOverlayCompositionMeta (it accepts "
      "the caps feature meta:GstVideoOverlayComposition and lists the meta "
      "in its allocation answer), the panel is attached to each buffer as "
      "that meta and the pixels are left untouched; otherwise it is "
      "blended into the frame, together with any composition that came "
      "from upstream.", "udml");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_udml_overlay_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_udml_overlay_stop);
  trans_class->before_transform =
      GST_DEBUG_FUNCPTR (gst_udml_overlay_before_transform);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_udml_overlay_submit_input_buffer);
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_udml_overlay_transform_caps);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_udml_overlay_src_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_udml_overlay_transform_ip);
  vfilter_class->set_info = GST_DEBUG_FUNCPTR (gst_udml_overlay_set_info);
  vfilter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_udml_overlay_transform_frame_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_UDML_OVERLAY_POSITION, 0);
}

static void
gst_udml_overlay_init (GstUdmlOverlay * self)
{
  self->enable = DEFAULT_ENABLE;
  self->position = DEFAULT_POSITION;
  self->scale = DEFAULT_SCALE;
  self->keep_last = DEFAULT_KEEP_LAST;
}
