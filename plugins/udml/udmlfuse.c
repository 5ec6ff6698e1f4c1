/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfuse.c — fuses audio and video windows with a UDML model: the
 * element's properties, start and stop, its pads, caps and allocation.
 *
 * A GstAggregator with request pads video_%u and audio_%u. Every input
 * buffer is converted to model format (lib/media UdmlScaler/UdmlResampler)
 * and placed by running time into the shared UdmlWindower, the same window
 * and feature path the training tools use. Each finished window is
 * inferred by the model session (udmlfusemodel.c) and its record is
 * published (udmlpublish.c) as UdmlFusionMeta on the passed-through
 * primary buffers, as an element message and as JSON Lines
 * (docs/element.md). The src task that does this is udmlfusestream.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "media.h"
#include "udml.h"
#include "udmlfuse.h"
#include "udmlfusemodel.h"
#include "udmlfusepad.h"
#include "udmlfusestream.h"
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
/* a finer hop means hundreds of forward passes per second of media */
#define MIN_WINDOW_HOP (10 * GST_MSECOND)
#define DEFAULT_ATTACH_MODE GST_UDML_FUSE_ATTACH_LATEST
#define DEFAULT_POST_MESSAGES TRUE
#define DEFAULT_ATTACH_META TRUE
#define DEFAULT_JSON_LOCATION NULL
#define DEFAULT_NUM_THREADS 1
#define DEFAULT_ALERT_WINDOWS 3
#define DEFAULT_ALERT_NOISE 0.0
#define DEFAULT_MIN_CONFIDENCE 0.0
#define DEFAULT_SOURCE NULL

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
  PROP_ALERT_WINDOWS,
  PROP_ALERT_NOISE,
  PROP_MIN_CONFIDENCE,
  PROP_SOURCE,
};

#define gst_udml_fuse_parent_class parent_class
G_DEFINE_TYPE (GstUdmlFuse, gst_udml_fuse, GST_TYPE_AGGREGATOR);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (udmlfuse, "udmlfuse", GST_RANK_NONE,
    GST_TYPE_UDML_FUSE, udml_fusion_meta_get_info ());

/* ----------------------------------------------------------- helpers */

GstUdmlFusePad *
gst_udml_fuse_get_pad (GstUdmlFuse * self, UdmlModalityKind kind)
{
  GstUdmlFusePad *pad;

  GST_OBJECT_LOCK (self);
  pad = self->pads[kind] ? gst_object_ref (self->pads[kind]) : NULL;
  GST_OBJECT_UNLOCK (self);
  return pad;
}

/* The pad whose buffers go out: the video pad, else the audio pad. */
gboolean
gst_udml_fuse_is_primary (GstUdmlFuse * self, GstUdmlFusePad * pad)
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

/* Reports window + processing latency (window) or one frame (latest).
 * Never called with a lock held: it posts a LATENCY message. */
void
gst_udml_fuse_update_latency (GstUdmlFuse * self)
{
  GstClockTime l, frame;
  gboolean changed;

  GST_OBJECT_LOCK (self);
  frame = self->pads[UDML_MODALITY_VIDEO] != NULL;
  GST_OBJECT_UNLOCK (self);
  /* under lock: a primary caps event (sink thread) and the src task both
   * land here */
  g_mutex_lock (&self->lock);
  /* without a video pad no frame is waited for */
  frame = frame ? self->frame_duration : 0;
  if (self->attach_mode == GST_UDML_FUSE_ATTACH_WINDOW)
    /* 5 % headroom: the processing time varies from window to window */
    l = self->spec.window_ns + frame +
        self->proc_estimate + self->proc_estimate / 20;
  else
    l = frame;
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
  gst_udml_fuse_convert_clear (&self->conv);
  gst_udml_publisher_close (&self->pub);
}

static void
reset_windows (GstUdmlFuse * self)
{
  gint k;

  GST_OBJECT_LOCK (self);
  for (k = 0; k < 2; k++)
    if (self->pads[k]) {
      self->pads[k]->pos = GST_CLOCK_TIME_NONE;
      /* the data held from before is dropped */
      gst_udml_fuse_pad_restart (self->pads[k], &self->conv, NULL);
    }
  GST_OBJECT_UNLOCK (self);
  gst_udml_publisher_reset (&self->pub);
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
  gchar *json_location;
  GstClockTime dur, hop, warm_up = 0;
  gint threads;

  g_mutex_lock (&self->lock);
  json_location = g_strdup (self->json_location);
  dur = self->window_duration;
  hop = self->window_hop;
  threads = self->num_threads;
  if (self->source && *self->source) {
    self->source_name = g_intern_string (self->source);
  } else {
    gchar *name = gst_object_get_name (GST_OBJECT_CAST (self));

    self->source_name = g_intern_string (name);
    g_free (name);
  }
  g_mutex_unlock (&self->lock);
  self->warned_threshold = FALSE;
  self->forward_hook = g_object_get_data (G_OBJECT (self),
      GST_UDML_FUSE_FORWARD_HOOK);

  udml_set_num_threads (threads > 0 ? threads : 1);
  if (!gst_udml_fuse_model_start (&self->model, GST_ELEMENT_CAST (self), dur,
          hop, &self->spec, &warm_up))
    goto fail;
  gst_udml_fuse_model_inputs (&self->model, self->in_model);
  if (self->spec.hop_ns < (gint64) MIN_WINDOW_HOP) {
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS,
        ("The model's window hop is below 10 ms."),
        ("hop %" G_GINT64_FORMAT " ns", self->spec.hop_ns));
    goto fail;
  }

  self->windower = udml_media_windower_new (&self->spec, &err);
  if (self->windower == NULL
      || !gst_udml_fuse_convert_init (&self->conv, &self->spec, &err)) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        ("Could not prepare the conversion to the model's inputs: %s",
            err.msg), ("%s", udml_status_name (err.code)));
    goto fail;
  }
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
  gst_udml_fuse_update_latency (self);
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

  gst_udml_publisher_reset (&self->pub);
  gst_udml_fuse_model_stop (&self->model);
  free_streaming_state (self);
  self->out_kind = self->primary_kind = -1;
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
      if (self->window_hop > 0 && self->window_hop < MIN_WINDOW_HOP) {
        GST_WARNING_OBJECT (self, "window-hop %" G_GUINT64_FORMAT " ns is "
            "below the minimum: using 10 ms", self->window_hop);
        self->window_hop = MIN_WINDOW_HOP;
      }
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
      if (gst_udml_fuse_model_is_running (&self->model))
        udml_set_num_threads (self->num_threads);
      break;
    case PROP_ALERT_WINDOWS:
      self->alert_windows = g_value_get_uint (value);
      break;
    case PROP_ALERT_NOISE:
      self->alert_noise = g_value_get_double (value);
      break;
    case PROP_MIN_CONFIDENCE:
      self->min_confidence = g_value_get_double (value);
      break;
    case PROP_SOURCE:
      g_free (self->source);
      self->source = g_value_dup_string (value);
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
    case PROP_ALERT_WINDOWS:
      g_value_set_uint (value, self->alert_windows);
      break;
    case PROP_ALERT_NOISE:
      g_value_set_double (value, self->alert_noise);
      break;
    case PROP_MIN_CONFIDENCE:
      g_value_set_double (value, self->min_confidence);
      break;
    case PROP_SOURCE:
      if (self->source)
        g_value_set_string (value, self->source);
      else
        g_value_take_string (value,
            gst_object_get_name (GST_OBJECT_CAST (self)));
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
  GstUdmlFusePad *pad = gst_udml_fuse_pad_new (templ, req_name);
  UdmlModalityKind kind;
  gchar *existing;

  if (pad == NULL)
    return NULL;
  kind = pad->kind;

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
        ("udmlfuse takes one %s input.",
            GST_PAD_TEMPLATE_NAME_TEMPLATE (templ)),
        ("pad %s already exists", existing));
    g_free (existing);
    return NULL;
  }
  if (self->windower)
    gst_udml_fuse_update_latency (self);
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
  /* the primary input may change: new src caps before its next buffer */
  gst_pad_mark_reconfigure (GST_AGGREGATOR_SRC_PAD (self));
  GST_ELEMENT_CLASS (parent_class)->release_pad (element, pad);
  if (self->windower)
    gst_udml_fuse_update_latency (self);
}

/* Takes a CAPS event's caps (an unsupported format is an error). */
static gboolean
set_pad_caps (GstUdmlFuse * self, GstUdmlFusePad * pad, GstCaps * caps)
{
  const GstVideoInfo *info = &pad->vinfo;

  if (!gst_udml_fuse_pad_set_caps (pad, GST_ELEMENT_CAST (self), caps))
    return FALSE;
  if (pad->kind == UDML_MODALITY_VIDEO && info->fps_n > 0 && info->fps_d > 0
      && gst_udml_fuse_is_primary (self, pad)) {
    g_mutex_lock (&self->lock);
    self->frame_duration = gst_util_uint64_scale_int (GST_SECOND,
        info->fps_d, info->fps_n);
    g_mutex_unlock (&self->lock);
  }
  return TRUE;
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
      if (gst_udml_fuse_is_primary (self, pad)) {
        gst_pad_mark_reconfigure (agg->srcpad);
        gst_udml_fuse_update_latency (self);
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
      /* queued events reach here on the src task, after the data before
       * them: the old data's resampler tail goes out where it belongs */
      if (self->windower)
        gst_udml_fuse_pad_restart (pad, &self->conv, self->windower);
      if (gst_udml_fuse_is_primary (self, pad)) {
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
    GstCaps *filter, *result;

    gst_query_parse_caps (query, &filter);
    result = gst_udml_fuse_pad_query_caps (pad, filter,
        gst_udml_fuse_model_sample_rate (&self->model),
        gst_udml_fuse_is_primary (self, pad) ? agg->srcpad : NULL);
    gst_query_set_caps_result (query, result);
    gst_caps_unref (result);
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    GstCaps *caps;

    gst_query_parse_accept_caps (query, &caps);
    gst_query_set_accept_caps_result (query,
        gst_udml_fuse_pad_accept_caps (pad, caps));
    return TRUE;
  }
  return GST_AGGREGATOR_CLASS (parent_class)->sink_query (agg, aggpad, query);
}

/* How many buffers of frame duration attach-mode=window holds (0 in the
 * other mode). */
guint
gst_udml_fuse_frames_held (GstUdmlFuse * self, GstClockTime frame)
{
  GstClockTime window;
  gboolean per_window;

  g_mutex_lock (&self->lock);
  per_window = self->attach_mode == GST_UDML_FUSE_ATTACH_WINDOW;
  window = self->windower ? (GstClockTime) self->spec.window_ns :
      self->window_duration;
  if (!GST_CLOCK_TIME_IS_VALID (frame) || frame == 0)
    frame = self->frame_duration;
  g_mutex_unlock (&self->lock);
  if (window == 0)
    window = GST_SECOND;        /* not started: the usual model window */
  return per_window ? gst_udml_fuse_pad_frames_held (window, frame) : 0;
}

/* attach-mode=window keeps a window of buffers: upstream's pool must be
 * able to lend them on top of what it needs itself. A pool that cannot is
 * found at the first buffer, and the held buffers are copied then. */
static gboolean
gst_udml_fuse_propose_allocation (GstAggregator * agg,
    GstAggregatorPad * pad, GstQuery * decide_query, GstQuery * query)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstCaps *caps = NULL;
  GstVideoInfo info;
  GstClockTime frame = GST_CLOCK_TIME_NONE;
  guint held, size, min, max;
  GstBufferPool *pool = NULL;

  if (GST_UDML_FUSE_PAD (pad)->kind != UDML_MODALITY_VIDEO)
    return TRUE;
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_query_parse_allocation (query, &caps, NULL);
  if (caps == NULL || !gst_video_info_from_caps (&info, caps))
    return TRUE;
  if (info.fps_n > 0)
    frame = gst_util_uint64_scale_int (GST_SECOND, info.fps_d, info.fps_n);
  held = gst_udml_fuse_frames_held (self, frame);
  if (held == 0)
    return TRUE;
  if (gst_query_get_n_allocation_pools (query) > 0) {
    gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
    min += held;
    if (max != 0 && max < min)
      max = min;
    gst_query_set_nth_allocation_pool (query, 0, pool, size, min, max);
    if (pool)
      gst_object_unref (pool);
  } else {
    gst_query_add_allocation_pool (query, NULL, info.size, held, 0);
  }
  GST_DEBUG_OBJECT (pad, "attach-mode=window holds up to %u buffers", held);
  return TRUE;
}

static GstFlowReturn
gst_udml_fuse_update_src_caps (GstAggregator * agg, GstCaps * downstream,
    GstCaps ** ret)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pad = gst_udml_fuse_get_pad (self, UDML_MODALITY_VIDEO);

  if (pad == NULL)
    pad = gst_udml_fuse_get_pad (self, UDML_MODALITY_AUDIO);
  if (pad == NULL || pad->caps == NULL) {
    if (pad)
      gst_object_unref (pad);
    return GST_AGGREGATOR_FLOW_NEED_DATA;
  }
  *ret = gst_caps_ref (pad->caps);
  self->out_kind = pad->kind;
  gst_object_unref (pad);
  return GST_FLOW_OK;
}

/* ---------------------------------------------------------------- class */

static void
gst_udml_fuse_finalize (GObject * object)
{
  GstUdmlFuse *self = GST_UDML_FUSE (object);

  gst_udml_fuse_model_clear (&self->model);
  g_free (self->json_location);
  g_free (self->source);
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
  gst_udml_fuse_model_route_log ();

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
          "Distance between window starts in ns (0 = the model's; values "
          "below 10 ms are raised to 10 ms)", 0,
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
          "BLAS threads used for inference. Process-wide (OpenBLAS): it "
          "applies to every udmlfuse in the process, the last to start "
          "wins", 1, 64,
          DEFAULT_NUM_THREADS, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ALERT_WINDOWS,
      g_param_spec_uint ("alert-windows", "Alert windows",
          "Post a 'udml-alert' message and JSON line when a modality's "
          "predicted noise stays above the threshold (or the modality is "
          "absent) for this many consecutive windows, and again when it "
          "stays below for as many (0 = no alerts)", 0, G_MAXINT,
          DEFAULT_ALERT_WINDOWS, G_PARAM_READWRITE |
          GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_ALERT_NOISE,
      g_param_spec_double ("alert-noise", "Alert noise",
          "Noise threshold (sigma-hat) of the alerts for every modality; 0 = "
          "each modality's calibration stored in the model, or 5.0 with a "
          "warning when the model has none", 0.0, G_MAXDOUBLE,
          DEFAULT_ALERT_NOISE, G_PARAM_READWRITE | GST_PARAM_MUTABLE_PLAYING |
          G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_MIN_CONFIDENCE,
      g_param_spec_double ("min-confidence", "Minimum confidence",
          "Below this confidence a window's label is \"unknown\" and its "
          "label_id -1 in every output (probabilities unchanged)", 0.0, 1.0,
          DEFAULT_MIN_CONFIDENCE, G_PARAM_READWRITE |
          GST_PARAM_MUTABLE_PLAYING | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_SOURCE,
      g_param_spec_string ("source", "Source",
          "Name copied into every record and alert, to tell the streams of "
          "several elements apart (NULL or empty = the element's name)",
          DEFAULT_SOURCE, G_PARAM_READWRITE | GST_PARAM_MUTABLE_READY |
          G_PARAM_STATIC_STRINGS));

  gst_udml_fuse_pad_add_templates (element_class);

  gst_element_class_set_static_metadata (element_class,
      "UDML audio-video fusion", "Filter/Analyzer/Audio/Video",
      "Classifies windows of audio and video with a UDML model whose "
      "modality weights follow each input's predicted noise. Video passes "
      "through; each window's result rides on it as UdmlFusionMeta, is "
      "posted as element message 'udmlfuse' and can be written as JSON "
      "Lines (json-location). Fields: window_index, window_start, "
      "window_end, pts, source, label, label_id, confidence, probabilities, valid, "
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
  self->alert_windows = DEFAULT_ALERT_WINDOWS;
  self->alert_noise = DEFAULT_ALERT_NOISE;
  self->min_confidence = DEFAULT_MIN_CONFIDENCE;
  self->source = g_strdup (DEFAULT_SOURCE);
  gst_udml_publisher_init (&self->pub);
  self->reported_latency = GST_CLOCK_TIME_NONE;
  self->out_kind = self->primary_kind = -1;
  gst_segment_init (&self->primary_segment, GST_FORMAT_TIME);
}
