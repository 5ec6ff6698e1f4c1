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
  gchar label[UDML_NAME_LEN];   /* "" if invalid */
  gint label_id;                /* -1 if invalid */
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

/* Sets every record field on s (any structure name). */
void gst_udml_record_fill_structure (const GstUdmlRecord * rec,
    GstStructure * s);

/* (transfer full) */
GstStructure *gst_udml_record_to_structure (const GstUdmlRecord * rec,
    const gchar * name);

/* Adds the record as one JSON object to b (an empty builder, or a
 * value position in one). */
void gst_udml_record_build_json (const GstUdmlRecord * rec, JsonBuilder * b);

G_END_DECLS

#endif /* __GST_UDML_RECORD_H__ */
