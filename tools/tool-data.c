/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tool-data.c — manifests into features for the tools, with every problem
 * reported in the tools' message style. */
#include "tool.h"

#include <string.h>
#include <unistd.h>

typedef struct
{
  const char *manifest;
  double t0;
} Progress;

static void
on_progress (int done, int total, void *user)
{
  const Progress *p = user;
  if (done % 16 == 0 || done == total)
    fprintf (stderr, "\r%s: decoding %s: %d/%d clips (%.0f s)", tool_prog (),
        p->manifest, done, total, tool_now () - p->t0);
  if (done == total)
    fputc ('\n', stderr);
}

/* Every bad item, in order, before anything is decided. */
static void
report_bad (const UdmlDataList * list, int skip_bad)
{
  for (int i = 0; i < list->n_items; i++) {
    const UdmlDataItem *it = &list->items[i];
    if (!it->error)
      continue;
    void (*say) (const char *, ...) = skip_bad ? tool_warning : tool_error;
    if (it->line > 0)
      say ("%s:%d: %s: %s", list->origin, it->line, it->a_path, it->error);
    else
      say ("%s: %s", it->a_path, it->error);
  }
}

static void
report_cache (const UdmlExtractReport * rep)
{
  if (rep->cache_rejected)
    tool_warning ("%s (decoded again)", rep->cache_reason);
  if (rep->cache_write_failed)
    tool_warning ("%s: cannot write the feature cache (continuing)",
        rep->cache_path);
}

int
tool_read_list (const char *path, UdmlDataList * list)
{
  UdmlError err = { 0 };
  if (udml_data_list_read (list, path, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    return 1;
  }
  return 0;
}

int
tool_extract (UdmlDataList * list, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set)
{
  return tool_extract_waves (list, cfg, opt, set, NULL);
}

int
tool_extract_waves (UdmlDataList * list, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set, UdmlWaveSet * waves)
{
  const char *name = list->origin;
  UdmlFeatureSet got;
  UdmlWaveSet got_waves;
  UdmlExtractReport rep;
  UdmlError err = { 0 };
  Progress pr = { name, tool_now () };
  UdmlExtractOptions xo = { opt->cache_dir, opt->no_cache, NULL, &pr,
    opt->hop_ns, waves ? &got_waves : NULL
  };
  int ret = 1;

  memset (&got, 0, sizeof got);
  memset (&got_waves, 0, sizeof got_waves);
  if (!opt->quiet && isatty (2))
    xo.progress = on_progress;
  if (udml_data_list_bind (list, cfg, &err) != UDML_OK
      || udml_data_extract (list, cfg, &xo, &got, &rep, &err) != UDML_OK) {
    tool_error ("%s", err.msg);
    goto out;
  }
  report_bad (list, opt->skip_bad);
  report_cache (&rep);
  if (!opt->quiet) {
    tool_note ("%s: %d clips%s, %d windows, %d bad%s (%.1f s)", name,
        rep.n_good, rep.from_cache ? " from the feature cache" : " decoded",
        rep.n_windows, rep.n_bad, rep.n_bad && opt->skip_bad ? " skipped" : "",
        tool_now () - pr.t0);
    if (rep.n_short)
      tool_note ("%s: %d clip%s shorter than the %g s window skipped", name,
          rep.n_short, rep.n_short == 1 ? "" : "s",
          (double) cfg->features.window_ns / 1e9);
  }
  set->n_bad += rep.n_bad;
  if (rep.n_bad && !opt->skip_bad) {
    tool_error ("%s: %d bad %s; fix them or pass --skip-bad", name,
        rep.n_bad, list->items[0].line > 0 ? (rep.n_bad == 1 ? "row" :
            "rows") : (rep.n_bad == 1 ? "file" : "files"));
    goto out;
  }
  if (rep.n_windows == 0) {
    tool_error ("%s: no usable windows", name);
    goto out;
  }
  if (udml_feature_set_append (set, &got, &err) != UDML_OK
      || (waves && udml_wave_set_append (waves, &got_waves, &err) != UDML_OK)) {
    tool_error ("%s: %s", name, err.msg);
    goto out;
  }
  ret = 0;
out:
  udml_feature_set_clear (&got);
  udml_wave_set_clear (&got_waves);
  return ret;
}

int
tool_load_features (const char *manifest, const UdmlConfig * cfg,
    const ToolDataOptions * opt, UdmlFeatureSet * set)
{
  UdmlDataList list;
  int ret;
  if (tool_read_list (manifest, &list))
    return 1;
  ret = tool_extract (&list, cfg, opt, set);
  udml_data_list_clear (&list);
  return ret;
}
