/* udmlpublish.h — where udmlfuse's window records go: the element message,
 * the JSON Lines file, UdmlFusionMeta on the output buffers, and the QoS
 * message for windows dropped in live mode (docs/element.md). Used by the
 * streaming thread only. */
#ifndef __GST_UDML_PUBLISH_H__
#define __GST_UDML_PUBLISH_H__

#include <stdio.h>
#include <gst/gst.h>
#include <gst/base/gstqueuearray.h>
#include <json-glib/json-glib.h>
#include "media.h"
#include "udmlrecord.h"

G_BEGIN_DECLS

typedef struct
{
  FILE *json;                   /* NULL = off */
  gboolean json_failed;         /* warned once, no more writes */
  JsonBuilder *builder;         /* reused for every record */
  JsonGenerator *generator;
  GString *line;
  GstQueueArray *records;       /* GstUdmlRecord, for attach-mode=window */
  GstUdmlRecord latest;
  gboolean have_latest;
  guint64 processed, dropped;   /* windows */
} GstUdmlPublisher;

void gst_udml_publisher_init (GstUdmlPublisher * p);
void gst_udml_publisher_clear (GstUdmlPublisher * p);

/* Opens the JSON Lines output ('-' = stdout, NULL or "" = none) and zeroes
 * the counters. Posts RESOURCE/OPEN_WRITE and returns FALSE on failure. */
gboolean gst_udml_publisher_open (GstUdmlPublisher * p, GstElement * element,
    const gchar * json_location);
void gst_udml_publisher_close (GstUdmlPublisher * p);

/* Forgets the records kept for the meta (flush, restart). */
void gst_udml_publisher_reset (GstUdmlPublisher * p);

/* Fills rec's times from a window's running times, in the primary pad's
 * segment (stream time for window_start/end, buffer time for pts). */
void gst_udml_window_times (const GstSegment * segment,
    const UdmlMediaWindow * win, GstUdmlRecord * rec);

/* Counts a window dropped for lateness and posts the QoS message. */
void gst_udml_publisher_drop (GstUdmlPublisher * p, GstElement * element,
    const UdmlMediaWindow * win);

/* Publishes one window: the element message (post), the JSON line, and
 * keeps the record for the meta (meta). Never call it with a lock held. */
void gst_udml_publisher_publish (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, gboolean post, gboolean meta);

/* (transfer none) (nullable) The record for a buffer whose window is
 * window: that window's (per_window, dropping older ones) or the newest. */
const GstUdmlRecord *gst_udml_publisher_find (GstUdmlPublisher * p,
    gboolean per_window, gint64 window);

/* (transfer full) buf, made writable, with rec as UdmlFusionMeta. */
GstBuffer *gst_udml_publisher_attach (GstBuffer * buf,
    const GstUdmlRecord * rec);

G_END_DECLS

#endif /* __GST_UDML_PUBLISH_H__ */
