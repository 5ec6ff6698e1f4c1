/* udmlnoise.c — placeholder being filled in. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "udmlnoise.h"

GST_DEBUG_CATEGORY_STATIC (gst_udml_noise_debug);
#define GST_CAT_DEFAULT gst_udml_noise_debug

struct _GstUdmlNoise
{
  GstBaseTransform parent;
};

GType
gst_udml_noise_kind_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_NOISE_KIND_GAUSSIAN, "Additive Gaussian", "gaussian"},
    {GST_UDML_NOISE_KIND_SALT, "Salt and pepper", "salt"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstUdmlNoiseKind",
            values));
  return type;
}

#define gst_udml_noise_parent_class parent_class
G_DEFINE_TYPE (GstUdmlNoise, gst_udml_noise, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (udmlnoise, "udmlnoise", GST_RANK_NONE,
    GST_TYPE_UDML_NOISE);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

static void
gst_udml_noise_class_init (GstUdmlNoiseClass * klass)
{
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_udml_noise_debug, "udmlnoise", 0,
      "UDML noise injector");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "UDML noise",
      "Filter/Effect/Audio/Video", "Adds Gaussian or salt-and-pepper noise",
      "udml");
}

static void
gst_udml_noise_init (GstUdmlNoise * self)
{
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}
