/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlmeta.h — UdmlFusionMeta: the per-window fusion result that udmlfuse
 * attaches to its output buffers (docs/element.md lists every field).
 *
 * The meta is a GstCustomMeta named "UdmlFusionMeta", registered with no
 * tags so converters and in-place transforms keep it. It wraps one
 * GstStructure, also named "UdmlFusionMeta", holding the same fields as the
 * `udmlfuse` bus message and the JSON Lines record:
 *
 *   window_index   guint64    k
 *   window_start   gdouble    stream time of the window start, seconds
 *   window_end     gdouble    stream time of the window end, seconds
 *   pts            guint64    buffer timestamp (ns) of the window start
 *   running_time   guint64    running time (ns) of the window start
 *   duration       guint64    window duration (ns)
 *   label          gchararray top-1 label ("" when not valid)
 *   label_id       gint       top-1 class index, -1 when not valid
 *   confidence     gdouble    probability of label_id
 *   probabilities  GstValueArray of gdouble, model label order
 *   valid          gboolean   FALSE when no modality was present
 *   partial        gboolean   window forced early (EOS or live timeout)
 *   modalities     GstStructure "modalities" with one GstStructure field per
 *                  modality of the model ("audio", "video"), each holding:
 *       present             gboolean  took part in the fusion
 *       coverage            gdouble   fraction of the window with real data
 *       noise               gdouble   predicted noise sigma-hat (0 if absent)
 *       alpha               gdouble   dependency share alpha_m / M
 *       uncertainty_weight  gdouble   uncertainty-only share, sums to 1
 *       weight              gdouble   final weight share, sums to 1 over
 *                                     present modalities (0 if absent)
 */
#ifndef __GST_UDML_META_H__
#define __GST_UDML_META_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define UDML_FUSION_META_NAME "UdmlFusionMeta"

/* Registers the custom meta on first use; returns its API type. */
GType udml_fusion_meta_api_get_type (void);
const GstMetaInfo *udml_fusion_meta_get_info (void);

/* Adds an empty UdmlFusionMeta to a writable buffer and returns its
 * structure to fill. (transfer none) */
GstStructure *gst_buffer_add_udml_fusion_meta (GstBuffer * buffer);

/* The structure of the buffer's UdmlFusionMeta, or NULL. (transfer none) */
const GstStructure *gst_buffer_get_udml_fusion_meta (GstBuffer * buffer);

/* Reads one modality's fields, for consumers such as udmloverlay. Returns
 * FALSE when the modality or its present/weight field is missing; a missing
 * noise or coverage reads as 0. Any output pointer may be NULL. */
gboolean udml_fusion_meta_get_modality (const GstStructure * s,
    const gchar * modality, gboolean * present, gdouble * weight,
    gdouble * noise, gdouble * coverage);

G_END_DECLS

#endif /* __GST_UDML_META_H__ */
