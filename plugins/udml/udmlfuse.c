/* udmlfuse.c — fuses audio and video windows with a UDML model: the
 * aggregator's timing, its pads and caps.
 *
 * A GstAggregator with request pads video_%u and audio_%u. Every input
 * buffer is converted to model format (lib/media UdmlScaler/UdmlResampler)
 * and placed by running time into the shared UdmlWindower, the same window
 * and feature path the training tools use. Each finished window is
 * inferred by the model session (udmlfusemodel.c) and its record is
 * published (udmlpublish.c) as UdmlFusionMeta on the passed-through
 * primary buffers, as an element message and as JSON Lines
 * (docs/element.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gst/audio/audio.h>
#include <gst/base/gstqueuearray.h>
#include <gst/video/video.h>

#include "media.h"
#include "udml.h"
#include "udmlfuse.h"
#include "udmlfusemodel.h"
#include "udmlmeta.h"
#include "udmlpublish.h"

GST_DEBUG_CATEGORY (gst_udml_fuse_debug);
#define GST_CAT_DEFAULT gst_udml_fuse_debug

#ifndef UDML_DEFAULT_MODEL
#define UDML_DEFAULT_MODEL "avdigits.udml"
#endif

#define DEFAULT_POLICY GST_UDML_FUSE_POLICY_UDML
#define DEFAULT_WINDOW_DURATION 0
#define DEFAULT_WINDOW_HOP 0
#define DEFAULT_ATTACH_MODE GST_UDML_FUSE_ATTACH_LATEST
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_ATTACH_META TRUE
#define DEFAULT_JSON_LOCATION NULL
#define DEFAULT_NUM_THREADS 1
#define DEFAULT_PAD_MIN_COVERAGE 0.5
#define DEFAULT_PAD_ENABLED TRUE

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_POLICY,
  PROP_WINDOW_DURATION,
  PROP_WINDOW_HOP,
  PROP_ATTACH_MODE,
  PROP_POST_MESSAGES,
  PROP_ATTACH_META,
  PROP_JSON_LOCATION,
  PROP_NUM_THREADS,
};

enum
{
  PROP_PAD_0,
  PROP_PAD_MIN_COVERAGE,
  PROP_PAD_ENABLED,
};

#define VIDEO_FORMATS "{ GRAY8, RGB, BGR, RGBx, BGRx, I420, NV12 }"
#define AUDIO_CAPS_STR "audio/x-raw, format = (string) { S16LE, F32LE }, " \
    "layout = (string) interleaved, rate = (int) [ 1, MAX ], " \
    "channels = (int) [ 1, MAX ]"

static GstStaticPadTemplate video_sink_template =
GST_STATIC_PAD_TEMPLATE ("video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate audio_sink_template =
GST_STATIC_PAD_TEMPLATE ("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS (AUDIO_CAPS_STR));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS) "; " AUDIO_CAPS_STR));

/* ------------------------------------------------------------------ pad */

struct _GstUdmlFusePad
{
  GstAggregatorPad parent;

  /* properties, object lock */
  gdouble min_coverage;
  gboolean enabled;

  /* streaming state, src task only */
  UdmlModalityKind kind;
  GstCaps *caps;
  gboolean have_caps;
  GstVideoInfo vinfo;
  GstAudioInfo ainfo;
  gint format;                  /* UdmlMediaPixelFormat or
                                 * UdmlMediaSampleFormat, -1 = none */
  GstClockTime pos;             /* running time reached by popped data */
};

G_DEFINE_TYPE (GstUdmlFusePad, gst_udml_fuse_pad, GST_TYPE_AGGREGATOR_PAD);

static void
gst_udml_fuse_pad_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstUdmlFusePad *pad = GST_UDML_FUSE_PAD (object);

  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PROP_PAD_MIN_COVERAGE:
      pad->min_coverage = g_value_get_double (value);
      break;
    case PROP_PAD_ENABLED:
      pad->enabled = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (pad);
}

static void
gst_udml_fuse_pad_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstUdmlFusePad *pad = GST_UDML_FUSE_PAD (object);

  GST_OBJECT_LOCK (pad);
  switch (prop_id) {
    case PROP_PAD_MIN_COVERAGE:
      g_value_set_double (value, pad->min_coverage);
      break;
    case PROP_PAD_ENABLED:
      g_value_set_boolean (value, pad->enabled);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (pad);
}

static void
gst_udml_fuse_pad_finalize (GObject * object)
{
  GstUdmlFusePad *pad = GST_UDML_FUSE_PAD (object);

  gst_caps_replace (&pad->caps, NULL);
  G_OBJECT_CLASS (gst_udml_fuse_pad_parent_class)->finalize (object);
}

static void
gst_udml_fuse_pad_class_init (GstUdmlFusePadClass * klass)
{
  GObjectClass *gobject_class = (GObjectClass *) klass;

  gobject_class->set_property = gst_udml_fuse_pad_set_property;
  gobject_class->get_property = gst_udml_fuse_pad_get_property;
  gobject_class->finalize = gst_udml_fuse_pad_finalize;

  g_object_class_install_property (gobject_class, PROP_PAD_MIN_COVERAGE,
      g_param_spec_double ("min-coverage", "Minimum coverage",
          "Fraction of a window this input must cover with real data to take "
          "part in the fusion; below it the modality is absent "
          "(present=false, weight 0)", 0.0, 1.0, DEFAULT_PAD_MIN_COVERAGE,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_PAD_ENABLED,
      g_param_spec_boolean ("enabled", "Enabled",
          "Use this input in the fusion; FALSE excludes the modality "
          "(present=false) but still passes its buffers through if primary",
          DEFAULT_PAD_ENABLED,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
}

static void
gst_udml_fuse_pad_init (GstUdmlFusePad * pad)
{
  pad->min_coverage = DEFAULT_PAD_MIN_COVERAGE;
  pad->enabled = DEFAULT_PAD_ENABLED;
  pad->format = -1;
  pad->pos = GST_CLOCK_TIME_NONE;
}

/* -------------------------------------------------------------- element */

typedef struct
{
  GstBuffer *buf;
  GstClockTime rt;              /* running time of the buffer start */
} HeldBuffer;

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

  /* request pads, object lock */
  GstUdmlFusePad *pads[2];      /* indexed by UdmlModalityKind */

  /* streaming state, created in start() and used by the src task */
  UdmlFeatureSpec spec;         /* model features with window overrides */
  gboolean in_model[2];         /* modality kinds the model has */
  UdmlWindower *windower;
  UdmlScaler *scaler;
  UdmlResampler *resampler;
  gfloat *frame;                /* C x H x W scratch */
  gfloat *pcm;                  /* resampler output scratch */
  gint pcm_cap;
  gboolean started;             /* window grid placed at the first data */
  gint64 next_index;
  GstQueueArray *held;          /* HeldBuffer: primary buffers not yet out */
  GstUdmlPublisher pub;
  GstSegment primary_segment;
  GstClockTime frame_duration;
  GstClockTime proc_estimate, reported_proc, reported_latency;
  const GstUdmlFuseForwardHook *forward_hook;
};

#define gst_udml_fuse_parent_class parent_class
G_DEFINE_TYPE (GstUdmlFuse, gst_udml_fuse, GST_TYPE_AGGREGATOR);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (udmlfuse, "udmlfuse", GST_RANK_NONE,
    GST_TYPE_UDML_FUSE, udml_fusion_meta_get_info ());

GType
gst_udml_fuse_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_FUSE_POLICY_UDML, "The model's own weighting (full UDML)",
        "udml"},
    {GST_UDML_FUSE_POLICY_NO_DEPENDENCY,
        "Uncertainty only: all dependencies equal", "no-dependency"},
    {GST_UDML_FUSE_POLICY_NO_UNCERTAINTY,
        "Dependency only: no uncertainty term", "no-uncertainty"},
    {GST_UDML_FUSE_POLICY_STATIC, "Static: equal weights", "static"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstUdmlFusePolicy", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_udml_fuse_attach_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_FUSE_ATTACH_LATEST,
          "Never hold buffers; attach the newest finished window (low latency)",
        "latest"},
    {GST_UDML_FUSE_ATTACH_WINDOW,
        "Hold buffers until their window is inferred; attach that window "
          "(exact, adds the window duration to the latency)", "window"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstUdmlFuseAttachMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static UdmlInferMode
policy_to_mode (GstUdmlFusePolicy p)
{
  switch (p) {
    case GST_UDML_FUSE_POLICY_NO_DEPENDENCY:
      return UDML_INFER_NO_DEPENDENCY;
    case GST_UDML_FUSE_POLICY_NO_UNCERTAINTY:
      return UDML_INFER_NO_UNCERTAINTY;
    case GST_UDML_FUSE_POLICY_STATIC:
      return UDML_INFER_STATIC;
    case GST_UDML_FUSE_POLICY_UDML:
    default:
      return UDML_INFER_AS_TRAINED;
  }
}

/* Routes core log lines to this element's debug category. */
static void
udml_log_to_gst (UdmlLogLevel level, const char *msg, void *user)
{
  switch (level) {
    case UDML_LOG_ERROR:
      GST_ERROR ("%s", msg);
      break;
    case UDML_LOG_WARNING:
      GST_WARNING ("%s", msg);
      break;
    case UDML_LOG_INFO:
      GST_INFO ("%s", msg);
      break;
    default:
      GST_DEBUG ("%s", msg);
      break;
  }
}

/* ----------------------------------------------------------- helpers */

static GstUdmlFusePad *
get_pad (GstUdmlFuse * self, UdmlModalityKind kind)
{
  GstUdmlFusePad *pad;

  GST_OBJECT_LOCK (self);
  pad = self->pads[kind] ? gst_object_ref (self->pads[kind]) : NULL;
  GST_OBJECT_UNLOCK (self);
  return pad;
}

/* The pad whose buffers go out: the video pad, else the audio pad. */
static gboolean
is_primary (GstUdmlFuse * self, GstUdmlFusePad * pad)
{
  gboolean ret;

  GST_OBJECT_LOCK (self);
  if (self->pads[UDML_MODALITY_VIDEO])
    ret = (pad == self->pads[UDML_MODALITY_VIDEO]);
  else
    ret = (pad == self->pads[UDML_MODALITY_AUDIO]);
  GST_OBJECT_UNLOCK (self);
  return ret;
}

static GstClockTime
pad_running_time (GstAggregatorPad * pad, GstClockTime ts)
{
  GstClockTime rt;

  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  rt = gst_segment_to_running_time (&pad->segment, GST_FORMAT_TIME, ts);
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

static GstClockTime
clock_running_time (GstUdmlFuse * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  GstClockTime now, base;

  if (clock == NULL)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  gst_object_unref (clock);
  return now > base ? now - base : 0;
}

static gboolean
is_live (GstUdmlFuse * self)
{
  return GST_CLOCK_TIME_IS_VALID (gst_aggregator_get_latency (GST_AGGREGATOR
          (self)));
}

/* Reports window + processing latency (window) or one frame (latest).
 * Never called with a lock held: it posts a LATENCY message. */
static void
update_latency (GstUdmlFuse * self)
{
  GstClockTime l;
  gboolean changed;

  /* under lock: a primary caps event (sink thread) and the src task both
   * land here */
  g_mutex_lock (&self->lock);
  if (self->attach_mode == GST_UDML_FUSE_ATTACH_WINDOW)
    /* 5 % headroom: the processing time varies from window to window */
    l = self->spec.window_ns + self->frame_duration +
        self->proc_estimate + self->proc_estimate / 20;
  else
    l = self->frame_duration;
  self->reported_proc = self->proc_estimate;
  changed = l != self->reported_latency;
  self->reported_latency = l;
  g_mutex_unlock (&self->lock);
  if (!changed)
    return;
  GST_DEBUG_OBJECT (self, "latency %" GST_TIME_FORMAT, GST_TIME_ARGS (l));
  gst_aggregator_set_latency (GST_AGGREGATOR (self), l, l);
}

static void
free_streaming_state (GstUdmlFuse * self)
{
  udml_media_windower_free (self->windower);
  self->windower = NULL;
  udml_media_scaler_free (self->scaler);
  self->scaler = NULL;
  udml_media_resampler_free (self->resampler);
  self->resampler = NULL;
  g_free (self->frame);
  self->frame = NULL;
  g_free (self->pcm);
  self->pcm = NULL;
  self->pcm_cap = 0;
  gst_udml_publisher_close (&self->pub);
}

static void
clear_held (GstUdmlFuse * self)
{
  while (!gst_queue_array_is_empty (self->held)) {
    HeldBuffer *h = gst_queue_array_pop_head_struct (self->held);
    gst_buffer_unref (h->buf);
  }
  gst_udml_publisher_reset (&self->pub);
}

static void
reset_windows (GstUdmlFuse * self)
{
  gint k;

  GST_OBJECT_LOCK (self);
  for (k = 0; k < 2; k++)
    if (self->pads[k])
      self->pads[k]->pos = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  clear_held (self);
  self->started = FALSE;
  self->next_index = 0;
  gst_segment_init (&self->primary_segment, GST_FORMAT_TIME);
}

/* ---------------------------------------------------------- start/stop */

static gboolean
gst_udml_fuse_start (GstAggregator * agg)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  UdmlError err = { 0 };
  GstUdmlFuseSession *session;
  const UdmlConfig *cfg;
  gchar *json_location;
  GstClockTime dur, hop, warm_up = 0;
  gint threads;

  g_mutex_lock (&self->lock);
  json_location = g_strdup (self->json_location);
  dur = self->window_duration;
  hop = self->window_hop;
  threads = self->num_threads;
  g_mutex_unlock (&self->lock);
  self->forward_hook = g_object_get_data (G_OBJECT (self),
      GST_UDML_FUSE_FORWARD_HOOK);

  udml_set_num_threads (threads > 0 ? threads : 1);
  if (!gst_udml_fuse_model_start (&self->model, GST_ELEMENT_CAST (self), dur,
          hop, &self->spec, &warm_up))
    goto fail;
  session = gst_udml_fuse_model_get_session (&self->model);
  cfg = gst_udml_fuse_session_config (session);
  self->in_model[UDML_MODALITY_AUDIO] =
      udml_config_find (cfg, UDML_MODALITY_AUDIO) >= 0;
  self->in_model[UDML_MODALITY_VIDEO] =
      udml_config_find (cfg, UDML_MODALITY_VIDEO) >= 0;
  gst_udml_fuse_session_unref (session);

  self->windower = udml_media_windower_new (&self->spec, &err);
  if (self->windower)
    self->scaler = udml_media_scaler_new (&self->spec, &err);
  if (self->scaler)
    self->resampler = udml_media_resampler_new (&self->spec, &err);
  if (self->resampler == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not prepare the conversion to the model's inputs: %s",
            err.msg), ("%s", udml_status_name (err.code)));
    goto fail;
  }
  self->frame = g_new0 (gfloat, (gsize) self->spec.frame_channels *
      self->spec.frame_width * self->spec.frame_height);
  if (!gst_udml_publisher_open (&self->pub, GST_ELEMENT_CAST (self),
          json_location))
    goto fail;

  g_mutex_lock (&self->lock);
  self->proc_estimate = warm_up;
  self->frame_duration = self->spec.fps_num > 0 ?
      gst_util_uint64_scale_int (GST_SECOND, self->spec.fps_den,
      self->spec.fps_num) : 100 * GST_MSECOND;
  self->reported_latency = GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&self->lock);
  reset_windows (self);
  udml_media_windower_reset (self->windower, 0);
  update_latency (self);
  g_free (json_location);
  return TRUE;

fail:
  gst_udml_fuse_model_stop (&self->model);
  free_streaming_state (self);
  g_free (json_location);
  return FALSE;
}

static gboolean
gst_udml_fuse_stop (GstAggregator * agg)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);

  clear_held (self);
  gst_udml_fuse_model_stop (&self->model);
  free_streaming_state (self);
  return TRUE;
}

static GstFlowReturn
gst_udml_fuse_flush (GstAggregator * agg)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);

  GST_DEBUG_OBJECT (self, "flush: windows restart at the next data");
  reset_windows (self);
  if (self->windower)
    udml_media_windower_reset (self->windower, 0);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ properties */

static void
gst_udml_fuse_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstUdmlFuse *self = GST_UDML_FUSE (object);
  GstUdmlFuseSession *session;

  if (prop_id == PROP_MODEL) {
    /* a running element reloads, outside any lock */
    gst_udml_fuse_model_set_location (&self->model, GST_ELEMENT_CAST (self),
        g_value_get_string (value));
    return;
  }
  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_POLICY:
      self->policy = g_value_get_enum (value);
      break;
    case PROP_WINDOW_DURATION:
      self->window_duration = g_value_get_uint64 (value);
      break;
    case PROP_WINDOW_HOP:
      self->window_hop = g_value_get_uint64 (value);
      break;
    case PROP_ATTACH_MODE:
      self->attach_mode = g_value_get_enum (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_ATTACH_META:
      self->attach_meta = g_value_get_boolean (value);
      break;
    case PROP_JSON_LOCATION:
      g_free (self->json_location);
      self->json_location = g_value_dup_string (value);
      break;
    case PROP_NUM_THREADS:
      self->num_threads = g_value_get_int (value);
      session = gst_udml_fuse_model_get_session (&self->model);
      if (session)
        udml_set_num_threads (self->num_threads);
      gst_udml_fuse_session_unref (session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_udml_fuse_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstUdmlFuse *self = GST_UDML_FUSE (object);

  if (prop_id == PROP_MODEL) {
    g_value_take_string (value,
        gst_udml_fuse_model_dup_location (&self->model));
    return;
  }
  g_mutex_lock (&self->lock);
  switch (prop_id) {
    case PROP_POLICY:
      g_value_set_enum (value, self->policy);
      break;
    case PROP_WINDOW_DURATION:
      g_value_set_uint64 (value, self->window_duration);
      break;
    case PROP_WINDOW_HOP:
      g_value_set_uint64 (value, self->window_hop);
      break;
    case PROP_ATTACH_MODE:
      g_value_set_enum (value, self->attach_mode);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_ATTACH_META:
      g_value_set_boolean (value, self->attach_meta);
      break;
    case PROP_JSON_LOCATION:
      g_value_set_string (value, self->json_location);
      break;
    case PROP_NUM_THREADS:
      g_value_set_int (value, self->num_threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

/* ------------------------------------------------------------------ pads */

static GstAggregatorPad *
gst_udml_fuse_create_new_pad (GstAggregator * agg, GstPadTemplate * templ,
    const gchar * req_name, const GstCaps * caps)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pad;
  UdmlModalityKind kind;
  const gchar *tname = GST_PAD_TEMPLATE_NAME_TEMPLATE (templ);
  gchar *name, *existing;

  if (g_str_has_prefix (tname, "video_"))
    kind = UDML_MODALITY_VIDEO;
  else if (g_str_has_prefix (tname, "audio_"))
    kind = UDML_MODALITY_AUDIO;
  else
    return NULL;

  name = req_name ? g_strdup (req_name) :
      g_strdup (kind == UDML_MODALITY_VIDEO ? "video_0" : "audio_0");
  pad = g_object_new (GST_TYPE_UDML_FUSE_PAD, "name", name, "direction",
      GST_PAD_SINK, "template", templ, NULL);
  g_free (name);
  pad->kind = kind;

  /* check and claim the slot in one critical section: two requests at once
   * must not both get it */
  GST_OBJECT_LOCK (self);
  existing = self->pads[kind] ? g_strdup (GST_PAD_NAME (self->pads[kind])) :
      NULL;
  if (existing == NULL)
    self->pads[kind] = pad;
  GST_OBJECT_UNLOCK (self);

  if (existing != NULL) {
    gst_object_unref (gst_object_ref_sink (pad));
    GST_ELEMENT_WARNING (self, CORE, PAD,
        ("udmlfuse takes one %s input.", tname),
        ("pad %s already exists", existing));
    g_free (existing);
    return NULL;
  }
  return GST_AGGREGATOR_PAD (pad);
}

static void
gst_udml_fuse_release_pad (GstElement * element, GstPad * pad)
{
  GstUdmlFuse *self = GST_UDML_FUSE (element);
  gint k;

  GST_OBJECT_LOCK (self);
  for (k = 0; k < 2; k++)
    if (self->pads[k] == (GstUdmlFusePad *) pad)
      self->pads[k] = NULL;
  GST_OBJECT_UNLOCK (self);
  GST_ELEMENT_CLASS (parent_class)->release_pad (element, pad);
}

static gint
video_format (GstVideoFormat f)
{
  switch (f) {
    case GST_VIDEO_FORMAT_GRAY8:
      return UDML_MEDIA_PIXEL_GRAY8;
    case GST_VIDEO_FORMAT_RGB:
      return UDML_MEDIA_PIXEL_RGB24;
    case GST_VIDEO_FORMAT_BGR:
      return UDML_MEDIA_PIXEL_BGR24;
    case GST_VIDEO_FORMAT_RGBx:
      return UDML_MEDIA_PIXEL_RGBX;
    case GST_VIDEO_FORMAT_BGRx:
      return UDML_MEDIA_PIXEL_BGRX;
    case GST_VIDEO_FORMAT_I420:
      return UDML_MEDIA_PIXEL_I420;
    case GST_VIDEO_FORMAT_NV12:
      return UDML_MEDIA_PIXEL_NV12;
    default:
      return -1;
  }
}

static gboolean
set_pad_caps (GstUdmlFuse * self, GstUdmlFusePad * pad, GstCaps * caps)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
  gboolean subset = gst_caps_is_subset (caps, templ);
  gchar *want = gst_caps_to_string (templ);

  gst_caps_unref (templ);
  if (!subset)
    goto unsupported;

  if (pad->kind == UDML_MODALITY_VIDEO) {
    GstVideoInfo info;

    if (!gst_video_info_from_caps (&info, caps))
      goto unsupported;
    pad->format = video_format (GST_VIDEO_INFO_FORMAT (&info));
    if (pad->format < 0)
      goto unsupported;
    pad->vinfo = info;
    if (info.fps_n > 0 && info.fps_d > 0 && is_primary (self, pad)) {
      g_mutex_lock (&self->lock);
      self->frame_duration = gst_util_uint64_scale_int (GST_SECOND,
          info.fps_d, info.fps_n);
      g_mutex_unlock (&self->lock);
    }
  } else {
    GstAudioInfo info;

    if (!gst_audio_info_from_caps (&info, caps)) {
      /* no channel-mask for > 2 channels: positions do not matter, the
       * input is downmixed */
      GstStructure *st = gst_caps_get_structure (caps, 0);
      const gchar *fmt = gst_structure_get_string (st, "format");
      gint rate = 0, channels = 0;

      if (fmt == NULL || !gst_structure_get_int (st, "rate", &rate)
          || !gst_structure_get_int (st, "channels", &channels)
          || rate <= 0 || channels <= 0 || channels > 64)
        goto unsupported;
      gst_audio_info_set_format (&info, gst_audio_format_from_string (fmt),
          rate, channels, NULL);
    }
    if (info.layout != GST_AUDIO_LAYOUT_INTERLEAVED)
      goto unsupported;
    if (GST_AUDIO_INFO_FORMAT (&info) == GST_AUDIO_FORMAT_S16LE)
      pad->format = UDML_MEDIA_SAMPLE_S16;
    else if (GST_AUDIO_INFO_FORMAT (&info) == GST_AUDIO_FORMAT_F32LE)
      pad->format = UDML_MEDIA_SAMPLE_F32;
    else
      goto unsupported;
    pad->ainfo = info;
  }
  gst_caps_replace (&pad->caps, caps);
  pad->have_caps = TRUE;
  g_free (want);
  return TRUE;

unsupported:
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
      ("Unsupported caps on pad %s.", GST_PAD_NAME (pad)),
      ("got %" GST_PTR_FORMAT "; supported: %s", caps, want));
  g_free (want);
  return FALSE;
}

static gboolean
gst_udml_fuse_sink_event (GstAggregator * agg, GstAggregatorPad * aggpad,
    GstEvent * event)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pad = GST_UDML_FUSE_PAD (aggpad);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      if (!set_pad_caps (self, pad, caps)) {
        gst_event_unref (event);
        return FALSE;
      }
      if (is_primary (self, pad)) {
        gst_pad_mark_reconfigure (agg->srcpad);
        update_latency (self);
      }
      /* the src caps come from update_src_caps, never forwarded */
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;

      gst_event_parse_segment (event, &seg);
      if (seg->format != GST_FORMAT_TIME) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT,
            ("Only TIME segments are supported."),
            ("pad %s got a %s segment", GST_PAD_NAME (pad),
                gst_format_get_name (seg->format)));
        gst_event_unref (event);
        return FALSE;
      }
      if (is_primary (self, pad)) {
        /* output buffers keep their timestamps: mirror the segment */
        self->primary_segment = *seg;
        gst_aggregator_update_segment (agg, seg);
      }
      break;
    }
    default:
      break;
  }
  return GST_AGGREGATOR_CLASS (parent_class)->sink_event (agg, aggpad, event);
}

static gboolean
gst_udml_fuse_sink_query (GstAggregator * agg, GstAggregatorPad * aggpad,
    GstQuery * query)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pad = GST_UDML_FUSE_PAD (aggpad);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *templ, *result;

    gst_query_parse_caps (query, &filter);
    templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
    if (pad->kind == UDML_MODALITY_AUDIO) {
      gint rate = gst_udml_fuse_model_sample_rate (&self->model);

      if (rate > 0) {
        /* prefer the model's rate, mono: converters upstream adapt */
        GstCaps *pref = gst_caps_new_simple ("audio/x-raw",
            "format", G_TYPE_STRING, "F32LE",
            "layout", G_TYPE_STRING, "interleaved",
            "rate", G_TYPE_INT, rate, "channels", G_TYPE_INT, 1, NULL);
        result = gst_caps_merge (pref, gst_caps_ref (templ));
      } else {
        result = gst_caps_ref (templ);
      }
      if (is_primary (self, pad)) {
        /* no video pad: the audio is passed through, downstream must
         * take it too */
        GstCaps *peer = gst_pad_peer_query_caps (agg->srcpad, NULL);
        GstCaps *tmp = gst_caps_intersect_full (result, peer,
            GST_CAPS_INTERSECT_FIRST);

        gst_caps_unref (peer);
        gst_caps_unref (result);
        result = tmp;
      }
    } else if (is_primary (self, pad)) {
      /* passed through unchanged: downstream must take it too */
      GstCaps *peer = gst_pad_peer_query_caps (agg->srcpad, NULL);
      result = gst_caps_intersect_full (templ, peer, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (peer);
    } else {
      result = gst_caps_ref (templ);
    }
    gst_caps_unref (templ);
    if (filter) {
      GstCaps *tmp = gst_caps_intersect_full (filter, result,
          GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (result);
      result = tmp;
    }
    gst_query_set_caps_result (query, result);
    gst_caps_unref (result);
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps *caps, *templ;
    gboolean ok;

    gst_query_parse_accept_caps (query, &caps);
    templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
    ok = gst_caps_is_subset (caps, templ);
    if (!ok)
      GST_WARNING_OBJECT (pad, "refusing caps %" GST_PTR_FORMAT
          "; supported: %" GST_PTR_FORMAT, caps, templ);
    gst_caps_unref (templ);
    gst_query_set_accept_caps_result (query, ok);
    return TRUE;
  }
  return GST_AGGREGATOR_CLASS (parent_class)->sink_query (agg, aggpad, query);
}

static gboolean
gst_udml_fuse_propose_allocation (GstAggregator * agg,
    GstAggregatorPad * pad, GstQuery * decide_query, GstQuery * query)
{
  if (GST_UDML_FUSE_PAD (pad)->kind == UDML_MODALITY_VIDEO)
    gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  return TRUE;
}

static GstFlowReturn
gst_udml_fuse_update_src_caps (GstAggregator * agg, GstCaps * downstream,
    GstCaps ** ret)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pad = get_pad (self, UDML_MODALITY_VIDEO);

  if (pad == NULL)
    pad = get_pad (self, UDML_MODALITY_AUDIO);
  if (pad == NULL || pad->caps == NULL) {
    if (pad)
      gst_object_unref (pad);
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  }
  *ret = gst_caps_ref (pad->caps);
  gst_object_unref (pad);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ streaming */

/* Running time by which the next window or the oldest queued buffer is
 * due; the base class times out at this + latency in live mode, so a
 * starved input never stalls the others. */
static GstClockTime
gst_udml_fuse_get_next_time (GstAggregator * agg)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstClockTime next = GST_CLOCK_TIME_NONE;
  gint k;

  if (self->windower == NULL)
    return GST_CLOCK_TIME_NONE;
  if (self->started) {
    gint64 start = self->next_index * (gint64) self->spec.hop_ns;
    gint64 pos = 0;

    for (k = 0; k < 2; k++)
      if (self->in_model[k])
        pos = MAX (pos, udml_media_windower_position (self->windower, k));
    if (pos > start)
      next = start + self->spec.window_ns;
  }
  for (k = 0; k < 2; k++) {
    GstUdmlFusePad *pad = get_pad (self, k);
    GstBuffer *head;

    if (pad == NULL)
      continue;
    head = gst_aggregator_pad_peek_buffer (GST_AGGREGATOR_PAD (pad));
    if (head) {
      GstClockTime rt = pad_running_time (GST_AGGREGATOR_PAD (pad),
          GST_BUFFER_PTS (head));
      if (GST_CLOCK_TIME_IS_VALID (rt) && (!GST_CLOCK_TIME_IS_VALID (next)
              || rt < next))
        next = rt;
      gst_buffer_unref (head);
    }
    gst_object_unref (pad);
  }
  return next;
}

static gboolean
feed_video (GstUdmlFuse * self, GstUdmlFusePad * pad, GstBuffer * buf,
    GstClockTime rt, GstClockTime dur)
{
  GstVideoFrame vf;
  const uint8_t *planes[4] = { NULL };
  int strides[4] = { 0 };
  UdmlError err = { 0 };
  UdmlStatus st;
  guint i;

  if (!gst_video_frame_map (&vf, &pad->vinfo, buf, GST_MAP_READ)) {
    GST_WARNING_OBJECT (pad, "could not map video buffer %" GST_PTR_FORMAT,
        buf);
    return FALSE;
  }
  for (i = 0; i < GST_VIDEO_FRAME_N_PLANES (&vf) && i < 4; i++) {
    planes[i] = GST_VIDEO_FRAME_PLANE_DATA (&vf, i);
    strides[i] = GST_VIDEO_FRAME_PLANE_STRIDE (&vf, i);
  }
  st = udml_media_scale (self->scaler, pad->format,
      GST_VIDEO_FRAME_WIDTH (&vf), GST_VIDEO_FRAME_HEIGHT (&vf), planes,
      strides, self->frame, &err);
  gst_video_frame_unmap (&vf);
  if (st != UDML_OK) {
    GST_WARNING_OBJECT (pad, "frame conversion failed: %s", err.msg);
    return FALSE;
  }
  udml_media_windower_push_video (self->windower, rt,
      GST_CLOCK_TIME_IS_VALID (dur) ? (gint64) dur : -1, self->frame);
  return TRUE;
}

static gboolean
feed_audio (GstUdmlFuse * self, GstUdmlFusePad * pad, GstBuffer * buf,
    GstClockTime rt)
{
  GstMapInfo map;
  const uint8_t *in[1];
  gint n_in, bound, n_out = 0, bpf = GST_AUDIO_INFO_BPF (&pad->ainfo);
  gint rate = GST_AUDIO_INFO_RATE (&pad->ainfo);
  UdmlError err = { 0 };
  UdmlStatus st;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_WARNING_OBJECT (pad, "could not map audio buffer %" GST_PTR_FORMAT,
        buf);
    return FALSE;
  }
  n_in = bpf > 0 ? (gint) (map.size / bpf) : 0;
  bound = udml_media_resample_bound (self->resampler, rate, n_in);
  if (bound > self->pcm_cap) {
    /* grows to the largest buffer seen, then stays */
    g_free (self->pcm);
    self->pcm_cap = bound;
    self->pcm = g_new (gfloat, self->pcm_cap);
  }
  in[0] = map.data;
  st = udml_media_resample (self->resampler, pad->format, rate,
      GST_AUDIO_INFO_CHANNELS (&pad->ainfo), in, n_in, self->pcm,
      self->pcm_cap, &n_out, &err);
  gst_buffer_unmap (buf, &map);
  if (st != UDML_OK) {
    GST_WARNING_OBJECT (pad, "audio conversion failed: %s", err.msg);
    return FALSE;
  }
  if (n_out > 0)
    udml_media_windower_push_audio (self->windower, rt, self->pcm, n_out);
  return TRUE;
}

/* Pops the head buffer of a pad into the windower; the primary pad's
 * buffers are kept for output. */
static GstFlowReturn
pop_one (GstUdmlFuse * self, GstUdmlFusePad * pad)
{
  GstAggregatorPad *aggpad = GST_AGGREGATOR_PAD (pad);
  GstBuffer *buf = gst_aggregator_pad_pop_buffer (aggpad);
  GstClockTime pts, dur, rt, rt_end = GST_CLOCK_TIME_NONE;
  gboolean gap, enabled, primary;

  if (buf == NULL)
    return GST_FLOW_OK;
  pts = GST_BUFFER_PTS (buf);
  dur = GST_BUFFER_DURATION (buf);
  gap = GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (buf) == 0;

  if (!pad->have_caps && !gap) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Data on pad %s before caps (not negotiated).", GST_PAD_NAME (pad)),
        ("buffer %" GST_PTR_FORMAT, buf));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!GST_CLOCK_TIME_IS_VALID (dur) && !gap) {
    if (pad->kind == UDML_MODALITY_AUDIO && pad->ainfo.bpf > 0)
      dur = gst_util_uint64_scale_int (gst_buffer_get_size (buf) /
          pad->ainfo.bpf, GST_SECOND, pad->ainfo.rate);
    else if (pad->kind == UDML_MODALITY_VIDEO && pad->vinfo.fps_n > 0)
      dur = gst_util_uint64_scale_int (GST_SECOND, pad->vinfo.fps_d,
          pad->vinfo.fps_n);
  }
  rt = pad_running_time (aggpad, pts);
  if (!GST_CLOCK_TIME_IS_VALID (rt)) {
    GST_LOG_OBJECT (pad, "dropping buffer outside the segment");
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  if (GST_CLOCK_TIME_IS_VALID (dur))
    rt_end = pad_running_time (aggpad, pts + dur);
  pad->pos = GST_CLOCK_TIME_IS_VALID (rt_end) ? rt_end : rt;

  /* the window grid starts at the window holding the first data */
  if (!self->started) {
    udml_media_windower_reset (self->windower, rt);
    self->next_index = rt / self->spec.hop_ns;
    self->started = TRUE;
  }

  if (gap) {
    udml_media_windower_gap (self->windower, pad->kind, rt,
        GST_CLOCK_TIME_IS_VALID (rt_end) ? (gint64) (rt_end - rt) : 0);
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }

  GST_OBJECT_LOCK (pad);
  enabled = pad->enabled;
  GST_OBJECT_UNLOCK (pad);
  if (enabled && self->in_model[pad->kind]) {
    if (pad->kind == UDML_MODALITY_VIDEO)
      feed_video (self, pad, buf, rt, GST_CLOCK_TIME_IS_VALID (rt_end) ?
          rt_end - rt : GST_CLOCK_TIME_NONE);
    else
      feed_audio (self, pad, buf, rt);
  }

  primary = is_primary (self, pad);
  if (primary) {
    HeldBuffer h = { buf, rt };
    gst_queue_array_push_tail_struct (self->held, &h);
  } else {
    gst_buffer_unref (buf);
  }
  return GST_FLOW_OK;
}

/* Takes buffers in running-time order, each only once every other input
 * that is not at EOS is known to have reached its time (by a queued buffer
 * or by the data already taken), so no input runs ahead and the base class
 * always finds an empty pad to refill. A live timeout takes everything. */
static GstFlowReturn
drain_pads (GstUdmlFuse * self, GstUdmlFusePad * pads[2], gboolean timeout)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK) {
    GstClockTime best_rt = GST_CLOCK_TIME_NONE, limit = GST_CLOCK_TIME_NONE;
    gboolean blocked = FALSE;
    gint k, best = -1;

    for (k = 0; k < 2; k++) {
      GstBuffer *head;
      GstClockTime rt;

      if (pads[k] == NULL)
        continue;
      head = gst_aggregator_pad_peek_buffer (GST_AGGREGATOR_PAD (pads[k]));
      if (head == NULL) {
        if (timeout || gst_aggregator_pad_is_eos (GST_AGGREGATOR_PAD (pads[k])))
          continue;
        if (!GST_CLOCK_TIME_IS_VALID (pads[k]->pos))
          blocked = TRUE;
        else if (!GST_CLOCK_TIME_IS_VALID (limit) || pads[k]->pos < limit)
          limit = pads[k]->pos;
        continue;
      }
      rt = pad_running_time (GST_AGGREGATOR_PAD (pads[k]),
          GST_BUFFER_PTS (head));
      gst_buffer_unref (head);
      if (!GST_CLOCK_TIME_IS_VALID (rt))
        rt = 0;                 /* dropped at once by pop_one */
      if (best < 0 || rt < best_rt) {
        best = k;
        best_rt = rt;
      }
    }
    if (best < 0 || blocked
        || (GST_CLOCK_TIME_IS_VALID (limit) && best_rt >= limit))
      break;                    /* wait for the input that is behind */
    ret = pop_one (self, pads[best]);
  }
  return ret;
}

/* Which model modalities take part in a window: their pad exists and is
 * enabled, and the window holds enough of their data. */
static gboolean
window_present (GstUdmlFuse * self, const UdmlConfig * cfg,
    const UdmlMediaWindow * win, uint8_t * present)
{
  gboolean any = FALSE;
  gint m;

  for (m = 0; m < cfg->n_modalities; m++) {
    UdmlModalityKind kind = cfg->mod[m].kind;
    const float *input = kind == UDML_MODALITY_AUDIO ? win->audio : win->video;
    GstUdmlFusePad *pad;
    gdouble min_cov = DEFAULT_PAD_MIN_COVERAGE;
    gboolean enabled = FALSE;

    GST_OBJECT_LOCK (self);
    pad = self->pads[kind];
    if (pad) {
      GST_OBJECT_LOCK (pad);
      min_cov = pad->min_coverage;
      enabled = pad->enabled;
      GST_OBJECT_UNLOCK (pad);
    }
    GST_OBJECT_UNLOCK (self);
    present[m] = pad != NULL && enabled && input != NULL
        && win->coverage[kind] > 0.0f && win->coverage[kind] >= min_cov;
    any |= present[m];
  }
  return any;
}

/* Live: a window more than a window behind its deadline is dropped, to
 * catch up instead of letting the latency grow. */
static gboolean
window_is_late (GstUdmlFuse * self, const UdmlMediaWindow * win)
{
  GstClockTime now = clock_running_time (self);
  GstClockTime lat = gst_aggregator_get_latency (GST_AGGREGATOR (self));

  if (!GST_CLOCK_TIME_IS_VALID (now) || !GST_CLOCK_TIME_IS_VALID (lat)
      || now <= win->end_ns + lat + self->spec.window_ns)
    return FALSE;
  GST_DEBUG_OBJECT (self, "dropping late window %" G_GINT64_FORMAT
      " (now %" GST_TIME_FORMAT ")", win->index, GST_TIME_ARGS (now));
  return TRUE;
}

/* Infers one window and publishes its record. The forward pass runs with
 * no lock held, on a reference to the model session: property access,
 * caps queries and a model swap go ahead meanwhile. */
static GstFlowReturn
handle_window (GstUdmlFuse * self, const UdmlMediaWindow * win, gboolean live)
{
  GstUdmlRecord rec;
  GstUdmlFuseSession *session;
  uint8_t present[UDML_MAX_MODALITIES] = { 0 };
  UdmlError err = { 0 };
  UdmlInferMode mode;
  UdmlStatus st;
  gboolean any, post, meta;
  gint64 t;

  self->next_index = win->index + 1;
  if (live && window_is_late (self, win)) {
    gst_udml_publisher_drop (&self->pub, GST_ELEMENT_CAST (self), win);
    return GST_FLOW_OK;
  }
  session = gst_udml_fuse_model_get_session (&self->model);
  if (session == NULL)
    return GST_FLOW_FLUSHING;   /* stopping */

  memset (&rec, 0, sizeof rec);
  gst_udml_window_times (&self->primary_segment, win, &rec);
  rec.partial = win->partial != 0;
  any = window_present (self, gst_udml_fuse_session_config (session), win,
      present);
  g_mutex_lock (&self->lock);
  mode = policy_to_mode (self->policy);
  g_mutex_unlock (&self->lock);

  if (any && self->forward_hook)
    self->forward_hook->func (GST_ELEMENT_CAST (self),
        self->forward_hook->user_data);
  t = g_get_monotonic_time ();
  st = gst_udml_fuse_session_infer (session, win, present, mode, &rec, &err);
  t = g_get_monotonic_time () - t;
  gst_udml_fuse_session_unref (session);

  g_mutex_lock (&self->lock);
  if (any)
    self->proc_estimate = (self->proc_estimate * 7 + t * GST_USECOND) / 8;
  post = self->post_messages;
  meta = self->attach_meta;
  g_mutex_unlock (&self->lock);

  if (st != UDML_OK)
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Inference failed for window %" G_GINT64_FORMAT ".", win->index),
        ("%s", err.msg));
  gst_udml_publisher_publish (&self->pub, GST_ELEMENT_CAST (self), &rec,
      post, meta);
  return GST_FLOW_OK;
}

static GstFlowReturn
push_buffer (GstUdmlFuse * self, GstBuffer * buf, const GstUdmlRecord * rec)
{
  GstAggregator *agg = GST_AGGREGATOR (self);

  if (rec)
    buf = gst_udml_publisher_attach (buf, rec);
  GST_OBJECT_LOCK (agg->srcpad);
  if (GST_BUFFER_PTS_IS_VALID (buf))
    GST_AGGREGATOR_PAD (agg->srcpad)->segment.position = GST_BUFFER_PTS (buf);
  GST_OBJECT_UNLOCK (agg->srcpad);
  return gst_aggregator_finish_buffer (agg, buf);
}

/* Sends the primary buffers whose result is known (all of them at EOS). */
static GstFlowReturn
push_held (GstUdmlFuse * self, gboolean eos)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstUdmlFuseAttachMode mode;
  gboolean meta;

  g_mutex_lock (&self->lock);
  mode = self->attach_mode;
  meta = self->attach_meta;
  g_mutex_unlock (&self->lock);

  while (ret == GST_FLOW_OK && !gst_queue_array_is_empty (self->held)) {
    HeldBuffer *h = gst_queue_array_peek_head_struct (self->held);
    const GstUdmlRecord *rec = NULL;
    GstBuffer *buf;

    gint64 k = (gint64) (h->rt / self->spec.hop_ns);

    if (mode == GST_UDML_FUSE_ATTACH_WINDOW && !eos && self->next_index <= k)
      break;                    /* its window is not done yet */
    rec = gst_udml_publisher_find (&self->pub,
        mode == GST_UDML_FUSE_ATTACH_WINDOW, k);
    buf = h->buf;
    gst_queue_array_pop_head_struct (self->held);
    ret = push_buffer (self, buf, meta ? rec : NULL);
  }
  return ret;
}

static GstFlowReturn
gst_udml_fuse_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pads[2];
  GstFlowReturn ret = GST_FLOW_OK;
  UdmlMediaWindow win;
  gboolean all_eos = TRUE, any_pad = FALSE, live = is_live (self);
  gboolean report_again;
  gint k;

  for (k = 0; k < 2; k++)
    pads[k] = get_pad (self, k);

  for (k = 0; k < 2; k++)
    if (pads[k])
      any_pad = TRUE;
  ret = drain_pads (self, pads, timeout);
  if (ret != GST_FLOW_OK)
    goto out;

  /* an input that is gone, disabled or at EOS is not waited for */
  for (k = 0; k < 2; k++) {
    gboolean done = TRUE;

    if (pads[k]) {
      gboolean eos = gst_aggregator_pad_is_eos (GST_AGGREGATOR_PAD (pads[k]));
      GST_OBJECT_LOCK (pads[k]);
      done = eos || !pads[k]->enabled;
      GST_OBJECT_UNLOCK (pads[k]);
      if (!eos)
        all_eos = FALSE;
    }
    udml_media_windower_set_done (self->windower, k, done);
  }
  if (!any_pad)
    all_eos = FALSE;

  if (self->started) {
    while (ret == GST_FLOW_OK
        && udml_media_windower_next (self->windower, 0, &win))
      ret = handle_window (self, &win, live);

    if (timeout && live) {
      GstClockTime now = clock_running_time (self);
      GstClockTime lat = gst_aggregator_get_latency (agg);

      /* windows whose deadline passed close with what they have */
      while (ret == GST_FLOW_OK && GST_CLOCK_TIME_IS_VALID (now)
          && GST_CLOCK_TIME_IS_VALID (lat)
          && self->next_index * (gint64) self->spec.hop_ns +
          (gint64) self->spec.window_ns + (gint64) lat <= (gint64) now
          && udml_media_windower_next (self->windower, 1, &win))
        ret = handle_window (self, &win, live);
    }
    if (all_eos) {
      while (ret == GST_FLOW_OK
          && udml_media_windower_next (self->windower, 1, &win))
        ret = handle_window (self, &win, live);
    }
  }
  if (ret == GST_FLOW_OK)
    ret = push_held (self, all_eos);

  if (ret == GST_FLOW_OK && all_eos) {
    GST_DEBUG_OBJECT (self, "all inputs at EOS after %" G_GUINT64_FORMAT
        " windows (%" G_GUINT64_FORMAT " dropped)", self->pub.processed,
        self->pub.dropped);
    ret = GST_FLOW_EOS;
  }

out:
  for (k = 0; k < 2; k++)
    if (pads[k])
      gst_object_unref (pads[k]);
  /* re-report when the processing time moved by more than 25 % */
  g_mutex_lock (&self->lock);
  report_again = self->proc_estimate > self->reported_proc +
      self->reported_proc / 4
      || self->proc_estimate < self->reported_proc - self->reported_proc / 4;
  g_mutex_unlock (&self->lock);
  if (report_again)
    update_latency (self);
  return ret;
}

/* ---------------------------------------------------------------- class */

static void
gst_udml_fuse_finalize (GObject * object)
{
  GstUdmlFuse *self = GST_UDML_FUSE (object);

  gst_udml_fuse_model_clear (&self->model);
  g_free (self->json_location);
  gst_queue_array_free (self->held);
  gst_udml_publisher_clear (&self->pub);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_udml_fuse_class_init (GstUdmlFuseClass * klass)
{
  GObjectClass *gobject_class = (GObjectClass *) klass;
  GstElementClass *element_class = (GstElementClass *) klass;
  GstAggregatorClass *agg_class = (GstAggregatorClass *) klass;

  GST_DEBUG_CATEGORY_INIT (gst_udml_fuse_debug, "udmlfuse", 0,
      "UDML audio-video fusion");
  udml_set_log_func (udml_log_to_gst, NULL);

  gobject_class->set_property = gst_udml_fuse_set_property;
  gobject_class->get_property = gst_udml_fuse_get_property;
  gobject_class->finalize = gst_udml_fuse_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of the .udml model. Defaults to the installed model, or "
          "$UDML_MODEL when set. Setting it while PLAYING reloads the model "
          "between windows; on failure the previous model stays and a "
          "warning plus a 'udmlfuse-model' message are posted",
          UDML_DEFAULT_MODEL, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_POLICY,
      g_param_spec_enum ("policy", "Policy",
          "Which terms enter the modality weights at inference",
          GST_TYPE_UDML_FUSE_POLICY, DEFAULT_POLICY,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_WINDOW_DURATION,
      g_param_spec_uint64 ("window-duration", "Window duration",
          "Window length in ns (0 = the model's; must give the model's audio "
          "input size)", 0, 60 * GST_SECOND, DEFAULT_WINDOW_DURATION,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_WINDOW_HOP,
      g_param_spec_uint64 ("window-hop", "Window hop",
          "Distance between window starts in ns (0 = the model's)", 0,
          60 * GST_SECOND, DEFAULT_WINDOW_HOP,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ATTACH_MODE,
      g_param_spec_enum ("attach-mode", "Attach mode",
          "How results are attached to the passed-through buffers",
          GST_TYPE_UDML_FUSE_ATTACH_MODE, DEFAULT_ATTACH_MODE,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message 'udmlfuse' per window (fields: "
          "docs/element.md)", DEFAULT_POST_MESSAGES,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ATTACH_META,
      g_param_spec_boolean ("attach-meta", "Attach meta",
          "Attach UdmlFusionMeta (a GstCustomMeta) to output buffers",
          DEFAULT_ATTACH_META, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_JSON_LOCATION,
      g_param_spec_string ("json-location", "JSON location",
          "Write one JSON object per window to this file ('-' = stdout, "
          "NULL = off)", DEFAULT_JSON_LOCATION,
          G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_NUM_THREADS,
      g_param_spec_int ("num-threads", "Threads",
          "BLAS threads used for inference (process-wide)", 1, 64,
          DEFAULT_NUM_THREADS, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));

  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &video_sink_template, GST_TYPE_UDML_FUSE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &audio_sink_template, GST_TYPE_UDML_FUSE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (element_class,
      &src_template, GST_TYPE_AGGREGATOR_PAD);

  gst_element_class_set_static_metadata (element_class,
      "UDML audio-video fusion", "Filter/Analyzer/Audio/Video",
      "Classifies windows of audio and video with a UDML model whose "
      "modality weights follow each input's predicted noise. Video passes "
      "through; each window's result rides on it as UdmlFusionMeta, is "
      "posted as element message 'udmlfuse' and can be written as JSON "
      "Lines (json-location). Fields: window_index, window_start, "
      "window_end, pts, label, label_id, confidence, probabilities, valid, "
      "partial, modalities.<name>.{present, coverage, noise, alpha, "
      "uncertainty_weight, weight}; see docs/element.md", "udml developers");

  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_udml_fuse_release_pad);

  agg_class->start = GST_DEBUG_FUNCPTR (gst_udml_fuse_start);
  agg_class->stop = GST_DEBUG_FUNCPTR (gst_udml_fuse_stop);
  agg_class->flush = GST_DEBUG_FUNCPTR (gst_udml_fuse_flush);
  agg_class->aggregate = GST_DEBUG_FUNCPTR (gst_udml_fuse_aggregate);
  agg_class->get_next_time = GST_DEBUG_FUNCPTR (gst_udml_fuse_get_next_time);
  agg_class->create_new_pad = GST_DEBUG_FUNCPTR (gst_udml_fuse_create_new_pad);
  agg_class->sink_event = GST_DEBUG_FUNCPTR (gst_udml_fuse_sink_event);
  agg_class->sink_query = GST_DEBUG_FUNCPTR (gst_udml_fuse_sink_query);
  agg_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_udml_fuse_propose_allocation);
  agg_class->update_src_caps =
      GST_DEBUG_FUNCPTR (gst_udml_fuse_update_src_caps);

  gst_type_mark_as_plugin_api (GST_TYPE_UDML_FUSE_PAD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UDML_FUSE_POLICY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_UDML_FUSE_ATTACH_MODE, 0);
}

static void
gst_udml_fuse_init (GstUdmlFuse * self)
{
  const gchar *env = g_getenv ("UDML_MODEL");

  g_mutex_init (&self->lock);
  gst_udml_fuse_model_init (&self->model, env
      && *env ? env : UDML_DEFAULT_MODEL);
  self->policy = DEFAULT_POLICY;
  self->window_duration = DEFAULT_WINDOW_DURATION;
  self->window_hop = DEFAULT_WINDOW_HOP;
  self->attach_mode = DEFAULT_ATTACH_MODE;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->attach_meta = DEFAULT_ATTACH_META;
  self->json_location = g_strdup (DEFAULT_JSON_LOCATION);
  self->num_threads = DEFAULT_NUM_THREADS;
  self->held = gst_queue_array_new_for_struct (sizeof (HeldBuffer), 16);
  gst_udml_publisher_init (&self->pub);
  self->reported_latency = GST_CLOCK_TIME_NONE;
  gst_segment_init (&self->primary_segment, GST_FORMAT_TIME);
}
