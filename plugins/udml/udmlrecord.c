/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlrecord.c — the per-window record as GstStructure and JSON
 * (json-glib). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include "udmlrecord.h"

void
gst_udml_record_apply_min_confidence (GstUdmlRecord * rec,
    gdouble min_confidence)
{
  if (!rec->valid || rec->confidence >= min_confidence)
    return;
  g_strlcpy (rec->label, GST_UDML_LABEL_UNKNOWN, sizeof rec->label);
  rec->label_id = -1;
}

void
gst_udml_record_fill_structure (const GstUdmlRecord * rec, GstStructure * s)
{
  GValue probs = G_VALUE_INIT, v = G_VALUE_INIT, sv = G_VALUE_INIT;
  GstStructure *mods;
  gint i;

  g_value_init (&probs, GST_TYPE_ARRAY);
  g_value_init (&v, G_TYPE_DOUBLE);
  for (i = 0; i < rec->n_classes; i++) {
    g_value_set_double (&v, rec->probs[i]);
    gst_value_array_append_value (&probs, &v);
  }
  g_value_unset (&v);

  mods = gst_structure_new_empty ("modalities");
  for (i = 0; i < rec->n_modalities; i++) {
    const GstUdmlModalityRecord *m = &rec->mod[i];
    /* by quark: a model may name a modality "cam 1", which
     * gst_structure_new () refuses as a structure name */
    GstStructure *ms =
        gst_structure_new_id_empty (g_quark_from_string (rec->mod_name[i]));

    gst_structure_set (ms, "present", G_TYPE_BOOLEAN, m->present,
        "coverage", G_TYPE_DOUBLE, m->coverage,
        "noise", G_TYPE_DOUBLE, m->noise,
        "alpha", G_TYPE_DOUBLE, m->alpha,
        "uncertainty_weight", G_TYPE_DOUBLE, m->uncertainty_weight,
        "weight", G_TYPE_DOUBLE, m->weight, NULL);
    gst_structure_set (mods, rec->mod_name[i], GST_TYPE_STRUCTURE, ms, NULL);
    gst_structure_free (ms);
  }

  gst_structure_set (s,
      "window_index", G_TYPE_UINT64, rec->window_index,
      "window_start", G_TYPE_DOUBLE, rec->window_start,
      "window_end", G_TYPE_DOUBLE, rec->window_end,
      "pts", G_TYPE_UINT64, (guint64) rec->pts,
      "running_time", G_TYPE_UINT64, (guint64) rec->running_time,
      "duration", G_TYPE_UINT64, (guint64) rec->duration,
      "source", G_TYPE_STRING, rec->source ? rec->source : "",
      "label", G_TYPE_STRING, rec->label,
      "label_id", G_TYPE_INT, rec->label_id,
      "confidence", G_TYPE_DOUBLE, rec->confidence,
      "valid", G_TYPE_BOOLEAN, rec->valid,
      "partial", G_TYPE_BOOLEAN, rec->partial,
      "gap", G_TYPE_BOOLEAN, rec->gap,
      "dropped", G_TYPE_BOOLEAN, rec->dropped, NULL);
  gst_structure_take_value (s, "probabilities", &probs);
  g_value_init (&sv, GST_TYPE_STRUCTURE);
  g_value_take_boxed (&sv, mods);
  gst_structure_take_value (s, "modalities", &sv);
}

GstStructure *
gst_udml_record_to_structure (const GstUdmlRecord * rec, const gchar * name)
{
  GstStructure *s = gst_structure_new_empty (name);

  gst_udml_record_fill_structure (rec, s);
  return s;
}

/* JSON numbers: doubles round-trip exactly; nan/inf, which JSON lacks,
 * become null. */
static void
add_double (JsonBuilder * b, const gchar * name, gdouble x)
{
  if (name)
    json_builder_set_member_name (b, name);
  if (isfinite (x))
    json_builder_add_double_value (b, x);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder * b, const gchar * name, gint64 x)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, x);
}

static void
add_bool (JsonBuilder * b, const gchar * name, gboolean x)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, x);
}

void
gst_udml_record_build_json (const GstUdmlRecord * rec, JsonBuilder * b)
{
  gint i;

  json_builder_begin_object (b);
  add_int (b, "window_index", (gint64) rec->window_index);
  add_double (b, "window_start", rec->window_start);
  add_double (b, "window_end", rec->window_end);
  add_int (b, "pts", (gint64) rec->pts);
  add_int (b, "running_time", (gint64) rec->running_time);
  add_int (b, "duration", (gint64) rec->duration);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, rec->source ? rec->source : "");
  json_builder_set_member_name (b, "label");
  json_builder_add_string_value (b, rec->label);
  add_int (b, "label_id", rec->label_id);
  add_double (b, "confidence", rec->confidence);
  json_builder_set_member_name (b, "probabilities");
  json_builder_begin_array (b);
  for (i = 0; i < rec->n_classes; i++)
    add_double (b, NULL, rec->probs[i]);
  json_builder_end_array (b);
  add_bool (b, "valid", rec->valid);
  add_bool (b, "partial", rec->partial);
  add_bool (b, "gap", rec->gap);
  add_bool (b, "dropped", rec->dropped);
  json_builder_set_member_name (b, "modalities");
  json_builder_begin_object (b);
  for (i = 0; i < rec->n_modalities; i++) {
    const GstUdmlModalityRecord *m = &rec->mod[i];

    json_builder_set_member_name (b, rec->mod_name[i]);
    json_builder_begin_object (b);
    add_bool (b, "present", m->present);
    add_double (b, "coverage", m->coverage);
    add_double (b, "noise", m->noise);
    add_double (b, "alpha", m->alpha);
    add_double (b, "uncertainty_weight", m->uncertainty_weight);
    add_double (b, "weight", m->weight);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static const gchar *
alert_state (const GstUdmlAlert * a)
{
  return a->raised ? "raised" : "cleared";
}

static const gchar *
alert_reason (const GstUdmlAlert * a)
{
  return a->absent ? "absent" : "noise";
}

GstStructure *
gst_udml_alert_to_structure (const GstUdmlAlert * a)
{
  return gst_structure_new ("udml-alert",
      "source", G_TYPE_STRING, a->source ? a->source : "",
      "modality", G_TYPE_STRING, a->modality,
      "state", G_TYPE_STRING, alert_state (a),
      "reason", G_TYPE_STRING, alert_reason (a),
      "noise", G_TYPE_DOUBLE, a->noise,
      "threshold", G_TYPE_DOUBLE, a->threshold,
      "window_index", G_TYPE_UINT64, a->window_index,
      "running_time", G_TYPE_UINT64, (guint64) a->running_time,
      "stream_time", G_TYPE_UINT64, (guint64) a->stream_time, NULL);
}

void
gst_udml_alert_build_json (const GstUdmlAlert * a, JsonBuilder * b)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "alert");
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, a->source ? a->source : "");
  json_builder_set_member_name (b, "modality");
  json_builder_add_string_value (b, a->modality);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, alert_state (a));
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, alert_reason (a));
  add_double (b, "noise", a->noise);
  add_double (b, "threshold", a->threshold);
  add_int (b, "window_index", (gint64) a->window_index);
  add_int (b, "running_time", (gint64) a->running_time);
  add_int (b, "stream_time", (gint64) a->stream_time);
  json_builder_end_object (b);
}
