/* udmlnoise.h — in-place Gaussian / salt-and-pepper noise on raw audio or
 * video, with on/off bursts in stream time and a seed (method.md §3). */
#ifndef __GST_UDML_NOISE_H__
#define __GST_UDML_NOISE_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

typedef enum
{
  GST_UDML_NOISE_KIND_GAUSSIAN = 0,
  GST_UDML_NOISE_KIND_SALT = 1,
} GstUdmlNoiseKind;

#define GST_TYPE_UDML_NOISE_KIND (gst_udml_noise_kind_get_type ())
GType gst_udml_noise_kind_get_type (void);

#define GST_TYPE_UDML_NOISE (gst_udml_noise_get_type ())
G_DECLARE_FINAL_TYPE (GstUdmlNoise, gst_udml_noise, GST, UDML_NOISE,
    GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (udmlnoise);

G_END_DECLS

#endif /* __GST_UDML_NOISE_H__ */
