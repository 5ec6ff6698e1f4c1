/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlrecord.h — one window's fusion result, written the same way to the
 * UdmlFusionMeta structure, the `udmlfuse` bus message and JSON Lines. */
#ifndef __GST_UDML_RECORD_H__
#define __GST_UDML_RECORD_H__

#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include "udml.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean present;
  gdouble coverage;
  gdouble noise;
  gdouble alpha;
  gdouble uncertainty_weight;
  gdouble weight;
} GstUdmlModalityRecord;

typedef struct
{
  guint64 window_index;
  gdouble window_start, window_end;     /* stream time, seconds */
  GstClockTime pts;             /* timestamp of the window start */
  GstClockTime running_time;
  GstClockTime duration;
  const gchar *source;          /* interned: the 'source' property */
  gchar label[UDML_NAME_LEN];   /* "" if invalid, "unknown" below
                                 * min-confidence */
  gint label_id;                /* -1 if invalid or unknown */
  gdouble confidence;
  gint n_classes;
  gfloat probs[UDML_MAX_CLASSES];
  gboolean valid, partial;
  gboolean gap;                 /* no data from window_start to window_end */
  gboolean dropped;             /* not inferred: dropped by QoS (late) */
  gint n_modalities;
  gchar mod_name[UDML_MAX_MODALITIES][UDML_NAME_LEN];
  GstUdmlModalityRecord mod[UDML_MAX_MODALITIES];
} GstUdmlRecord;

/* The label of a valid window whose confidence is below min-confidence. */
#define GST_UDML_LABEL_UNKNOWN "unknown"

/* A modality alert: its sensor went bad (raised) or recovered (cleared). */
typedef struct
{
  const gchar *source;          /* interned */
  const gchar *modality;        /* the model's modality name */
  gboolean raised;              /* state "raised", else "cleared" */
  gboolean absent;              /* reason "absent", else "noise" */
  gdouble noise;                /* sigma-hat of the deciding window */
  gdouble threshold;
  guint64 window_index;
  GstClockTime running_time, stream_time;       /* of that window's start */
} GstUdmlAlert;

/* Below min_confidence a valid record's label becomes "unknown" and its
 * label_id -1; the probabilities and confidence stay. */
void gst_udml_record_apply_min_confidence (GstUdmlRecord * rec,
    gdouble min_confidence);

/* Sets every record field on s (any structure name). */
void gst_udml_record_fill_structure (const GstUdmlRecord * rec,
    GstStructure * s);

/* (transfer full) */
GstStructure *gst_udml_record_to_structure (const GstUdmlRecord * rec,
    const gchar * name);

/* Adds the record as one JSON object to b (an empty builder, or a
 * value position in one). */
void gst_udml_record_build_json (const GstUdmlRecord * rec, JsonBuilder * b);

/* (transfer full) the 'udml-alert' message structure */
GstStructure *gst_udml_alert_to_structure (const GstUdmlAlert * a);

/* Adds the alert as one JSON object {"event":"alert", ...} to b. */
void gst_udml_alert_build_json (const GstUdmlAlert * a, JsonBuilder * b);

G_END_DECLS

#endif /* __GST_UDML_RECORD_H__ */
