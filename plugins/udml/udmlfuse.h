/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfuse.h — udmlfuse: audio-video fusion with UDML weights
 * (design.md "The element"; the output fields are in docs/element.md). */
#ifndef __GST_UDML_FUSE_H__
#define __GST_UDML_FUSE_H__

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>

G_BEGIN_DECLS

/* Which terms enter the weights at inference (maps to UdmlInferMode). */
typedef enum
{
  GST_UDML_FUSE_POLICY_UDML = 0,        /* the model's own policy */
  GST_UDML_FUSE_POLICY_NO_DEPENDENCY,
  GST_UDML_FUSE_POLICY_NO_UNCERTAINTY,
  GST_UDML_FUSE_POLICY_STATIC,
} GstUdmlFusePolicy;

typedef enum
{
  GST_UDML_FUSE_ATTACH_LATEST = 0,      /* never hold buffers */
  GST_UDML_FUSE_ATTACH_WINDOW,  /* hold buffers until their window is done */
} GstUdmlFuseAttachMode;

#define GST_TYPE_UDML_FUSE_POLICY (gst_udml_fuse_policy_get_type ())
GType gst_udml_fuse_policy_get_type (void);
#define GST_TYPE_UDML_FUSE_ATTACH_MODE (gst_udml_fuse_attach_mode_get_type ())
GType gst_udml_fuse_attach_mode_get_type (void);

#define GST_TYPE_UDML_FUSE_PAD (gst_udml_fuse_pad_get_type ())
G_DECLARE_FINAL_TYPE (GstUdmlFusePad, gst_udml_fuse_pad, GST, UDML_FUSE_PAD,
    GstAggregatorPad)

#define GST_TYPE_UDML_FUSE (gst_udml_fuse_get_type ())
G_DECLARE_FINAL_TYPE (GstUdmlFuse, gst_udml_fuse, GST, UDML_FUSE,
    GstAggregator)

GST_ELEMENT_REGISTER_DECLARE (udmlfuse);

/* Test hook, not API: object data under this key, a
 * GstUdmlFuseForwardHook * set before READY->PAUSED, is called on the
 * streaming thread right before each forward pass, with no lock of the
 * element held. */
#define GST_UDML_FUSE_FORWARD_HOOK "udmlfuse-forward-hook"
typedef struct
{
  void (*func) (GstElement * element, gpointer user_data);
  gpointer user_data;
} GstUdmlFuseForwardHook;

G_END_DECLS

#endif /* __GST_UDML_FUSE_H__ */
