/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusemodel.c — udmlfuse's model session (udmlfusemodel.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "udmlfusemodel.h"

#ifndef UDML_DEFAULT_MODEL
#define UDML_DEFAULT_MODEL "avdigits.udml"
#endif

GST_DEBUG_CATEGORY_EXTERN (gst_udml_fuse_debug);
#define GST_CAT_DEFAULT gst_udml_fuse_debug

struct _GstUdmlFuseSession
{
  UdmlModel *model;
  UdmlInfer *infer;
};

/* ------------------------------------------------------------- session */

static void
session_clear (gpointer data)
{
  GstUdmlFuseSession *s = data;

  udml_infer_free (s->infer);
  udml_model_free (s->model);
}

/* Takes model, also on failure. */
static GstUdmlFuseSession *
session_new (UdmlModel * model, UdmlError * err)
{
  GstUdmlFuseSession *s;
  UdmlInfer *infer = udml_infer_new (model, 1, err);

  if (infer == NULL) {
    udml_model_free (model);
    return NULL;
  }
  s = g_atomic_rc_box_new0 (GstUdmlFuseSession);
  s->model = model;
  s->infer = infer;
  return s;
}

static void
session_unref (GstUdmlFuseSession * s)
{
  if (s)
    g_atomic_rc_box_release_full (s, session_clear);
}

/* (transfer full) (nullable) the session in use */
static GstUdmlFuseSession *
get_session (GstUdmlFuseModel * fm)
{
  GstUdmlFuseSession *s;

  g_mutex_lock (&fm->lock);
  s = fm->session ? g_atomic_rc_box_acquire (fm->session) : NULL;
  g_mutex_unlock (&fm->lock);
  return s;
}

/* One forward pass on zeros measures the processing time the latency
 * report needs before any data arrives. */
static GstClockTime
session_warm_up (GstUdmlFuseSession * s, GstElement * element)
{
  const UdmlConfig *cfg = udml_model_config (s->model);
  gfloat *zeros[UDML_MAX_MODALITIES] = { NULL };
  const float *inputs[UDML_MAX_MODALITIES] = { NULL };
  UdmlError err = { 0 };
  UdmlResult res;
  gint64 t0;
  gint m;

  for (m = 0; m < cfg->n_modalities; m++) {
    zeros[m] = g_new0 (gfloat, udml_config_input_size (cfg, m));
    inputs[m] = zeros[m];
  }
  t0 = g_get_monotonic_time ();
  if (udml_infer_run (s->infer, 1, inputs, NULL, UDML_INFER_AS_TRAINED, &res,
          &err) != UDML_OK)
    /* each window would then fail too; that is reported per window */
    GST_WARNING_OBJECT (element, "warm-up inference failed: %s (%s)",
        err.msg, udml_status_name (err.code));
  t0 = g_get_monotonic_time () - t0;
  for (m = 0; m < cfg->n_modalities; m++)
    g_free (zeros[m]);
  return t0 * GST_USECOND;
}

static UdmlInferMode
policy_mode (GstUdmlFusePolicy p)
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

/* Runs the forward pass when a modality is present and fills rec's model
 * part; see gst_udml_fuse_model_infer. */
static UdmlStatus
session_infer (GstUdmlFuseSession * s, const UdmlMediaWindow * win,
    const uint8_t * present, gboolean any, UdmlInferMode mode,
    GstUdmlRecord * rec, UdmlError * err)
{
  const UdmlConfig *cfg = udml_model_config (s->model);
  const float *inputs[UDML_MAX_MODALITIES] = { NULL };
  UdmlResult res;
  UdmlStatus st = UDML_OK;
  gint m, c;

  rec->n_classes = cfg->n_classes;
  rec->n_modalities = cfg->n_modalities;
  rec->label_id = -1;
  for (m = 0; m < cfg->n_modalities; m++) {
    UdmlModalityKind kind = cfg->mod[m].kind;

    g_strlcpy (rec->mod_name[m], cfg->mod[m].name, UDML_NAME_LEN);
    rec->mod[m].coverage = win->coverage[kind];
    inputs[m] = kind == UDML_MODALITY_AUDIO ? win->audio : win->video;
  }
  if (any)
    st = udml_infer_run (s->infer, 1, inputs, present, mode, &res, err);
  if (!any || st != UDML_OK) {
    for (m = 0; m < cfg->n_modalities; m++)
      rec->mod[m].alpha = udml_model_alpha (s->model, m) /
          (gdouble) cfg->n_modalities;
    return st;
  }
  rec->valid = TRUE;
  rec->label_id = res.label;
  if (res.label >= 0 && res.label < cfg->n_classes)
    g_strlcpy (rec->label, cfg->labels[res.label], UDML_NAME_LEN);
  rec->confidence = res.confidence;
  for (c = 0; c < cfg->n_classes; c++)
    rec->probs[c] = res.probs[c];
  for (m = 0; m < cfg->n_modalities; m++) {
    const UdmlModalityResult *mr = &res.mod[m];

    rec->mod[m].present = mr->present != 0;
    rec->mod[m].noise = mr->present ? mr->noise : 0.0;
    rec->mod[m].alpha = mr->alpha;
    rec->mod[m].uncertainty_weight = mr->present ? mr->uncertainty_weight : 0;
    rec->mod[m].weight = mr->present ? mr->weight : 0.0;
  }
  return UDML_OK;
}

UdmlStatus
gst_udml_fuse_model_infer (GstUdmlFuseModel * fm, GstElement * element,
    const GstUdmlFuseForwardHook * hook, const UdmlMediaWindow * win,
    const gboolean use[2], GstUdmlFusePolicy policy, GstUdmlRecord * rec,
    GstClockTime * elapsed, UdmlError * err)
{
  GstUdmlFuseSession *s = get_session (fm);
  const UdmlConfig *cfg;
  uint8_t present[UDML_MAX_MODALITIES] = { 0 };
  gboolean any = FALSE;
  UdmlStatus st;
  gint64 t;
  gint m;

  *elapsed = 0;
  if (s == NULL)
    return udml_error_set (err, UDML_ERR_ARG, "no model loaded");
  cfg = udml_model_config (s->model);
  for (m = 0; m < cfg->n_modalities; m++) {
    present[m] = use[cfg->mod[m].kind];
    any |= present[m];
  }
  if (any && hook)
    hook->func (element, hook->user_data);
  t = g_get_monotonic_time ();
  st = session_infer (s, win, present, any, policy_mode (policy), rec, err);
  if (any)
    *elapsed = (g_get_monotonic_time () - t) * GST_USECOND;
  session_unref (s);
  return st;
}

/* Routes core log lines to this element's debug category. */
static void
log_to_gst (UdmlLogLevel level, const char *msg, void *user)
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

void
gst_udml_fuse_model_route_log (void)
{
  udml_set_log_func (log_to_gst, NULL);
}

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

/* ------------------------------------------------------------- messages */

static GstMessage *
model_message (GstElement * element, const gchar * event,
    const gchar * location, const UdmlModel * model, const gchar * error)
{
  GstStructure *s;

  s = gst_structure_new ("udmlfuse-model", "event", G_TYPE_STRING, event,
      "location", G_TYPE_STRING, location, NULL);
  if (model) {
    const UdmlConfig *cfg = udml_model_config (model);
    GValue labels = G_VALUE_INIT, v = G_VALUE_INIT;
    gint i;

    g_value_init (&labels, GST_TYPE_ARRAY);
    g_value_init (&v, G_TYPE_STRING);
    for (i = 0; i < cfg->n_classes; i++) {
      g_value_set_string (&v, cfg->labels[i]);
      gst_value_array_append_value (&labels, &v);
    }
    g_value_unset (&v);
    gst_structure_set (s, "num-classes", G_TYPE_INT, cfg->n_classes, NULL);
    gst_structure_take_value (s, "labels", &labels);
  }
  if (error)
    gst_structure_set (s, "error", G_TYPE_STRING, error, NULL);
  return gst_message_new_element (GST_OBJECT_CAST (element), s);
}

/* The library's load errors start with "<path>: "; the element's texts
 * name the path once themselves. */
static const gchar *
error_detail (const gchar * path, const gchar * msg)
{
  gsize n = strlen (path);

  if (strncmp (msg, path, n) == 0 && strncmp (msg + n, ": ", 2) == 0)
    return msg + n + 2;
  return msg;
}

/* Names where a missing model file came from, so the user knows what to
 * change: the installed default, $UDML_MODEL or the property. */
static void
post_missing (GstElement * element, const gchar * path)
{
  const gchar *env = g_getenv ("UDML_MODEL");

  if (env && *env && strcmp (env, path) == 0)
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("Model file \"%s\" does not exist (set by UDML_MODEL).", path),
        ("Unset UDML_MODEL to use the installed model (%s), or set it or "
            "the 'model' property to a .udml file.", UDML_DEFAULT_MODEL));
  else if (strcmp (path, UDML_DEFAULT_MODEL) == 0)
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("The default model is not installed at \"%s\"; set UDML_MODEL or "
            "the 'model' property to a .udml file.", path),
        ("'meson install' puts models/avdigits.udml there."));
  else
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("Model file \"%s\" does not exist.", path),
        ("Set the 'model' property (or UDML_MODEL) to a .udml file."));
}

/* ---------------------------------------------------------- model slot */

void
gst_udml_fuse_model_init (GstUdmlFuseModel * fm, const gchar * location)
{
  g_mutex_init (&fm->lock);
  fm->location = g_strdup (location);
  fm->active = g_strdup (location);
  fm->session = NULL;
  fm->generation = 0;
}

void
gst_udml_fuse_model_clear (GstUdmlFuseModel * fm)
{
  gst_udml_fuse_model_stop (fm);
  g_free (fm->location);
  g_free (fm->active);
  g_mutex_clear (&fm->lock);
}

gchar *
gst_udml_fuse_model_dup_location (GstUdmlFuseModel * fm)
{
  gchar *location;

  g_mutex_lock (&fm->lock);
  location = g_strdup (fm->location);
  g_mutex_unlock (&fm->lock);
  return location;
}

gboolean
gst_udml_fuse_model_is_running (GstUdmlFuseModel * fm)
{
  gboolean running;

  g_mutex_lock (&fm->lock);
  running = fm->session != NULL;
  g_mutex_unlock (&fm->lock);
  return running;
}

void
gst_udml_fuse_model_inputs (GstUdmlFuseModel * fm, gboolean in_model[2])
{
  const UdmlConfig *cfg;

  in_model[UDML_MODALITY_AUDIO] = in_model[UDML_MODALITY_VIDEO] = FALSE;
  g_mutex_lock (&fm->lock);
  if (fm->session) {
    cfg = udml_model_config (fm->session->model);
    in_model[UDML_MODALITY_AUDIO] =
        udml_config_find (cfg, UDML_MODALITY_AUDIO) >= 0;
    in_model[UDML_MODALITY_VIDEO] =
        udml_config_find (cfg, UDML_MODALITY_VIDEO) >= 0;
  }
  g_mutex_unlock (&fm->lock);
}

gint
gst_udml_fuse_model_sample_rate (GstUdmlFuseModel * fm)
{
  gint rate = 0;

  g_mutex_lock (&fm->lock);
  if (fm->session)
    rate = udml_model_config (fm->session->model)->features.sample_rate;
  g_mutex_unlock (&fm->lock);
  return rate;
}

/* The mel input width follows from the window length; it must be the
 * model's audio input width. */
static gboolean
window_fits (GstElement * element, const gchar * path, const UdmlConfig * cfg,
    const UdmlFeatureSpec * spec)
{
  gint m = udml_config_find (cfg, UDML_MODALITY_AUDIO);
  size_t n;
  gint frames;

  if (m < 0)
    return TRUE;
  n = (size_t) gst_util_uint64_scale_round (spec->window_ns,
      spec->sample_rate, GST_SECOND);
  frames = udml_media_mel_frames (spec, n);
  if (frames == cfg->mod[m].in_w)
    return TRUE;
  GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
      ("window-duration %" GST_TIME_FORMAT " does not fit model \"%s\"",
          GST_TIME_ARGS (spec->window_ns), path),
      ("the window gives %d mel frames, the model's audio input has %d "
          "(window %" GST_TIME_FORMAT ")", frames, cfg->mod[m].in_w,
          GST_TIME_ARGS (cfg->features.window_ns)));
  return FALSE;
}

gboolean
gst_udml_fuse_model_start (GstUdmlFuseModel * fm, GstElement * element,
    GstClockTime window_duration, GstClockTime window_hop,
    UdmlFeatureSpec * spec, GstClockTime * warm_up)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;
  GstUdmlFuseSession *s, *old;
  const UdmlConfig *cfg;
  gchar *path = gst_udml_fuse_model_dup_location (fm);

  if (path == NULL || *path == '\0') {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
        ("No model file set."),
        ("Set the 'model' property (or UDML_MODEL) to a .udml file."));
    goto fail;
  }
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    post_missing (element, path);
    goto fail;
  }
  if (udml_model_load (path, &model, &err) != UDML_OK) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("Could not load model \"%s\": %s", path,
            error_detail (path, err.msg)),
        ("status: %s", udml_status_name (err.code)));
    goto fail;
  }
  cfg = udml_model_config (model);
  *spec = cfg->features;
  if (window_duration > 0)
    spec->window_ns = window_duration;
  if (window_hop > 0)
    spec->hop_ns = window_hop;
  if (!window_fits (element, path, cfg, spec))
    goto fail;

  s = session_new (model, &err);
  model = NULL;
  if (s == NULL) {
    GST_ELEMENT_ERROR (element, LIBRARY, INIT,
        ("Could not prepare model \"%s\" for inference: %s", path,
            error_detail (path, err.msg)),
        ("status: %s", udml_status_name (err.code)));
    goto fail;
  }
  *warm_up = session_warm_up (s, element);

  g_mutex_lock (&fm->lock);
  old = fm->session;
  fm->session = s;
  g_free (fm->active);
  fm->active = g_strdup (path);
  g_mutex_unlock (&fm->lock);
  session_unref (old);

  GST_INFO_OBJECT (element, "model %s: %d classes, window %" GST_TIME_FORMAT
      " hop %" GST_TIME_FORMAT ", processing %" GST_TIME_FORMAT, path,
      cfg->n_classes, GST_TIME_ARGS (spec->window_ns),
      GST_TIME_ARGS (spec->hop_ns), GST_TIME_ARGS (*warm_up));
  gst_element_post_message (element,
      model_message (element, "loaded", path, s->model, NULL));
  g_free (path);
  return TRUE;

fail:
  udml_model_free (model);
  g_free (path);
  return FALSE;
}

void
gst_udml_fuse_model_stop (GstUdmlFuseModel * fm)
{
  GstUdmlFuseSession *s;

  g_mutex_lock (&fm->lock);
  s = fm->session;
  fm->session = NULL;
  g_mutex_unlock (&fm->lock);
  session_unref (s);
}

/* Checks that a new model reads the same features and modalities, so the
 * windower, scaler and resampler built for the old one stay valid; else
 * *why names the first field that differs, with both values. */
static gboolean
models_compatible (const UdmlModel * a, const UdmlModel * b, gchar ** why)
{
  const UdmlConfig *ca = udml_model_config (a), *cb = udml_model_config (b);
  const UdmlFeatureSpec *fa = &ca->features, *fb = &cb->features;
  const struct
  {
    const gchar *name;
    gdouble a, b;
  } field[] = {
    {"window (s)", fa->window_ns / 1e9, fb->window_ns / 1e9},
    {"sample rate (Hz)", fa->sample_rate, fb->sample_rate},
    {"FFT size", fa->n_fft, fb->n_fft},
    {"FFT window length", fa->win_length, fb->win_length},
    {"FFT hop", fa->hop_length, fb->hop_length},
    {"mel bands", fa->n_mels, fb->n_mels},
    {"lowest mel frequency (Hz)", fa->fmin, fb->fmin},
    {"highest mel frequency (Hz)", fa->fmax, fb->fmax},
    {"log floor", fa->log_floor, fb->log_floor},
    {"frame width", fa->frame_width, fb->frame_width},
    {"frame height", fa->frame_height, fb->frame_height},
    {"frame channels", fa->frame_channels, fb->frame_channels},
    {"frames per window", fa->frames_per_window, fb->frames_per_window},
  };
  gint m;

  for (gsize i = 0; i < G_N_ELEMENTS (field); i++)
    if (field[i].a != field[i].b) {
      *why = g_strdup_printf ("its %s is %g, the running model's is %g",
          field[i].name, field[i].b, field[i].a);
      return FALSE;
    }
  if (ca->n_modalities != cb->n_modalities) {
    *why = g_strdup_printf ("%d modalities, the running model has %d",
        cb->n_modalities, ca->n_modalities);
    return FALSE;
  }
  for (m = 0; m < ca->n_modalities; m++) {
    const UdmlModalitySpec *ma = &ca->mod[m], *mb = &cb->mod[m];
    if (ma->kind != mb->kind || ma->in_c != mb->in_c || ma->in_h != mb->in_h
        || ma->in_w != mb->in_w) {
      *why = g_strdup_printf ("modality %d (%s) input %dx%dx%d, the running "
          "model has %s %dx%dx%d", m, mb->name, mb->in_c, mb->in_h, mb->in_w,
          ma->name, ma->in_c, ma->in_h, ma->in_w);
      return FALSE;
    }
  }
  return TRUE;
}

/* Loads path, checks it reads the same inputs as the running model and
 * swaps it in; the streaming thread picks it up at its next window, a
 * forward pass in progress finishes on the reference it holds. The old
 * model stays on any failure, and the property names it again. */
static void
reload (GstUdmlFuseModel * fm, GstElement * element, const gchar * path,
    guint generation)
{
  UdmlError err = { 0 };
  UdmlModel *model = NULL;
  GstUdmlFuseSession *running = NULL, *s = NULL, *old = NULL;
  GstMessage *msg = NULL;
  gchar *why = NULL;
  gboolean ok = FALSE;

  if (path == NULL || *path == '\0') {
    why = g_strdup ("no model file given");
    goto out;
  }
  if (udml_model_load (path, &model, &err) != UDML_OK) {
    why = g_strdup_printf ("%s (%s)", error_detail (path, err.msg),
        udml_status_name (err.code));
    goto out;
  }
  running = get_session (fm);
  if (running == NULL) {
    ok = TRUE;                  /* stopped meanwhile: start() loads path */
    goto out;
  }
  if (!models_compatible (running->model, model, &why))
    goto out;
  s = session_new (model, &err);
  model = NULL;
  if (s == NULL) {
    why = g_strdup_printf ("%s (%s)", error_detail (path, err.msg),
        udml_status_name (err.code));
    goto out;
  }
  msg = model_message (element, "reloaded", path, s->model, NULL);

  g_mutex_lock (&fm->lock);
  if (fm->session != NULL) {
    old = fm->session;
    fm->session = s;
    s = NULL;
    g_free (fm->active);
    fm->active = g_strdup (path);
  }
  g_mutex_unlock (&fm->lock);
  ok = TRUE;
  GST_INFO_OBJECT (element, "reloaded model %s", path);

out:
  session_unref (old);
  session_unref (s);
  session_unref (running);
  udml_model_free (model);
  g_mutex_lock (&fm->lock);
  if (running == NULL && ok) {
    g_free (fm->active);
    fm->active = g_strdup (path);
  }
  /* a later setting, still loading, decides the property itself */
  if (!ok && generation == fm->generation) {
    g_free (fm->location);
    fm->location = g_strdup (fm->active);
  }
  g_mutex_unlock (&fm->lock);
  if (msg)
    gst_element_post_message (element, msg);
  if (!ok) {
    /* listeners read the model in use again */
    g_object_notify (G_OBJECT (element), "model");
    GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
        ("Could not reload model \"%s\": %s; keeping the previous model.",
            path ? path : "", why), (NULL));
    gst_element_post_message (element,
        model_message (element, "reload-failed", path ? path : "", NULL, why));
  }
  g_free (why);
}

void
gst_udml_fuse_model_set_location (GstUdmlFuseModel * fm,
    GstElement * element, const gchar * location)
{
  gboolean running;
  guint generation;

  g_mutex_lock (&fm->lock);
  generation = ++fm->generation;
  g_free (fm->location);
  fm->location = g_strdup (location);
  running = fm->session != NULL;
  if (!running) {
    g_free (fm->active);
    fm->active = g_strdup (location);
  }
  g_mutex_unlock (&fm->lock);
  /* outside the lock: loading takes a while and posts messages */
  if (running)
    reload (fm, element, location, generation);
}

gdouble
gst_udml_fuse_model_noise_calibration (GstUdmlFuseModel * fm, gint m)
{
  gdouble sigma = 0.0;

  g_mutex_lock (&fm->lock);
  if (fm->session)
    sigma = udml_model_calibration (fm->session->model, m);
  g_mutex_unlock (&fm->lock);
  return sigma;
}
