/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlnoise.c — in-place degradation of raw audio or video, for demos,
 * tests and robustness checks of udmlfuse.
 *
 * Every kind and level is the core's (lib/udml/noise.c, method.md
 * "Degradation kinds"), so a level here is the level the model is trained
 * and evaluated on; blocky is lib/media's MJPEG rule. Level 1 is clean. A
 * kind of the other modality (dropout on video, blur on audio) leaves the
 * buffer as it is, so one kind can be set on both branches.
 *
 * Video: udml_degrade_stream_frame_u8 on the frame's R, G, B components, or
 * on luma for GRAY8 and YUV (what a shared R=G=B change is). On YUV, chroma
 * is kept except: gaussian level 11 and the occluded patch set it neutral,
 * dark scales it towards neutral by the same gain; blur, motion and blocky
 * leave it sharp. Freeze holds the whole buffer, all planes.
 *
 * Audio: udml_degrade_audio (F32) or udml_degrade_audio_s16 on the
 * interleaved samples. The SNR kinds (gaussian, babble, hum) are set against
 * a fixed reference RMS (property audio-reference, default -20 dBFS), so
 * the noise power does not follow the signal envelope. Babble mixes in the
 * stream's own clean mono mix of 0.5, 1.5, 2.5 and 3.5 s earlier: four
 * talkers of other words than the ones being said. Dropout spans and hum
 * phase follow the stream's sample position (stream time), across buffers.
 *
 * Bursts: with period > 0 noise is on during the first duty fraction of
 * every period of stream time (per video frame by its timestamp, per audio
 * sample by its own time).
 *
 * Control: every property can be driven by a GstControlSource (e.g. a level
 * ramp); the values are taken once per buffer at its stream time.
 *
 * Determinism: the generator is re-seeded per buffer from (seed, buffer
 * PTS), so the same input with the same seed gives the same output, also
 * after a seek. Per buffer nothing is allocated (except what libavcodec
 * allocates for blocky); the workspaces grow on the
 * first buffer of a size.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <gst/audio/audio.h>
#include <gst/video/video.h>

#include "udml.h"
#include "media.h"
#include "udmlnoise.h"

GST_DEBUG_CATEGORY_STATIC (gst_udml_noise_debug);
#define GST_CAT_DEFAULT gst_udml_noise_debug

#define DEFAULT_KIND GST_UDML_NOISE_KIND_GAUSSIAN
#define DEFAULT_LEVEL 5
#define DEFAULT_PERIOD 0
#define DEFAULT_DUTY 0.5
#define DEFAULT_SEED 0
#define DEFAULT_AUDIO_REFERENCE -20.0

#define MIN_LEVEL 1
/* Babble's ring of the clean mix; the core reads its four talkers a
 * quarter ring apart, here 0.5, 1.5, 2.5 and 3.5 s back (BABBLE_AHEAD). */
#define BABBLE_RING_S 4
#define BABBLE_AHEAD(n) ((n) / 8)

/* The element's kinds are the core's, value for value. */
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_GAUSSIAN ==
    (gint) UDML_DEGRADE_GAUSSIAN);
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_SALT == (gint) UDML_DEGRADE_SALT);
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_FREEZE ==
    (gint) UDML_DEGRADE_FREEZE);
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_HUM == (gint) UDML_DEGRADE_HUM);
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_HUM + 1 ==
    (gint) UDML_DEGRADE_COUNT);

enum
{
  PROP_0,
  PROP_KIND,
  PROP_LEVEL,
  PROP_PERIOD,
  PROP_DUTY,
  PROP_SEED,
  PROP_AUDIO_REFERENCE,
};

struct _GstUdmlNoise
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  GstUdmlNoiseKind kind;
  gint level;
  guint64 period;
  gdouble duty;
  guint64 seed;
  gdouble audio_reference;

  /* negotiated format, streaming thread only */
  gboolean is_video;
  GstVideoInfo vinfo;
  GstAudioInfo ainfo;
  guint64 counter;              /* seeds buffers without a timestamp */
  gint64 next_sample;           /* audio position without a stream time */
  UdmlRng rng;
  UdmlDegradeStream *stream;    /* freeze, muffle state, workspaces */
  UdmlMediaBlocky *blocky;
  gfloat *babble;               /* ring of the clean mono mix, babble_n */
  gsize babble_n;
  gdouble babble_rms;           /* udml_degrade_babble_rms of the ring, */
  gint64 babble_rms_at;         /* at this stream frame; -1: not yet */
};

GType
gst_udml_noise_kind_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_NOISE_KIND_GAUSSIAN, "Additive Gaussian", "gaussian"},
    {GST_UDML_NOISE_KIND_SALT, "Salt and pepper", "salt"},
    {GST_UDML_NOISE_KIND_DARK, "Video: underexposure with sensor noise",
        "dark"},
    {GST_UDML_NOISE_KIND_BLUR, "Video: defocus", "blur"},
    {GST_UDML_NOISE_KIND_MOTION, "Video: motion blur", "motion"},
    {GST_UDML_NOISE_KIND_OCCLUSION, "Video: opaque patch (11: covered lens)",
        "occlusion"},
    {GST_UDML_NOISE_KIND_BLOCKY, "Video: MJPEG compression", "blocky"},
    {GST_UDML_NOISE_KIND_FREEZE, "Video: frames stop updating", "freeze"},
    {GST_UDML_NOISE_KIND_BABBLE, "Audio: four talkers of other speech",
        "babble"},
    {GST_UDML_NOISE_KIND_CLIP, "Audio: gain into hard clipping", "clip"},
    {GST_UDML_NOISE_KIND_DROPOUT, "Audio: muted spans (11: muted mic)",
        "dropout"},
    {GST_UDML_NOISE_KIND_MUFFLE, "Audio: low-pass", "muffle"},
    {GST_UDML_NOISE_KIND_HUM, "Audio: mains hum", "hum"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstUdmlNoiseKind",
            values));
  return type;
}

#define gst_udml_noise_parent_class parent_class
G_DEFINE_TYPE (GstUdmlNoise, gst_udml_noise, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (udmlnoise, "udmlnoise", GST_RANK_NONE,
    GST_TYPE_UDML_NOISE);

#define NOISE_VIDEO_FORMATS \
  "{ GRAY8, RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, " \
  "I420, NV12 }"
#define NOISE_CAPS \
  GST_VIDEO_CAPS_MAKE (NOISE_VIDEO_FORMATS) "; " \
  "audio/x-raw, format = (string) { S16LE, F32LE }, " \
  "rate = " GST_AUDIO_RATE_RANGE ", channels = (int) [ 1, 8 ], " \
  "layout = (string) interleaved"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (NOISE_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (NOISE_CAPS));

/* ------------------------------------------------------------ helpers */

/* Noise is on in the first duty fraction of every period of stream time;
 * a sample without a stream time is treated as inside a burst. */
static inline gboolean
burst_on (guint64 period, guint64 on_ns, GstClockTime stream_time)
{
  if (period == 0 || !GST_CLOCK_TIME_IS_VALID (stream_time))
    return TRUE;
  return (stream_time % period) < on_ns;
}

/* ------------------------------------------------------------- video */

/* Sets chroma (components 1, 2) of the pixels in a luma rectangle to
 * neutral, or pulls it towards neutral by gain. */
static void
chroma_towards_neutral (GstVideoFrame * frame, gint x0, gint y0, gint w,
    gint h, gfloat gain)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  gint c, x, y;

  for (c = 1; c < 3; c++) {
    guint8 *base = GST_VIDEO_FRAME_COMP_DATA (frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c);
    gint cx0 = GST_VIDEO_SUB_SCALE (finfo->w_sub[c], x0);
    gint cy0 = GST_VIDEO_SUB_SCALE (finfo->h_sub[c], y0);
    gint cx1 = MIN (GST_VIDEO_SUB_SCALE (finfo->w_sub[c], x0 + w),
        GST_VIDEO_FRAME_COMP_WIDTH (frame, c));
    gint cy1 = MIN (GST_VIDEO_SUB_SCALE (finfo->h_sub[c], y0 + h),
        GST_VIDEO_FRAME_COMP_HEIGHT (frame, c));

    for (y = cy0; y < cy1; y++) {
      guint8 *p = base + (gsize) y * stride;
      for (x = cx0; x < cx1; x++) {
        guint8 *v = p + x * pstride;
        *v = (guint8) lrintf (128.0f + gain * ((gfloat) * v - 128.0f));
      }
    }
  }
}

static gboolean
noise_video (GstUdmlNoise * self, GstVideoFrame * frame,
    GstUdmlNoiseKind kind, gint level)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  gboolean yuv = GST_VIDEO_FORMAT_INFO_IS_YUV (finfo);
  UdmlFrameU8 f = { {NULL}, 0, 0, 0, 0, 0 };
  UdmlError err;
  UdmlStatus st;
  gint c;

  /* Packed RGB components share stride and pixel stride with comp 0. */
  f.n_comp = (yuv || GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo)) ? 1 : 3;
  for (c = 0; c < f.n_comp; c++)
    f.comp[c] = GST_VIDEO_FRAME_COMP_DATA (frame, c);
  f.width = GST_VIDEO_FRAME_COMP_WIDTH (frame, 0);
  f.height = GST_VIDEO_FRAME_COMP_HEIGHT (frame, 0);
  f.stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  f.pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);

  if (kind == GST_UDML_NOISE_KIND_FREEZE) {
    /* Freeze holds every byte of the frame, all planes: the frame as one
     * row of bytes is the same rule. */
    UdmlFrameU8 all = { {NULL}, 1, 0, 1, 0, 1 };
    gsize size = GST_VIDEO_FRAME_SIZE (frame);

    all.comp[0] = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
    all.width = (gint) size;
    all.stride = size;
    st = udml_degrade_stream_frame_u8 (self->stream, UDML_DEGRADE_FREEZE,
        level, &all, &self->rng, &err);
  } else if (kind == GST_UDML_NOISE_KIND_BLOCKY) {
    st = udml_media_blocky_frame_u8 (self->blocky, level, &f, &err);
  } else {
    st = udml_degrade_stream_frame_u8 (self->stream, (UdmlDegrade) kind,
        level, &f, &self->rng, &err);
  }
  if (st != UDML_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
        ("%s level %d on a %dx%d %s frame: %s",
            udml_degrade_name ((UdmlDegrade) kind), level, f.width, f.height,
            GST_VIDEO_FORMAT_INFO_NAME (finfo), err.msg));
    return FALSE;
  }

  if (!yuv)
    return TRUE;
  if (kind == GST_UDML_NOISE_KIND_GAUSSIAN && level >= UDML_NOISE_LEVELS) {
    chroma_towards_neutral (frame, 0, 0, f.width, f.height, 0.0f);
  } else if (kind == GST_UDML_NOISE_KIND_OCCLUSION) {
    gint x0, y0, w, h;
    udml_degrade_occlusion_rect (f.width, f.height, level, &x0, &y0, &w, &h);
    chroma_towards_neutral (frame, x0, y0, w, h, 0.0f);
  } else if (kind == GST_UDML_NOISE_KIND_DARK) {
    chroma_towards_neutral (frame, 0, 0, f.width, f.height,
        udml_degrade_dark_gain (level));
  }
  return TRUE;
}

/* ------------------------------------------------------------- audio */

/* The clean mono mix of frames [i0, i1) of the buffer into the babble ring
 * at their stream positions. */
static void
babble_store (GstUdmlNoise * self, const guint8 * data, gsize i0, gsize i1,
    gint64 t0)
{
  gint channels = GST_AUDIO_INFO_CHANNELS (&self->ainfo);
  gboolean is_s16 = GST_AUDIO_INFO_FORMAT (&self->ainfo) ==
      GST_AUDIO_FORMAT_S16LE;
  gsize i;
  gint c;

  for (i = i0; i < i1; i++) {
    gfloat m = 0.0f;
    gint64 k = (t0 + (gint64) i) % (gint64) self->babble_n;
    for (c = 0; c < channels; c++)
      m += is_s16 ? ((const gint16 *) data)[i * channels + c] / 32768.0f :
          ((const gfloat *) data)[i * channels + c];
    self->babble[k < 0 ? k + (gint64) self->babble_n : k] = m / channels;
  }
}

static gboolean
noise_audio (GstUdmlNoise * self, guint8 * data, gsize size,
    GstClockTime stream_time, guint64 period, guint64 on_ns,
    GstUdmlNoiseKind kind, gint level, gdouble reference_db)
{
  gint channels = GST_AUDIO_INFO_CHANNELS (&self->ainfo);
  gint rate = GST_AUDIO_INFO_RATE (&self->ainfo);
  gint bpf = GST_AUDIO_INFO_BPF (&self->ainfo);
  gboolean is_s16 = GST_AUDIO_INFO_FORMAT (&self->ainfo) ==
      GST_AUDIO_FORMAT_S16LE;
  gsize n_frames = bpf > 0 ? size / bpf : 0, i, end;
  UdmlAudioParams p = { 0 };
  UdmlError err;
  gint64 t0;

  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    t0 = (gint64) gst_util_uint64_scale_round (stream_time, rate, GST_SECOND);
  else
    t0 = self->next_sample;
  self->next_sample = t0 + (gint64) n_frames;

  p.rate = rate;
  p.channels = channels;
  p.ref_rms = (gfloat) pow (10.0, reference_db / 20.0);
  /* The ring holds the clean mix by stream position; read BABBLE_AHEAD
   * ahead, it gives the mix of that much less than a ring earlier. Runs
   * are stored just before they are degraded and are never longer than
   * BABBLE_AHEAD, so no talker reads a frame after the one it degrades. */
  p.other = self->babble;
  p.n_other = self->babble_n;

  for (i = 0; i < n_frames; i = end) {
    UdmlStatus st;
    gsize off = i * channels;

    /* the next run of frames with the same burst state */
    gboolean on = TRUE;
    end = n_frames;
    if (period > 0 && GST_CLOCK_TIME_IS_VALID (stream_time)) {
      on = burst_on (period, on_ns, stream_time +
          gst_util_uint64_scale_int (i, GST_SECOND, rate));
      for (end = i + 1; end < n_frames; end++)
        if (burst_on (period, on_ns, stream_time +
                gst_util_uint64_scale_int (end, GST_SECOND, rate)) != on)
          break;
    }
    if (BABBLE_AHEAD (self->babble_n) > 0
        && end - i > BABBLE_AHEAD (self->babble_n))
      end = i + BABBLE_AHEAD (self->babble_n);
    babble_store (self, data, i, end, t0);
    if (!on)
      continue;
    p.t0 = t0 + (gint64) i;
    if (kind == GST_UDML_NOISE_KIND_BABBLE) {
      /* the level of four seconds of history moves slowly: measured every
       * BABBLE_AHEAD, not on every buffer */
      if (self->babble_rms_at < 0 || ABS (p.t0 - self->babble_rms_at) >=
          (gint64) BABBLE_AHEAD (self->babble_n)) {
        self->babble_rms = udml_degrade_babble_rms (self->babble,
            self->babble_n);
        self->babble_rms_at = p.t0;
      }
      if (self->babble_rms <= 0.0)
        continue;               /* silent history: nothing to mix in */
      p.other_rms = self->babble_rms;
      p.t0 += (gint64) BABBLE_AHEAD (self->babble_n);
    }
    if (is_s16)
      st = udml_degrade_audio_s16 (self->stream, (UdmlDegrade) kind, level,
          &p, (gint16 *) data + off, end - i, &self->rng, &err);
    else
      st = udml_degrade_audio (self->stream, (UdmlDegrade) kind, level, &p,
          (gfloat *) data + off, end - i, &self->rng, &err);
    if (st != UDML_OK) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("%s level %d on %" G_GSIZE_FORMAT " frames of %d Hz x %d: %s",
              udml_degrade_name ((UdmlDegrade) kind), level, end - i, rate,
              channels, err.msg));
      return FALSE;
    }
  }
  return TRUE;
}

/* ------------------------------------------------------- base transform */

static gboolean
gst_udml_noise_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstUdmlNoise *self = GST_UDML_NOISE (trans);
  GstStructure *s = gst_caps_get_structure (incaps, 0);

  if (gst_structure_has_name (s, "video/x-raw")) {
    if (!gst_video_info_from_caps (&self->vinfo, incaps))
      goto invalid;
    self->is_video = TRUE;
  } else {
    gsize n;

    if (!gst_audio_info_from_caps (&self->ainfo, incaps))
      goto invalid;
    self->is_video = FALSE;
    n = (gsize) BABBLE_RING_S *GST_AUDIO_INFO_RATE (&self->ainfo);
    if (n != self->babble_n) {
      g_free (self->babble);
      self->babble = g_new0 (gfloat, n);
      self->babble_n = n;
    }
    self->babble_rms_at = -1;
  }
  udml_degrade_stream_reset (self->stream);
  GST_DEBUG_OBJECT (self, "configured for %" GST_PTR_FORMAT, incaps);
  return TRUE;

invalid:
  GST_ERROR_OBJECT (self, "cannot parse caps %" GST_PTR_FORMAT, incaps);
  return FALSE;
}

static gboolean
gst_udml_noise_start (GstBaseTransform * trans)
{
  GstUdmlNoise *self = GST_UDML_NOISE (trans);
  UdmlError err;

  self->counter = 0;
  self->next_sample = 0;
  self->babble_rms_at = -1;
  self->stream = udml_degrade_stream_new ();
  self->blocky = udml_media_blocky_new (&err);
  if (!self->stream || !self->blocky) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL),
        ("no memory for the degradation state"));
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_udml_noise_stop (GstBaseTransform * trans)
{
  GstUdmlNoise *self = GST_UDML_NOISE (trans);

  g_clear_pointer (&self->stream, udml_degrade_stream_free);
  g_clear_pointer (&self->blocky, udml_media_blocky_free);
  g_clear_pointer (&self->babble, g_free);
  self->babble_n = 0;
  return TRUE;
}

static gboolean
gst_udml_noise_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstUdmlNoise *self = GST_UDML_NOISE (trans);

  /* a flush starts the held frame and the filters afresh */
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    udml_degrade_stream_reset (self->stream);
    self->babble_rms_at = -1;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static GstFlowReturn
gst_udml_noise_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstUdmlNoise *self = GST_UDML_NOISE (trans);
  GstUdmlNoiseKind kind;
  gint level;
  guint64 period, on_ns, seed;
  gdouble duty, reference_db;
  GstClockTime pts, stream_time = GST_CLOCK_TIME_NONE;
  gboolean keep_state, ok;

  pts = GST_BUFFER_PTS (buf);
  if (GST_CLOCK_TIME_IS_VALID (pts) && trans->segment.format == GST_FORMAT_TIME)
    stream_time = gst_segment_to_stream_time (&trans->segment,
        GST_FORMAT_TIME, pts);
  /* Controlled properties take their values at the buffer's stream time. */
  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    gst_object_sync_values (GST_OBJECT (self), stream_time);

  GST_OBJECT_LOCK (self);
  kind = self->kind;
  level = self->level;
  period = self->period;
  duty = self->duty;
  seed = self->seed;
  reference_db = self->audio_reference;
  GST_OBJECT_UNLOCK (self);

  if (!udml_degrade_applies ((UdmlDegrade) kind, self->is_video ?
          UDML_MODALITY_VIDEO : UDML_MODALITY_AUDIO))
    return GST_FLOW_OK;
  on_ns = (guint64) (duty * period + 0.5);
  /* Freeze keeps the frame shown and babble its history also while clean,
   * so that they start from the latest input when they are switched on. */
  keep_state = kind == GST_UDML_NOISE_KIND_FREEZE ||
      kind == GST_UDML_NOISE_KIND_BABBLE;
  if (level <= MIN_LEVEL && !keep_state)
    return GST_FLOW_OK;

  /* Counter-based generator: seeded from the buffer's own timestamp. */
  udml_rng_seed (&self->rng, seed,
      GST_CLOCK_TIME_IS_VALID (pts) ? pts : G_MAXUINT64 - self->counter);
  self->counter++;

  if (self->is_video) {
    GstVideoFrame frame;

    if (!burst_on (period, on_ns, stream_time)) {
      if (!keep_state)
        return GST_FLOW_OK;
      level = MIN_LEVEL;
    }
    if (!gst_video_frame_map (&frame, &self->vinfo, buf, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("could not map video buffer of %" G_GSIZE_FORMAT " bytes writable",
              gst_buffer_get_size (buf)));
      return GST_FLOW_ERROR;
    }
    ok = noise_video (self, &frame, kind, level);
    gst_video_frame_unmap (&frame);
  } else {
    GstMapInfo map;

    if (!gst_buffer_map (buf, &map, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("could not map audio buffer of %" G_GSIZE_FORMAT " bytes writable",
              gst_buffer_get_size (buf)));
      return GST_FLOW_ERROR;
    }
    ok = noise_audio (self, map.data, map.size, stream_time, period, on_ns,
        kind, level, reference_db);
    gst_buffer_unmap (buf, &map);
  }
  if (!ok)
    return GST_FLOW_ERROR;
  /* Noise was added: the buffer no longer holds neutral data. */
  if (level > MIN_LEVEL)
    GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_GAP);
  return GST_FLOW_OK;
}

/* ------------------------------------------------------------ GObject */

static void
gst_udml_noise_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstUdmlNoise *self = GST_UDML_NOISE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_KIND:
      self->kind = g_value_get_enum (value);
      break;
    case PROP_LEVEL:
      self->level = g_value_get_int (value);
      break;
    case PROP_PERIOD:
      self->period = g_value_get_uint64 (value);
      break;
    case PROP_DUTY:
      self->duty = g_value_get_double (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_AUDIO_REFERENCE:
      self->audio_reference = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_udml_noise_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstUdmlNoise *self = GST_UDML_NOISE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_KIND:
      g_value_set_enum (value, self->kind);
      break;
    case PROP_LEVEL:
      g_value_set_int (value, self->level);
      break;
    case PROP_PERIOD:
      g_value_set_uint64 (value, self->period);
      break;
    case PROP_DUTY:
      g_value_set_double (value, self->duty);
      break;
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_AUDIO_REFERENCE:
      g_value_set_double (value, self->audio_reference);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_udml_noise_class_init (GstUdmlNoiseClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_CONTROLLABLE | GST_PARAM_MUTABLE_PLAYING;

  GST_DEBUG_CATEGORY_INIT (gst_udml_noise_debug, "udmlnoise", 0,
      "UDML noise injector");

  gobject_class->set_property = gst_udml_noise_set_property;
  gobject_class->get_property = gst_udml_noise_get_property;

  g_object_class_install_property (gobject_class, PROP_KIND,
      g_param_spec_enum ("kind", "Kind",
          "Degradation kind (method.md); a kind of the other modality "
          "leaves buffers unchanged",
          GST_TYPE_UDML_NOISE_KIND, DEFAULT_KIND, flags));
  g_object_class_install_property (gobject_class, PROP_LEVEL,
      g_param_spec_int ("level", "Level",
          "Degradation level: 1 clean .. 11 worst, the kind's rule of "
          "method.md (e.g. video Gaussian std level^2 grey levels, audio "
          "SNR 30 - 5 (level - 2) dB, salt fraction level/20)", MIN_LEVEL,
          UDML_NOISE_LEVELS, DEFAULT_LEVEL, flags));
  g_object_class_install_property (gobject_class, PROP_PERIOD,
      g_param_spec_uint64 ("period", "Period",
          "Burst period in nanoseconds of stream time (0 = always on)", 0,
          G_MAXUINT64, DEFAULT_PERIOD, flags));
  g_object_class_install_property (gobject_class, PROP_DUTY,
      g_param_spec_double ("duty", "Duty",
          "Fraction of each period, from its start, during which noise is on",
          0.0, 1.0, DEFAULT_DUTY, flags));
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of the noise generator (same seed and input, same output)", 0,
          G_MAXUINT64, DEFAULT_SEED, flags));
  g_object_class_install_property (gobject_class, PROP_AUDIO_REFERENCE,
      g_param_spec_double ("audio-reference", "Audio reference",
          "Reference signal RMS in dBFS against which the audio SNR of a "
          "level is set", -120.0, 0.0, DEFAULT_AUDIO_REFERENCE, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "UDML noise",
      "Filter/Effect/Audio/Video",
      "Degrades audio or video by a UDML degradation kind and level "
      "(noise, darkness, blur, occlusion, compression, freeze, babble, "
      "clipping, dropout, muffling, hum), optionally in bursts", "udml");

  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_udml_noise_set_caps);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_udml_noise_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_udml_noise_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_udml_noise_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_udml_noise_transform_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_UDML_NOISE_KIND, 0);
}

static void
gst_udml_noise_init (GstUdmlNoise * self)
{
  self->kind = DEFAULT_KIND;
  self->level = DEFAULT_LEVEL;
  self->period = DEFAULT_PERIOD;
  self->duty = DEFAULT_DUTY;
  self->seed = DEFAULT_SEED;
  self->audio_reference = DEFAULT_AUDIO_REFERENCE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
