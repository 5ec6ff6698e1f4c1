/* udmlfusemodel.h — udmlfuse's model: the 'model' property, loading, the
 * check that the window fits the model, warm-up, hot swap and rollback.
 *
 * A GstUdmlFuseSession is one loaded model with its inference workspace.
 * It never changes after creation and is reference counted: the streaming
 * thread holds a reference for the length of a forward pass, so a hot swap
 * from another thread never frees a model in use and never waits for a
 * forward pass to end. */
#ifndef __GST_UDML_FUSE_MODEL_H__
#define __GST_UDML_FUSE_MODEL_H__

#include <gst/gst.h>
#include "media.h"
#include "udml.h"
#include "udmlrecord.h"

G_BEGIN_DECLS

typedef struct _GstUdmlFuseSession GstUdmlFuseSession;

/* The element's model slot. */
typedef struct
{
  GMutex lock;                  /* short sections only: never held across a
                                 * load or a forward pass */
  gchar *location;              /* the 'model' property */
  gchar *active;                /* the model in use, or loaded at start */
  GstUdmlFuseSession *session;  /* NULL while stopped */
} GstUdmlFuseModel;

void gst_udml_fuse_model_init (GstUdmlFuseModel * fm, const gchar * location);
void gst_udml_fuse_model_clear (GstUdmlFuseModel * fm);

/* (transfer full) the 'model' property */
gchar *gst_udml_fuse_model_dup_location (GstUdmlFuseModel * fm);

/* Sets the 'model' property. While running, loads it and swaps it in
 * between two windows if it reads the same inputs; on any failure the
 * running model stays, the property names it again, and a warning plus a
 * 'udmlfuse-model' message are posted. Call with no lock held. */
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

/* (transfer full) (nullable) the session in use; NULL while stopped */
GstUdmlFuseSession *gst_udml_fuse_model_get_session (GstUdmlFuseModel * fm);

/* The running model's sample rate, 0 while stopped. */
gint gst_udml_fuse_model_sample_rate (GstUdmlFuseModel * fm);

GstUdmlFuseSession *gst_udml_fuse_session_ref (GstUdmlFuseSession * s);
void gst_udml_fuse_session_unref (GstUdmlFuseSession * s);

/* (transfer none) valid while the reference is held */
const UdmlConfig *gst_udml_fuse_session_config (GstUdmlFuseSession * s);

/* The forward pass of one window: fills rec's model part (classes,
 * modality names, coverage, weights). present: per model modality; with
 * none present the window is recorded as not valid without a forward pass.
 * Returns the forward pass's status; on failure rec is not valid either.
 * One thread at a time per session (the streaming thread). */
UdmlStatus gst_udml_fuse_session_infer (GstUdmlFuseSession * s,
    const UdmlMediaWindow * win, const uint8_t * present,
    UdmlInferMode mode, GstUdmlRecord * rec, UdmlError * err);

G_END_DECLS

#endif /* __GST_UDML_FUSE_MODEL_H__ */
