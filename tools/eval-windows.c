/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eval-windows.c — udml-eval --windows: the clean protocol's result of
 * every window, as udmlfuse writes its records (plugins/udml/udmlrecord.c),
 * so an offline evaluation and an element run diff line by line. */
#include "eval-windows.h"

#include <json-glib/json-glib.h>

static void
json_double (JsonBuilder * b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_double_value (b, v);
}

static void
json_string (JsonBuilder * b, const char *key, const char *v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, v);
}

static void
json_int (JsonBuilder * b, const char *key, gint64 v)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, v);
}

/* One JSON Lines record per clean window, keyed as udmlfuse's records so
 * the two diff: window k of a row starts at its start + k * hop (stream
 * time of the clip), as the windower cuts it. */
int
eval_write_windows (const WindowsOut * wo, const char *model,
    const UdmlConfig * cfg, const UdmlFeatureSet * set, const UdmlResult * res)
{
  const UdmlDataList *list = wo->list;
  JsonGenerator *gen = json_generator_new ();
  int r = 0;

  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    int64_t t0 = it->end_s >= 0 ? (int64_t) (it->start_s * 1e9 + 0.5) : 0;
    for (int j = 0; !it->error && j < it->n_windows && r < set->n; j++, r++) {
      const UdmlResult *x = &res[r];
      int64_t start = t0 + j * wo->hop_ns;
      JsonBuilder *b = json_builder_new ();
      json_builder_begin_object (b);
      json_string (b, "model", model);
      json_string (b, "path", it->a_path);
      if (it->v_path != it->a_path)
        json_string (b, "video", it->v_path);
      json_int (b, "row", it->line);
      json_string (b, "truth", cfg->labels[set->y[r]]);
      json_int (b, "window_index", j);
      json_double (b, "window_start", start / 1e9);
      json_double (b, "window_end", (start + cfg->features.window_ns) / 1e9);
      json_string (b, "label", cfg->labels[x->label]);
      json_int (b, "label_id", x->label);
      json_double (b, "confidence", x->confidence);
      json_builder_set_member_name (b, "probabilities");
      json_builder_begin_array (b);
      for (int k = 0; k < cfg->n_classes; k++)
        json_builder_add_double_value (b, x->probs[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "modalities");
      json_builder_begin_object (b);
      for (int m = 0; m < cfg->n_modalities; m++) {
        const UdmlModalityResult *mr = &x->mod[m];
        json_builder_set_member_name (b, cfg->mod[m].name);
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "present");
        json_builder_add_boolean_value (b, mr->present);
        json_double (b, "noise", mr->noise);
        json_double (b, "alpha", mr->alpha);
        json_double (b, "uncertainty_weight", mr->uncertainty_weight);
        json_double (b, "weight", mr->weight);
        json_int (b, "label_id", mr->label);
        json_builder_end_object (b);
      }
      json_builder_end_object (b);
      json_builder_end_object (b);

      JsonNode *root = json_builder_get_root (b);
      gsize len = 0;
      json_generator_set_root (gen, root);
      char *text = json_generator_to_data (gen, &len);
      fwrite (text, 1, len, wo->f);
      fputc ('\n', wo->f);
      g_free (text);
      json_node_unref (root);
      g_object_unref (b);
    }
  }
  g_object_unref (gen);
  if (r != set->n) {
    /* the rows follow the items: anything else is a bug here */
    tool_error ("--windows: %d windows from the list, %d evaluated", r, set->n);
    return -1;
  }
  return 0;
}
