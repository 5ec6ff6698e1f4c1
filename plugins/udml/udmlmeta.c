/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlmeta.c — UdmlFusionMeta, a GstCustomMeta (see udmlmeta.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "udmlmeta.h"

const GstMetaInfo *
udml_fusion_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter (&info)) {
    /* No tags: the meta carries no geometry or format assumptions, so every
     * transform (videoconvert, scale, in-place filters) may keep it. */
    static const gchar *tags[] = { NULL };
    const GstMetaInfo *i;

    i = gst_meta_get_info (UDML_FUSION_META_NAME);
    if (i == NULL)
      i = gst_meta_register_custom (UDML_FUSION_META_NAME, tags, NULL, NULL,
          NULL);
    g_once_init_leave (&info, i);
  }
  return info;
}

GType
udml_fusion_meta_api_get_type (void)
{
  return udml_fusion_meta_get_info ()->api;
}

GstStructure *
gst_buffer_add_udml_fusion_meta (GstBuffer * buffer)
{
  GstCustomMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);

  udml_fusion_meta_get_info ();
  meta = gst_buffer_add_custom_meta (buffer, UDML_FUSION_META_NAME);
  if (meta == NULL)
    return NULL;
  return gst_custom_meta_get_structure (meta);
}

const GstStructure *
gst_buffer_get_udml_fusion_meta (GstBuffer * buffer)
{
  GstCustomMeta *meta;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  udml_fusion_meta_get_info ();
  meta = gst_buffer_get_custom_meta (buffer, UDML_FUSION_META_NAME);
  if (meta == NULL)
    return NULL;
  return gst_custom_meta_get_structure (meta);
}

gboolean
udml_fusion_meta_get_modality (const GstStructure * s, const gchar * modality,
    gboolean * present, gdouble * weight, gdouble * noise, gdouble * coverage)
{
  const GValue *v;
  const GstStructure *mods, *m;
  gboolean p = FALSE;
  gdouble w = 0.0, n = 0.0, c = 0.0;

  g_return_val_if_fail (s != NULL && modality != NULL, FALSE);

  v = gst_structure_get_value (s, "modalities");
  if (v == NULL || !GST_VALUE_HOLDS_STRUCTURE (v))
    return FALSE;
  mods = gst_value_get_structure (v);
  v = gst_structure_get_value (mods, modality);
  if (v == NULL || !GST_VALUE_HOLDS_STRUCTURE (v))
    return FALSE;
  m = gst_value_get_structure (v);
  if (!gst_structure_get_boolean (m, "present", &p)
      || !gst_structure_get_double (m, "weight", &w))
    return FALSE;
  gst_structure_get_double (m, "noise", &n);
  gst_structure_get_double (m, "coverage", &c);
  if (present)
    *present = p;
  if (weight)
    *weight = w;
  if (noise)
    *noise = n;
  if (coverage)
    *coverage = c;
  return TRUE;
}
