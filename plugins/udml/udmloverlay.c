/* udmloverlay.c — placeholder being filled in. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "udmloverlay.h"

GST_DEBUG_CATEGORY_STATIC (gst_udml_overlay_debug);
#define GST_CAT_DEFAULT gst_udml_overlay_debug

struct _GstUdmlOverlay
{
  GstVideoFilter parent;
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

#define OVERLAY_CAPS GST_VIDEO_CAPS_MAKE ("{ BGRx, BGRA }")
static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (OVERLAY_CAPS));

static GstFlowReturn
gst_udml_overlay_transform_frame_ip (GstVideoFilter * filter,
    GstVideoFrame * frame)
{
  return GST_FLOW_OK;
}

static void
gst_udml_overlay_class_init (GstUdmlOverlayClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstVideoFilterClass *vfilter_class = GST_VIDEO_FILTER_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_udml_overlay_debug, "udmloverlay", 0,
      "UDML fusion overlay");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "UDML overlay",
      "Filter/Effect/Video", "Draws the UDML fusion result onto video",
      "udml");
  vfilter_class->transform_frame_ip = gst_udml_overlay_transform_frame_ip;
}

static void
gst_udml_overlay_init (GstUdmlOverlay * self)
{
}
