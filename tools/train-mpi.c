/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* train-mpi.c — udml-train across processes (train-mpi.h). */
#include "train-mpi.h"

#include <stdlib.h>
#include <string.h>

#ifdef UDML_HAVE_MPI
#include <mpi.h>
#endif

static int mpi_rank = 0, mpi_size = 1;
static UdmlTrainDist dist;
static int *dist_index;

#ifdef UDML_HAVE_MPI
static void
sum_f64 (double *buf, size_t n, void *user)
{
  MPI_Allreduce (MPI_IN_PLACE, buf, (int) n, MPI_DOUBLE, MPI_SUM,
      MPI_COMM_WORLD);
}

static void
sum_f32 (float *buf, size_t n, void *user)
{
  MPI_Allreduce (MPI_IN_PLACE, buf, (int) n, MPI_FLOAT, MPI_SUM,
      MPI_COMM_WORLD);
}

static void
sum_int (int *buf, int n)
{
  MPI_Allreduce (MPI_IN_PLACE, buf, n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
}
#else
static void
sum_f64 (double *buf, size_t n, void *user)
{
}

static void
sum_f32 (float *buf, size_t n, void *user)
{
}

static void
sum_int (int *buf, int n)
{
}
#endif

void
tool_mpi_init (int *argc, char ***argv)
{
#ifdef UDML_HAVE_MPI
  int provided;
  /* only the main thread calls MPI; the batch workers never do */
  MPI_Init_thread (argc, argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank (MPI_COMM_WORLD, &mpi_rank);
  MPI_Comm_size (MPI_COMM_WORLD, &mpi_size);
#endif
}

int
tool_mpi_rank (void)
{
  return mpi_rank;
}

int
tool_mpi_size (void)
{
  return mpi_size;
}

/* Rows r, r + R, ... of one manifest: decoded (or read from this shard's
 * own cache) into set; the global index of each of their windows appended
 * to dist_index. *offset: windows of the previous manifests, all ranks. */
static int
load_shard (const char *manifest, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set, UdmlWaveSet * waves,
    int *n_index, int *offset)
{
  UdmlDataList list;
  UdmlFeatureSet got;
  UdmlWaveSet got_waves;
  UdmlExtractReport rep;
  UdmlError err = { 0 };
  UdmlExtractOptions xo = { opt->cache_dir, opt->no_cache, NULL, NULL,
    opt->hop_ns, waves ? &got_waves : NULL
  };
  UdmlDataItem *tmp = NULL;
  int *orig = NULL, *good = NULL, *wins = NULL;
  int total = 0, mine = 0, bad = 0, n_bad = 0;
  int ret = 1, agree[2];

  memset (&got, 0, sizeof got);
  memset (&got_waves, 0, sizeof got_waves);
  memset (&rep, 0, sizeof rep);
  udml_feature_set_init (&got, cfg);
  if (udml_data_list_read (&list, manifest, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    return 1;
  }
  total = list.n_items;
  tmp = malloc ((size_t) total * sizeof *tmp);
  orig = malloc ((size_t) total * sizeof (int));
  good = calloc ((size_t) total, sizeof (int));
  wins = calloc ((size_t) total, sizeof (int));
  if (!tmp || !orig || !good || !wins) {
    tool_error ("%s: out of memory", manifest);
    goto out;
  }
  if (udml_data_list_bind (&list, cfg, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    goto out;
  }
  /* this rank's rows first, in order; the list keeps owning all items */
  for (int i = 0; i < total; i++)
    if (i % mpi_size == mpi_rank) {
      orig[mine] = i;
      tmp[mine++] = list.items[i];
    }
  for (int i = 0, k = mine; i < total; i++)
    if (i % mpi_size != mpi_rank)
      tmp[k++] = list.items[i];
  memcpy (list.items, tmp, (size_t) total * sizeof *tmp);
  list.n_items = mine;
  if (mine > 0
      && udml_data_extract (&list, cfg, &xo, &got, &rep, &err) != UDML_OK) {
    list.n_items = total;
    tool_error ("%s: %s", manifest, err.msg);
    goto out;
  }
  list.n_items = total;
  for (int j = 0; j < mine; j++) {
    const UdmlDataItem *it = &list.items[j];
    if (!it->error) {
      good[orig[j]] = 1;
      wins[orig[j]] = it->n_windows;
      continue;
    }
    n_bad++;
    if (opt->skip_bad)
      tool_warning ("%s:%d: %s: %s", list.origin, it->line, it->a_path,
          it->error);
    else
      tool_error ("%s:%d: %s: %s", list.origin, it->line, it->a_path,
          it->error);
  }
  if (rep.cache_write_failed)
    tool_warning ("%s: cannot write the feature cache (continuing)",
        rep.cache_path);
  set->n_bad += n_bad;
  bad = n_bad && !opt->skip_bad;
  /* the waveforms of this shard's rows only, in the same order */
  if (!bad && (udml_feature_set_append (set, &got, &err) != UDML_OK
          || (waves && udml_wave_set_append (waves, &got_waves,
                  &err) != UDML_OK))) {
    tool_error ("%s: %s", manifest, err.msg);
    bad = 1;
  }
  ret = 0;
out:
  /* every rank takes part in the sums, also after a failure */
  sum_int (good, total);
  sum_int (wins, total);
  agree[0] = ret || bad;
  agree[1] = n_bad;
  sum_int (agree, 2);
  if (agree[0])
    ret = 1;
  if (!ret) {
    int g = 0, w = 0, *grown = realloc (dist_index,
        (size_t) (*n_index + got.n + 1) * sizeof (int));
    if (!grown) {
      tool_error ("%s: out of memory", manifest);
      ret = 1;
    } else {
      dist_index = grown;
      /* an item's windows are consecutive rows, as in one process */
      for (int i = 0, j = 0; i < total; i++) {
        if (j < mine && orig[j] == i && good[i])
          for (int k = 0; k < wins[i]; k++)
            dist_index[(*n_index)++] = *offset + w + k;
        if (j < mine && orig[j] == i)
          j++;
        g += good[i];
        w += wins[i];
      }
      if (!opt->quiet)
        tool_note ("%s: %d clips over %d ranks (%d on this rank%s), %d bad%s",
            manifest, g, mpi_size, rep.n_good,
            rep.from_cache ? ", from its feature cache" : "", agree[1],
            agree[1] && opt->skip_bad ? " skipped" : "");
      if (w == 0) {
        tool_error ("%s: no usable windows", manifest);
        ret = 1;
      }
      *offset += w;
    }
  } else if (agree[1] && !opt->skip_bad && mpi_rank == 0) {
    tool_error ("%s: %d bad row%s; fix them or pass --skip-bad", manifest,
        agree[1], agree[1] == 1 ? "" : "s");
  }
  if (list.items)
    udml_data_list_clear (&list);
  udml_feature_set_clear (&got);
  udml_wave_set_clear (&got_waves);
  free (tmp);
  free (orig);
  free (good);
  free (wins);
  return ret;
}

int
tool_mpi_load (char **manifests, int n_manifests, const char *val_manifest,
    const UdmlConfig * cfg, const ToolDataOptions * opt,
    UdmlFeatureSet * train, UdmlFeatureSet * val, UdmlWaveSet * waves)
{
  int n_index = 0, offset = 0, bad = 0;

  udml_feature_set_init (train, cfg);
  udml_feature_set_init (val, cfg);
  for (int i = 0; i < n_manifests; i++)
    bad |= load_shard (manifests[i], cfg, opt, train, waves, &n_index, &offset);
  /* validation is rank 0's alone: it reports progress */
  if (val_manifest && mpi_rank == 0)
    bad |= tool_load_features (val_manifest, cfg, opt, val);
  sum_int (&bad, 1);
  if (bad) {
    if (mpi_rank == 0)
      tool_error ("stopping before training");
    return 1;
  }
  dist.rank = mpi_rank;
  dist.size = mpi_size;
  dist.reduce.sum_f64 = sum_f64;
  dist.reduce.sum_f32 = sum_f32;
  dist.reduce.user = NULL;
  dist.n_global = offset;
  dist.index = dist_index;
  return 0;
}

const UdmlTrainDist *
tool_mpi_dist (void)
{
  return &dist;
}

int
tool_mpi_finish (int ret)
{
  free (dist_index);
  dist_index = NULL;
#ifdef UDML_HAVE_MPI
  /* 130: every rank stopped at the same step */
  if (mpi_size > 1 && ret != 0 && ret != 130)
    MPI_Abort (MPI_COMM_WORLD, ret);
  MPI_Finalize ();
#endif
  return ret;
}
