/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml-data.h — labelled media lists, their features and the feature cache,
 * shared by the tools and the benchmarks (design.md "Manifests").
 *
 * Three steps, each replaceable on its own:
 *   1. a source (a CSV manifest today) becomes a UdmlDataList: one item per
 *      labelled clip, with the media paths, the label text, where it came
 *      from (file and line) and, once known, why it cannot be used;
 *   2. udml_data_list_bind maps the label texts onto a model's labels;
 *   3. udml_data_extract turns the usable items into a UdmlFeatureSet
 *      through lib/media (the path the element uses), reading or writing a
 *      feature cache keyed by everything that decides the features.
 * A folder per class (DIR/<label>/<clip>) is another reader filling the same
 * list (line 0, origin the folder); a segment row `path,label,start,end`
 * fills the start/end fields of an item.
 *
 * The library never prints: problems are UdmlError values or item errors.
 * N items (clips), M modalities, F_m input size of modality m, K classes.
 */
#ifndef UDML_DATA_H
#define UDML_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "udml.h"

/* ------------------------------------------------------------------ lists */

typedef struct {
  int line;              /* 1-based line in the manifest; 0: not from a line */
  char *a_path;          /* resolved; the same pointer as v_path for `path` rows */
  char *v_path;
  char *label;           /* as written in the source */
  double start_s, end_s; /* segment in seconds; end_s < 0: from 0, window 0 */
  int y;                 /* index into the bound model's labels; -1 unknown */
  char *error;           /* NULL while usable: why it cannot be used */
  int n_windows;         /* feature rows it gave (0: shorter than a window);
                          * set by udml_data_extract */
} UdmlDataItem;

typedef struct {
  char *origin;          /* the manifest path (or folder) items came from */
  UdmlDataItem *items;   /* n_items */
  int n_items;
  uint64_t digest;       /* hash of the source bytes: part of the cache key */
} UdmlDataList;

/* Reads a CSV manifest with a header naming its columns: `path,label` (one
 * file with audio and video streams) or `audio,video,label` (separate
 * files; an image is a one-frame video), each optionally with `start,end`
 * (seconds: a labelled segment of the media). Paths are relative to the
 * manifest; quotes, CRLF, a BOM, blank and `#` lines are allowed. A row
 * with too few fields or a bad segment becomes an item with an error; an
 * unusable manifest (unreadable, no header, no rows) is an error naming
 * the file. */
UdmlStatus udml_data_list_read_manifest (UdmlDataList *list, const char *path,
    UdmlError *err);

/* The same, from bytes already in memory (fuzzing, tests); origin names
 * them in messages and is the base of relative paths. */
UdmlStatus udml_data_list_parse_manifest (UdmlDataList *list, const char *origin,
    const char *text, size_t len, UdmlError *err);

/* Reads a folder per class: every regular, non-hidden file of
 * dir/<label>/ is an item of that label (line 0), in byte order of the
 * names. Whether libav can use a file is found out when extracting. */
UdmlStatus udml_data_list_read_folder (UdmlDataList *list, const char *dir,
    UdmlError *err);

/* A folder per class when path is a directory, else a manifest. */
UdmlStatus udml_data_list_read (UdmlDataList *list, const char *path,
    UdmlError *err);

void udml_data_list_clear (UdmlDataList *list);

/* Chooses the model's label set into cfg->labels / n_classes: labels_text
 * (NULL: none), a file's text (named by labels_origin in messages) with
 * one label per line, fixes them and their order (a data label missing
 * from it then fails udml_data_list_bind on its row); otherwise the labels
 * are the byte-sorted union of the usable items of lists. Labels must be valid UTF-8 of 1 to
 * UDML_NAME_LEN - 1 bytes (an error lists every other), 2 to
 * UDML_MAX_CLASSES of them. */
UdmlStatus udml_data_choose_labels (UdmlConfig *cfg,
    const UdmlDataList *const *lists, int n_lists, const char *labels_text,
    const char *labels_origin, UdmlError *err);

/* Moves a deterministic fraction of list's items, chosen evenly within
 * each label (at least one of a label with two or more items, never all),
 * into val (initialised here). Both digests change, so each has its own
 * feature cache. */
UdmlStatus udml_data_list_split (UdmlDataList *list, double fraction,
    UdmlDataList *val, UdmlError *err);

/* Sets every item's y from cfg's labels; an unknown label becomes the
 * item's error. Returns UDML_ERR_NOMEM or UDML_OK. */
UdmlStatus udml_data_list_bind (UdmlDataList *list, const UdmlConfig *cfg,
    UdmlError *err);

/* Items with an error. */
int udml_data_list_count_bad (const UdmlDataList *list);

/* ------------------------------------------------------------- features */

/* Raw features: x[m] is N x F[m] for the model's modality m; y holds N
 * labels in [0, K). */
typedef struct {
  int n;
  int n_mod;
  size_t F[UDML_MAX_MODALITIES];
  float *x[UDML_MAX_MODALITIES];
  int *y;
  int n_bad;             /* items reported bad while filling (bookkeeping) */
} UdmlFeatureSet;

void udml_feature_set_init (UdmlFeatureSet *set, const UdmlConfig *cfg);
void udml_feature_set_clear (UdmlFeatureSet *set);
/* Appends src's rows (same shapes) to dst. */
UdmlStatus udml_feature_set_append (UdmlFeatureSet *dst,
    const UdmlFeatureSet *src, UdmlError *err);

/* Checks that the model's input shapes follow from its own feature spec,
 * so features extracted from media fit it. Names the modality and both
 * shapes on mismatch. */
UdmlStatus udml_data_check_config (const UdmlConfig *cfg, UdmlError *err);

/* Hash of everything that decides the features: feature spec, input
 * shapes, modality kinds and labels. Equal keys share features. */
uint64_t udml_data_config_key (const UdmlConfig *cfg);

/* 64-bit FNV-1a, for cache keys and checksums. */
#define UDML_DATA_HASH_INIT 0xcbf29ce484222325ULL
uint64_t udml_data_hash (uint64_t h, const void *data, size_t n);

/* Called after each item while decoding; done of total items. */
typedef void (*UdmlDataProgressFunc) (int done, int total, void *user);

typedef struct {
  const char *cache_dir;     /* NULL: the origin's directory */
  int no_cache;              /* never read or write a cache */
  UdmlDataProgressFunc progress;
  void *progress_user;
  int64_t hop_ns;            /* step between the windows of a clip; 0: the
                              * model's hop */
  struct UdmlWaveSet *waves; /* non-NULL: also every row's waveform (set up
                              * here), as udml_data_waveforms gives them */
} UdmlExtractOptions;

typedef struct {
  int n_good, n_bad;         /* items */
  int n_windows;             /* feature rows */
  int n_short;               /* usable items shorter than one window */
  int from_cache;            /* the features came from a valid cache */
  int cache_rejected;        /* a cache was there but did not check out */
  char cache_reason[512];    /* why, when cache_rejected */
  int cache_write_failed;
  char cache_path[1024];     /* "" when no cache is used */
} UdmlExtractReport;

/* Decodes every window that fits in each usable item (its segment, or the
 * whole media) at opt->hop_ns steps, as the element windows the clip alone
 * (or loads them from the cache) into out, which it initialises: rows in
 * item order, it->n_windows per item, each with the item's label. A segment
 * that ends past the media is an item error. Items that fail get their
 * error set and are counted in report->n_bad; that is not an error of the
 * call.
 * Returns UDML_OK, UDML_ERR_NOMEM or an error from the feature set-up. */
UdmlStatus udml_data_extract (UdmlDataList *list, const UdmlConfig *cfg,
    const UdmlExtractOptions *opt, UdmlFeatureSet *out,
    UdmlExtractReport *report, UdmlError *err);

/* ------------------------------------------------------------- waveforms */

/* Mono waveforms of feature rows at the model rate, for the audio
 * degradation kinds (which act before log-mel). Each clip (or segment)
 * keeps once the span its windows cover, so overlapping windows share
 * their samples: row r is the len samples from pcm + off[r], of which the
 * first n_valid[r] are the media's and the rest zero (past its end, as
 * the windower pads). Full scale 1; held in memory only, never cached. */
typedef struct UdmlWaveSet {
  int n;                 /* rows */
  size_t len;            /* samples per window, udml_data_wave_length */
  int rate;              /* cfg->features.sample_rate */
  float *pcm;            /* n_pcm samples: the spans of every clip */
  size_t n_pcm;
  size_t *off;           /* n: first sample of row r in pcm */
  size_t *n_valid;       /* n: samples of row r in pcm (<= len) */
  size_t cap_pcm;        /* allocated (bookkeeping) */
  int cap_rows;
} UdmlWaveSet;

/* Samples of a window under cfg (rounded as the windower rounds). */
size_t udml_data_wave_length (const UdmlConfig *cfg);

/* An empty set of cfg's window length and rate. */
void udml_wave_set_init (UdmlWaveSet *set, const UdmlConfig *cfg);
void udml_wave_set_clear (UdmlWaveSet *set);

/* Appends the rows of n_windows windows of one decoded clip (pcm: n mono
 * samples at set->rate), the first starting t0_ns into it, hop_ns apart:
 * the windows udml_media_clip_window reads, placed as it places them. */
UdmlStatus udml_wave_set_add (UdmlWaveSet *set, const float *pcm, size_t n,
    int64_t t0_ns, int64_t hop_ns, int n_windows, UdmlError *err);

/* Appends src's rows (same length and rate) to dst. */
UdmlStatus udml_wave_set_append (UdmlWaveSet *dst, const UdmlWaveSet *src,
    UdmlError *err);

/* Row r's window into out (len samples), zero-padded:
 * udml_media_mel_compute on it gives that row's audio features. */
void udml_wave_set_row (const UdmlWaveSet *set, int r, float *out);

/* Decodes the waveform of every row of list after udml_data_extract at the
 * same hop_ns (0: the model's hop), it->n_windows rows per usable item, so
 * row r matches feature row r. Fills out (initialised here); a decode that
 * fails now is UDML_ERR_MISMATCH naming the row. udml_data_extract keeps
 * them itself, without a second decode, when given UdmlExtractOptions.waves. */
UdmlStatus udml_data_waveforms (const UdmlDataList *list, const UdmlConfig *cfg,
    int64_t hop_ns, UdmlWaveSet *out, UdmlError *err);

/* ------------------------------------------------------------------ cache */

/* Cache file (one per list and feature configuration), written atomically:
 *   "UDMLFC02" | u64 key | u32 n_items | u32 M | M x u32 F
 *   | n_items x (i32 line, i32 label or -1, u32 windows, u32 len,
 *                len bytes of error)
 *   | per modality: n_rows x F floats | u64 FNV-1a of everything before. */

/* The key of list under cfg and the window step: the list digest, the
 * config key, the hop, and the size and mtime of every referenced file, so
 * any change misses the cache. */
uint64_t udml_data_cache_key (const UdmlDataList *list, const UdmlConfig *cfg,
    int64_t hop_ns);

/* Reads a cache for a bound list. Every field is checked against the list
 * and the model: key, counts, shapes, lines, each label equal to the item's
 * bound label (so in [0, K)), finite features. On success fills out
 * (initialised here) and replaces the items' errors with the cached ones.
 * UDML_ERR_IO when there is no cache file; another code, with the reason,
 * when it is stale or damaged (the list is then untouched). */
UdmlStatus udml_data_cache_read (const char *path, uint64_t key,
    UdmlDataList *list, const UdmlConfig *cfg, UdmlFeatureSet *out,
    UdmlError *err);

/* Writes set (the usable items of list, in order) atomically. */
UdmlStatus udml_data_cache_write (const char *path, uint64_t key,
    const UdmlDataList *list, const UdmlFeatureSet *set, UdmlError *err);

/* ------------------------------------------------------------ input spec */

/* What a user chooses about a model's inputs; udml_data_config_build turns
 * it into a UdmlConfig whose shapes follow from its feature spec. */
typedef struct {
  double window_s;           /* 1.0 */
  int width, height;         /* 64 x 64 */
  int channels;              /* 1 grey, 3 RGB */
  int fps;                   /* 10 */
  int frames;                /* frames per window, 1 */
  int sample_rate;           /* 16000 */
  int n_mels;                /* 64 */
  int n_stages;              /* 4 */
  int widths[UDML_MAX_STAGES]; /* 16, 32, 64, 128: both encoders */
} UdmlSpecParams;

void udml_spec_params_default (UdmlSpecParams *p);

/* Checks every value (the message names the value and why: a frame too
 * small for the stages, a window shorter than one FFT, ...) and fills cfg:
 * the default configuration with this feature spec, input shapes and
 * encoder widths; the FFT window and hop are 25 ms and 10 ms at the rate,
 * the element's hop is the window. The defaults give udml_config_default. */
UdmlStatus udml_data_config_build (UdmlConfig *cfg, const UdmlSpecParams *p,
    UdmlError *err);

#endif /* UDML_DATA_H */
