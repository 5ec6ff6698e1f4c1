/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusestream.h — udmlfuse's src task: buffers into the windower on the
 * grid time line, each finished window inferred and published, the held
 * primary buffers sent out. Also the element's instance struct, shared by
 * udmlfuse.c and udmlfusestream.c. Private to the plugin. */
#ifndef __GST_UDML_FUSE_STREAM_H__
#define __GST_UDML_FUSE_STREAM_H__

#include <gst/gst.h>
#include <gst/base/gstaggregator.h>
#include "media.h"
#include "udmlfuse.h"
#include "udmlfusemodel.h"
#include "udmlfusepad.h"
#include "udmlpublish.h"

G_BEGIN_DECLS

struct _GstUdmlFuse
{
  GstAggregator parent;

  /* the 'model' property and the model in use, its own lock */
  GstUdmlFuseModel model;

  /* properties and latency figures; guarded by lock, which is only held
   * for short sections, never across a forward pass */
  GMutex lock;
  GstUdmlFusePolicy policy;
  GstClockTime window_duration, window_hop;     /* 0 = the model's */
  GstUdmlFuseAttachMode attach_mode;
  gboolean post_messages, attach_meta;
  gchar *json_location;
  gint num_threads;
  guint alert_windows;
  gdouble alert_noise, min_confidence;
  gchar *source;                /* NULL = the element's name */

  /* request pads, object lock */
  GstUdmlFusePad *pads[2];      /* indexed by UdmlModalityKind */

  /* streaming state, created in start() and used by the src task */
  UdmlFeatureSpec spec;         /* model features with window overrides */
  gboolean in_model[2];         /* modality kinds the model has */
  UdmlWindower *windower;
  GstUdmlFuseConvert conv;
  gboolean started;             /* window grid placed at the first data */
  gint64 grid_offset;           /* grid time - running time: the grid is
                                 * stream time as of the first data */
  gint64 next_index;
  GstUdmlPublisher pub;
  GstSegment primary_segment;
  GstClockTime frame_duration;
  GstClockTime proc_estimate, reported_proc, reported_latency;
  const GstUdmlFuseForwardHook *forward_hook;
  gint out_kind;                /* modality of the src caps, -1 = none */
  gint primary_kind;            /* modality of the held buffers, -1 = none */
  const gchar *source_name;     /* interned, set in start() */
  gboolean warned_threshold;    /* the fallback alert threshold was said */
};

/* In udmlfuse.c. */

/* (transfer full) the request pad of kind, or NULL. */
GstUdmlFusePad *gst_udml_fuse_get_pad (GstUdmlFuse * self,
    UdmlModalityKind kind);

/* Whether pad is the one whose buffers go out: the video pad, else the
 * audio pad. */
gboolean gst_udml_fuse_is_primary (GstUdmlFuse * self, GstUdmlFusePad * pad);

/* Reports the latency. Never call it with a lock held. */
void gst_udml_fuse_update_latency (GstUdmlFuse * self);

/* How many buffers of frame duration attach-mode=window holds (0 in the
 * other mode). */
guint gst_udml_fuse_frames_held (GstUdmlFuse * self, GstClockTime frame);

/* In udmlfusestream.c: the GstAggregator vfuncs of the src task. */

GstClockTime gst_udml_fuse_get_next_time (GstAggregator * agg);
GstFlowReturn gst_udml_fuse_aggregate (GstAggregator * agg, gboolean timeout);

G_END_DECLS

#endif /* __GST_UDML_FUSE_STREAM_H__ */
