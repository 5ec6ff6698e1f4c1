/* udmloverlay.c — draws the fusion result that udmlfuse attaches to video
 * buffers (UdmlFusionMeta): the label with its confidence and, per
 * modality, a bar as long as its final weight share with the value beside
 * it. Buffers without a meta show the last one seen (keep-last).
 *
 * Drawing uses cairo on the mapped frame, so the formats are those cairo
 * reads natively: CAIRO_FORMAT_RGB24 / ARGB32, which are BGRx / BGRA in
 * memory on little-endian machines (xRGB / ARGB on big-endian). Put
 * videoconvert on both sides. The bar rectangles are pixel aligned and
 * opaque, so their length can be measured from the output.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cairo.h>

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
  OverlayState state;
  cairo_font_face_t *title_face, *text_face;    /* made once in start () */
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

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define OVERLAY_FORMATS "{ BGRx, BGRA }"
#define FORMAT_RGB24 GST_VIDEO_FORMAT_BGRx
#else
#define OVERLAY_FORMATS "{ xRGB, ARGB }"
#define FORMAT_RGB24 GST_VIDEO_FORMAT_xRGB
#endif
#define OVERLAY_CAPS GST_VIDEO_CAPS_MAKE (OVERLAY_FORMATS)

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
  gint i, n;

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

static void
draw_state (GstUdmlOverlay * self, cairo_t * cr, const OverlayState * st,
    gint width, gint height, GstUdmlOverlayPosition position, gdouble scale)
{
  gdouble pw = round (scale * PANEL_WIDTH);
  gdouble ph = round (scale * (PAD + TITLE_HEIGHT + st->n_mod * ROW_HEIGHT +
          PAD));
  gdouble margin = round (scale * MARGIN);
  gdouble ox, oy;
  gchar text[LABEL_LEN + 32];
  gint i;

  ox = (position == GST_UDML_OVERLAY_POSITION_TOP_RIGHT ||
      position == GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT) ?
      width - margin - pw : margin;
  oy = (position == GST_UDML_OVERLAY_POSITION_BOTTOM_LEFT ||
      position == GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT) ?
      height - margin - ph : margin;
  /* A panel larger than the frame is clipped on the far side only. */
  ox = MAX (ox, 0);
  oy = MAX (oy, 0);

  /* Translucent panel so the video stays visible underneath. */
  cairo_set_source_rgba (cr, 0.0, 0.0, 0.0, 0.55);
  cairo_rectangle (cr, ox, oy, pw, ph);
  cairo_fill (cr);

  cairo_set_font_face (cr, self->title_face);
  cairo_set_font_size (cr, scale * TITLE_FONT);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  if (st->valid)
    g_snprintf (text, sizeof (text), "%s  %.0f%%", st->label,
        100.0 * st->confidence);
  else
    g_strlcpy (text, "no result", sizeof (text));
  cairo_move_to (cr, ox + scale * PAD, oy + scale * (PAD + TITLE_FONT));
  cairo_show_text (cr, text);

  cairo_set_font_face (cr, self->text_face);
  cairo_set_font_size (cr, scale * NAME_FONT);
  for (i = 0; i < st->n_mod; i++) {
    const OverlayModality *m = &st->mod[i];
    gdouble row = oy + round (scale * (PAD + TITLE_HEIGHT + i * ROW_HEIGHT));
    gdouble bx = ox + round (scale * (PAD + NAME_WIDTH));
    gdouble bw = round (scale * BAR_W);
    gdouble bh = round (scale * BAR_H);
    gdouble fill = round (scale * BAR_W * (m->present ? m->weight : 0.0));
    gdouble baseline = row + round (scale * (BAR_H - 2));
    gdouble rgb[3];

    cairo_set_source_rgb (cr, 0.85, 0.85, 0.85);
    cairo_move_to (cr, ox + scale * PAD, baseline);
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

static GstFlowReturn
gst_udml_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (filter);
  const GstStructure *s;
  gboolean enable, keep_last;
  GstUdmlOverlayPosition position;
  gdouble scale;
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_format_t format;
  GstFlowReturn ret = GST_FLOW_OK;

  GST_OBJECT_LOCK (self);
  enable = self->enable;
  position = self->position;
  scale = self->scale;
  keep_last = self->keep_last;
  GST_OBJECT_UNLOCK (self);

  s = gst_buffer_get_udml_fusion_meta (frame->buffer);
  if (s)
    read_meta (s, &self->state);
  else if (!keep_last)
    self->state.have = FALSE;

  if (!enable || !self->state.have)
    return GST_FLOW_OK;

  format = GST_VIDEO_FRAME_FORMAT (frame) == FORMAT_RGB24 ?
      CAIRO_FORMAT_RGB24 : CAIRO_FORMAT_ARGB32;
  surface = cairo_image_surface_create_for_data (GST_VIDEO_FRAME_PLANE_DATA
      (frame, 0), format, GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0));
  cr = cairo_create (surface);
  draw_state (self, cr, &self->state, GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), position, scale);
  cairo_surface_flush (surface);
  if (cairo_status (cr) != CAIRO_STATUS_SUCCESS) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
        ("cairo drawing failed on a %dx%d frame: %s",
            GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
            cairo_status_to_string (cairo_status (cr))));
    ret = GST_FLOW_ERROR;
  }
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return ret;
}

static gboolean
gst_udml_overlay_start (GstBaseTransform * trans)
{
  GstUdmlOverlay *self = GST_UDML_OVERLAY (trans);

  memset (&self->state, 0, sizeof (self->state));
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
      "Draws the UDML label, confidence and per-modality weight bars", "udml");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_udml_overlay_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_udml_overlay_stop);
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
