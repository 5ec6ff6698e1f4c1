/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* waveform.c — window-0 mono waveforms of a data list at the model rate,
 * held beside the features so the audio degradation kinds can act on the
 * waveform and log-mel be computed again (method.md "Degradation kinds"). */
#include "data-internal.h"

#include <stdlib.h>
#include <string.h>

#include "media.h"

size_t
udml_data_wave_length (const UdmlConfig * cfg)
{
  const UdmlFeatureSpec *s = &cfg->features;
  /* rounded to the nearest sample, as the windower does */
  return (size_t) ((s->window_ns * (int64_t) s->sample_rate
          + 500000000LL) / 1000000000LL);
}

void
udml_wave_set_clear (UdmlWaveSet * set)
{
  if (!set)
    return;
  free (set->pcm);
  memset (set, 0, sizeof *set);
}

UdmlStatus
udml_data_waveforms (const UdmlDataList * list, const UdmlConfig * cfg,
    UdmlWaveSet * out, UdmlError * err)
{
  size_t len = udml_data_wave_length (cfg);
  int n = 0;

  memset (out, 0, sizeof *out);
  if (len == 0)
    return udml_error_set (err, UDML_ERR_ARG, "%s: empty audio window",
        list->origin);
  for (int i = 0; i < list->n_items; i++)
    n += list->items[i].error == NULL;
  out->pcm = calloc ((size_t) (n > 0 ? n : 1) * len, sizeof (float));
  if (!out->pcm)
    return udml_error_set (err, UDML_ERR_NOMEM, "%s: out of memory",
        list->origin);
  out->len = len;
  out->rate = cfg->features.sample_rate;

  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    UdmlMediaClip clip;
    UdmlError e = { 0 };
    if (it->error)
      continue;
    memset (&clip, 0, sizeof clip);
    if (udml_media_decode_file (it->a_path, &cfg->features, &clip,
            &e) != UDML_OK || !clip.pcm) {
      udml_media_clip_clear (&clip);
      udml_wave_set_clear (out);
      /* the row gave features a moment ago: the file changed since */
      return udml_error_set (err, UDML_ERR_MISMATCH, "%s:%d: %s: %s",
          list->origin, it->line, it->a_path,
          e.msg[0] ? e.msg : "no audio stream");
    }
    /* window 0 starts at sample 0; the rest of the window is silence */
    size_t k = clip.n_samples < len ? clip.n_samples : len;
    memcpy (out->pcm + (size_t) out->n * len, clip.pcm, k * sizeof (float));
    out->n++;
    udml_media_clip_clear (&clip);
  }
  return UDML_OK;
}
