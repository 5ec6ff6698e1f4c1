/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlpublish.c — udmlfuse's window records out to the bus, a JSON Lines
 * file and the buffers (udmlpublish.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "udmlfuse.h"
#include "udmlmeta.h"
#include "udmlpublish.h"

GST_DEBUG_CATEGORY_EXTERN (gst_udml_fuse_debug);
#define GST_CAT_DEFAULT gst_udml_fuse_debug

/* Window records kept for attach-mode=window (older ones are consumed). */
#define MAX_PENDING_RECORDS 64

typedef struct
{
  GstBuffer *buf;
  GstClockTime rt;              /* grid time of the buffer start */
  gint kind;                    /* UdmlModalityKind of its pad */
} HeldBuffer;

GType
gst_udml_fuse_attach_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_UDML_FUSE_ATTACH_LATEST,
          "Never hold buffers; attach the newest finished window (low latency)",
        "latest"},
    {GST_UDML_FUSE_ATTACH_WINDOW,
        "Hold buffers until their window is inferred; attach that window "
          "(exact, adds the window duration to the latency)", "window"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstUdmlFuseAttachMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

void
gst_udml_publisher_init (GstUdmlPublisher * p)
{
  memset (p, 0, sizeof *p);
  p->builder = json_builder_new_immutable ();
  p->generator = json_generator_new ();
  p->line = g_string_sized_new (1024);
  p->held = gst_queue_array_new_for_struct (sizeof (HeldBuffer), 16);
  p->records = gst_queue_array_new_for_struct (sizeof (GstUdmlRecord),
      MAX_PENDING_RECORDS);
}

void
gst_udml_publisher_clear (GstUdmlPublisher * p)
{
  gst_udml_publisher_close (p);
  gst_udml_publisher_reset (p);
  gst_queue_array_free (p->held);
  g_object_unref (p->builder);
  g_object_unref (p->generator);
  g_string_free (p->line, TRUE);
  gst_queue_array_free (p->records);
}

gboolean
gst_udml_publisher_open (GstUdmlPublisher * p, GstElement * element,
    const gchar * json_location)
{
  gst_udml_publisher_close (p);
  p->processed = p->dropped = 0;
  memset (p->alert, 0, sizeof p->alert);
  p->json_failed = FALSE;
  if (json_location == NULL || *json_location == '\0')
    return TRUE;
  if (g_strcmp0 (json_location, "-") == 0)
    p->json = stdout;
  else
    p->json = fopen (json_location, "w");
  if (p->json == NULL) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_WRITE,
        ("Could not open JSON file \"%s\" for writing.", json_location),
        GST_ERROR_SYSTEM);
    return FALSE;
  }
  return TRUE;
}

void
gst_udml_publisher_close (GstUdmlPublisher * p)
{
  if (p->json && p->json != stdout)
    fclose (p->json);
  else if (p->json)
    fflush (p->json);
  p->json = NULL;
}

void
gst_udml_publisher_reset (GstUdmlPublisher * p)
{
  while (!gst_queue_array_is_empty (p->held)) {
    HeldBuffer *h = gst_queue_array_pop_head_struct (p->held);
    gst_buffer_unref (h->buf);
  }
  while (!gst_queue_array_is_empty (p->records))
    gst_queue_array_pop_head_struct (p->records);
  p->have_latest = FALSE;
}

void
gst_udml_window_times (const GstSegment * seg, const UdmlMediaWindow * win,
    gint64 grid_offset, GstUdmlRecord * rec)
{
  gint64 rt = win->start_ns - grid_offset;
  guint64 pos = GST_CLOCK_TIME_NONE;

  if (rt < 0)
    rt = 0;                     /* a window that starts before the segment */
  if (seg->format == GST_FORMAT_TIME && win->start_ns >= 0)
    pos = gst_segment_position_from_stream_time (seg, GST_FORMAT_TIME,
        (guint64) win->start_ns);
  if (!GST_CLOCK_TIME_IS_VALID (pos) && seg->format == GST_FORMAT_TIME)
    pos = gst_segment_position_from_running_time (seg, GST_FORMAT_TIME,
        (guint64) rt);
  rec->window_index = win->index;
  rec->running_time = (GstClockTime) rt;
  rec->duration = win->end_ns - win->start_ns;
  rec->pts = GST_CLOCK_TIME_IS_VALID (pos) ? pos : (guint64) rt;
  rec->window_start = win->start_ns / (gdouble) GST_SECOND;
  rec->window_end = win->end_ns / (gdouble) GST_SECOND;
}

void
gst_udml_publisher_drop (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, gint64 jitter, gdouble proportion)
{
  GstMessage *msg;
  guint64 total;

  p->dropped++;
  total = p->processed + p->dropped;
  msg = gst_message_new_qos (GST_OBJECT_CAST (element), TRUE,
      rec->running_time, (guint64) (rec->window_start * GST_SECOND + 0.5),
      rec->pts, rec->duration);
  gst_message_set_qos_values (msg, jitter, proportion,
      (gint) (1000000 * (total - p->dropped) / total));
  /* units are windows: processed and dropped so far */
  gst_message_set_qos_stats (msg, GST_FORMAT_DEFAULT, p->processed, p->dropped);
  gst_element_post_message (element, msg);
}

/* Writes one JSON line: a window record (rec) or an alert. */
static void
write_json (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, const GstUdmlAlert * alert)
{
  JsonNode *root;

  json_builder_reset (p->builder);
  if (rec)
    gst_udml_record_build_json (rec, p->builder);
  else
    gst_udml_alert_build_json (alert, p->builder);
  root = json_builder_get_root (p->builder);
  json_generator_set_root (p->generator, root);
  json_node_unref (root);
  g_string_truncate (p->line, 0);
  json_generator_to_gstring (p->generator, p->line);
  g_string_append_c (p->line, '\n');
  if (fwrite (p->line->str, 1, p->line->len, p->json) != p->line->len
      || fflush (p->json) != 0) {
    p->json_failed = TRUE;
    GST_ELEMENT_WARNING (element, RESOURCE, WRITE,
        ("Could not write JSON record."), GST_ERROR_SYSTEM);
  }
}

void
gst_udml_publisher_publish (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, gboolean post, gboolean meta)
{
  if (!rec->dropped)
    p->processed++;
  if (post) {
    GstStructure *s = gst_udml_record_to_structure (rec, "udmlfuse");
    gst_element_post_message (element,
        gst_message_new_element (GST_OBJECT_CAST (element), s));
  }
  if (p->json && !p->json_failed)
    write_json (p, element, rec, NULL);
  if (meta) {
    p->latest = *rec;
    p->have_latest = TRUE;
    if (gst_queue_array_get_length (p->records) >= MAX_PENDING_RECORDS)
      gst_queue_array_pop_head_struct (p->records);
    gst_queue_array_push_tail_struct (p->records, (gpointer) rec);
  }
}

void
gst_udml_publisher_alerts (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, guint n_windows, const gdouble * threshold)
{
  gint m;

  if (n_windows == 0 || rec->dropped)
    return;
  for (m = 0; m < rec->n_modalities && m < UDML_MAX_MODALITIES; m++) {
    GstUdmlAlertState *a = &p->alert[m];
    const GstUdmlModalityRecord *mr = &rec->mod[m];
    gboolean bad = !mr->present || mr->noise > threshold[m];
    GstUdmlAlert alert;

    /* a window on the side of the current state breaks the run */
    if (bad == a->raised) {
      a->run = 0;
      continue;
    }
    if (++a->run < n_windows)
      continue;
    a->run = 0;
    a->raised = bad;
    /* a cleared alert keeps the reason it was raised for */
    if (bad)
      a->absent = !mr->present;
    alert.source = rec->source;
    alert.modality = rec->mod_name[m];
    alert.raised = a->raised;
    alert.absent = a->absent;
    alert.noise = mr->noise;
    alert.threshold = threshold[m];
    alert.window_index = rec->window_index;
    alert.running_time = rec->running_time;
    alert.stream_time = (GstClockTime) (rec->window_start * GST_SECOND + 0.5);
    GST_INFO_OBJECT (element, "alert %s %s (%s): noise %.3f, threshold %.3f, "
        "window %" G_GUINT64_FORMAT, alert.modality, a->raised ? "raised" :
        "cleared", a->absent ? "absent" : "noise", alert.noise,
        alert.threshold, alert.window_index);
    gst_element_post_message (element,
        gst_message_new_element (GST_OBJECT_CAST (element),
            gst_udml_alert_to_structure (&alert)));
    if (p->json && !p->json_failed)
      write_json (p, element, NULL, &alert);
  }
}

/* The record for a buffer in window k: that window's (per_window, older
 * ones are dropped) or the newest. */
static const GstUdmlRecord *
find_record (GstUdmlPublisher * p, gboolean per_window, gint64 k)
{
  GstUdmlRecord *r;

  if (!per_window)
    return p->have_latest ? &p->latest : NULL;
  while (!gst_queue_array_is_empty (p->records)) {
    r = gst_queue_array_peek_head_struct (p->records);
    if ((gint64) r->window_index >= k)
      break;
    gst_queue_array_pop_head_struct (p->records);
  }
  if (gst_queue_array_is_empty (p->records))
    return NULL;
  r = gst_queue_array_peek_head_struct (p->records);
  return (gint64) r->window_index == k ? r : NULL;
}

void
gst_udml_publisher_hold (GstUdmlPublisher * p, GstBuffer * buf,
    GstClockTime rt, gint kind)
{
  HeldBuffer h = { buf, rt, kind };

  gst_queue_array_push_tail_struct (p->held, &h);
}

guint
gst_udml_publisher_drop_held_except (GstUdmlPublisher * p, gint kind)
{
  guint n = gst_queue_array_get_length (p->held), i, dropped = 0;

  /* rotate once through the queue, keeping the order of the kept ones */
  for (i = 0; i < n; i++) {
    HeldBuffer h = *(HeldBuffer *) gst_queue_array_pop_head_struct (p->held);

    if (h.kind == kind) {
      gst_queue_array_push_tail_struct (p->held, &h);
    } else {
      gst_buffer_unref (h.buf);
      dropped++;
    }
  }
  return dropped;
}

static GstFlowReturn
push_buffer (GstAggregator * agg, GstBuffer * buf, const GstUdmlRecord * rec)
{
  if (rec) {
    GstStructure *s;

    buf = gst_buffer_make_writable (buf);
    s = gst_buffer_add_udml_fusion_meta (buf);
    if (s)
      gst_udml_record_fill_structure (rec, s);
  }
  GST_OBJECT_LOCK (agg->srcpad);
  if (GST_BUFFER_PTS_IS_VALID (buf))
    GST_AGGREGATOR_PAD (agg->srcpad)->segment.position = GST_BUFFER_PTS (buf);
  GST_OBJECT_UNLOCK (agg->srcpad);
  return gst_aggregator_finish_buffer (agg, buf);
}

GstFlowReturn
gst_udml_publisher_push_held (GstUdmlPublisher * p, GstAggregator * agg,
    gboolean per_window, gboolean meta, gint64 hop, gint64 next_window,
    gboolean eos)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && !gst_queue_array_is_empty (p->held)) {
    HeldBuffer *h = gst_queue_array_peek_head_struct (p->held);
    gint64 k = (gint64) h->rt / hop;
    const GstUdmlRecord *rec;
    GstBuffer *buf;

    if (per_window && !eos && next_window <= k)
      break;                    /* its window is not done yet */
    rec = find_record (p, per_window, k);
    buf = h->buf;
    gst_queue_array_pop_head_struct (p->held);
    ret = push_buffer (agg, buf, meta ? rec : NULL);
  }
  return ret;
}
