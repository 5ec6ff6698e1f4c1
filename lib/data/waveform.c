/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* waveform.c — the mono waveforms of feature rows at the model rate, held
 * beside the features so the audio degradation kinds can act on the
 * waveform and log-mel be computed again (method.md "Degradation kinds").
 * A clip keeps the span its windows cover once; a row is an offset into
 * it, so overlapping windows cost nothing extra. */
#include "data-internal.h"

#include <stdlib.h>
#include <string.h>

#include "media.h"

/* ns to samples at rate, rounded to the nearest as the windower rounds */
static int64_t
ns_to_samples (int64_t ns, int rate)
{
  return (ns * (int64_t) rate + 500000000LL) / 1000000000LL;
}

size_t
udml_data_wave_length (const UdmlConfig * cfg)
{
  return (size_t) ns_to_samples (cfg->features.window_ns,
      cfg->features.sample_rate);
}

void
udml_wave_set_init (UdmlWaveSet * set, const UdmlConfig * cfg)
{
  memset (set, 0, sizeof *set);
  set->len = udml_data_wave_length (cfg);
  set->rate = cfg->features.sample_rate;
}

void
udml_wave_set_clear (UdmlWaveSet * set)
{
  if (!set)
    return;
  free (set->pcm);
  free (set->off);
  free (set->n_valid);
  memset (set, 0, sizeof *set);
}

/* Room for rows more rows and samples more samples, growing geometrically. */
static int
wave_set_reserve (UdmlWaveSet * set, int rows, size_t samples)
{
  if (set->n + rows > set->cap_rows) {
    int cap = set->cap_rows * 2 > set->n + rows ? set->cap_rows * 2
        : set->n + rows + 64;
    size_t *off = realloc (set->off, (size_t) cap * sizeof *off);
    if (!off)
      return -1;
    set->off = off;
    size_t *nv = realloc (set->n_valid, (size_t) cap * sizeof *nv);
    if (!nv)
      return -1;
    set->n_valid = nv;
    set->cap_rows = cap;
  }
  if (set->n_pcm + samples > set->cap_pcm || !set->pcm) {
    size_t cap = set->cap_pcm * 2 > set->n_pcm + samples ? set->cap_pcm * 2
        : set->n_pcm + samples + 1;
    float *p = realloc (set->pcm, cap * sizeof (float));
    if (!p)
      return -1;
    set->pcm = p;
    set->cap_pcm = cap;
  }
  return 0;
}

UdmlStatus
udml_wave_set_add (UdmlWaveSet * set, const float *pcm, size_t n,
    int64_t t0_ns, int64_t hop_ns, int n_windows, UdmlError * err)
{
  if (n_windows <= 0)
    return UDML_OK;
  if (set->len == 0 || set->rate <= 0 || hop_ns <= 0 || t0_ns < 0)
    return udml_error_set (err, UDML_ERR_ARG,
        "waveforms: window of %zu samples at %d Hz, hop %lld ns, start "
        "%lld ns", set->len, set->rate, (long long) hop_ns, (long long) t0_ns);
  /* the span [first, last) the windows cover inside the clip */
  int64_t first = ns_to_samples (t0_ns, set->rate);
  int64_t end = ns_to_samples (t0_ns + (int64_t) (n_windows - 1) * hop_ns,
      set->rate) + (int64_t) set->len;
  if (first > (int64_t) n)
    first = (int64_t) n;
  if (end > (int64_t) n)
    end = (int64_t) n;
  size_t span = end > first ? (size_t) (end - first) : 0;
  if (wave_set_reserve (set, n_windows, span))
    return udml_error_set (err, UDML_ERR_NOMEM, "waveforms: out of memory");
  size_t base = set->n_pcm;
  if (span)
    memcpy (set->pcm + base, pcm + first, span * sizeof (float));
  for (int j = 0; j < n_windows; j++) {
    int64_t s = ns_to_samples (t0_ns + (int64_t) j * hop_ns, set->rate);
    int64_t have = (int64_t) n - s;
    if (have < 0)
      have = 0;
    if (have > (int64_t) set->len)
      have = (int64_t) set->len;
    set->off[set->n] = have > 0 ? base + (size_t) (s - first) : base;
    set->n_valid[set->n] = (size_t) have;
    set->n++;
  }
  set->n_pcm += span;
  return UDML_OK;
}

UdmlStatus
udml_wave_set_append (UdmlWaveSet * dst, const UdmlWaveSet * src,
    UdmlError * err)
{
  if (dst->n == 0 && dst->len == 0) {
    dst->len = src->len;
    dst->rate = src->rate;
  }
  if (dst->len != src->len || dst->rate != src->rate)
    return udml_error_set (err, UDML_ERR_MISMATCH,
        "waveforms of %zu samples at %d Hz and %zu at %d Hz", dst->len,
        dst->rate, src->len, src->rate);
  if (wave_set_reserve (dst, src->n, src->n_pcm))
    return udml_error_set (err, UDML_ERR_NOMEM, "waveforms: out of memory");
  if (src->n_pcm)
    memcpy (dst->pcm + dst->n_pcm, src->pcm, src->n_pcm * sizeof (float));
  for (int r = 0; r < src->n; r++) {
    dst->off[dst->n + r] = dst->n_pcm + src->off[r];
    dst->n_valid[dst->n + r] = src->n_valid[r];
  }
  dst->n += src->n;
  dst->n_pcm += src->n_pcm;
  return UDML_OK;
}

void
udml_wave_set_row (const UdmlWaveSet * set, int r, float *out)
{
  size_t k = set->n_valid[r];
  memcpy (out, set->pcm + set->off[r], k * sizeof (float));
  memset (out + k, 0, (set->len - k) * sizeof (float));
}

UdmlStatus
udml_data_waveforms (const UdmlDataList * list, const UdmlConfig * cfg,
    int64_t hop_ns, UdmlWaveSet * out, UdmlError * err)
{
  int64_t hop = hop_ns > 0 ? hop_ns : cfg->features.hop_ns;

  udml_wave_set_init (out, cfg);
  if (out->len == 0)
    return udml_error_set (err, UDML_ERR_ARG, "%s: empty audio window",
        list->origin);
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    UdmlMediaClip clip;
    UdmlError e = { 0 };
    if (it->error || it->n_windows <= 0)
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
    /* the windows of decode_item (features.c): from the segment start */
    int64_t t0 = it->end_s >= 0 ? (int64_t) (it->start_s * 1e9 + 0.5) : 0;
    UdmlStatus st = udml_wave_set_add (out, clip.pcm, clip.n_samples, t0, hop,
        it->n_windows, err);
    udml_media_clip_clear (&clip);
    if (st != UDML_OK) {
      udml_wave_set_clear (out);
      return st;
    }
  }
  return UDML_OK;
}
