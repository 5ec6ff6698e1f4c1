/* udmlrecord.c — the per-window record as GstStructure and JSON. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include "udmlrecord.h"

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
      "label", G_TYPE_STRING, rec->label,
      "label_id", G_TYPE_INT, rec->label_id,
      "confidence", G_TYPE_DOUBLE, rec->confidence,
      "valid", G_TYPE_BOOLEAN, rec->valid,
      "partial", G_TYPE_BOOLEAN, rec->partial, NULL);
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

/* Numbers as JSON numbers: shortest round-tripping text, never nan/inf. */
static void
append_number (GString * out, gdouble x)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (x)) {
    g_string_append (out, "null");
    return;
  }
  g_string_append (out, g_ascii_dtostr (buf, sizeof buf, x));
}

static void
append_string (GString * out, const gchar * str)
{
  const guchar *p;

  g_string_append_c (out, '"');
  for (p = (const guchar *) str; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

#define BOOL_STR(b) ((b) ? "true" : "false")

void
gst_udml_record_append_json (const GstUdmlRecord * rec, GString * out)
{
  gint i;

  g_string_append_printf (out, "{\"window_index\":%" G_GUINT64_FORMAT,
      rec->window_index);
  g_string_append (out, ",\"window_start\":");
  append_number (out, rec->window_start);
  g_string_append (out, ",\"window_end\":");
  append_number (out, rec->window_end);
  g_string_append_printf (out, ",\"pts\":%" G_GUINT64_FORMAT
      ",\"running_time\":%" G_GUINT64_FORMAT ",\"duration\":%"
      G_GUINT64_FORMAT ",\"label\":", (guint64) rec->pts,
      (guint64) rec->running_time, (guint64) rec->duration);
  append_string (out, rec->label);
  g_string_append_printf (out, ",\"label_id\":%d,\"confidence\":",
      rec->label_id);
  append_number (out, rec->confidence);
  g_string_append (out, ",\"probabilities\":[");
  for (i = 0; i < rec->n_classes; i++) {
    if (i)
      g_string_append_c (out, ',');
    append_number (out, rec->probs[i]);
  }
  g_string_append_printf (out, "],\"valid\":%s,\"partial\":%s,"
      "\"modalities\":{", BOOL_STR (rec->valid), BOOL_STR (rec->partial));
  for (i = 0; i < rec->n_modalities; i++) {
    const GstUdmlModalityRecord *m = &rec->mod[i];

    if (i)
      g_string_append_c (out, ',');
    append_string (out, rec->mod_name[i]);
    g_string_append_printf (out, ":{\"present\":%s,\"coverage\":",
        BOOL_STR (m->present));
    append_number (out, m->coverage);
    g_string_append (out, ",\"noise\":");
    append_number (out, m->noise);
    g_string_append (out, ",\"alpha\":");
    append_number (out, m->alpha);
    g_string_append (out, ",\"uncertainty_weight\":");
    append_number (out, m->uncertainty_weight);
    g_string_append (out, ",\"weight\":");
    append_number (out, m->weight);
    g_string_append_c (out, '}');
  }
  g_string_append (out, "}}\n");
}
