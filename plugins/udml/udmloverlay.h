/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmloverlay.h — draws the UdmlFusionMeta of each buffer (label,
 * confidence, one weight bar per modality) on raw video: a cairo-rendered
 * panel cached as a GstVideoOverlayComposition, attached as meta when
 * downstream renders it and blended into the frame otherwise. */
#ifndef __GST_UDML_OVERLAY_H__
#define __GST_UDML_OVERLAY_H__

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

typedef enum
{
  GST_UDML_OVERLAY_POSITION_TOP_LEFT = 0,
  GST_UDML_OVERLAY_POSITION_TOP_RIGHT,
  GST_UDML_OVERLAY_POSITION_BOTTOM_LEFT,
  GST_UDML_OVERLAY_POSITION_BOTTOM_RIGHT,
} GstUdmlOverlayPosition;

/* Layout in pixels at scale 1 (multiplied by the scale property): each
 * weight bar is a track of BAR_WIDTH x BAR_HEIGHT whose filled part is
 * round (scale * BAR_WIDTH * weight) long, where scale is the property,
 * lowered on frames too small for the panel. */
#define GST_UDML_OVERLAY_BAR_WIDTH 100
#define GST_UDML_OVERLAY_BAR_HEIGHT 12

#define GST_TYPE_UDML_OVERLAY_POSITION (gst_udml_overlay_position_get_type ())
GType gst_udml_overlay_position_get_type (void);

#define GST_TYPE_UDML_OVERLAY (gst_udml_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstUdmlOverlay, gst_udml_overlay, GST, UDML_OVERLAY,
    GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (udmloverlay);

G_END_DECLS

#endif /* __GST_UDML_OVERLAY_H__ */
