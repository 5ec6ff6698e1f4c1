/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusepad.c — udmlfuse's sink pads (udmlfusepad.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "udmlfusepad.h"

GST_DEBUG_CATEGORY_EXTERN (gst_udml_fuse_debug);
#define GST_CAT_DEFAULT gst_udml_fuse_debug

#define DEFAULT_PAD_MIN_COVERAGE 0.5
#define DEFAULT_PAD_ENABLED TRUE

enum
{
  PROP_PAD_0,
  PROP_PAD_MIN_COVERAGE,
  PROP_PAD_ENABLED,
};

G_DEFINE_TYPE (GstUdmlFusePad, gst_udml_fuse_pad, GST_TYPE_AGGREGATOR_PAD);

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
  gst_clear_object (&pad->pool);
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
  pad->audio_end = pad->audio_in_end = GST_CLOCK_TIME_NONE;
}

/* ------------------------------------------------------------------ caps */

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

void
gst_udml_fuse_pad_add_templates (GstElementClass * klass)
{
  gst_element_class_add_static_pad_template_with_gtype (klass,
      &video_sink_template, GST_TYPE_UDML_FUSE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (klass,
      &audio_sink_template, GST_TYPE_UDML_FUSE_PAD);
  gst_element_class_add_static_pad_template_with_gtype (klass,
      &src_template, GST_TYPE_AGGREGATOR_PAD);
}

GstUdmlFusePad *
gst_udml_fuse_pad_new (GstPadTemplate * templ, const gchar * req_name)
{
  const gchar *tname = GST_PAD_TEMPLATE_NAME_TEMPLATE (templ);
  UdmlModalityKind kind;
  GstUdmlFusePad *pad;

  if (g_str_has_prefix (tname, "video_"))
    kind = UDML_MODALITY_VIDEO;
  else if (g_str_has_prefix (tname, "audio_"))
    kind = UDML_MODALITY_AUDIO;
  else
    return NULL;
  if (req_name == NULL)
    req_name = kind == UDML_MODALITY_VIDEO ? "video_0" : "audio_0";
  pad = g_object_new (GST_TYPE_UDML_FUSE_PAD, "name", req_name, "direction",
      GST_PAD_SINK, "template", templ, NULL);
  pad->kind = kind;
  return pad;
}

static gboolean
parse_caps (GstUdmlFusePad * pad, GstCaps * caps)
{
  if (pad->kind == UDML_MODALITY_VIDEO) {
    GstVideoInfo info;

    if (!gst_video_info_from_caps (&info, caps))
      return FALSE;
    pad->format = video_format (GST_VIDEO_INFO_FORMAT (&info));
    if (pad->format < 0)
      return FALSE;
    pad->vinfo = info;
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
        return FALSE;
      gst_audio_info_set_format (&info, gst_audio_format_from_string (fmt),
          rate, channels, NULL);
    }
    if (info.layout != GST_AUDIO_LAYOUT_INTERLEAVED)
      return FALSE;
    if (GST_AUDIO_INFO_FORMAT (&info) == GST_AUDIO_FORMAT_S16LE)
      pad->format = UDML_MEDIA_SAMPLE_S16;
    else if (GST_AUDIO_INFO_FORMAT (&info) == GST_AUDIO_FORMAT_F32LE)
      pad->format = UDML_MEDIA_SAMPLE_F32;
    else
      return FALSE;
    pad->ainfo = info;
  }
  return TRUE;
}

gboolean
gst_udml_fuse_pad_set_caps (GstUdmlFusePad * pad, GstElement * element,
    GstCaps * caps)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
  gchar *want;

  if (gst_caps_is_subset (caps, templ) && parse_caps (pad, caps)) {
    gst_caps_unref (templ);
    gst_caps_replace (&pad->caps, caps);
    pad->have_caps = TRUE;
    return TRUE;
  }
  want = gst_caps_to_string (templ);
  GST_ELEMENT_ERROR (element, CORE, NEGOTIATION,
      ("Unsupported caps on pad %s.", GST_PAD_NAME (pad)),
      ("got %" GST_PTR_FORMAT "; supported: %s", caps, want));
  g_free (want);
  gst_caps_unref (templ);
  return FALSE;
}

GstCaps *
gst_udml_fuse_pad_query_caps (GstUdmlFusePad * pad, GstCaps * filter,
    gint model_rate, GstPad * srcpad)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
  GstCaps *result, *tmp;

  if (pad->kind == UDML_MODALITY_AUDIO && model_rate > 0) {
    /* prefer the model's rate, mono: converters upstream adapt */
    GstCaps *pref = gst_caps_new_simple ("audio/x-raw",
        "format", G_TYPE_STRING, "F32LE",
        "layout", G_TYPE_STRING, "interleaved",
        "rate", G_TYPE_INT, model_rate, "channels", G_TYPE_INT, 1, NULL);
    result = gst_caps_merge (pref, gst_caps_ref (templ));
  } else {
    result = gst_caps_ref (templ);
  }
  gst_caps_unref (templ);
  if (srcpad) {
    /* passed through unchanged: downstream must take it too */
    GstCaps *peer = gst_pad_peer_query_caps (srcpad, NULL);

    tmp = gst_caps_intersect_full (result, peer, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (peer);
    gst_caps_unref (result);
    result = tmp;
  }
  if (filter) {
    tmp = gst_caps_intersect_full (filter, result, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (result);
    result = tmp;
  }
  return result;
}

gboolean
gst_udml_fuse_pad_accept_caps (GstUdmlFusePad * pad, GstCaps * caps)
{
  GstCaps *templ = gst_pad_get_pad_template_caps (GST_PAD (pad));
  gboolean ok = gst_caps_is_subset (caps, templ);

  if (!ok)
    GST_WARNING_OBJECT (pad, "refusing caps %" GST_PTR_FORMAT
        "; supported: %" GST_PTR_FORMAT, caps, templ);
  gst_caps_unref (templ);
  return ok;
}

/* ------------------------------------------------------------ conversion */

gboolean
gst_udml_fuse_convert_init (GstUdmlFuseConvert * conv,
    const UdmlFeatureSpec * spec, UdmlError * err)
{
  memset (conv, 0, sizeof *conv);
  conv->scaler = udml_media_scaler_new (spec, err);
  if (conv->scaler)
    conv->resampler = udml_media_resampler_new (spec, err);
  if (conv->resampler == NULL) {
    gst_udml_fuse_convert_clear (conv);
    return FALSE;
  }
  conv->rate = spec->sample_rate;
  conv->frame = g_new0 (gfloat, (gsize) spec->frame_channels *
      spec->frame_width * spec->frame_height);
  return TRUE;
}

void
gst_udml_fuse_convert_clear (GstUdmlFuseConvert * conv)
{
  udml_media_scaler_free (conv->scaler);
  udml_media_resampler_free (conv->resampler);
  g_free (conv->frame);
  g_free (conv->pcm);
  memset (conv, 0, sizeof *conv);
}

static gboolean
feed_video (GstUdmlFusePad * pad, GstUdmlFuseConvert * conv,
    UdmlWindower * windower, GstBuffer * buf, GstClockTime rt, GstClockTime dur)
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
  st = udml_media_scale (conv->scaler, pad->format,
      GST_VIDEO_FRAME_WIDTH (&vf), GST_VIDEO_FRAME_HEIGHT (&vf), planes,
      strides, conv->frame, &err);
  gst_video_frame_unmap (&vf);
  if (st != UDML_OK) {
    GST_WARNING_OBJECT (pad, "frame conversion failed: %s", err.msg);
    return FALSE;
  }
  udml_media_windower_push_video (windower, rt,
      GST_CLOCK_TIME_IS_VALID (dur) ? (gint64) dur : -1, conv->frame);
  return TRUE;
}

static gboolean
feed_audio (GstUdmlFusePad * pad, GstUdmlFuseConvert * conv,
    UdmlWindower * windower, GstBuffer * buf, GstClockTime rt)
{
  GstMapInfo map;
  const uint8_t *in[1];
  gint n_in, bound, n_out = 0, bpf = GST_AUDIO_INFO_BPF (&pad->ainfo);
  GstClockTime held, start;
  gint rate = GST_AUDIO_INFO_RATE (&pad->ainfo);
  UdmlError err = { 0 };
  UdmlStatus st;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_WARNING_OBJECT (pad, "could not map audio buffer %" GST_PTR_FORMAT,
        buf);
    return FALSE;
  }
  n_in = bpf > 0 ? (gint) (map.size / bpf) : 0;
  /* after a timestamp jump, what the filter holds belongs before the jump */
  if (GST_CLOCK_TIME_IS_VALID (pad->audio_in_end)
      && !udml_media_contiguous ((gint64) pad->audio_in_end, (gint64) rt))
    gst_udml_fuse_pad_restart (pad, conv, windower);
  /* the output starts with the samples the filter held back, which belong
   * before rt */
  held = gst_util_uint64_scale_int (udml_media_resample_delay
      (conv->resampler), GST_SECOND, conv->rate);
  bound = udml_media_resample_bound (conv->resampler, rate, n_in);
  if (bound > conv->pcm_cap) {
    /* grows to the largest buffer seen, then stays */
    g_free (conv->pcm);
    conv->pcm_cap = bound;
    conv->pcm = g_new (gfloat, conv->pcm_cap);
  }
  in[0] = map.data;
  st = udml_media_resample (conv->resampler, pad->format, rate,
      GST_AUDIO_INFO_CHANNELS (&pad->ainfo), in, n_in, conv->pcm,
      conv->pcm_cap, &n_out, &err);
  gst_buffer_unmap (buf, &map);
  if (st != UDML_OK) {
    GST_WARNING_OBJECT (pad, "audio conversion failed: %s", err.msg);
    return FALSE;
  }
  start = rt > held ? rt - held : 0;
  if (n_out > 0)
    udml_media_windower_push_audio (windower, start, conv->pcm, n_out);
  pad->audio_end = start + gst_util_uint64_scale_int (n_out, GST_SECOND,
      conv->rate);
  pad->audio_in_end = rt + gst_util_uint64_scale_int (n_in, GST_SECOND, rate);
  pad->drained = FALSE;
  return TRUE;
}

void
gst_udml_fuse_pad_drain (GstUdmlFusePad * pad, GstUdmlFuseConvert * conv,
    UdmlWindower * windower)
{
  UdmlError err = { 0 };
  gint n_out = 0, cap;
  guint64 room;

  if (pad->kind != UDML_MODALITY_AUDIO || pad->drained
      || !GST_CLOCK_TIME_IS_VALID (pad->audio_end) || conv->resampler == NULL)
    return;
  pad->drained = TRUE;
  cap = udml_media_resample_delay (conv->resampler) + 32;
  if (cap > conv->pcm_cap) {
    g_free (conv->pcm);
    conv->pcm_cap = cap;
    conv->pcm = g_new (gfloat, conv->pcm_cap);
  }
  if (udml_media_resample (conv->resampler, pad->format,
          GST_AUDIO_INFO_RATE (&pad->ainfo),
          GST_AUDIO_INFO_CHANNELS (&pad->ainfo), NULL, 0, conv->pcm,
          conv->pcm_cap, &n_out, &err) != UDML_OK) {
    GST_WARNING_OBJECT (pad, "could not drain the resampler: %s", err.msg);
    return;
  }
  /* the filter's tail may ring past the input: keep only up to its end */
  room = pad->audio_in_end > pad->audio_end ?
      gst_util_uint64_scale_round (pad->audio_in_end - pad->audio_end,
      conv->rate, GST_SECOND) : 0;
  if ((guint64) n_out > room)
    n_out = (gint) room;
  GST_LOG_OBJECT (pad, "%d samples drained at EOS", n_out);
  if (n_out > 0)
    udml_media_windower_push_audio (windower, pad->audio_end, conv->pcm, n_out);
  pad->audio_end += gst_util_uint64_scale_int (n_out, GST_SECOND, conv->rate);
}

void
gst_udml_fuse_pad_restart (GstUdmlFusePad * pad, GstUdmlFuseConvert * conv,
    UdmlWindower * windower)
{
  if (pad->kind != UDML_MODALITY_AUDIO)
    return;
  if (windower)
    gst_udml_fuse_pad_drain (pad, conv, windower);
  /* what swresample still holds would come out at the next data's time */
  udml_media_resampler_reset (conv->resampler);
  pad->audio_end = pad->audio_in_end = GST_CLOCK_TIME_NONE;
  pad->drained = FALSE;
}

gboolean
gst_udml_fuse_pad_feed (GstUdmlFusePad * pad, GstUdmlFuseConvert * conv,
    UdmlWindower * windower, GstBuffer * buf, GstClockTime rt, GstClockTime dur)
{
  if (pad->kind == UDML_MODALITY_VIDEO)
    return feed_video (pad, conv, windower, buf, rt, dur);
  return feed_audio (pad, conv, windower, buf, rt);
}

/* ----------------------------------------------------------------- timing */

GstClockTime
gst_udml_fuse_pad_duration (GstUdmlFusePad * pad, GstBuffer * buf)
{
  if (pad->kind == UDML_MODALITY_AUDIO && pad->ainfo.bpf > 0)
    return gst_util_uint64_scale_int (gst_buffer_get_size (buf) /
        pad->ainfo.bpf, GST_SECOND, pad->ainfo.rate);
  if (pad->kind == UDML_MODALITY_VIDEO && pad->vinfo.fps_n > 0)
    return gst_util_uint64_scale_int (GST_SECOND, pad->vinfo.fps_d,
        pad->vinfo.fps_n);
  return GST_CLOCK_TIME_NONE;
}

gint
gst_udml_fuse_pad_next (GstUdmlFusePad * pads[2], gboolean timeout)
{
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
    rt = gst_udml_fuse_pad_buffer_time (pads[k], GST_BUFFER_PTS (head),
        GST_CLOCK_TIME_NONE, NULL);
    gst_buffer_unref (head);
    if (!GST_CLOCK_TIME_IS_VALID (rt))
      rt = 0;                   /* dropped at once when taken */
    if (best < 0 || rt < best_rt) {
      best = k;
      best_rt = rt;
    }
  }
  if (best < 0 || blocked
      || (GST_CLOCK_TIME_IS_VALID (limit) && best_rt >= limit))
    return -1;                  /* wait for the input that is behind */
  return best;
}

gboolean
gst_udml_fuse_pad_takes_part (GstUdmlFusePad * pad, const UdmlMediaWindow * win)
{
  const float *input = pad->kind == UDML_MODALITY_AUDIO ?
      win->audio : win->video;
  gfloat cov = win->coverage[pad->kind];
  gdouble min_cov;
  gboolean enabled;

  GST_OBJECT_LOCK (pad);
  min_cov = pad->min_coverage;
  enabled = pad->enabled;
  GST_OBJECT_UNLOCK (pad);
  return enabled && input != NULL && cov > 0.0f && cov >= min_cov;
}

GstClockTime
gst_udml_fuse_pad_running_time (GstUdmlFusePad * pad, GstClockTime ts)
{
  GstAggregatorPad *aggpad = GST_AGGREGATOR_PAD (pad);
  GstClockTime rt;

  if (!GST_CLOCK_TIME_IS_VALID (ts))
    return GST_CLOCK_TIME_NONE;
  GST_OBJECT_LOCK (pad);
  rt = gst_segment_to_running_time (&aggpad->segment, GST_FORMAT_TIME, ts);
  GST_OBJECT_UNLOCK (pad);
  return rt;
}

GstClockTime
gst_udml_fuse_pad_buffer_time (GstUdmlFusePad * pad, GstClockTime pts,
    GstClockTime dur, GstClockTime * rt_end)
{
  GstAggregatorPad *aggpad = GST_AGGREGATOR_PAD (pad);
  GstClockTime rt;

  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    rt = gst_udml_fuse_pad_running_time (pad, pts);
    if (rt_end)
      *rt_end = GST_CLOCK_TIME_IS_VALID (dur) ?
          gst_udml_fuse_pad_running_time (pad, pts + dur) : GST_CLOCK_TIME_NONE;
    return rt;
  }
  /* no timestamp: right after the data before it, or at the segment start */
  rt = pad->pos;
  if (!GST_CLOCK_TIME_IS_VALID (rt)) {
    GST_OBJECT_LOCK (pad);
    rt = gst_segment_to_running_time (&aggpad->segment, GST_FORMAT_TIME,
        aggpad->segment.start);
    GST_OBJECT_UNLOCK (pad);
    if (!GST_CLOCK_TIME_IS_VALID (rt))
      rt = 0;
  }
  if (rt_end)
    *rt_end = GST_CLOCK_TIME_IS_VALID (dur) ? rt + dur : GST_CLOCK_TIME_NONE;
  return rt;
}

guint
gst_udml_fuse_pad_frames_held (GstClockTime window, GstClockTime frame)
{
  if (!GST_CLOCK_TIME_IS_VALID (window) || window == 0
      || !GST_CLOCK_TIME_IS_VALID (frame) || frame == 0)
    return 0;
  /* a window's frames, plus the one that completes it */
  return (guint) MIN ((window + frame - 1) / frame + 1, 1024);
}

/* Whether pool, lending at most max buffers, can lend the held ones and
 * still give upstream one to fill. */
static gboolean
pool_can_hold (GstBufferPool * pool, guint held)
{
  GstStructure *config = gst_buffer_pool_get_config (pool);
  guint max = 0;

  gst_buffer_pool_config_get_params (config, NULL, NULL, NULL, &max);
  gst_structure_free (config);
  return max == 0 || max > held;
}

GstBuffer *
gst_udml_fuse_pad_keepable (GstUdmlFusePad * pad, GstBuffer * buf, guint held)
{
  GstBuffer *copy;

  if (held == 0 || buf->pool == NULL)
    return buf;
  if (buf->pool != pad->pool) {
    gst_object_replace ((GstObject **) & pad->pool, (GstObject *) buf->pool);
    pad->pool_too_small = !pool_can_hold (buf->pool, held);
    if (pad->pool_too_small)
      GST_INFO_OBJECT (pad, "upstream pool cannot lend %u buffers: copying "
          "the held ones", held);
  }
  if (!pad->pool_too_small)
    return buf;
  /* a deep copy gives the pool its memory back at once */
  copy = gst_buffer_copy_deep (buf);
  gst_buffer_unref (buf);
  return copy;
}
