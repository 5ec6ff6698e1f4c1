/* fuzz-featcache.h — the fixed manifest whose feature cache the featcache
 * target mutates, shared with the seed generator. The rows name files that
 * do not exist, so a cache miss never decodes anything, and the cache key
 * (manifest bytes, configuration, stat of each row's file) is the same in
 * every directory. */
#ifndef UDML_FUZZ_FEATCACHE_H
#define UDML_FUZZ_FEATCACHE_H

#include "fuzz-common.h"
#include "manifest.h"

#define FUZZ_FC_MAGIC "UDMLFC01"
#define FUZZ_FC_ROWS 4
/* line numbers of the rows in the manifest below */
static const int fuzz_fc_lines[FUZZ_FC_ROWS] = { 2, 3, 5, 6 };

static const char fuzz_fc_manifest[] =
    "path,label\n" "a.mkv,0\n" "b.mkv,1\n" "# comment\n" "c.mkv,2\n"
    "d.mkv,7\n";

typedef struct
{
  char *dir;
  char manifest[4096];
  char cache[4096];             /* the path the loader reads the cache from */
  uint64_t key;
  UdmlConfig cfg;
  ManifestOptions opt;
} FuzzFeatcache;

/* Writes the manifest and lets the loader write its (all rows bad) cache
 * once, which gives the cache's file name and key. */
static inline int
fuzz_featcache_setup (FuzzFeatcache * fc)
{
  FeatureSet set;
  DIR *d;
  struct dirent *e;
  const char *suffix = ".featcache";

  memset (fc, 0, sizeof *fc);
  fuzz_tiny_config (&fc->cfg);
  fc->dir = fuzz_tmpdir ();
  if (!fc->dir)
    return -1;
  snprintf (fc->manifest, sizeof fc->manifest, "%s/m.csv", fc->dir);
  if (fuzz_write_file (fc->manifest, (const uint8_t *) fuzz_fc_manifest,
          strlen (fuzz_fc_manifest)))
    return -1;
  fc->opt.prog = "udml-fuzz";
  fc->opt.skip_bad = 1;
  fc->opt.cache_dir = fc->dir;
  fc->opt.quiet = 1;
  feature_set_init (&set, &fc->cfg);
  manifest_load_features (fc->manifest, &fc->cfg, &fc->opt, &set);
  feature_set_clear (&set);

  d = opendir (fc->dir);
  if (!d)
    return -1;
  while ((e = readdir (d)) != NULL) {
    size_t l = strlen (e->d_name);
    if (l > 16 + strlen (suffix) && !strcmp (e->d_name + l - strlen (suffix),
            suffix)) {
      snprintf (fc->cache, sizeof fc->cache, "%s/%s", fc->dir, e->d_name);
      fc->key = strtoull (e->d_name + l - strlen (suffix) - 16, NULL, 16);
    }
  }
  closedir (d);
  return fc->cache[0] ? 0 : -1;
}

/* Puts the magic and the key in front and the FNV-1a trailer at the end. */
static inline void
fuzz_fix_featcache (const FuzzFeatcache * fc, uint8_t * b, size_t n)
{
  uint64_t sum;

  if (n < 24)
    return;
  memcpy (b, FUZZ_FC_MAGIC, 8);
  memcpy (b + 8, &fc->key, 8);
  sum = manifest_hash (MANIFEST_HASH_INIT, b, n - 8);
  memcpy (b + n - 8, &sum, 8);
}

#endif /* UDML_FUZZ_FEATCACHE_H */
