/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlpublish.h — where udmlfuse's window records go: the element message,
 * the JSON Lines file, UdmlFusionMeta on the output buffers, and the QoS
 * message for windows dropped in live mode (docs/element.md). Used by the
 * streaming thread only. Also registers the attach-mode enum type. */
#ifndef __GST_UDML_PUBLISH_H__
#define __GST_UDML_PUBLISH_H__

#include <stdio.h>
#include <gst/gst.h>
#include <gst/base/gstaggregator.h>
#include <gst/base/gstqueuearray.h>
#include <json-glib/json-glib.h>
#include "media.h"
#include "udmlrecord.h"

G_BEGIN_DECLS

/* One modality's alert state: run counts consecutive windows on the
 * other side of the threshold than the current state. */
typedef struct
{
  gboolean raised, absent;
  guint run;
} GstUdmlAlertState;

typedef struct
{
  FILE *json;                   /* NULL = off */
  gboolean json_failed;         /* warned once, no more writes */
  JsonBuilder *builder;         /* reused for every record */
  JsonGenerator *generator;
  GString *line;
  GstQueueArray *held;          /* primary buffers waiting to go out */
  GstQueueArray *records;       /* GstUdmlRecord, for attach-mode=window */
  GstUdmlRecord latest;
  gboolean have_latest;
  guint64 processed, dropped;   /* windows */
  GstUdmlAlertState alert[UDML_MAX_MODALITIES];
} GstUdmlPublisher;

void gst_udml_publisher_init (GstUdmlPublisher * p);
void gst_udml_publisher_clear (GstUdmlPublisher * p);

/* Opens the JSON Lines output ('-' = stdout, NULL or "" = none) and zeroes
 * the counters. Posts RESOURCE/OPEN_WRITE and returns FALSE on failure. */
gboolean gst_udml_publisher_open (GstUdmlPublisher * p, GstElement * element,
    const gchar * json_location);
void gst_udml_publisher_close (GstUdmlPublisher * p);

/* Drops the held buffers and the records kept for the meta (flush,
 * restart, stop). */
void gst_udml_publisher_reset (GstUdmlPublisher * p);

/* Fills rec's times from a window on the grid time line (running time +
 * grid_offset, which is the stream time): window_start/end in seconds, the
 * running time, and pts in the primary pad's segment. */
void gst_udml_window_times (const GstSegment * segment,
    const UdmlMediaWindow * win, gint64 grid_offset, GstUdmlRecord * rec);

/* Counts a window dropped for lateness (its record, with dropped set, is
 * published as usual) and posts the QoS message: rec's running time, stream
 * time and pts, jitter = how late it finished (ns), proportion = the
 * processing time per window over the hop. */
void gst_udml_publisher_drop (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, gint64 jitter, gdouble proportion);

/* Publishes one window: the element message (post), the JSON line, and
 * keeps the record for the meta (meta). Never call it with a lock held. */
void gst_udml_publisher_publish (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, gboolean post, gboolean meta);

/* Updates the alert state of every modality of rec after its window was
 * published: a modality whose sigma-hat is above threshold[m] (or which is
 * absent) for n_windows consecutive windows is raised, one below it (and
 * present) for n_windows windows is cleared. Each change is posted as
 * element message 'udml-alert' and written as a JSON line after the
 * window's. Dropped windows do not count. n_windows 0 = off. Never call it
 * with a lock held. */
void gst_udml_publisher_alerts (GstUdmlPublisher * p, GstElement * element,
    const GstUdmlRecord * rec, guint n_windows, const gdouble * threshold);

/* Keeps a primary buffer of modality kind, starting at grid time rt, until
 * its window's record is known. (transfer full) buf */
void gst_udml_publisher_hold (GstUdmlPublisher * p, GstBuffer * buf,
    GstClockTime rt, gint kind);

/* Drops the held buffers of every modality but kind (the primary input
 * changed: they no longer match the output caps). Returns how many. */
guint gst_udml_publisher_drop_held_except (GstUdmlPublisher * p, gint kind);

/* Sends the held buffers out through agg, each with its record as
 * UdmlFusionMeta (meta): with per_window, a buffer waits for its own window
 * (rt / hop) to be done (before next_window, or eos); otherwise it goes at
 * once with the newest record. */
GstFlowReturn gst_udml_publisher_push_held (GstUdmlPublisher * p,
    GstAggregator * agg, gboolean per_window, gboolean meta, gint64 hop,
    gint64 next_window, gboolean eos);

G_END_DECLS

#endif /* __GST_UDML_PUBLISH_H__ */
