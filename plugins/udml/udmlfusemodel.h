/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusemodel.h — udmlfuse's model: the 'model' property, loading, the
 * check that the window fits the model, warm-up, hot swap and rollback.
 *
 * A session is one loaded model with its inference workspace. It never
 * changes after creation and is reference counted: the streaming thread
 * holds a reference for the length of a forward pass, so a hot swap from
 * another thread never frees a model in use and never waits for a forward
 * pass to end. */
#ifndef __GST_UDML_FUSE_MODEL_H__
#define __GST_UDML_FUSE_MODEL_H__

#include <gst/gst.h>
#include "media.h"
#include "udml.h"
#include "udmlfuse.h"
#include "udmlrecord.h"

G_BEGIN_DECLS

typedef struct _GstUdmlFuseSession GstUdmlFuseSession;     /* private */

/* The element's model slot. */
typedef struct
{
  GMutex lock;                  /* short sections only: never held across a
                                 * load or a forward pass */
  gchar *location;              /* the 'model' property */
  gchar *active;                /* the model in use, or loaded at start */
  GstUdmlFuseSession *session;  /* NULL while stopped */
  guint generation;             /* counts settings of the property */
} GstUdmlFuseModel;

void gst_udml_fuse_model_init (GstUdmlFuseModel * fm, const gchar * location);
void gst_udml_fuse_model_clear (GstUdmlFuseModel * fm);

/* (transfer full) the 'model' property */
gchar *gst_udml_fuse_model_dup_location (GstUdmlFuseModel * fm);

/* Sets the 'model' property. While running, loads it and swaps it in
 * between two windows if it reads the same inputs; on any failure
 * (including no path) the running model stays, the property names it
 * again and is notified, and a warning plus a 'udmlfuse-model' message are
 * posted. Call with no lock held. */
void gst_udml_fuse_model_set_location (GstUdmlFuseModel * fm,
    GstElement * element, const gchar * location);

/* Loads the 'model' property, applies the window overrides (0 = the
 * model's) to spec, checks the window gives the model's audio input size,
 * prepares and warms up inference and posts the 'loaded' message. Posts an
 * element error and returns FALSE on failure. *warm_up: the time the
 * warm-up forward pass took. */
gboolean gst_udml_fuse_model_start (GstUdmlFuseModel * fm,
    GstElement * element, GstClockTime window_duration,
    GstClockTime window_hop, UdmlFeatureSpec * spec,
    GstClockTime * warm_up);
void gst_udml_fuse_model_stop (GstUdmlFuseModel * fm);

/* Whether a model is loaded (between start and stop). */
gboolean gst_udml_fuse_model_is_running (GstUdmlFuseModel * fm);

/* Which UdmlModalityKind inputs the running model reads. */
void gst_udml_fuse_model_inputs (GstUdmlFuseModel * fm, gboolean in_model[2]);

/* The running model's sample rate, 0 while stopped. */
gint gst_udml_fuse_model_sample_rate (GstUdmlFuseModel * fm);

/* Infers one window with the model in use: fills rec's model part
 * (classes, modality names, coverage, weights). use: per
 * UdmlModalityKind, whether that input takes part; with none the window is
 * recorded as not valid without a forward pass. The forward pass runs on a
 * reference to the model and under no lock, so property access, caps
 * queries and a model swap go ahead meanwhile; hook (nullable) runs right
 * before it. *elapsed: its duration, 0 without one. Returns its status
 * (rec is then not valid). Streaming thread only. */
UdmlStatus gst_udml_fuse_model_infer (GstUdmlFuseModel * fm,
    GstElement * element, const GstUdmlFuseForwardHook * hook,
    const UdmlMediaWindow * win, const gboolean use[2],
    GstUdmlFusePolicy policy, GstUdmlRecord * rec, GstClockTime * elapsed,
    UdmlError * err);

/* The running model's clean-noise calibration of modality m (model
 * order): the 99th percentile of sigma-hat on clean validation windows,
 * the default alert threshold. 0 = unknown (no model, or a model file
 * without one). */
gdouble gst_udml_fuse_model_noise_calibration (GstUdmlFuseModel * fm,
    gint m);

/* Routes the core library's log lines to udmlfuse's debug category. */
void gst_udml_fuse_model_route_log (void);

G_END_DECLS

#endif /* __GST_UDML_FUSE_MODEL_H__ */
