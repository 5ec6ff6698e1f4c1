/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fuzz-featcache.h — the fixed manifest whose feature cache the featcache
 * target mutates, shared with the seed generator. Its rows name files that
 * do not exist, so the cache key (manifest bytes, configuration, stat of
 * each row's file) does not depend on where the target runs. The last row's
 * label is not one of the model's: that item is bad after binding. */
#ifndef UDML_FUZZ_FEATCACHE_H
#define UDML_FUZZ_FEATCACHE_H

#include "fuzz-common.h"
#include "udml-data.h"

#define FUZZ_FC_MAGIC "UDMLFC02"
#define FUZZ_FC_ITEMS 4

static const char fuzz_fc_manifest[] =
    "path,label\n" "a.mkv,0\n" "b.mkv,1\n" "# comment\n" "c.mkv,2\n"
    "d.mkv,7\n";

typedef struct
{
  UdmlConfig cfg;
  UdmlDataList list;            /* parsed and bound */
  char *errors[FUZZ_FC_ITEMS];  /* the items' errors after binding */
  uint64_t key;
} FuzzFeatcache;

/* Parses and binds the manifest (from memory, as if it were
 * /nonexistent/m.csv) and computes the cache key. */
static inline int
fuzz_featcache_setup (FuzzFeatcache * fc)
{
  UdmlError err = { 0 };

  memset (fc, 0, sizeof *fc);
  fuzz_tiny_config (&fc->cfg);
  if (udml_data_list_parse_manifest (&fc->list, "/nonexistent/m.csv",
          fuzz_fc_manifest, strlen (fuzz_fc_manifest), &err) != UDML_OK
      || udml_data_list_bind (&fc->list, &fc->cfg, &err) != UDML_OK
      || fc->list.n_items != FUZZ_FC_ITEMS)
    return -1;
  for (int i = 0; i < FUZZ_FC_ITEMS; i++)
    if (fc->list.items[i].error
        && !(fc->errors[i] = strdup (fc->list.items[i].error)))
      return -1;
  fc->key = udml_data_cache_key (&fc->list, &fc->cfg, fc->cfg.features.hop_ns);
  return 0;
}

/* Puts back the items' errors that a successful cache read replaced. */
static inline int
fuzz_featcache_restore (FuzzFeatcache * fc)
{
  for (int i = 0; i < FUZZ_FC_ITEMS; i++) {
    UdmlDataItem *it = &fc->list.items[i];
    free (it->error);
    it->error = fc->errors[i] ? strdup (fc->errors[i]) : NULL;
    if (fc->errors[i] && !it->error)
      return -1;
  }
  return 0;
}

static inline void
fuzz_featcache_clear (FuzzFeatcache * fc)
{
  udml_data_list_clear (&fc->list);
  for (int i = 0; i < FUZZ_FC_ITEMS; i++)
    free (fc->errors[i]);
}

/* Puts the magic and the key in front and the FNV-1a trailer of everything
 * before it at the end (layout: udml-data.h). */
static inline void
fuzz_fix_featcache (const FuzzFeatcache * fc, uint8_t * b, size_t n)
{
  uint64_t sum;

  if (n < 24)
    return;
  memcpy (b, FUZZ_FC_MAGIC, 8);
  memcpy (b + 8, &fc->key, 8);
  sum = udml_data_hash (UDML_DATA_HASH_INIT, b, n - 8);
  memcpy (b + n - 8, &sum, 8);
}

#endif /* UDML_FUZZ_FEATCACHE_H */
