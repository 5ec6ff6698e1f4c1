/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlnoise.h — in-place degradation of raw audio or video by the core's
 * kinds and levels (method.md "Degradation kinds"), with on/off bursts in
 * stream time and a seed. */
#ifndef __GST_UDML_NOISE_H__
#define __GST_UDML_NOISE_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

typedef enum
{
  GST_UDML_NOISE_KIND_GAUSSIAN = 0,
  GST_UDML_NOISE_KIND_SALT,
  GST_UDML_NOISE_KIND_DARK,
  GST_UDML_NOISE_KIND_BLUR,
  GST_UDML_NOISE_KIND_MOTION,
  GST_UDML_NOISE_KIND_OCCLUSION,
  GST_UDML_NOISE_KIND_BLOCKY,
  GST_UDML_NOISE_KIND_FREEZE,
  GST_UDML_NOISE_KIND_BABBLE,
  GST_UDML_NOISE_KIND_CLIP,
  GST_UDML_NOISE_KIND_DROPOUT,
  GST_UDML_NOISE_KIND_MUFFLE,
  GST_UDML_NOISE_KIND_HUM,
} GstUdmlNoiseKind;

#define GST_TYPE_UDML_NOISE_KIND (gst_udml_noise_kind_get_type ())
GType gst_udml_noise_kind_get_type (void);

#define GST_TYPE_UDML_NOISE (gst_udml_noise_get_type ())
G_DECLARE_FINAL_TYPE (GstUdmlNoise, gst_udml_noise, GST, UDML_NOISE,
    GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (udmlnoise);

G_END_DECLS

#endif /* __GST_UDML_NOISE_H__ */
