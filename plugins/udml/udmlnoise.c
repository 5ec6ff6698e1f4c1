/* udmlnoise.c — in-place noise for raw audio or video, for demos, tests
 * and robustness checks of udmlfuse.
 *
 * Video: the core's rule for 8-bit frames (udml_degrade_frame_u8, method.md
 * §3), so a level here is the level the model was trained and evaluated on:
 * level 1 is clean; levels 2..10 add one Gaussian field of std level² grey
 * levels shared by all colour channels; level 11 replaces the frame by
 * grey-scale noise. Salt: a fraction level/20 of the pixels becomes black or
 * white with equal probability. For I420/NV12 the rule runs on luma, which
 * is what a shared R=G=B change is; chroma is kept, and set to neutral where
 * the frame is replaced by grey noise.
 *
 * Audio: additive white Gaussian noise at a signal-to-noise ratio per level
 * against a fixed reference RMS (property audio-reference, default -20 dBFS),
 * so the noise power does not follow the signal envelope:
 *   level 1 clean, level L in 2..10: SNR = 30 - 5 (L - 2) dB (30 ... -10),
 *   level 11: the signal is dropped, only noise at the level 10 power.
 * Salt on audio: a fraction level/20 of the samples is set to plus or minus
 * full scale (clicks).
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
 * after a seek. Nothing is allocated per buffer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>

#include <gst/audio/audio.h>
#include <gst/video/video.h>

#include "udml.h"
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

/* The element's kinds are the core's. */
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_GAUSSIAN ==
    (gint) UDML_DEGRADE_GAUSSIAN);
G_STATIC_ASSERT ((gint) GST_UDML_NOISE_KIND_SALT == (gint) UDML_DEGRADE_SALT);

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
  UdmlRng rng;
};

GType
gst_udml_noise_kind_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_NOISE_KIND_GAUSSIAN, "Additive Gaussian", "gaussian"},
    {GST_UDML_NOISE_KIND_SALT, "Salt and pepper", "salt"},
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
  GST_AUDIO_CAPS_MAKE ("{ S16LE, F32LE }") ", layout = (string) interleaved"

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

/* Audio noise std as a fraction of full scale for a level (see the table in
 * the file comment); 0 for level 1. */
static gdouble
audio_noise_std (gint level, gdouble reference_db)
{
  gdouble ref = pow (10.0, reference_db / 20.0);
  gdouble snr_db;

  if (level <= 1)
    return 0.0;
  if (level >= UDML_NOISE_LEVELS)
    level = UDML_NOISE_LEVELS - 1;
  snr_db = 30.0 - 5.0 * (level - 2);
  return ref * pow (10.0, -snr_db / 20.0);
}

/* ------------------------------------------------------------- video */

static void
fill_chroma_neutral (GstVideoFrame * frame)
{
  gint c, x, y;

  for (c = 1; c < 3; c++) {
    guint8 *base = GST_VIDEO_FRAME_COMP_DATA (frame, c);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c);
    gint w = GST_VIDEO_FRAME_COMP_WIDTH (frame, c);
    gint h = GST_VIDEO_FRAME_COMP_HEIGHT (frame, c);

    for (y = 0; y < h; y++) {
      guint8 *p = base + (gsize) y * stride;
      for (x = 0; x < w; x++)
        p[x * pstride] = 128;
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
  gint c;

  /* Packed RGB components share stride and pixel stride with comp 0. */
  f.n_comp = (yuv || GST_VIDEO_FORMAT_INFO_IS_GRAY (finfo)) ? 1 : 3;
  for (c = 0; c < f.n_comp; c++)
    f.comp[c] = GST_VIDEO_FRAME_COMP_DATA (frame, c);
  f.width = GST_VIDEO_FRAME_COMP_WIDTH (frame, 0);
  f.height = GST_VIDEO_FRAME_COMP_HEIGHT (frame, 0);
  f.stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  f.pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);

  if (udml_degrade_frame_u8 ((UdmlDegrade) kind, level, &f, &self->rng,
          &err) != UDML_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
        ("noise on a %dx%d %s frame: %s", f.width, f.height,
            GST_VIDEO_FORMAT_INFO_NAME (finfo), err.msg));
    return FALSE;
  }

  if (yuv && kind == GST_UDML_NOISE_KIND_GAUSSIAN && level >= UDML_NOISE_LEVELS)
    fill_chroma_neutral (frame);
  return TRUE;
}

/* ------------------------------------------------------------- audio */

static void
noise_audio (GstUdmlNoise * self, guint8 * data, gsize size,
    GstClockTime stream_time, guint64 period, guint64 on_ns,
    GstUdmlNoiseKind kind, gint level, gdouble reference_db)
{
  gint channels = GST_AUDIO_INFO_CHANNELS (&self->ainfo);
  gint rate = GST_AUDIO_INFO_RATE (&self->ainfo);
  gint bpf = GST_AUDIO_INFO_BPF (&self->ainfo);
  gboolean is_s16 = GST_AUDIO_INFO_FORMAT (&self->ainfo) ==
      GST_AUDIO_FORMAT_S16LE;
  gsize n_frames = bpf > 0 ? size / bpf : 0;
  gfloat std = (gfloat) audio_noise_std (level, reference_db);
  gfloat frac = level / 20.0f;
  gboolean drop_signal = level >= UDML_NOISE_LEVELS;
  gint16 *s16 = (gint16 *) data;
  gfloat *f32 = (gfloat *) data;
  gsize i;
  gint c;

  if (is_s16)
    std *= 32768.0f;

  for (i = 0; i < n_frames; i++) {
    if (period > 0 && GST_CLOCK_TIME_IS_VALID (stream_time)) {
      GstClockTime t = stream_time +
          gst_util_uint64_scale_int (i, GST_SECOND, rate);
      if (!burst_on (period, on_ns, t))
        continue;
    }
    for (c = 0; c < channels; c++) {
      gsize k = i * channels + c;

      if (kind == GST_UDML_NOISE_KIND_SALT) {
        gfloat u = udml_rng_uniform (&self->rng);
        if (u >= frac)
          continue;
        if (is_s16)
          s16[k] = u < 0.5f * frac ? G_MININT16 : G_MAXINT16;
        else
          f32[k] = u < 0.5f * frac ? -1.0f : 1.0f;
      } else if (is_s16) {
        gfloat v = (drop_signal ? 0.0f : s16[k]) +
            std * udml_rng_normal (&self->rng);
        v = CLAMP (v, -32768.0f, 32767.0f);
        s16[k] = (gint16) lrintf (v);
      } else {
        f32[k] = (drop_signal ? 0.0f : f32[k]) +
            std * udml_rng_normal (&self->rng);
      }
    }
  }
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
    if (!gst_audio_info_from_caps (&self->ainfo, incaps))
      goto invalid;
    self->is_video = FALSE;
  }
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

  self->counter = 0;
  return TRUE;
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

  if (level <= MIN_LEVEL)
    return GST_FLOW_OK;

  on_ns = (guint64) (duty * period + 0.5);

  /* Counter-based generator: seeded from the buffer's own timestamp. */
  udml_rng_seed (&self->rng, seed,
      GST_CLOCK_TIME_IS_VALID (pts) ? pts : G_MAXUINT64 - self->counter);
  self->counter++;

  if (self->is_video) {
    GstVideoFrame frame;
    gboolean ok;

    if (!burst_on (period, on_ns, stream_time))
      return GST_FLOW_OK;
    if (!gst_video_frame_map (&frame, &self->vinfo, buf, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("could not map video buffer of %" G_GSIZE_FORMAT " bytes writable",
              gst_buffer_get_size (buf)));
      return GST_FLOW_ERROR;
    }
    ok = noise_video (self, &frame, kind, level);
    gst_video_frame_unmap (&frame);
    if (!ok)
      return GST_FLOW_ERROR;
  } else {
    GstMapInfo map;

    if (!gst_buffer_map (buf, &map, GST_MAP_READWRITE)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (NULL),
          ("could not map audio buffer of %" G_GSIZE_FORMAT " bytes writable",
              gst_buffer_get_size (buf)));
      return GST_FLOW_ERROR;
    }
    noise_audio (self, map.data, map.size, stream_time, period, on_ns, kind,
        level, reference_db);
    gst_buffer_unmap (buf, &map);
  }
  /* Noise was added: the buffer no longer holds neutral data. */
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
      g_param_spec_enum ("kind", "Kind", "Kind of noise",
          GST_TYPE_UDML_NOISE_KIND, DEFAULT_KIND, flags));
  g_object_class_install_property (gobject_class, PROP_LEVEL,
      g_param_spec_int ("level", "Level",
          "Noise level: 1 clean, 2..10 rising (video Gaussian std level^2 "
          "grey levels; audio SNR 30 - 5 (level - 2) dB; salt fraction "
          "level/20), 11 pure noise", MIN_LEVEL, UDML_NOISE_LEVELS,
          DEFAULT_LEVEL, flags));
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
      "Adds Gaussian or salt-and-pepper noise at a UDML noise level, "
      "optionally in bursts", "udml");

  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_udml_noise_set_caps);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_udml_noise_start);
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
