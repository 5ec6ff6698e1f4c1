/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-udmlfuse.c — gst-check tests of the udmlfuse element.
 *
 * Built twice: with decoding (all tests) and with UDML_TEST_NO_DECODE for
 * the valgrind run, which cannot load libavcodec's dependencies.
 * The plugin comes from the build tree (GST_PLUGIN_PATH_1_0); models are
 * created here with udml_model_new + udml_model_save in a temporary
 * directory. Every comparison states its tolerance; failures print the
 * values involved.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>

#include "udml.h"
#include "udmlfuse.h"
#include "udmlmeta.h"
#ifndef UDML_TEST_NO_DECODE
#include "media.h"
#endif

#define MS GST_MSECOND
#define FRAME_DUR (100 * MS)
#define AUDIO_RATE 16000

static gchar *tmpdir;
static gchar *model_a;          /* default config, 10 classes */
static gchar *model_c;          /* compatible inputs, 5 classes */
static gchar *model_bad;        /* 32x32 frames: does not fit model_a */
static gchar *model_corrupt;
static gchar *model_truncated;
static gchar *model_cal;        /* model_a's config, calibrated per modality */

/* set on the next element fuse_setup creates (GST_UDML_FUSE_FORWARD_HOOK) */
static GstUdmlFuseForwardHook *setup_hook;

static GstStaticPadTemplate any_src = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate any_sink = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* ------------------------------------------------------------- models */

static gchar *make_model_cal (const gchar * name, guint64 seed,
    gint n_classes, gint frame, const gfloat * calibration);

static gchar *
make_model (const gchar * name, guint64 seed, gint n_classes, gint frame)
{
  return make_model_cal (name, seed, n_classes, frame, NULL);
}

/* calibration: one clean-noise p99 per modality, in model order, or NULL */
static gchar *
make_model_cal (const gchar * name, guint64 seed, gint n_classes, gint frame,
    const gfloat * calibration)
{
  UdmlConfig cfg;
  UdmlError err = { 0 };
  UdmlModel *model;
  gchar *path = g_build_filename (tmpdir, name, NULL);
  gint v;

  udml_config_default (&cfg);
  cfg.n_classes = n_classes;
  if (frame != cfg.features.frame_width) {
    v = udml_config_find (&cfg, UDML_MODALITY_VIDEO);
    cfg.features.frame_width = cfg.features.frame_height = frame;
    cfg.mod[v].in_w = cfg.mod[v].in_h = frame;
  }
  if (udml_config_validate (&cfg, &err) != UDML_OK)
    g_error ("config for %s: %s", name, err.msg);
  model = udml_model_new (&cfg, seed, &err);
  if (model == NULL)
    g_error ("udml_model_new: %s", err.msg);
  for (v = 0; calibration && v < cfg.n_modalities; v++)
    udml_model_set_calibration (model, v, calibration[v]);
  if (udml_model_save (model, path, &err) != UDML_OK)
    g_error ("udml_model_save %s: %s", path, err.msg);
  udml_model_free (model);
  return path;
}

/* model_a's config with the audio calibration above and the video one
 * below any sigma-hat */
static gchar *
make_cal_model (void)
{
  UdmlConfig cfg;
  gfloat cal[UDML_MAX_MODALITIES];

  udml_config_default (&cfg);
  cal[udml_config_find (&cfg, UDML_MODALITY_AUDIO)] = 1e9f;
  cal[udml_config_find (&cfg, UDML_MODALITY_VIDEO)] = 1e-9f;
  return make_model_cal ("cal.udml", 1, 10, 64, cal);
}

static void
setup_models (void)
{
  gchar *data = NULL;
  gsize len = 0;

  tmpdir = g_dir_make_tmp ("udmlfuse-XXXXXX", NULL);
  g_assert (tmpdir);
  model_a = make_model ("a.udml", 1, 10, 64);
  model_c = make_model ("c.udml", 2, 5, 64);
  model_bad = make_model ("bad.udml", 3, 10, 32);
  model_cal = make_cal_model ();
  model_corrupt = g_build_filename (tmpdir, "corrupt.udml", NULL);
  g_file_set_contents (model_corrupt, "UDML this is not a model file", -1,
      NULL);
  model_truncated = g_build_filename (tmpdir, "truncated.udml", NULL);
  g_assert (g_file_get_contents (model_a, &data, &len, NULL));
  g_file_set_contents (model_truncated, data, len / 3, NULL);
  g_free (data);
}

static void
remove_models (void)
{
  const gchar *files[] = { model_a, model_c, model_bad, model_corrupt,
    model_truncated, model_cal
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    g_unlink (files[i]);
    g_free ((gchar *) files[i]);
  }
  g_rmdir (tmpdir);
  g_free (tmpdir);
}

/* ------------------------------------------------------------ buffers */

static GstBuffer *
make_video (GstVideoFormat fmt, gint w, gint h, GstClockTime pts,
    GstClockTime dur, guint8 value)
{
  GstVideoInfo info;
  GstBuffer *buf;
  GstMapInfo map;
  gsize i;

  gst_video_info_set_format (&info, fmt, w, h);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (i = 0; i < map.size; i++)
    map.data[i] = (guint8) (value + (i * 7) % 61);
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  return buf;
}

/* A 440 Hz tone of amplitude amp (0 = silence), continuous across
 * buffers. */
static GstBuffer *
make_audio_amp (GstAudioFormat fmt, gint rate, gint channels,
    GstClockTime pts, GstClockTime dur, gdouble amp)
{
  gint n = (gint) gst_util_uint64_scale_round (dur, rate, GST_SECOND);
  guint64 s0 = gst_util_uint64_scale_round (pts, rate, GST_SECOND);
  gint bps = fmt == GST_AUDIO_FORMAT_S16LE ? 2 : 4;
  GstBuffer *buf = gst_buffer_new_allocate (NULL, (gsize) n * channels * bps,
      NULL);
  GstMapInfo map;
  gint i, c;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (i = 0; i < n; i++) {
    double x = amp * sin (2 * G_PI * 440.0 * (double) (s0 + i) / rate);
    for (c = 0; c < channels; c++) {
      if (bps == 2)
        ((gint16 *) map.data)[i * channels + c] = (gint16) (x * 32767);
      else
        ((gfloat *) map.data)[i * channels + c] = (gfloat) x;
    }
  }
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  return buf;
}

static GstBuffer *
make_audio (GstAudioFormat fmt, gint rate, gint channels, GstClockTime pts,
    GstClockTime dur)
{
  return make_audio_amp (fmt, rate, channels, pts, dur, 0.25);
}

/* ------------------------------------------------------------ harness */

typedef struct
{
  GstElement *e;
  GstHarness *v, *a, *out;
  GstBus *bus;
} Fuse;

#define VCAPS "video/x-raw,format=GRAY8,width=64,height=48,framerate=10/1"
#define ACAPS "audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1"

static GstHarness *
attach (GstElement * e, const gchar * pad, gboolean out, gboolean live)
{
  GstHarness *h = gst_harness_new_empty ();

  gst_harness_set_live (h, live);
  gst_harness_add_element_full (h, e, &any_src, pad, &any_sink,
      out ? "src" : NULL);
  return h;
}

/* Creates udmlfuse with the given properties (NULL-terminated list) and
 * harnesses on the requested pads; the video pad carries the output. */
static void
fuse_setup (Fuse * f, gboolean live, const gchar * vcaps, const gchar * acaps,
    const gchar * first_prop, ...)
{
  va_list ap;

  memset (f, 0, sizeof *f);
  f->e = gst_element_factory_make ("udmlfuse", NULL);
  fail_unless (f->e != NULL, "udmlfuse not found: is GST_PLUGIN_PATH set?");
  g_object_set (f->e, "model", model_a, NULL);
  if (setup_hook)
    g_object_set_data (G_OBJECT (f->e), GST_UDML_FUSE_FORWARD_HOOK, setup_hook);
  if (first_prop) {
    va_start (ap, first_prop);
    g_object_set_valist (G_OBJECT (f->e), first_prop, ap);
    va_end (ap);
  }
  f->bus = gst_bus_new ();
  gst_element_set_bus (f->e, f->bus);
  if (vcaps) {
    f->v = attach (f->e, "video_0", TRUE, live);
    gst_harness_set_src_caps_str (f->v, vcaps);
    f->out = f->v;
  }
  if (acaps) {
    f->a = attach (f->e, "audio_0", vcaps == NULL, live);
    gst_harness_set_src_caps_str (f->a, acaps);
    if (!vcaps)
      f->out = f->a;
  }
}

static void
fuse_teardown (Fuse * f)
{
  if (f->a)
    gst_harness_teardown (f->a);
  if (f->v)
    gst_harness_teardown (f->v);
  gst_element_set_bus (f->e, NULL);
  gst_bus_set_flushing (f->bus, TRUE);
  gst_object_unref (f->bus);
  gst_object_unref (f->e);
}

/* Interleaves 100 ms of video and of audio from t0 to t1. */
static void
push_av (Fuse * f, GstClockTime t0, GstClockTime t1)
{
  GstClockTime t;

  for (t = t0; t < t1; t += FRAME_DUR) {
    if (f->v)
      fail_unless_equals_int (gst_harness_push (f->v,
              make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR,
                  (guint8) (t / FRAME_DUR))), GST_FLOW_OK);
    if (f->a)
      fail_unless_equals_int (gst_harness_push (f->a,
              make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, t,
                  FRAME_DUR)), GST_FLOW_OK);
  }
}

static void
push_eos (Fuse * f)
{
  if (f->v)
    fail_unless (gst_harness_push_event (f->v, gst_event_new_eos ()));
  if (f->a)
    fail_unless (gst_harness_push_event (f->a, gst_event_new_eos ()));
}

/* Waits for EOS on the output; every window message is on the bus then. */
static void
wait_eos (Fuse * f)
{
  GstEvent *ev;

  while ((ev = gst_harness_pull_event (f->out)) != NULL) {
    gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
    if (eos)
      return;
  }
  fail ("no EOS on the output");
}

typedef struct
{
  GPtrArray *windows;           /* GstStructure "udmlfuse" */
  GPtrArray *model_events;      /* GstStructure "udmlfuse-model" */
  GPtrArray *alerts;            /* GstStructure "udml-alert" */
  guint64 qos_dropped;
  guint64 qos_rt[4], qos_st[4]; /* running, stream time of the first QoS */
  gint64 qos_jitter[4];
  gdouble qos_proportion[4];
  guint n_qos, n_warnings, n_errors;
  GError *error;
} Msgs;

static void
msgs_init (Msgs * m)
{
  memset (m, 0, sizeof *m);
  m->windows = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  m->model_events = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  m->alerts = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
}

static void
msgs_clear (Msgs * m)
{
  g_ptr_array_unref (m->windows);
  g_ptr_array_unref (m->model_events);
  g_ptr_array_unref (m->alerts);
  g_clear_error (&m->error);
}

static void
msgs_take (Msgs * m, GstMessage * msg)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "udmlfuse"))
        g_ptr_array_add (m->windows, gst_structure_copy (s));
      else if (gst_structure_has_name (s, "udmlfuse-model"))
        g_ptr_array_add (m->model_events, gst_structure_copy (s));
      else if (gst_structure_has_name (s, "udml-alert"))
        g_ptr_array_add (m->alerts, gst_structure_copy (s));
      break;
    }
    case GST_MESSAGE_QOS:{
      GstFormat fmt;
      guint64 processed, dropped;
      gst_message_parse_qos_stats (msg, &fmt, &processed, &dropped);
      if (m->n_qos < 4) {
        gst_message_parse_qos (msg, NULL, &m->qos_rt[m->n_qos],
            &m->qos_st[m->n_qos], NULL, NULL);
        gst_message_parse_qos_values (msg, &m->qos_jitter[m->n_qos],
            &m->qos_proportion[m->n_qos], NULL);
      }
      m->n_qos++;
      m->qos_dropped = dropped;
      break;
    }
    case GST_MESSAGE_WARNING:
      m->n_warnings++;
      break;
    case GST_MESSAGE_ERROR:
      m->n_errors++;
      if (m->error == NULL)
        gst_message_parse_error (msg, &m->error, NULL);
      break;
    default:
      break;
  }
  gst_message_unref (msg);
}

static void
msgs_drain (Msgs * m, GstBus * bus)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus)) != NULL)
    msgs_take (m, msg);
}

/* Pops messages until n windows were seen or the timeout passed. */
static void
msgs_wait_windows (Msgs * m, GstBus * bus, guint n, GstClockTime timeout)
{
  gint64 end = g_get_monotonic_time () + timeout / GST_USECOND;

  while (m->windows->len < n && g_get_monotonic_time () < end) {
    GstMessage *msg = gst_bus_timed_pop (bus, 50 * MS);
    if (msg)
      msgs_take (m, msg);
  }
}

/* Ends every input, waits for EOS on the output and takes the messages
 * then on the bus into m. */
static void
finish_run (Fuse * f, Msgs * m)
{
  push_eos (f);
  wait_eos (f);
  msgs_drain (m, f->bus);
}

static const GstStructure *
win_mod (const GstStructure * s, const gchar * name)
{
  const GValue *v = gst_structure_get_value (s, "modalities");
  const GstStructure *mods;

  fail_unless (v != NULL && GST_VALUE_HOLDS_STRUCTURE (v), "no modalities");
  mods = gst_value_get_structure (v);
  v = gst_structure_get_value (mods, name);
  fail_unless (v != NULL && GST_VALUE_HOLDS_STRUCTURE (v), "no modality %s",
      name);
  return gst_value_get_structure (v);
}

static gboolean
mod_present (const GstStructure * s, const gchar * name)
{
  gboolean p = FALSE;
  fail_unless (gst_structure_get_boolean (win_mod (s, name), "present", &p));
  return p;
}

static gdouble
mod_double (const GstStructure * s, const gchar * name, const gchar * field)
{
  gdouble d = NAN;
  fail_unless (gst_structure_get_double (win_mod (s, name), field, &d),
      "modality %s has no %s", name, field);
  return d;
}

static guint64
win_index (const GstStructure * s)
{
  guint64 k = G_MAXUINT64;
  fail_unless (gst_structure_get_uint64 (s, "window_index", &k));
  return k;
}

static gboolean
win_bool (const GstStructure * s, const gchar * field)
{
  gboolean b = FALSE;
  fail_unless (gst_structure_get_boolean (s, field, &b), "no %s", field);
  return b;
}

static gdouble
win_double (const GstStructure * s, const gchar * field)
{
  gdouble d = NAN;
  fail_unless (gst_structure_get_double (s, field, &d), "no %s", field);
  return d;
}

static void
assert_close (gdouble got, gdouble want, gdouble atol, gdouble rtol,
    const gchar * what)
{
  gdouble diff = fabs (got - want);
  fail_unless (diff <= atol + rtol * fabs (want),
      "%s: got %.9g want %.9g (|diff| %.3g > atol %.1g + rtol %.1g)", what,
      got, want, diff, atol, rtol);
}

/* Checks the invariants every valid window record satisfies. */
static void
check_record (const GstStructure * s, gint n_classes)
{
  const GValue *probs = gst_structure_get_value (s, "probabilities");
  const gchar *label;
  gint i, id = -2, best = 0;
  gdouble sum = 0, conf = -1, maxp = -1, wsum = 0;
  const gchar *mods[] = { "audio", "video" };
  guint64 pts, rt, dur;

  fail_unless (probs && GST_VALUE_HOLDS_ARRAY (probs), "no probabilities");
  fail_unless_equals_int (gst_value_array_get_size (probs), n_classes);
  for (i = 0; i < n_classes; i++) {
    gdouble p = g_value_get_double (gst_value_array_get_value (probs, i));
    fail_unless (p >= 0.0 && p <= 1.0, "probability %d = %g", i, p);
    sum += p;
    if (p > maxp) {
      maxp = p;
      best = i;
    }
  }
  fail_unless (gst_structure_get_int (s, "label_id", &id));
  fail_unless (gst_structure_get_double (s, "confidence", &conf));
  fail_unless ((label = gst_structure_get_string (s, "label")) != NULL);
  fail_unless (gst_structure_get_uint64 (s, "pts", &pts));
  fail_unless (gst_structure_get_uint64 (s, "running_time", &rt));
  fail_unless (gst_structure_get_uint64 (s, "duration", &dur));
  win_bool (s, "partial");
  if (!win_bool (s, "valid")) {
    fail_unless_equals_int (id, -1);
    return;
  }
  assert_close (sum, 1.0, 1e-5, 0, "sum of probabilities");
  fail_unless_equals_int (id, best);
  assert_close (conf, maxp, 0, 0, "confidence vs max probability");
  {
    gchar want[16];
    g_snprintf (want, sizeof want, "%d", id);
    fail_unless_equals_string (label, want);
  }
  for (i = 0; i < 2; i++) {
    gdouble w = mod_double (s, mods[i], "weight");
    gdouble c = mod_double (s, mods[i], "coverage");
    fail_unless (c >= 0.0 && c <= 1.0, "%s coverage %g", mods[i], c);
    mod_double (s, mods[i], "noise");
    mod_double (s, mods[i], "alpha");
    mod_double (s, mods[i], "uncertainty_weight");
    if (mod_present (s, mods[i]))
      wsum += w;
    else
      assert_close (w, 0.0, 0, 0, "weight of an absent modality");
  }
  assert_close (wsum, 1.0, 1e-5, 0, "weights over present modalities");
}

/* --------------------------------------------------------------- tests */

GST_START_TEST (test_caps_video_formats)
{
  const GstVideoFormat fmts[] = { GST_VIDEO_FORMAT_GRAY8,
    GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (fmts); i++) {
    const gchar *name = gst_video_format_to_string (fmts[i]);
    gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=97,"
        "height=53,framerate=10/1", name);
    Fuse f;
    Msgs m;
    GstClockTime t;
    guint n_out = 0;
    GstBuffer *out;

    fuse_setup (&f, FALSE, caps, NULL, NULL);
    for (t = 0; t < 1200 * MS; t += FRAME_DUR) {
      GstBuffer *in = make_video (fmts[i], 97, 53, t, FRAME_DUR, 10);
      fail_unless_equals_int (gst_harness_push (f.v, in), GST_FLOW_OK);
    }
    push_eos (&f);
    wait_eos (&f);
    while ((out = gst_harness_try_pull (f.v)) != NULL) {
      GstBuffer *ref = make_video (fmts[i], 97, 53, n_out * FRAME_DUR,
          FRAME_DUR, 10);
      GstMapInfo map;

      /* passed through unchanged */
      fail_unless (gst_buffer_map (ref, &map, GST_MAP_READ));
      fail_unless (gst_buffer_get_size (out) == map.size
          && gst_buffer_memcmp (out, 0, map.data, map.size) == 0,
          "%s: output buffer %u differs from its input", name, n_out);
      gst_buffer_unmap (ref, &map);
      gst_buffer_unref (ref);
      fail_unless_equals_uint64 (GST_BUFFER_PTS (out), n_out * FRAME_DUR);
      n_out++;
      gst_buffer_unref (out);
    }
    fail_unless_equals_int (n_out, 12);
    msgs_init (&m);
    msgs_drain (&m, f.bus);
    fail_unless_equals_int (m.n_errors, 0);
    fail_unless (m.windows->len == 2, "%s: %u windows", name, m.windows->len);
    check_record (g_ptr_array_index (m.windows, 0), 10);
    fail_unless (mod_present (g_ptr_array_index (m.windows, 0), "video"),
        "%s: video absent", name);
    fail_unless (!mod_present (g_ptr_array_index (m.windows, 0), "audio"));
    assert_close (mod_double (g_ptr_array_index (m.windows, 0), "video",
            "coverage"), 1.0, 1e-6, 0, "video coverage");
    msgs_clear (&m);
    fuse_teardown (&f);
    g_free (caps);
  }
}

GST_END_TEST;

GST_START_TEST (test_caps_audio_formats)
{
  struct
  {
    GstAudioFormat fmt;
    gint rate, channels;
  } cases[] = {
    {GST_AUDIO_FORMAT_S16LE, 44100, 2}, {GST_AUDIO_FORMAT_F32LE, 8000, 1},
    {GST_AUDIO_FORMAT_S16LE, 16000, 1}, {GST_AUDIO_FORMAT_F32LE, 48000, 6},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *caps = g_strdup_printf ("audio/x-raw,format=%s,layout=interleaved,"
        "rate=%d,channels=%d", gst_audio_format_to_string (cases[i].fmt),
        cases[i].rate, cases[i].channels);
    Fuse f;
    Msgs m;
    GstClockTime t;
    GstBuffer *out;
    guint n_out = 0;
    const GstStructure *w0;

    fuse_setup (&f, FALSE, NULL, caps, NULL);
    for (t = 0; t < 1200 * MS; t += 50 * MS)
      fail_unless_equals_int (gst_harness_push (f.a, make_audio (cases[i].fmt,
                  cases[i].rate, cases[i].channels, t, 50 * MS)), GST_FLOW_OK);
    push_eos (&f);
    wait_eos (&f);
    while ((out = gst_harness_try_pull (f.a)) != NULL) {
      n_out++;
      gst_buffer_unref (out);
    }
    fail_unless_equals_int (n_out, 24);
    msgs_init (&m);
    msgs_drain (&m, f.bus);
    fail_unless_equals_int (m.n_errors, 0);
    fail_unless (m.windows->len == 2, "%s: %u windows", caps, m.windows->len);
    w0 = g_ptr_array_index (m.windows, 0);
    check_record (w0, 10);
    fail_unless (mod_present (w0, "audio"), "%s: audio absent", caps);
    fail_unless (!mod_present (w0, "video"));
    assert_close (mod_double (w0, "audio", "coverage"), 1.0, 2e-3, 0,
        "audio coverage");
    msgs_clear (&m);
    fuse_teardown (&f);
    g_free (caps);
  }
}

GST_END_TEST;

GST_START_TEST (test_caps_unsupported)
{
  Fuse f;
  GstBuffer *buf;

  fuse_setup (&f, FALSE, "video/x-raw,format=YUY2,width=64,height=48,"
      "framerate=10/1", "audio/x-raw,format=S24LE,layout=interleaved,"
      "rate=16000,channels=1", NULL);
  buf = gst_buffer_new_allocate (NULL, 64 * 48 * 2, NULL);
  GST_BUFFER_PTS (buf) = 0;
  fail_unless_equals_int (gst_harness_push (f.v, buf), GST_FLOW_NOT_NEGOTIATED);
  buf = gst_buffer_new_allocate (NULL, 300, NULL);
  GST_BUFFER_PTS (buf) = 0;
  fail_unless_equals_int (gst_harness_push (f.a, buf), GST_FLOW_NOT_NEGOTIATED);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_window_timestamps)
{
  Fuse f;
  Msgs m;
  guint i;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, "window-hop", 500 * MS, NULL);
  push_av (&f, 0, 3500 * MS);
  msgs_init (&m);
  finish_run (&f, &m);
  /* windows start every 0.5 s while data remains: 0.0 .. 3.0 */
  fail_unless (m.windows->len == 7, "%u windows", m.windows->len);
  for (i = 0; i < m.windows->len; i++) {
    const GstStructure *s = g_ptr_array_index (m.windows, i);
    guint64 pts = 0, dur = 0;

    check_record (s, 10);
    fail_unless_equals_uint64 (win_index (s), i);
    assert_close (win_double (s, "window_start"), 0.5 * i, 1e-9, 0, "start");
    assert_close (win_double (s, "window_end"), 0.5 * i + 1.0, 1e-9, 0, "end");
    gst_structure_get_uint64 (s, "pts", &pts);
    gst_structure_get_uint64 (s, "duration", &dur);
    fail_unless_equals_uint64 (pts, i * 500 * MS);
    fail_unless_equals_uint64 (dur, GST_SECOND);
    fail_unless (win_bool (s, "partial") == (i == m.windows->len - 1),
        "window %u partial flag", i);
  }
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

static gboolean
field_in (GQuark field, const GValue * value, gpointer other)
{
  const GValue *o = gst_structure_id_get_value (other, field);

  return o != NULL && gst_value_compare (value, o) == GST_VALUE_EQUAL;
}

static gchar *
read_json_lines (const gchar * path, guint * n_lines)
{
  gchar *text = NULL;
  gchar **lines;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL), "no %s", path);
  lines = g_strsplit (text, "\n", -1);
  *n_lines = g_strv_length (lines) - 1; /* trailing newline */
  g_strfreev (lines);
  return text;
}

/* The line parses as JSON and holds the message's numbers exactly. */
static void
check_json_record (const gchar * line, const GstStructure * msg)
{
  GError *error = NULL;
  JsonNode *root = json_from_string (line, &error);
  JsonObject *o, *video;

  fail_unless (root != NULL && JSON_NODE_HOLDS_OBJECT (root),
      "not a JSON object (%s): %s", error ? error->message : "", line);
  o = json_node_get_object (root);
  fail_unless_equals_int (json_object_get_int_member (o, "label_id"),
      g_value_get_int (gst_structure_get_value (msg, "label_id")));
  assert_close (json_object_get_double_member (o, "window_end"),
      win_double (msg, "window_end"), 0, 0, "JSON window_end");
  video = json_object_get_object_member (json_object_get_object_member (o,
          "modalities"), "video");
  assert_close (json_object_get_double_member (video, "weight"),
      mod_double (msg, "video", "weight"), 0, 0, "JSON video weight");
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (o, "probabilities")), 10);
  json_node_unref (root);
}

GST_START_TEST (test_message_meta_json)
{
  Fuse f;
  Msgs m;
  gchar *json = g_build_filename (tmpdir, "out.jsonl", NULL);
  gchar *text, **lines;
  guint n_lines, i, n_out = 0;
  GstBuffer *out;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, "attach-mode", 1, "json-location",
      json, NULL);
  push_av (&f, 0, 2000 * MS);
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 2, "%u windows", m.windows->len);
  fail_unless (m.model_events->len >= 1, "no udmlfuse-model message");

  /* meta on every output buffer: its own window (attach-mode=window) */
  while ((out = gst_harness_try_pull (f.v)) != NULL) {
    const GstStructure *meta = gst_buffer_get_udml_fusion_meta (out);
    const GstStructure *msg;
    guint64 k;
    gboolean present;
    gdouble weight;

    fail_unless (meta != NULL, "buffer %u has no UdmlFusionMeta", n_out);
    fail_unless (gst_structure_has_name (meta, "UdmlFusionMeta"));
    k = win_index (meta);
    fail_unless_equals_uint64 (k, GST_BUFFER_PTS (out) / GST_SECOND);
    msg = g_ptr_array_index (m.windows, k);
    check_record (meta, 10);
    /* the meta and the message carry the same record */
    fail_unless_equals_int (gst_structure_n_fields (meta),
        gst_structure_n_fields (msg));
    fail_unless (gst_structure_foreach (msg, field_in, (gpointer) meta),
        "meta differs from the message of window %" G_GUINT64_FORMAT, k);
    assert_close (win_double (meta, "confidence"), win_double (msg,
            "confidence"), 0, 0, "meta vs message confidence");
    fail_unless (udml_fusion_meta_get_modality (meta, "video", &present,
            &weight, NULL, NULL));
    assert_close (weight, mod_double (msg, "video", "weight"), 0, 0,
        "accessor weight");
    n_out++;
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (n_out, 20);

  /* one JSON object per window with the same numbers */
  text = read_json_lines (json, &n_lines);
  fail_unless_equals_int (n_lines, 2);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; i < n_lines; i++) {
    const GstStructure *s = g_ptr_array_index (m.windows, i);
    const gchar *keys[] = { "\"window_index\":", "\"window_start\":",
      "\"window_end\":", "\"pts\":", "\"label\":", "\"label_id\":",
      "\"confidence\":", "\"probabilities\":[", "\"valid\":true",
      "\"partial\":", "\"modalities\":{\"audio\":{\"present\":",
      "\"video\":{\"present\":", "\"coverage\":", "\"noise\":",
      "\"alpha\":", "\"uncertainty_weight\":", "\"weight\":"
    };
    const gchar *p;
    guint j;

    for (j = 0; j < G_N_ELEMENTS (keys); j++)
      fail_unless (strstr (lines[i], keys[j]) != NULL,
          "line %u lacks %s: %s", i, keys[j], lines[i]);
    fail_unless (g_str_has_prefix (lines[i], "{") &&
        g_str_has_suffix (lines[i], "}"));
    p = strstr (lines[i], "\"confidence\":") + strlen ("\"confidence\":");
    assert_close (g_ascii_strtod (p, NULL), win_double (s, "confidence"), 0,
        0, "JSON confidence");
    p = strstr (lines[i], "\"window_index\":") + strlen ("\"window_index\":");
    fail_unless_equals_uint64 (g_ascii_strtoull (p, NULL, 10), win_index (s));
    check_json_record (lines[i], s);
  }
  g_strfreev (lines);
  g_free (text);
  g_unlink (json);
  g_free (json);
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

static GstClockTime
query_latency (Fuse * f, gboolean * live)
{
  GstPad *src = gst_element_get_static_pad (f->e, "src");
  GstQuery *q = gst_query_new_latency ();
  GstClockTime min = 0, max = 0;

  fail_unless (gst_pad_query (src, q), "latency query failed");
  gst_query_parse_latency (q, live, &min, &max);
  gst_query_unref (q);
  gst_object_unref (src);
  return min;
}

GST_START_TEST (test_latency_query)
{
  Fuse f;
  GstClockTime min;
  gboolean live = FALSE;
  GstBuffer *out;

  /* latest: about one frame (25 fps here) */
  fuse_setup (&f, TRUE, "video/x-raw,format=GRAY8,width=64,height=48,"
      "framerate=25/1", NULL, NULL);
  fail_unless_equals_int (gst_harness_push (f.v,
          make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, 0, 40 * MS, 1)),
      GST_FLOW_OK);
  out = gst_harness_pull (f.v);
  fail_unless (out != NULL);
  gst_buffer_unref (out);
  min = query_latency (&f, &live);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 40 * MS);
  fuse_teardown (&f);

  /* window: the window, a frame and the processing time */
  fuse_setup (&f, TRUE, VCAPS, NULL, "attach-mode", 1, NULL);
  min = query_latency (&f, &live);
  fail_unless (live);
  fail_unless (min >= GST_SECOND + FRAME_DUR && min < 3 * GST_SECOND,
      "window-mode latency %" GST_TIME_FORMAT, GST_TIME_ARGS (min));
  fuse_teardown (&f);

  /* no video pad: no frame term (latest: nothing waits) */
  fuse_setup (&f, TRUE, NULL, ACAPS, NULL);
  fail_unless_equals_int (gst_harness_push (f.a,
          make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, 0, FRAME_DUR)),
      GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (f.a));
  min = query_latency (&f, &live);
  fail_unless_equals_uint64 (min, 0);
  fuse_teardown (&f);
  fuse_setup (&f, TRUE, NULL, ACAPS, "attach-mode", 1, NULL);
  min = query_latency (&f, &live);
  fail_unless (min >= GST_SECOND && min < GST_SECOND + FRAME_DUR,
      "audio-only window-mode latency %" GST_TIME_FORMAT, GST_TIME_ARGS (min));
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_eos_one_pad_partial)
{
  Fuse f;
  Msgs m;
  GstClockTime t;
  GstPad *apad;
  const GstStructure *s;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  apad = gst_element_get_static_pad (f.e, "audio_0");
  g_object_set (apad, "min-coverage", 0.6, NULL);
  gst_object_unref (apad);
  push_av (&f, 0, 1500 * MS);
  fail_unless (gst_harness_push_event (f.a, gst_event_new_eos ()));
  for (t = 1500 * MS; t < 3300 * MS; t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 3)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (f.v, gst_event_new_eos ()));
  wait_eos (&f);
  msgs_init (&m);
  msgs_drain (&m, f.bus);
  fail_unless (m.windows->len == 4, "%u windows", m.windows->len);

  s = g_ptr_array_index (m.windows, 0);
  check_record (s, 10);
  fail_unless (mod_present (s, "audio") && mod_present (s, "video"));
  /* audio covers half of window 1, below its min-coverage 0.6 */
  s = g_ptr_array_index (m.windows, 1);
  check_record (s, 10);
  assert_close (mod_double (s, "audio", "coverage"), 0.5, 1e-3, 0,
      "audio coverage in window 1");
  fail_unless (!mod_present (s, "audio") && mod_present (s, "video"));
  assert_close (mod_double (s, "video", "weight"), 1.0, 1e-6, 0,
      "video weight alone");
  s = g_ptr_array_index (m.windows, 2);
  check_record (s, 10);
  assert_close (mod_double (s, "audio", "coverage"), 0.0, 0, 0,
      "audio coverage after EOS");
  fail_unless (!mod_present (s, "audio"));
  fail_unless (!win_bool (s, "partial"));
  s = g_ptr_array_index (m.windows, 3);
  check_record (s, 10);
  fail_unless (win_bool (s, "partial"), "last window not partial");
  assert_close (mod_double (s, "video", "coverage"), 0.3, 1e-6, 0,
      "video coverage of the last window");
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

/* Pushes [0, end) of video and of audio in caps acaps (format, rate and
 * channels as given) in 100 ms buffers, then EOS; returns the records. */
static void
run_clip (Msgs * m, const gchar * acaps, GstAudioFormat afmt, gint rate,
    gint channels, GstClockTime end)
{
  Fuse f;
  GstClockTime t;

  fuse_setup (&f, FALSE, VCAPS, acaps, NULL);
  for (t = 0; t < end; t += FRAME_DUR) {
    GstClockTime d = MIN (FRAME_DUR, end - t);

    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, d, 7)), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_push (f.a,
            make_audio (afmt, rate, channels, t, d)), GST_FLOW_OK);
  }
  msgs_init (m);
  finish_run (&f, m);
  fuse_teardown (&f);
}

/* A clip of whole windows gives exactly those windows at EOS, none of them
 * partial, whatever the audio needs converting; a clip that ends inside a
 * window marks that one window partial. */
GST_START_TEST (test_eos_window_count)
{
  struct
  {
    const gchar *caps;
    GstAudioFormat fmt;
    gint rate, channels;
  } in[] = {
    {ACAPS, GST_AUDIO_FORMAT_F32LE, 16000, 1},
    {"audio/x-raw,format=S16LE,layout=interleaved,rate=44100,channels=2",
        GST_AUDIO_FORMAT_S16LE, 44100, 2},
    {"audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1",
        GST_AUDIO_FORMAT_F32LE, 48000, 1},
    {"audio/x-raw,format=S16LE,layout=interleaved,rate=8000,channels=1",
        GST_AUDIO_FORMAT_S16LE, 8000, 1},
  };
  guint i, w;

  for (i = 0; i < G_N_ELEMENTS (in); i++) {
    Msgs m;

    run_clip (&m, in[i].caps, in[i].fmt, in[i].rate, in[i].channels, 3000 * MS);
    fail_unless (m.windows->len == 3, "%d Hz: %u windows for 3.0 s",
        in[i].rate, m.windows->len);
    for (w = 0; w < m.windows->len; w++) {
      const GstStructure *s = g_ptr_array_index (m.windows, w);

      fail_unless_equals_int (win_index (s), w);
      fail_if (win_bool (s, "partial"), "%d Hz: window %u partial",
          in[i].rate, w);
      assert_close (mod_double (s, "audio", "coverage"), 1.0, 1e-3, 0,
          "audio coverage of a whole window");
      assert_close (mod_double (s, "video", "coverage"), 1.0, 1e-6, 0,
          "video coverage of a whole window");
    }
    msgs_clear (&m);

    run_clip (&m, in[i].caps, in[i].fmt, in[i].rate, in[i].channels, 2500 * MS);
    fail_unless (m.windows->len == 3, "%d Hz: %u windows for 2.5 s",
        in[i].rate, m.windows->len);
    for (w = 0; w < 3; w++) {
      const GstStructure *s = g_ptr_array_index (m.windows, w);

      fail_unless_equals_int (win_bool (s, "partial"), w == 2);
    }
    assert_close (mod_double (g_ptr_array_index (m.windows, 2), "audio",
            "coverage"), 0.5, 2e-3, 0, "audio coverage of the last window");
    msgs_clear (&m);
  }
}

GST_END_TEST;

GST_START_TEST (test_gap_events)
{
  Fuse f;
  Msgs m;
  GstClockTime t;
  const GstStructure *s;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  push_av (&f, 0, GST_SECOND);
  /* audio announces a hole for window 1 */
  for (t = GST_SECOND; t < 2 * GST_SECOND; t += FRAME_DUR) {
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 5)),
        GST_FLOW_OK);
    fail_unless (gst_harness_push_event (f.a, gst_event_new_gap (t,
                FRAME_DUR)));
  }
  push_av (&f, 2 * GST_SECOND, 3 * GST_SECOND);
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 3, "%u windows", m.windows->len);
  s = g_ptr_array_index (m.windows, 1);
  check_record (s, 10);
  fail_unless (!mod_present (s, "audio"), "audio present during the gap");
  assert_close (mod_double (s, "audio", "coverage"), 0.0, 0, 0, "gap coverage");
  fail_unless (mod_present (g_ptr_array_index (m.windows, 0), "audio"));
  fail_unless (mod_present (g_ptr_array_index (m.windows, 2), "audio"));
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_live_starved_pad)
{
  Fuse f;
  Msgs m;
  GstClockTime t;
  const GstStructure *s;

  /* latency lets 2 s queue on the pad, so all frames go in before the
   * clock is advanced */
  fuse_setup (&f, TRUE, VCAPS, ACAPS, "latency", 2 * GST_SECOND, NULL);
  for (t = 0; t < 1500 * MS; t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 9)),
        GST_FLOW_OK);
  msgs_init (&m);
  /* timeout 1 takes the frames, timeout 2 closes window 0 without audio */
  fail_unless (gst_harness_crank_single_clock_wait (f.v));
  fail_unless (gst_harness_crank_single_clock_wait (f.v));
  msgs_wait_windows (&m, f.bus, 1, 10 * GST_SECOND);
  fail_unless (m.windows->len == 1, "%u windows", m.windows->len);
  s = g_ptr_array_index (m.windows, 0);
  check_record (s, 10);
  fail_unless_equals_uint64 (win_index (s), 0);
  fail_unless (win_bool (s, "valid"));
  fail_unless (win_bool (s, "partial"), "timed-out window not partial");
  fail_unless (!mod_present (s, "audio"));
  fail_unless (mod_present (s, "video"));
  assert_close (mod_double (s, "audio", "coverage"), 0.0, 0, 0,
      "starved coverage");
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_live_overload_drops)
{
  Fuse f;
  Msgs m;
  guint i;

  fuse_setup (&f, TRUE, VCAPS, ACAPS, NULL);
  /* the clock is far ahead of the data: every window is already late */
  fail_unless (gst_harness_set_time (f.v, 30 * GST_SECOND));
  push_av (&f, 0, 2200 * MS);
  msgs_init (&m);
  {
    gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    while (m.qos_dropped < 2 && g_get_monotonic_time () < end) {
      GstMessage *msg = gst_bus_timed_pop (f.bus, 50 * MS);
      if (msg)
        msgs_take (&m, msg);
    }
  }
  fail_unless (m.qos_dropped == 2, "dropped %" G_GUINT64_FORMAT, m.qos_dropped);
  fail_unless (m.n_qos >= 2);
  msgs_wait_windows (&m, f.bus, 2, 10 * GST_SECOND);
  /* a dropped window still has its record, marked dropped, not inferred */
  fail_unless_equals_int (m.windows->len, 2);
  for (i = 0; i < 2; i++) {
    const GstStructure *s = g_ptr_array_index (m.windows, i);
    GstClockTime lat = 100 * MS;        /* one frame, attach-mode=latest */
    fail_unless (win_bool (s, "dropped"), "window %u not marked dropped", i);
    fail_unless (!win_bool (s, "valid"));
    fail_unless_equals_uint64 (win_index (s), i);
    /* the QoS message names the same window, in running and stream time */
    fail_unless_equals_uint64 (m.qos_rt[i], i * GST_SECOND);
    fail_unless_equals_uint64 (m.qos_st[i], i * GST_SECOND);
    /* late by now (30 s) - deadline (window end + latency) */
    fail_unless_equals_int64 (m.qos_jitter[i],
        (gint64) (30 * GST_SECOND - ((i + 1) * GST_SECOND + lat)));
    fail_unless (m.qos_proportion[i] > 0.0 && m.qos_proportion[i] < 1.0,
        "proportion %g", m.qos_proportion[i]);
  }
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

/* Video timestamps jump by an hour while audio goes on: the audio windows
 * carry on, and the stretch with no data at all is one gap record. */
GST_START_TEST (test_timestamp_jump)
{
  Fuse f;
  Msgs m;
  GstClockTime t, jump = 3600 * GST_SECOND;
  guint i, n_gaps = 0;
  const GstStructure *s, *gap = NULL;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  push_av (&f, 0, 2 * GST_SECOND);
  /* queued on the video pad; audio goes on up to its EOS */
  fail_unless_equals_int (gst_harness_push (f.v,
          make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, jump + 2 * GST_SECOND,
              FRAME_DUR, 1)), GST_FLOW_OK);
  for (t = 2 * GST_SECOND; t < 3 * GST_SECOND; t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (f.a,
            make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, t, FRAME_DUR)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (f.a, gst_event_new_eos ()));
  for (t = jump + 2 * GST_SECOND + FRAME_DUR; t < jump + 4 * GST_SECOND;
      t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 1)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (f.v, gst_event_new_eos ()));
  wait_eos (&f);
  msgs_init (&m);
  msgs_drain (&m, f.bus);
  /* windows 0-2 (audio), one gap, windows 3602 and 3603 (video) */
  fail_unless (m.windows->len == 6, "%u records", m.windows->len);
  for (i = 0; i < m.windows->len; i++) {
    s = g_ptr_array_index (m.windows, i);
    if (win_bool (s, "gap")) {
      n_gaps++;
      gap = s;
    } else {
      check_record (s, 10);
      fail_unless (win_bool (s, "valid"), "record %u not valid", i);
    }
  }
  fail_unless_equals_int (n_gaps, 1);
  fail_unless (!win_bool (gap, "valid"));
  fail_unless_equals_uint64 (win_index (gap), 3);
  assert_close (win_double (gap, "window_start"), 3.0, 1e-9, 0, "gap start");
  assert_close (win_double (gap, "window_end"), 3602.0, 1e-9, 0, "gap end");
  s = g_ptr_array_index (m.windows, 2);
  fail_unless (mod_present (s, "audio") && !mod_present (s, "video"));
  s = g_ptr_array_index (m.windows, 4);
  fail_unless_equals_uint64 (win_index (s), 3602);
  fail_unless (mod_present (s, "video"));
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_window_hop_minimum)
{
  GstElement *e = gst_element_factory_make ("udmlfuse", NULL);
  guint64 hop = 0;

  g_object_set (e, "window-hop", (guint64) 1, NULL);
  g_object_get (e, "window-hop", &hop, NULL);
  fail_unless_equals_uint64 (hop, 10 * MS);
  g_object_set (e, "window-hop", (guint64) (250 * MS), NULL);
  g_object_get (e, "window-hop", &hop, NULL);
  fail_unless_equals_uint64 (hop, 250 * MS);
  g_object_set (e, "window-hop", (guint64) 0, NULL);
  g_object_get (e, "window-hop", &hop, NULL);
  fail_unless_equals_uint64 (hop, 0);
  gst_object_unref (e);
}

GST_END_TEST;

/* Counts buffers leaving under caps of the other modality (sizes tell the
 * modality: a 64x48 GRAY8 frame or 100 ms of mono F32 audio). */
typedef struct
{
  gint mismatched, audio_out, video_out;
} CapsCheck;

static GstPadProbeReturn
caps_check_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  CapsCheck *c = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gboolean is_audio = gst_buffer_get_size (buf) == 6400;
  const gchar *name = caps ?
      gst_structure_get_name (gst_caps_get_structure (caps, 0)) : "";

  g_atomic_int_inc (is_audio ? &c->audio_out : &c->video_out);
  if (!g_str_has_prefix (name, is_audio ? "audio/" : "video/"))
    g_atomic_int_inc (&c->mismatched);
  if (caps)
    gst_caps_unref (caps);
  return GST_PAD_PROBE_OK;
}

/* Releasing the video pad while audio flows: the audio that now passes
 * through leaves under audio caps, never under the old video caps. */
GST_START_TEST (test_release_primary_pad)
{
  GstElement *e = gst_element_factory_make ("udmlfuse", NULL);
  GstHarness *a, *v;
  GstPad *src;
  CapsCheck c = { 0 };
  GstClockTime t;
  GstEvent *ev;
  gboolean eos = FALSE;

  g_object_set (e, "model", model_a, "attach-mode", 1, NULL);
  a = attach (e, "audio_0", TRUE, FALSE);
  gst_harness_set_src_caps_str (a, ACAPS);
  v = attach (e, "video_0", FALSE, FALSE);
  gst_harness_set_src_caps_str (v, VCAPS);
  src = gst_element_get_static_pad (e, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, caps_check_probe, &c,
      NULL);
  for (t = 0; t < 1500 * MS; t += FRAME_DUR) {
    fail_unless_equals_int (gst_harness_push (v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 1)),
        GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_push (a,
            make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, t, FRAME_DUR)),
        GST_FLOW_OK);
  }
  /* window 0's frames are out, window 1's are still held
   * (attach-mode=window) */
  for (t = 0; t < 200 && g_atomic_int_get (&c.video_out) < 10; t++)
    g_usleep (50000);
  fail_unless_equals_int (g_atomic_int_get (&c.video_out), 10);
  gst_harness_teardown (v);
  for (t = 1500 * MS; t < 3 * GST_SECOND; t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (a,
            make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, t, FRAME_DUR)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (a, gst_event_new_eos ()));
  while (!eos && (ev = gst_harness_pull_event (a)) != NULL) {
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos, "no EOS");
  fail_unless (c.video_out > 0 && c.audio_out > 0, "%d video, %d audio out",
      c.video_out, c.audio_out);
  fail_unless_equals_int (c.mismatched, 0);
  gst_object_unref (src);
  gst_harness_teardown (a);
  gst_object_unref (e);
}

GST_END_TEST;

static void push_flush_to (Fuse * f, GstClockTime start);

static void
push_flush (Fuse * f)
{
  push_flush_to (f, 0);
}

/* A flushing seek to start as a demuxer does it: flush, then a segment
 * whose start and time are the seek position (running time restarts at 0). */
static void
push_flush_to (Fuse * f, GstClockTime start)
{
  guint32 seqnum = gst_util_seqnum_next ();
  GstHarness *hs[2] = { f->v, f->a };
  GstSegment seg;
  gint i;

  for (i = 0; i < 2; i++) {
    GstEvent *ev = gst_event_new_flush_start ();
    gst_event_set_seqnum (ev, seqnum);
    gst_harness_push_event (hs[i], ev);
  }
  for (i = 0; i < 2; i++) {
    GstEvent *ev = gst_event_new_flush_stop (TRUE);
    gst_event_set_seqnum (ev, seqnum);
    gst_harness_push_event (hs[i], ev);
  }
  gst_segment_init (&seg, GST_FORMAT_TIME);
  seg.start = seg.time = seg.position = start;
  for (i = 0; i < 2; i++)
    fail_unless (gst_harness_push_event (hs[i], gst_event_new_segment (&seg)));
}

#define ACAPS_44K \
    "audio/x-raw,format=F32LE,layout=interleaved,rate=44100,channels=1"

/* Interleaves 100 ms of video and of audio from t0 to t1, the audio at rate
 * Hz with amplitude amp (0 = silence); the audio buffer that starts at t is
 * stamped t + jitter[t / 100 ms % n_jitter] (jitter NULL: none). */
static void
push_av_tone (Fuse * f, gint rate, gdouble amp, GstClockTime t0,
    GstClockTime t1, const gint64 * jitter, guint n_jitter)
{
  GstClockTime t;

  for (t = t0; t < t1; t += FRAME_DUR) {
    GstBuffer *abuf = make_audio_amp (GST_AUDIO_FORMAT_F32LE, rate, 1, t,
        FRAME_DUR, amp);

    if (jitter)
      GST_BUFFER_PTS (abuf) = t + jitter[(t / FRAME_DUR) % n_jitter];
    fail_unless_equals_int (gst_harness_push (f->v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR,
                (guint8) (t / FRAME_DUR))), GST_FLOW_OK);
    fail_unless_equals_int (gst_harness_push (f->a, abuf), GST_FLOW_OK);
  }
}

/* Records of video and audio (acaps, rate Hz, amplitude amp) over [seek,
 * end); with flush, after [0, 2.2 s) of amplitude amp_before and a
 * flushing seek to seek. Only the records after the seek are returned. */
static GPtrArray *
run_after_seek (const gchar * acaps, gint rate, gdouble amp_before,
    gdouble amp, gboolean flush, GstClockTime seek, GstClockTime end)
{
  Fuse f;
  Msgs m;
  GPtrArray *out;

  fuse_setup (&f, FALSE, VCAPS, acaps, NULL);
  msgs_init (&m);
  if (flush) {
    push_av_tone (&f, rate, amp_before, 0, 2200 * MS, NULL, 0);
    msgs_wait_windows (&m, f.bus, 2, 20 * GST_SECOND);
    fail_unless (m.windows->len == 2, "%u windows before the seek",
        m.windows->len);
    push_flush_to (&f, seek);
    g_ptr_array_set_size (m.windows, 0);
  }
  push_av_tone (&f, rate, amp, seek, end, NULL, 0);
  finish_run (&f, &m);
  out = g_ptr_array_ref (m.windows);
  msgs_clear (&m);
  fuse_teardown (&f);
  return out;
}

/* Records of a run over [0, 3 s) with a flushing seek to seek (0 = none)
 * after the first 2.2 s; only the records after the seek are returned. */
static GPtrArray *
run_with_seek (GstClockTime seek)
{
  return run_after_seek (ACAPS, AUDIO_RATE, 0.25, 0.25, seek != 0, seek,
      3 * GST_SECOND);
}

static void
assert_same_result (const GstStructure * a, const GstStructure * b)
{
  const GValue *pa = gst_structure_get_value (a, "probabilities");
  const GValue *pb = gst_structure_get_value (b, "probabilities");
  const gchar *mods[] = { "audio", "video" };
  guint i;

  fail_unless_equals_uint64 (win_index (a), win_index (b));
  assert_close (win_double (a, "window_start"), win_double (b,
          "window_start"), 1e-9, 0, "window_start");
  fail_unless_equals_string (gst_structure_get_string (a, "label"),
      gst_structure_get_string (b, "label"));
  for (i = 0; i < gst_value_array_get_size (pa); i++)
    assert_close (g_value_get_double (gst_value_array_get_value (pa, i)),
        g_value_get_double (gst_value_array_get_value (pb, i)), 1e-6, 0,
        "probability");
  for (i = 0; i < 2; i++)
    assert_close (mod_double (a, mods[i], "weight"), mod_double (b, mods[i],
            "weight"), 1e-6, 0, "weight");
}

/* After a flushing seek the grid stays on stream time: window k is
 * [k*hop, k*hop + window) and gives what an uninterrupted run gives. */
GST_START_TEST (test_seek_keeps_grid)
{
  GPtrArray *whole = run_with_seek (0), *seek1 = run_with_seek (GST_SECOND);
  GPtrArray *seek15 = run_with_seek (1500 * MS);
  const GstStructure *s;

  fail_unless (whole->len == 3, "%u windows", whole->len);
  /* seek to a window start: windows 1 and 2, as in the whole run */
  fail_unless (seek1->len == 2, "%u windows after the seek", seek1->len);
  assert_same_result (g_ptr_array_index (seek1, 0),
      g_ptr_array_index (whole, 1));
  assert_same_result (g_ptr_array_index (seek1, 1),
      g_ptr_array_index (whole, 2));
  /* seek inside window 1: it is half covered, window 2 is as before */
  fail_unless (seek15->len == 2, "%u windows after the seek", seek15->len);
  s = g_ptr_array_index (seek15, 0);
  fail_unless_equals_uint64 (win_index (s), 1);
  assert_close (win_double (s, "window_start"), 1.0, 1e-9, 0, "window_start");
  assert_close (mod_double (s, "audio", "coverage"), 0.5, 1e-3, 0,
      "audio coverage of the window the seek lands in");
  assert_same_result (g_ptr_array_index (seek15, 1),
      g_ptr_array_index (whole, 2));
  g_ptr_array_unref (whole);
  g_ptr_array_unref (seek1);
  g_ptr_array_unref (seek15);
}

GST_END_TEST;

GST_START_TEST (test_flushing_seek)
{
  Fuse f;
  Msgs m;
  guint i;
  const guint64 want[] = { 0, 1, 0, 1 };

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  msgs_init (&m);
  push_av (&f, 0, 2200 * MS);
  msgs_wait_windows (&m, f.bus, 2, 20 * GST_SECOND);
  fail_unless (m.windows->len == 2, "%u windows before the flush",
      m.windows->len);
  push_flush (&f);
  push_av (&f, 0, 1200 * MS);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 4, "%u windows", m.windows->len);
  for (i = 0; i < 4; i++)
    fail_unless_equals_uint64 (win_index (g_ptr_array_index (m.windows, i)),
        want[i]);
  /* the last one is the partial window of the new stream */
  fail_unless (win_bool (g_ptr_array_index (m.windows, 3), "partial"));
  fail_unless (!win_bool (g_ptr_array_index (m.windows, 2), "partial"));
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

/* The samples the resampler holds back at a flush belong to the old
 * stream: the windows after it are those of a fresh element. */
GST_START_TEST (test_flush_resets_resampler)
{
  /* 1.2 s of silence at 44.1 kHz, alone or after a full-scale tone */
  GPtrArray *fresh = run_after_seek (ACAPS_44K, 44100, 0, 0, FALSE, 0,
      1200 * MS);
  GPtrArray *flushed = run_after_seek (ACAPS_44K, 44100, 1.0, 0, TRUE, 0,
      1200 * MS);
  guint i;

  fail_unless (fresh->len == 2, "%u windows", fresh->len);
  fail_unless (flushed->len == fresh->len, "%u windows after the flush",
      flushed->len);
  for (i = 0; i < fresh->len; i++) {
    const GstStructure *a = g_ptr_array_index (flushed, i);
    const GstStructure *b = g_ptr_array_index (fresh, i);

    assert_same_result (a, b);
    assert_close (mod_double (a, "audio", "noise"), mod_double (b, "audio",
            "noise"), 1e-6, 0, "audio noise after the flush");
  }
  g_ptr_array_unref (fresh);
  g_ptr_array_unref (flushed);
}

GST_END_TEST;

typedef enum
{
  SILENCE_ALONE,
  SILENCE_AFTER_SEGMENT,
  SILENCE_AFTER_JUMP
} SilenceRun;

/* Audio only at 44.1 kHz: silence over running time [1.5 s, 3 s), alone
 * or after a full-scale tone over [0, 1 s), then either a new segment (no
 * flush) that moves running time on by 0.5 s or a 0.5 s jump in the
 * timestamps of the same segment. */
static GPtrArray *
run_segment_restart (SilenceRun how)
{
  Fuse f;
  Msgs m;
  GPtrArray *out;
  GstSegment seg;
  GstClockTime t, t0 = 1500 * MS;

  fuse_setup (&f, FALSE, NULL, ACAPS_44K, NULL);
  if (how != SILENCE_ALONE)
    for (t = 0; t < GST_SECOND; t += FRAME_DUR)
      fail_unless_equals_int (gst_harness_push (f.a,
              make_audio_amp (GST_AUDIO_FORMAT_F32LE, 44100, 1, t, FRAME_DUR,
                  1.0)), GST_FLOW_OK);
  if (how == SILENCE_AFTER_SEGMENT) {
    gst_segment_init (&seg, GST_FORMAT_TIME);
    seg.base = t0;
    fail_unless (gst_harness_push_event (f.a, gst_event_new_segment (&seg)));
    t0 = 0;
  }
  for (t = t0; t < t0 + 1500 * MS; t += FRAME_DUR)
    fail_unless_equals_int (gst_harness_push (f.a,
            make_audio_amp (GST_AUDIO_FORMAT_F32LE, 44100, 1, t, FRAME_DUR,
                0)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (f.a, gst_event_new_eos ()));
  wait_eos (&f);
  msgs_init (&m);
  msgs_drain (&m, f.bus);
  out = g_ptr_array_ref (m.windows);
  msgs_clear (&m);
  fuse_teardown (&f);
  return out;
}

/* At a new segment the resampler's tail goes after the data before it:
 * the windows after are those of the new data alone. */
static void
check_silence_restarts (SilenceRun how)
{
  GPtrArray *alone = run_segment_restart (SILENCE_ALONE);
  GPtrArray *after = run_segment_restart (how);
  guint i;

  fail_unless (alone->len == 2, "%u windows", alone->len);
  fail_unless (after->len == 3, "%u windows after the tone", after->len);
  for (i = 0; i < 2; i++) {
    const GstStructure *a = g_ptr_array_index (after, i + 1);
    const GstStructure *b = g_ptr_array_index (alone, i);

    assert_same_result (a, b);
    assert_close (mod_double (a, "audio", "noise"), mod_double (b, "audio",
            "noise"), 1e-6, 0, "audio noise after the new segment");
    assert_close (mod_double (a, "audio", "coverage"), mod_double (b,
            "audio", "coverage"), 0, 0, "audio coverage after the new "
        "segment");
  }
  g_ptr_array_unref (alone);
  g_ptr_array_unref (after);
}

GST_START_TEST (test_segment_restarts_resampler)
{
  check_silence_restarts (SILENCE_AFTER_SEGMENT);
}

GST_END_TEST;

/* The same for a jump in the timestamps within one segment. */
GST_START_TEST (test_jump_restarts_resampler)
{
  check_silence_restarts (SILENCE_AFTER_JUMP);
}

GST_END_TEST;

/* Records and alerts of video and 16 kHz audio over [0, end), the audio
 * stamped with jitter (see push_av_tone) and none in [hole, hole +
 * hole_len) (hole_len 0: no hole). */
static void
run_jittered (Msgs * m, const gint64 * jitter, guint n_jitter,
    GstClockTime hole, GstClockTime hole_len, GstClockTime end)
{
  Fuse f;
  GstClockTime t, resume = hole + hole_len;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  if (hole_len) {
    /* the audio after the hole is queued before the video of the hole,
     * which waits for it */
    push_av_tone (&f, AUDIO_RATE, 0.25, 0, hole, NULL, 0);
    fail_unless_equals_int (gst_harness_push (f.a,
            make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, resume,
                FRAME_DUR)), GST_FLOW_OK);
    for (t = hole; t <= resume; t += FRAME_DUR)
      fail_unless_equals_int (gst_harness_push (f.v,
              make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR,
                  (guint8) (t / FRAME_DUR))), GST_FLOW_OK);
    push_av_tone (&f, AUDIO_RATE, 0.25, resume + FRAME_DUR, end, NULL, 0);
  } else {
    push_av_tone (&f, AUDIO_RATE, 0.25, 0, end, jitter, n_jitter);
  }
  msgs_init (m);
  finish_run (&f, m);
  fuse_teardown (&f);
}

/* Audio timestamps jittering by up to 0.5 ms are contiguous data: no gap,
 * no shifted sample, the windows and alerts of exact timestamps. A 200 ms
 * hole is a gap: its window lacks 20 % of its audio, the audio after it
 * stays in place. A 10 s hole, longer than the windower's horizon, is
 * declared as soon as the audio after it is queued: the video windows in
 * between go on without audio. */
GST_START_TEST (test_audio_jitter_no_gap)
{
  const gint64 jitter[] = { 0, -500 * GST_USECOND, -250 * GST_USECOND,
    500 * GST_USECOND
  };
  Msgs clean, jit, hole;
  guint i;

  run_jittered (&clean, NULL, 0, 0, 0, 3 * GST_SECOND);
  run_jittered (&jit, jitter, G_N_ELEMENTS (jitter), 0, 0, 3 * GST_SECOND);
  run_jittered (&hole, NULL, 0, 1200 * MS, 200 * MS, 3 * GST_SECOND);
  fail_unless (clean.windows->len == 3, "%u windows", clean.windows->len);
  fail_unless (jit.windows->len == 3, "%u windows with jitter",
      jit.windows->len);
  fail_unless_equals_int (jit.alerts->len, clean.alerts->len);
  for (i = 0; i < 3; i++) {
    const GstStructure *a = g_ptr_array_index (jit.windows, i);
    const GstStructure *b = g_ptr_array_index (clean.windows, i);

    fail_if (win_bool (a, "gap"), "window %u is a gap", i);
    assert_close (mod_double (a, "audio", "coverage"), 1.0, 0, 0,
        "audio coverage with jitter");
    assert_same_result (a, b);
    assert_close (mod_double (a, "audio", "noise"), mod_double (b, "audio",
            "noise"), 1e-6, 0, "audio noise with jitter");
  }

  fail_unless (hole.windows->len == 3, "%u windows with a hole",
      hole.windows->len);
  assert_close (mod_double (g_ptr_array_index (hole.windows, 1), "audio",
          "coverage"), 0.8, 1e-6, 0, "audio coverage of the window with "
      "the 200 ms hole");
  assert_same_result (g_ptr_array_index (hole.windows, 2),
      g_ptr_array_index (clean.windows, 2));
  assert_close (mod_double (g_ptr_array_index (hole.windows, 2), "audio",
          "noise"), mod_double (g_ptr_array_index (clean.windows, 2),
          "audio", "noise"), 1e-6, 0, "audio noise after the hole");
  msgs_clear (&hole);

  run_jittered (&hole, NULL, 0, GST_SECOND, 10 * GST_SECOND, 12 * GST_SECOND);
  fail_unless (hole.windows->len == 12, "%u windows with a 10 s hole",
      hole.windows->len);
  for (i = 0; i < 12; i++) {
    const GstStructure *a = g_ptr_array_index (hole.windows, i);

    fail_unless_equals_uint64 (win_index (a), i);
    fail_if (win_bool (a, "gap"), "window %u is a gap", i);
    fail_unless (mod_present (a, "video"), "window %u: no video", i);
    fail_unless_equals_int (mod_present (a, "audio"), i == 0 || i == 11);
  }
  msgs_clear (&clean);
  msgs_clear (&jit);
  msgs_clear (&hole);
}

GST_END_TEST;

GST_START_TEST (test_state_cycling)
{
  const GstState seq[] = { GST_STATE_READY, GST_STATE_PAUSED,
    GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_READY, GST_STATE_NULL,
    GST_STATE_PLAYING, GST_STATE_NULL
  };
  GstElement *e = gst_element_factory_make ("udmlfuse", NULL);
  GstPad *v, *a;
  gint round, rounds = 5;
  guint i;

  /* the valgrind run keeps it to one round */
  if (g_getenv ("UDML_TEST_ROUNDS"))
    rounds = atoi (g_getenv ("UDML_TEST_ROUNDS"));
  g_object_set (e, "model", model_a, NULL);
  v = gst_element_request_pad_simple (e, "video_%u");
  a = gst_element_request_pad_simple (e, "audio_%u");
  fail_unless (v && a);
  /* one pad per modality */
  fail_unless (gst_element_request_pad_simple (e, "video_%u") == NULL);
  for (round = 0; round < rounds; round++) {
    for (i = 0; i < G_N_ELEMENTS (seq); i++) {
      GstStateChangeReturn r = gst_element_set_state (e, seq[i]);
      fail_unless (r != GST_STATE_CHANGE_FAILURE, "round %d step %u", round, i);
      fail_unless (gst_element_get_state (e, NULL, NULL, GST_SECOND) !=
          GST_STATE_CHANGE_FAILURE);
    }
  }
  gst_element_release_request_pad (e, v);
  gst_element_release_request_pad (e, a);
  gst_object_unref (v);
  gst_object_unref (a);
  gst_object_unref (e);
}

GST_END_TEST;

static void
expect_start_error (const gchar * path, gint code)
{
  GstElement *e = gst_element_factory_make ("udmlfuse", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "model", path, NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message for %s", path);
  gst_message_parse_error (msg, &err, &dbg);
  fail_unless (err->domain == GST_RESOURCE_ERROR, "domain %s",
      g_quark_to_string (err->domain));
  fail_unless_equals_int (err->code, code);
  fail_unless (strstr (err->message, path) != NULL,
      "message does not name the file: %s", err->message);
  gst_message_unref (msg);
  g_error_free (err);
  g_free (dbg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_START_TEST (test_bad_model)
{
  gchar *missing = g_build_filename (tmpdir, "missing.udml", NULL);

  expect_start_error (missing, GST_RESOURCE_ERROR_NOT_FOUND);
  expect_start_error (model_corrupt, GST_RESOURCE_ERROR_OPEN_READ);
  expect_start_error (model_truncated, GST_RESOURCE_ERROR_OPEN_READ);
  g_free (missing);
}

GST_END_TEST;

static gint n_probs (const GstStructure * s);

/* Asks udmlfuse's video pad what it needs from upstream's pool: the
 * minimum buffer count of the first pool proposed, 0 without one. */
static guint
proposed_min_buffers (Fuse * f)
{
  GstCaps *caps = gst_caps_from_string (VCAPS);
  GstQuery *q = gst_query_new_allocation (caps, TRUE);
  guint min = 0;

  fail_unless (gst_pad_peer_query (f->v->srcpad, q), "allocation query");
  if (gst_query_get_n_allocation_pools (q) > 0)
    gst_query_parse_nth_allocation_pool (q, 0, NULL, NULL, &min, NULL);
  gst_query_unref (q);
  gst_caps_unref (caps);
  return min;
}

GST_START_TEST (test_allocation_window)
{
  Fuse f;

  /* window: 1 s of 10 fps frames plus the one that completes it */
  fuse_setup (&f, FALSE, VCAPS, NULL, "attach-mode", 1, NULL);
  push_av (&f, 0, 100 * MS);
  fail_unless_equals_int (proposed_min_buffers (&f), 11);
  fuse_teardown (&f);

  /* latest holds nothing */
  fuse_setup (&f, FALSE, VCAPS, NULL, NULL);
  push_av (&f, 0, 100 * MS);
  fail_unless_equals_int (proposed_min_buffers (&f), 0);
  fuse_teardown (&f);
}

GST_END_TEST;

/* An upstream pool of 4 buffers cannot lend a window of 10 frames:
 * udmlfuse copies what it holds, so upstream never runs dry, and every
 * frame still goes out. */
GST_START_TEST (test_allocation_small_pool)
{
  GstCaps *caps = gst_caps_from_string (VCAPS);
  GstBufferPool *pool = gst_video_buffer_pool_new ();
  GstStructure *config = gst_buffer_pool_get_config (pool);
  GstBufferPoolAcquireParams params = { 0 };
  Fuse f;
  gint i;

  gst_buffer_pool_config_set_params (config, caps, 64 * 48, 4, 4);
  fail_unless (gst_buffer_pool_set_config (pool, config));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  params.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;

  fuse_setup (&f, FALSE, VCAPS, NULL, "attach-mode", 1, NULL);
  for (i = 0; i < 30; i++) {
    GstBuffer *buf = NULL;
    gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    /* the previous frame is released right after it was taken */
    while (gst_buffer_pool_acquire_buffer (pool, &buf, &params) != GST_FLOW_OK
        && g_get_monotonic_time () < end)
      g_usleep (1000);
    fail_unless (buf != NULL, "upstream pool exhausted at frame %d", i);
    gst_buffer_memset (buf, 0, (guint8) i, 64 * 48);
    GST_BUFFER_PTS (buf) = i * FRAME_DUR;
    GST_BUFFER_DURATION (buf) = FRAME_DUR;
    fail_unless_equals_int (gst_harness_push (f.v, buf), GST_FLOW_OK);
  }
  push_eos (&f);
  wait_eos (&f);
  fail_unless_equals_int (gst_harness_buffers_received (f.out), 30);
  fuse_teardown (&f);
  gst_buffer_pool_set_active (pool, FALSE);
  gst_object_unref (pool);
  gst_caps_unref (caps);
}

GST_END_TEST;

/* A frame without a PTS goes out, in its place, in both attach modes. */
GST_START_TEST (test_no_pts_passes)
{
  gint mode;

  for (mode = 0; mode < 2; mode++) {
    Fuse f;
    GstBuffer *buf;
    gint i, untimed = 0;

    fuse_setup (&f, FALSE, VCAPS, NULL, "attach-mode", mode, NULL);
    for (i = 0; i < 15; i++) {
      buf = make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, i * FRAME_DUR,
          FRAME_DUR, (guint8) i);
      if (i == 4 || i == 12)
        GST_BUFFER_PTS (buf) = GST_CLOCK_TIME_NONE;
      fail_unless_equals_int (gst_harness_push (f.v, buf), GST_FLOW_OK);
    }
    push_eos (&f);
    wait_eos (&f);
    fail_unless_equals_int (gst_harness_buffers_received (f.out), 15);
    for (i = 0; i < 15; i++) {
      buf = gst_harness_pull (f.out);
      if (!GST_BUFFER_PTS_IS_VALID (buf)) {
        fail_unless (i == 4 || i == 12, "untimed buffer out at %d", i);
        untimed++;
      }
      gst_buffer_unref (buf);
    }
    fail_unless_equals_int (untimed, 2);
    fuse_teardown (&f);
  }
}

GST_END_TEST;


/* How often needle occurs in hay. */
static guint
count_in (const gchar * hay, const gchar * needle)
{
  guint n = 0;
  const gchar *p = hay;

  while (hay && (p = strstr (p, needle)) != NULL) {
    n++;
    p += strlen (needle);
  }
  return n;
}

/* Starts udmlfuse on path; returns the error's message and debug text
 * joined, as a user sees them (transfer full). */
static gchar *
start_error_text (const gchar * path, gboolean set_model)
{
  GstElement *e = gst_element_factory_make ("udmlfuse", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL, *text;

  gst_element_set_bus (e, bus);
  if (set_model)
    g_object_set (e, "model", path, NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message for %s", path);
  gst_message_parse_error (msg, &err, &dbg);
  text = g_strdup_printf ("%s\n%s", err->message, dbg ? dbg : "");
  gst_message_unref (msg);
  g_error_free (err);
  g_free (dbg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  return text;
}

/* The library's own detail of a load failure, without its path prefix. */
static gchar *
load_detail (const gchar * path)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;

  fail_if (udml_model_load (path, &model, &err) == UDML_OK);
  fail_unless (g_str_has_prefix (err.msg, path));
  return g_strdup (err.msg + strlen (path) + 2);
}

GST_START_TEST (test_model_error_text)
{
  const gchar *bad[] = { model_corrupt, model_truncated };
  gchar *missing = g_build_filename (tmpdir, "missing.udml", NULL);
  gchar *text, *detail, *def = NULL, *saved;
  GstElement *e;
  guint i;

  /* the path and the library's detail each appear once */
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    text = start_error_text (bad[i], TRUE);
    detail = load_detail (bad[i]);
    fail_unless_equals_int (count_in (text, bad[i]), 1);
    fail_unless (count_in (text, detail) == 1, "detail '%s' in: %s", detail,
        text);
    g_free (detail);
    g_free (text);
  }
  text = start_error_text (missing, TRUE);
  fail_unless (count_in (text, missing) == 1, "%s", text);
  g_free (text);

  /* a missing file named by UDML_MODEL says so */
  saved = g_strdup (g_getenv ("UDML_MODEL"));
  g_setenv ("UDML_MODEL", missing, TRUE);
  text = start_error_text (missing, FALSE);
  fail_unless (count_in (text, "UDML_MODEL") >= 1, "%s", text);
  g_free (text);

  /* the default model, not installed, names UDML_MODEL and its path */
  g_unsetenv ("UDML_MODEL");
  e = gst_element_factory_make ("udmlfuse", NULL);
  g_object_get (e, "model", &def, NULL);
  gst_object_unref (e);
  if (!g_file_test (def, G_FILE_TEST_EXISTS)) {
    GError *err = NULL;
    GstMessage *msg;
    GstBus *bus = gst_bus_new ();

    e = gst_element_factory_make ("udmlfuse", NULL);
    gst_element_set_bus (e, bus);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (strstr (err->message, "UDML_MODEL") != NULL
        && strstr (err->message, def) != NULL, "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_object_unref (e);
  }
  if (saved)
    g_setenv ("UDML_MODEL", saved, TRUE);
  g_free (saved);
  g_free (def);
  g_free (missing);
}

GST_END_TEST;

typedef struct
{
  guint n;
  gchar *value;                 /* the property when last notified */
} Notified;

static void
on_model_notify (GObject * e, GParamSpec * pspec, Notified * nt)
{
  nt->n++;
  g_free (nt->value);
  g_object_get (e, "model", &nt->value, NULL);
}

/* A failed reload reverts the property to the model in use, notifies it,
 * and says once what went wrong. */
GST_START_TEST (test_reload_failure_reverts)
{
  const gchar *bad[] = { model_corrupt, NULL, "" };
  Notified nt = { 0, NULL };
  Fuse f;
  Msgs m;
  gchar *path = NULL, *detail = load_detail (model_corrupt);
  guint i;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  msgs_init (&m);
  push_av (&f, 0, 1200 * MS);
  msgs_wait_windows (&m, f.bus, 1, 20 * GST_SECOND);
  msgs_drain (&m, f.bus);
  g_signal_connect (f.e, "notify::model", G_CALLBACK (on_model_notify), &nt);

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstMessage *msg;
    GError *err = NULL;
    gchar *dbg = NULL, *text;
    const GstStructure *ev;

    nt.n = 0;
    g_object_set (f.e, "model", bad[i], NULL);
    g_object_get (f.e, "model", &path, NULL);
    fail_unless_equals_string (path, model_a);
    g_free (path);
    fail_unless (nt.n >= 1, "no notify after reload %u", i);
    fail_unless_equals_string (nt.value, model_a);

    msg = gst_bus_pop_filtered (f.bus, GST_MESSAGE_WARNING);
    fail_unless (msg != NULL, "no warning for reload %u", i);
    gst_message_parse_warning (msg, &err, &dbg);
    text = g_strdup_printf ("%s\n%s", err->message, dbg ? dbg : "");
    if (bad[i] && *bad[i])
      fail_unless (count_in (text, bad[i]) == 1, "%s", text);
    if (i == 0) {
      fail_unless (count_in (text, detail) == 1, "%s", text);
      msgs_drain (&m, f.bus);
      ev = g_ptr_array_index (m.model_events, m.model_events->len - 1);
      fail_unless_equals_string (gst_structure_get_string (ev, "event"),
          "reload-failed");
      fail_unless_equals_int (count_in (gst_structure_get_string (ev,
                  "error"), model_corrupt), 0);
    }
    g_free (text);
    g_free (dbg);
    g_error_free (err);
    gst_message_unref (msg);
  }

  /* the running model still classifies */
  push_av (&f, 1200 * MS, 2200 * MS);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 3, "%u windows", m.windows->len);
  fail_unless_equals_int (n_probs (g_ptr_array_index (m.windows, 1)), 10);
  g_signal_handlers_disconnect_by_data (f.e, &nt);
  g_free (nt.value);
  g_free (detail);
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

static gint
n_probs (const GstStructure * s)
{
  return (gint) gst_value_array_get_size (gst_structure_get_value (s,
          "probabilities"));
}

GST_START_TEST (test_reload)
{
  Fuse f;
  Msgs m;
  gchar *path = NULL;
  const GstStructure *ev;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  msgs_init (&m);
  push_av (&f, 0, 1200 * MS);
  msgs_wait_windows (&m, f.bus, 1, 20 * GST_SECOND);
  fail_unless_equals_int (m.windows->len, 1);
  fail_unless_equals_int (n_probs (g_ptr_array_index (m.windows, 0)), 10);

  /* a model with other input shapes is refused, the old one stays */
  g_object_set (f.e, "model", model_bad, NULL);
  g_object_get (f.e, "model", &path, NULL);
  fail_unless_equals_string (path, model_a);
  g_free (path);
  push_av (&f, 1200 * MS, 2200 * MS);
  msgs_wait_windows (&m, f.bus, 2, 20 * GST_SECOND);
  fail_unless_equals_int (m.windows->len, 2);
  fail_unless_equals_int (n_probs (g_ptr_array_index (m.windows, 1)), 10);
  fail_unless (m.n_warnings >= 1, "no warning for the failed reload");
  ev = g_ptr_array_index (m.model_events, m.model_events->len - 1);
  fail_unless_equals_string (gst_structure_get_string (ev, "event"),
      "reload-failed");
  /* the refusal names the field that differs, with both values */
  fail_unless (strstr (gst_structure_get_string (ev, "error"),
          "frame width is 32, the running model's is 64") != NULL, "%s",
      gst_structure_get_string (ev, "error"));

  /* a compatible model with 5 classes is swapped in */
  g_object_set (f.e, "model", model_c, NULL);
  push_av (&f, 2200 * MS, 3200 * MS);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 4, "%u windows", m.windows->len);
  check_record (g_ptr_array_index (m.windows, 2), 5);
  fail_unless_equals_int (n_probs (g_ptr_array_index (m.windows, 3)), 5);
  ev = g_ptr_array_index (m.model_events, m.model_events->len - 1);
  fail_unless_equals_string (gst_structure_get_string (ev, "event"),
      "reloaded");
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

/* What another thread does while the first forward pass is in progress. */
typedef struct
{
  GstElement *e;
  GMutex lock;
  GCond cond;
  GThread *thread;
  guint n_forward;
  gboolean done;                /* the other thread finished */
  gboolean done_in_forward;     /* ... before the forward pass went on */
  gint policy;
  gchar *model;
  GstCaps *caps;
} Overlap;

static gpointer
overlap_thread (gpointer data)
{
  Overlap *o = data;
  GstPad *apad = gst_element_get_static_pad (o->e, "audio_0");

  /* each of these takes a lock the forward pass must not hold */
  g_object_get (o->e, "policy", &o->policy, "model", &o->model, NULL);
  o->caps = gst_pad_query_caps (apad, NULL);
  gst_object_unref (apad);
  /* a hot swap while the forward pass still runs on the old model */
  g_object_set (o->e, "model", model_c, NULL);
  g_mutex_lock (&o->lock);
  o->done = TRUE;
  g_cond_signal (&o->cond);
  g_mutex_unlock (&o->lock);
  return NULL;
}

/* Runs on the streaming thread right before each forward pass. The first
 * one waits (10 s at most) for the other thread: if the element held a
 * lock across the forward pass, that thread could not finish meanwhile. */
static void
overlap_hook (GstElement * e, gpointer user_data)
{
  Overlap *o = user_data;
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  if (o->n_forward++ > 0)
    return;
  o->thread = g_thread_new ("overlap", overlap_thread, o);
  g_mutex_lock (&o->lock);
  while (!o->done && g_cond_wait_until (&o->cond, &o->lock, end));
  o->done_in_forward = o->done;
  g_mutex_unlock (&o->lock);
}

GST_START_TEST (test_forward_unlocked)
{
  Fuse f;
  Msgs m;
  Overlap o;
  GstUdmlFuseForwardHook hook = { overlap_hook, &o };
  guint i;

  memset (&o, 0, sizeof o);
  g_mutex_init (&o.lock);
  g_cond_init (&o.cond);
  setup_hook = &hook;
  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  setup_hook = NULL;
  o.e = f.e;
  msgs_init (&m);
  push_av (&f, 0, 3000 * MS);
  finish_run (&f, &m);
  fail_unless (o.thread != NULL, "the forward-pass hook never ran");
  g_thread_join (o.thread);

  fail_unless (o.done_in_forward, "property get, caps query and model "
      "swap did not finish while the forward pass was in progress");
  fail_unless_equals_int (o.policy, 0);
  fail_unless_equals_string (o.model, model_a);
  fail_unless (o.caps != NULL && !gst_caps_is_empty (o.caps));
  /* the window in progress finished on the model it started with, the
   * later ones used the swapped-in one */
  fail_unless (m.windows->len == 3, "%u windows", m.windows->len);
  check_record (g_ptr_array_index (m.windows, 0), 10);
  for (i = 1; i < m.windows->len; i++)
    check_record (g_ptr_array_index (m.windows, i), 5);
  fail_unless_equals_int (o.n_forward, 3);

  gst_caps_unref (o.caps);
  g_free (o.model);
  g_mutex_clear (&o.lock);
  g_cond_clear (&o.cond);
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_enabled_and_policy)
{
  Fuse f;
  Msgs m;
  GstPad *apad;
  const GstStructure *s;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, "policy", 3 /* static */ , NULL);
  push_av (&f, 0, GST_SECOND);
  apad = gst_element_get_static_pad (f.e, "audio_0");
  push_av (&f, GST_SECOND, 1100 * MS);
  msgs_init (&m);
  msgs_wait_windows (&m, f.bus, 1, 20 * GST_SECOND);
  g_object_set (apad, "enabled", FALSE, NULL);
  push_av (&f, 1100 * MS, 2000 * MS);
  finish_run (&f, &m);
  gst_object_unref (apad);
  fail_unless (m.windows->len == 2, "%u windows", m.windows->len);
  /* static policy: equal weights */
  s = g_ptr_array_index (m.windows, 0);
  check_record (s, 10);
  assert_close (mod_double (s, "audio", "weight"), 0.5, 1e-6, 0,
      "static audio weight");
  assert_close (mod_double (s, "video", "weight"), 0.5, 1e-6, 0,
      "static video weight");
  /* disabled audio is absent */
  s = g_ptr_array_index (m.windows, 1);
  check_record (s, 10);
  fail_unless (!mod_present (s, "audio"));
  assert_close (mod_double (s, "video", "weight"), 1.0, 1e-6, 0,
      "video weight with audio disabled");
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

/* ------------------------------------------------------------- alerts */

static const gchar *
alert_str (const GstStructure * a, const gchar * field)
{
  const gchar *v = gst_structure_get_string (a, field);

  fail_unless (v != NULL, "alert has no %s", field);
  return v;
}

/* "state@window " for each alert of one modality, in order. */
static gchar *
got_alerts (GPtrArray * alerts, const gchar * mod)
{
  GString *out = g_string_new ("");
  guint i;

  for (i = 0; i < alerts->len; i++) {
    const GstStructure *a = g_ptr_array_index (alerts, i);
    guint64 k = G_MAXUINT64;

    if (g_strcmp0 (alert_str (a, "modality"), mod) != 0)
      continue;
    fail_unless (gst_structure_get_uint64 (a, "window_index", &k));
    g_string_append_printf (out, "%s@%" G_GUINT64_FORMAT " ",
        alert_str (a, "state"), k);
  }
  return g_string_free (out, FALSE);
}

/* A macro, so that a failure names the test's line. */
#define assert_alerts(alerts, mod, want) G_STMT_START {                    \
  gchar *got_ = got_alerts (alerts, mod);                                 \
  fail_unless_equals_string (got_, want);                                 \
  g_free (got_);                                                          \
} G_STMT_END

/* The threshold moves instead of the noise: alert-noise is set below every
 * window's sigma-hat for windows [4, 9) of 13 and far above it otherwise.
 * Each change waits for the last window before it, and the data of the
 * next window is pushed after the change, so the switch lands exactly. */
#define LOW_THRESHOLD 1e-9
#define HIGH_THRESHOLD 1e9

GST_START_TEST (test_alert_raise_clear)
{
  Fuse f;
  Msgs m;
  gchar *json = g_build_filename (tmpdir, "alerts.jsonl", NULL);
  gchar *text, **lines;
  guint i, n_lines, n_alert_lines = 0;
  gint64 last_window_line = -1;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, "attach-mode", 1, "alert-noise",
      HIGH_THRESHOLD, "json-location", json, NULL);
  msgs_init (&m);
  push_av (&f, 0, 4 * GST_SECOND);
  msgs_wait_windows (&m, f.bus, 4, 20 * GST_SECOND);
  fail_unless (m.windows->len == 4, "%u windows", m.windows->len);
  g_object_set (f.e, "alert-noise", LOW_THRESHOLD, NULL);
  push_av (&f, 4 * GST_SECOND, 9 * GST_SECOND);
  msgs_wait_windows (&m, f.bus, 9, 20 * GST_SECOND);
  fail_unless (m.windows->len == 9, "%u windows", m.windows->len);
  g_object_set (f.e, "alert-noise", HIGH_THRESHOLD, NULL);
  push_av (&f, 9 * GST_SECOND, 13 * GST_SECOND);
  finish_run (&f, &m);
  fuse_teardown (&f);
  fail_unless (m.windows->len == 13, "%u windows", m.windows->len);

  /* raised at the third window over, cleared at the third below */
  for (i = 0; i < 2; i++) {
    assert_alerts (m.alerts, i ? "video" : "audio", "raised@6 cleared@11 ");
  }
  for (i = 0; i < m.alerts->len; i++) {
    const GstStructure *a = g_ptr_array_index (m.alerts, i);
    const gchar *mod = alert_str (a, "modality");
    gboolean raised = g_str_equal (alert_str (a, "state"), "raised");
    guint64 k = 0, rt = 0, st = 0;
    gdouble noise = -1, thr = -1;

    fail_unless_equals_string (alert_str (a, "reason"), "noise");
    fail_unless (gst_structure_get_uint64 (a, "window_index", &k));
    fail_unless (gst_structure_get_uint64 (a, "running_time", &rt));
    fail_unless (gst_structure_get_uint64 (a, "stream_time", &st));
    fail_unless (gst_structure_get_double (a, "noise", &noise));
    fail_unless (gst_structure_get_double (a, "threshold", &thr));
    fail_unless_equals_uint64 (rt, k * GST_SECOND);
    fail_unless_equals_uint64 (st, k * GST_SECOND);
    assert_close (thr, raised ? LOW_THRESHOLD : HIGH_THRESHOLD, 0, 0,
        "alert threshold");
    assert_close (noise, mod_double (g_ptr_array_index (m.windows, k), mod,
            "noise"), 0, 0, "alert noise");
  }

  /* each alert is its own JSON line, right after its window's record */
  text = read_json_lines (json, &n_lines);
  lines = g_strsplit (text, "\n", -1);
  fail_unless_equals_int (n_lines, m.windows->len + m.alerts->len);
  for (i = 0; i < n_lines; i++) {
    JsonNode *root = json_from_string (lines[i], NULL);
    JsonObject *o;

    fail_unless (root && JSON_NODE_HOLDS_OBJECT (root), "line %u: %s", i,
        lines[i]);
    o = json_node_get_object (root);
    if (json_object_has_member (o, "event")) {
      const GstStructure *a = g_ptr_array_index (m.alerts, n_alert_lines);
      guint64 k = 0;

      fail_unless_equals_string (json_object_get_string_member (o, "event"),
          "alert");
      fail_unless_equals_string (json_object_get_string_member (o,
              "modality"), alert_str (a, "modality"));
      fail_unless_equals_string (json_object_get_string_member (o, "state"),
          alert_str (a, "state"));
      fail_unless_equals_string (json_object_get_string_member (o,
              "reason"), "noise");
      fail_unless (gst_structure_get_uint64 (a, "window_index", &k));
      fail_unless_equals_int64 (json_object_get_int_member (o,
              "window_index"), k);
      fail_unless_equals_int64 (last_window_line, k);
      n_alert_lines++;
    } else {
      last_window_line = json_object_get_int_member (o, "window_index");
    }
    json_node_unref (root);
  }
  fail_unless_equals_int (n_alert_lines, m.alerts->len);
  g_strfreev (lines);
  g_free (text);
  g_unlink (json);
  g_free (json);
  msgs_clear (&m);
}

GST_END_TEST;

/* Audio has no data in [3, 7) s (GAP events) of a 12 s stream. */
static void
run_audio_hole_model (Msgs * m, const gchar * model, guint alert_windows,
    gdouble alert_noise)
{
  Fuse f;
  GstClockTime t;

  fuse_setup (&f, FALSE, VCAPS, ACAPS, "model", model, "alert-windows",
      alert_windows, "alert-noise", alert_noise, NULL);
  for (t = 0; t < 12 * GST_SECOND; t += FRAME_DUR) {
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, t, FRAME_DUR, 5)),
        GST_FLOW_OK);
    if (t >= 3 * GST_SECOND && t < 7 * GST_SECOND)
      fail_unless (gst_harness_push_event (f.a, gst_event_new_gap (t,
                  FRAME_DUR)));
    else
      fail_unless_equals_int (gst_harness_push (f.a,
              make_audio (GST_AUDIO_FORMAT_F32LE, AUDIO_RATE, 1, t,
                  FRAME_DUR)), GST_FLOW_OK);
  }
  msgs_init (m);
  finish_run (&f, m);
  fuse_teardown (&f);
  fail_unless (m->windows->len == 12, "%u windows", m->windows->len);
}

static void
run_audio_hole (Msgs * m, guint alert_windows, gdouble alert_noise)
{
  run_audio_hole_model (m, model_a, alert_windows, alert_noise);
}

GST_START_TEST (test_alert_absent)
{
  Msgs m;
  guint i;

  /* a threshold no sigma-hat reaches: only absence raises */
  run_audio_hole (&m, 3, 1e9);
  assert_alerts (m.alerts, "audio", "raised@5 cleared@9 ");
  assert_alerts (m.alerts, "video", "");
  for (i = 0; i < m.alerts->len; i++) {
    const GstStructure *a = g_ptr_array_index (m.alerts, i);
    gdouble noise = -1;

    fail_unless_equals_string (alert_str (a, "reason"), "absent");
    fail_unless (gst_structure_get_double (a, "noise", &noise));
    if (g_str_equal (alert_str (a, "state"), "raised"))
      assert_close (noise, 0.0, 0, 0, "noise of an absent modality");
  }
  fail_unless_equals_int (m.n_warnings, 0);
  msgs_clear (&m);
}

GST_END_TEST;

GST_START_TEST (test_alert_windows_zero)
{
  Msgs m;
  gdouble thr = -1;

  /* every window is over a tiny threshold, and audio has a hole */
  run_audio_hole (&m, 3, 1e-9);
  fail_unless (m.alerts->len >= 2, "%u alerts with alerts on", m.alerts->len);
  msgs_clear (&m);
  run_audio_hole (&m, 0, 1e-9);
  fail_unless_equals_int (m.alerts->len, 0);
  fail_unless_equals_int (m.n_warnings, 0);
  msgs_clear (&m);

  /* alert-noise 0 and a model without calibration: the fallback threshold,
   * said once */
  run_audio_hole (&m, 3, 0.0);
  fail_unless_equals_int (m.n_warnings, 1);
  fail_unless (m.alerts->len >= 1, "no alert");
  fail_unless (gst_structure_get_double (g_ptr_array_index (m.alerts, 0),
          "threshold", &thr));
  assert_close (thr, 5.0, 0, 0, "fallback threshold");
  msgs_clear (&m);
  /* ... and not with alerts off */
  run_audio_hole (&m, 0, 0.0);
  fail_unless_equals_int (m.n_warnings, 0);
  msgs_clear (&m);
}

GST_END_TEST;

/* alert-noise 0 takes each modality's threshold from the model: video's
 * is below every sigma-hat, audio's above (only its hole raises) */
GST_START_TEST (test_alert_model_calibration)
{
  Msgs m;
  guint i;

  run_audio_hole_model (&m, model_cal, 3, 0.0);
  fail_unless_equals_int (m.n_warnings, 0);
  assert_alerts (m.alerts, "video", "raised@2 ");
  assert_alerts (m.alerts, "audio", "raised@5 cleared@9 ");
  for (i = 0; i < m.alerts->len; i++) {
    const GstStructure *a = g_ptr_array_index (m.alerts, i);
    gboolean video = g_str_equal (alert_str (a, "modality"), "video");
    gdouble thr = -1;

    fail_unless (gst_structure_get_double (a, "threshold", &thr));
    assert_close (thr, video ? 1e-9 : 1e9, 0, 1e-6, "model calibration");
  }
  msgs_clear (&m);
}

GST_END_TEST;

GST_START_TEST (test_min_confidence_unknown)
{
  Fuse f;
  Msgs m;
  gchar *json = g_build_filename (tmpdir, "unknown.jsonl", NULL);
  gchar *text, **lines;
  guint i, n_lines, n_out = 0;
  GstBuffer *out;
  gdouble conf = 0;

  /* a random model is never fully confident: every window is unknown */
  fuse_setup (&f, FALSE, VCAPS, ACAPS, "attach-mode", 1, "min-confidence",
      1.0, "json-location", json, NULL);
  push_av (&f, 0, 2000 * MS);
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 2, "%u windows", m.windows->len);
  for (i = 0; i < m.windows->len; i++) {
    const GstStructure *s = g_ptr_array_index (m.windows, i);
    gint id = 0;

    fail_unless (win_bool (s, "valid"));
    conf = win_double (s, "confidence");
    fail_unless (conf > 0 && conf < 1.0, "confidence %g", conf);
    fail_unless_equals_string (gst_structure_get_string (s, "label"),
        "unknown");
    fail_unless (gst_structure_get_int (s, "label_id", &id));
    fail_unless_equals_int (id, -1);
  }
  while ((out = gst_harness_try_pull (f.v)) != NULL) {
    const GstStructure *meta = gst_buffer_get_udml_fusion_meta (out);
    gint id = 0;

    fail_unless (meta != NULL);
    fail_unless_equals_string (gst_structure_get_string (meta, "label"),
        "unknown");
    fail_unless (gst_structure_get_int (meta, "label_id", &id));
    fail_unless_equals_int (id, -1);
    n_out++;
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (n_out, 20);
  text = read_json_lines (json, &n_lines);
  lines = g_strsplit (text, "\n", -1);
  fail_unless_equals_int (n_lines, 2);
  for (i = 0; i < n_lines; i++) {
    JsonNode *root = json_from_string (lines[i], NULL);
    JsonObject *o = json_node_get_object (root);

    fail_unless_equals_string (json_object_get_string_member (o, "label"),
        "unknown");
    fail_unless_equals_int64 (json_object_get_int_member (o, "label_id"), -1);
    json_node_unref (root);
  }
  g_strfreev (lines);
  g_free (text);
  g_unlink (json);
  g_free (json);
  msgs_clear (&m);
  fuse_teardown (&f);

  /* the threshold just below the window's confidence keeps its label */
  fuse_setup (&f, FALSE, VCAPS, ACAPS, "min-confidence", conf - 1e-6, NULL);
  push_av (&f, GST_SECOND, 2000 * MS);
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 1, "%u windows", m.windows->len);
  check_record (g_ptr_array_index (m.windows, 0), 10);
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

GST_START_TEST (test_source_name)
{
  Fuse f;
  Msgs m;
  gchar *json = g_build_filename (tmpdir, "source.jsonl", NULL);
  gchar *text, **lines, *name, *prop;
  guint i, n_lines;
  GstBuffer *out;

  /* default: the element's name */
  fuse_setup (&f, FALSE, VCAPS, ACAPS, NULL);
  name = gst_element_get_name (f.e);
  g_object_get (f.e, "source", &prop, NULL);
  fail_unless_equals_string (prop, name);
  g_free (prop);
  push_av (&f, 0, GST_SECOND);
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len == 1, "%u windows", m.windows->len);
  fail_unless_equals_string (gst_structure_get_string (g_ptr_array_index
          (m.windows, 0), "source"), name);
  g_free (name);
  msgs_clear (&m);
  fuse_teardown (&f);

  /* set: in every record, meta and alert; audio stops after 1 s */
  fuse_setup (&f, FALSE, VCAPS, ACAPS, "source", "cam-7", "json-location",
      json, "alert-noise", 1e9, "attach-mode", 1, NULL);
  push_av (&f, 0, GST_SECOND);
  fail_unless (gst_harness_push_event (f.a, gst_event_new_eos ()));
  for (i = 10; i < 50; i++)
    fail_unless_equals_int (gst_harness_push (f.v,
            make_video (GST_VIDEO_FORMAT_GRAY8, 64, 48, i * FRAME_DUR,
                FRAME_DUR, 3)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (f.v, gst_event_new_eos ()));
  wait_eos (&f);
  msgs_init (&m);
  msgs_drain (&m, f.bus);
  fail_unless (m.windows->len == 5, "%u windows", m.windows->len);
  for (i = 0; i < m.windows->len; i++)
    fail_unless_equals_string (gst_structure_get_string (g_ptr_array_index
            (m.windows, i), "source"), "cam-7");
  fail_unless_equals_int (m.alerts->len, 1);
  fail_unless_equals_string (alert_str (g_ptr_array_index (m.alerts, 0),
          "source"), "cam-7");
  fail_unless_equals_string (alert_str (g_ptr_array_index (m.alerts, 0),
          "reason"), "absent");
  out = gst_harness_pull (f.v);
  fail_unless_equals_string (gst_structure_get_string
      (gst_buffer_get_udml_fusion_meta (out), "source"), "cam-7");
  gst_buffer_unref (out);
  text = read_json_lines (json, &n_lines);
  fail_unless_equals_int (n_lines, 6);
  lines = g_strsplit (text, "\n", -1);
  for (i = 0; i < n_lines; i++)
    fail_unless (strstr (lines[i], "\"source\":\"cam-7\"") != NULL,
        "line %u: %s", i, lines[i]);
  g_strfreev (lines);
  g_free (text);
  g_unlink (json);
  g_free (json);
  msgs_clear (&m);
  fuse_teardown (&f);
}

GST_END_TEST;

#ifndef UDML_TEST_NO_DECODE
/* The element and the training path (udml_media_clip_features) must give
 * the same window-0 features: compared through the model's outputs, which
 * are deterministic functions of them, bit for bit. */
static void
check_clip_identical (const gchar * file)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;
  UdmlInfer *inf;
  UdmlWindower *w;
  UdmlMediaClip clip = { 0 };
  const UdmlConfig *cfg;
  const float *inputs[UDML_MAX_MODALITIES] = { NULL };
  float *feat[2];
  UdmlResult ref;
  Fuse f;
  Msgs m;
  gint ia, iv, i, fw, fh;
  gsize fsize, off;
  const GstStructure *s;
  const GValue *probs;
  gchar *vcaps;
  GstPad *pad;

  fail_unless (udml_model_load (model_a, &model, &err) == UDML_OK, "%s",
      err.msg);
  cfg = udml_model_config (model);
  fail_unless (udml_media_decode_file (file, &cfg->features, &clip,
          &err) == UDML_OK, "%s", err.msg);
  fail_unless (clip.pcm && clip.frames, "%s lacks audio or video", file);
  ia = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  iv = udml_config_find (cfg, UDML_MODALITY_VIDEO);
  feat[0] = g_new0 (float, udml_config_input_size (cfg, ia));
  feat[1] = g_new0 (float, udml_config_input_size (cfg, iv));
  w = udml_media_windower_new (&cfg->features, &err);
  fail_unless (w != NULL, "%s", err.msg);
  fail_unless (udml_media_clip_features (w, &clip, &clip, feat[0], feat[1],
          &err) == UDML_OK, "%s", err.msg);
  inputs[ia] = feat[0];
  inputs[iv] = feat[1];
  inf = udml_infer_new (model, 1, &err);
  fail_unless (inf != NULL, "%s", err.msg);
  /* the element's default: one BLAS thread (the summation order follows
   * the thread count) */
  udml_set_num_threads (1);
  fail_unless (udml_infer_run (inf, 1, inputs, NULL, UDML_INFER_AS_TRAINED,
          &ref, &err) == UDML_OK, "%s", err.msg);

  /* the same decoded clip through the element, in 10 ms audio chunks */
  fw = cfg->features.frame_width;
  fh = cfg->features.frame_height;
  fsize = (gsize) fw *fh;
  vcaps = g_strdup_printf ("video/x-raw,format=GRAY8,width=%d,height=%d,"
      "framerate=0/1", fw, fh);
  fuse_setup (&f, FALSE, vcaps, ACAPS, "latency", 2 * GST_SECOND, NULL);
  g_free (vcaps);
  pad = gst_element_get_static_pad (f.e, "audio_0");
  g_object_set (pad, "min-coverage", 0.0, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (f.e, "video_0");
  g_object_set (pad, "min-coverage", 0.0, NULL);
  gst_object_unref (pad);
  /* all frames, then the audio in 10 ms chunks: latency lets the pads
   * queue it all from this one thread */
  for (i = 0; i < clip.n_frames; i++) {
    GstBuffer *b = gst_buffer_new_allocate (NULL, fsize, NULL);
    GstMapInfo map;
    gsize j;
    gint64 next = i + 1 < clip.n_frames ? clip.frame_pts[i + 1] :
        clip.duration_ns;

    fail_unless (gst_buffer_map (b, &map, GST_MAP_WRITE));
    for (j = 0; j < fsize; j++)
      map.data[j] = (guint8) lrintf (clip.frames[fsize * i + j]);
    gst_buffer_unmap (b, &map);
    GST_BUFFER_PTS (b) = clip.frame_pts[i];
    GST_BUFFER_DURATION (b) = next > clip.frame_pts[i] ?
        (GstClockTime) (next - clip.frame_pts[i]) : GST_CLOCK_TIME_NONE;
    fail_unless_equals_int (gst_harness_push (f.v, b), GST_FLOW_OK);
  }
  for (off = 0; off < clip.n_samples; off += 160) {
    gsize n = MIN (160, clip.n_samples - off);
    GstBuffer *b = gst_buffer_new_memdup (clip.pcm + off, n * sizeof (float));

    GST_BUFFER_PTS (b) = gst_util_uint64_scale (off, GST_SECOND, AUDIO_RATE);
    GST_BUFFER_DURATION (b) = gst_util_uint64_scale (n, GST_SECOND, AUDIO_RATE);
    fail_unless_equals_int (gst_harness_push (f.a, b), GST_FLOW_OK);
  }
  msgs_init (&m);
  finish_run (&f, &m);
  fail_unless (m.windows->len >= 1, "%s: no window", file);
  s = g_ptr_array_index (m.windows, 0);
  fail_unless_equals_uint64 (win_index (s), 0);
  fail_unless (mod_present (s, "audio") && mod_present (s, "video"));
  probs = gst_structure_get_value (s, "probabilities");
  for (i = 0; i < cfg->n_classes; i++) {
    float got = (float) g_value_get_double (gst_value_array_get_value (probs,
            i));
    fail_unless (got == ref.probs[i], "%s: probability %d element %.9g "
        "vs clip path %.9g (diff %.3g; atol 0)", file, i, got, ref.probs[i],
        fabsf (got - ref.probs[i]));
  }
  fail_unless ((float) mod_double (s, "audio", "noise") == ref.mod[ia].noise,
      "%s: audio noise %.9g vs %.9g", file, mod_double (s, "audio", "noise"),
      ref.mod[ia].noise);
  fail_unless ((float) mod_double (s, "video", "noise") == ref.mod[iv].noise,
      "%s: video noise %.9g vs %.9g", file, mod_double (s, "video", "noise"),
      ref.mod[iv].noise);
  fail_unless ((float) mod_double (s, "video", "weight") ==
      ref.mod[iv].weight, "%s: video weight", file);
  msgs_clear (&m);
  fuse_teardown (&f);

  udml_infer_free (inf);
  udml_media_windower_free (w);
  udml_media_clip_clear (&clip);
  udml_model_free (model);
  g_free (feat[0]);
  g_free (feat[1]);
}

GST_START_TEST (test_clip_bit_identical)
{
  const gchar *data = g_getenv ("UDML_TEST_DATA");
  const gchar *files[] = { "av.mkv", "av.mp4" };
  guint i;

  fail_unless (data != NULL, "UDML_TEST_DATA is not set");
  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    gchar *path = g_build_filename (data, "media", files[i], NULL);
    check_clip_identical (path);
    g_free (path);
  }
}

GST_END_TEST;
#endif

static Suite *
udmlfuse_suite (void)
{
  Suite *s = suite_create ("udmlfuse");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps_video_formats);
  tcase_add_test (tc, test_caps_audio_formats);
  tcase_add_test (tc, test_caps_unsupported);
  tcase_add_test (tc, test_window_timestamps);
  tcase_add_test (tc, test_message_meta_json);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_eos_one_pad_partial);
  tcase_add_test (tc, test_gap_events);
  tcase_add_test (tc, test_timestamp_jump);
  tcase_add_test (tc, test_window_hop_minimum);
  tcase_add_test (tc, test_live_starved_pad);
  tcase_add_test (tc, test_live_overload_drops);
  tcase_add_test (tc, test_flushing_seek);
  tcase_add_test (tc, test_seek_keeps_grid);
  tcase_add_test (tc, test_flush_resets_resampler);
  tcase_add_test (tc, test_segment_restarts_resampler);
  tcase_add_test (tc, test_jump_restarts_resampler);
  tcase_add_test (tc, test_audio_jitter_no_gap);
  tcase_add_test (tc, test_release_primary_pad);
  tcase_add_test (tc, test_state_cycling);
  tcase_add_test (tc, test_bad_model);
  tcase_add_test (tc, test_reload);
  tcase_add_test (tc, test_reload_failure_reverts);
  tcase_add_test (tc, test_model_error_text);
  tcase_add_test (tc, test_allocation_window);
  tcase_add_test (tc, test_allocation_small_pool);
  tcase_add_test (tc, test_no_pts_passes);
  tcase_add_test (tc, test_eos_window_count);
  tcase_add_test (tc, test_enabled_and_policy);
  tcase_add_test (tc, test_forward_unlocked);
  tcase_add_test (tc, test_alert_raise_clear);
  tcase_add_test (tc, test_alert_absent);
  tcase_add_test (tc, test_alert_windows_zero);
  tcase_add_test (tc, test_alert_model_calibration);
  tcase_add_test (tc, test_min_confidence_unknown);
  tcase_add_test (tc, test_source_name);
#ifndef UDML_TEST_NO_DECODE
  tcase_add_test (tc, test_clip_bit_identical);
#endif
  return s;
}

int
main (int argc, char **argv)
{
  int failed;

  gst_check_init (&argc, &argv);
  setup_models ();
  failed = gst_check_run_suite (udmlfuse_suite (), "udmlfuse", __FILE__);
  remove_models ();
  return failed ? 1 : 0;
}
