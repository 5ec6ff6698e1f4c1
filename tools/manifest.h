/* manifest.h — manifest parsing and window-0 feature extraction with an
 * on-disk cache, shared by udml-train and udml-eval (design.md "Manifests").
 *
 * A manifest is a CSV with a header naming its columns: `path,label` (one
 * media file with audio and video streams) or `audio,video,label` (separate
 * files; an image is a one-frame video). Paths are relative to the manifest.
 * Features go through udml_media_clip_features, the path the element uses.
 */
#ifndef UDML_TOOLS_MANIFEST_H
#define UDML_TOOLS_MANIFEST_H

#include <stddef.h>
#include "udml.h"

/* Features of the good rows of one or more manifests. x[m]: N x F[m]
 * raw features for the model's modality m; y: N labels in [0, K). */
typedef struct {
  int n;
  int n_mod;
  size_t F[UDML_MAX_MODALITIES];
  float *x[UDML_MAX_MODALITIES];
  int *y;
  int n_bad;                 /* rows reported as bad (skipped or fatal) */
} FeatureSet;

typedef struct {
  const char *prog;          /* "udml-train": prefix of every message */
  int skip_bad;              /* report bad rows as warnings and go on */
  const char *cache_dir;     /* NULL: the manifest's own directory */
  int no_cache;
  int quiet;                 /* no decoding progress */
} ManifestOptions;

/* Reads the manifest, decodes every row for cfg (its feature spec, input
 * shapes and labels) or loads them from the cache, and appends the good
 * rows to set. Prints each problem as
 * `PROG: error: FILE:LINE: PATH: reason`. Returns 0 on success, 1 when the
 * manifest is unusable or has bad rows (unless skip_bad). */
int manifest_load_features (const char *manifest, const UdmlConfig *cfg,
    const ManifestOptions *opt, FeatureSet *set);

void feature_set_init (FeatureSet *set, const UdmlConfig *cfg);
void feature_set_clear (FeatureSet *set);

/* Checks that the model's input shapes follow from its own feature spec, so
 * features extracted from media fit it. Fills msg on mismatch; returns 0
 * when consistent. */
int manifest_check_config (const UdmlConfig *cfg, char *msg, size_t msg_len);

/* Hash of everything that decides the features: feature spec, input
 * shapes, modality kinds and labels. Equal keys share features. */
uint64_t manifest_config_key (const UdmlConfig *cfg);

/* 64-bit FNV-1a, used for cache keys and checksums. */
uint64_t manifest_hash (uint64_t h, const void *data, size_t n);
#define MANIFEST_HASH_INIT 0xcbf29ce484222325ULL

#endif /* UDML_TOOLS_MANIFEST_H */
