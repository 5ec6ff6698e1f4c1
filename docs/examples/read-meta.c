/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* read-meta.c — reads the UdmlFusionMeta that udmlfuse attaches to its
 * output buffers, from a pad probe (docs/element.md, "Outputs").
 *
 *   cc read-meta.c -o read-meta \
 *     $(pkg-config --cflags --libs gstreamer-1.0 udmlmeta)
 *   ./read-meta clip.mkv
 *
 * The model is the installed one, or $UDML_MODEL. Prints one line per
 * window and exits 1 when no buffer carried the meta.
 */
#include <gst/gst.h>
#include <udmlmeta.h>

typedef struct
{
  guint64 last;                 /* window_index printed last */
  guint n_windows;
} Seen;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Seen *seen = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  const GstStructure *s = gst_buffer_get_udml_fusion_meta (buf);
  guint64 k = 0;
  gdouble start = 0, confidence = 0, a_weight = 0, v_weight = 0;
  gboolean valid = FALSE, a_present = FALSE, v_present = FALSE;
  const gchar *label;

  if (s == NULL)
    return GST_PAD_PROBE_OK;
  /* with attach-mode=window, every buffer of a window carries its record */
  gst_structure_get_uint64 (s, "window_index", &k);
  if (seen->n_windows > 0 && k == seen->last)
    return GST_PAD_PROBE_OK;
  seen->last = k;
  seen->n_windows++;

  gst_structure_get_double (s, "window_start", &start);
  gst_structure_get_boolean (s, "valid", &valid);
  gst_structure_get_double (s, "confidence", &confidence);
  label = gst_structure_get_string (s, "label");
  udml_fusion_meta_get_modality (s, "audio", &a_present, &a_weight, NULL, NULL);
  udml_fusion_meta_get_modality (s, "video", &v_present, &v_weight, NULL, NULL);
  g_print ("window %" G_GUINT64_FORMAT " at %.2f s: %s (%.2f)  weights: "
      "audio %.2f%s, video %.2f%s\n", k, start, valid ? label : "-",
      confidence, a_weight, a_present ? "" : " (absent)", v_weight,
      v_present ? "" : " (absent)");
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GstElement *pipeline, *fuse;
  GstPad *src;
  GstBus *bus;
  GstMessage *msg;
  GError *error = NULL;
  gchar *desc;
  Seen seen = { 0, 0 };
  gboolean ok;

  gst_init (&argc, &argv);
  if (argc != 2) {
    g_printerr ("usage: %s FILE\n", argv[0]);
    return 2;
  }
  desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin name=d "
      "d. ! queue ! videoconvert ! f.video_0 "
      "d. ! queue ! audioconvert ! audioresample ! f.audio_0 "
      "udmlfuse name=f attach-mode=window post-messages=false ! fakesink",
      argv[1]);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (pipeline == NULL) {
    g_printerr ("read-meta: error: %s\n", error->message);
    g_error_free (error);
    return 1;
  }

  fuse = gst_bin_get_by_name (GST_BIN (pipeline), "f");
  src = gst_element_get_static_pad (fuse, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &seen, NULL);
  gst_object_unref (src);
  gst_object_unref (fuse);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ok = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (!ok) {
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &error, &dbg);
    g_printerr ("read-meta: error: %s\n%s\n", error->message, dbg ? dbg : "");
    g_error_free (error);
    g_free (dbg);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  g_print ("%u windows\n", seen.n_windows);
  return ok && seen.n_windows > 0 ? 0 : 1;
}
