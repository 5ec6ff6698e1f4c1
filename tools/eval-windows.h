/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eval-windows.h — udml-eval --windows: one JSON Lines record per clean
 * window, keyed as udmlfuse's records. */
#ifndef UDML_EVAL_WINDOWS_H
#define UDML_EVAL_WINDOWS_H

#include <stdio.h>

#include "tool.h"

/* Where --windows records go: the evaluated list and the stream times of
 * its windows. */
typedef struct
{
  FILE *f;
  const UdmlDataList *list;     /* the set's items, in row order */
  int64_t hop_ns;
} WindowsOut;

/* Writes a record per row of set (results res, N rows) to wo->f: the row's
 * item, window index within it, start and end in the clip's stream time,
 * label, probabilities and per-modality noise and weights. Returns 0, or
 * -1 (printed) when the rows do not follow the list's items. */
int eval_write_windows (const WindowsOut * wo, const char *model,
    const UdmlConfig * cfg, const UdmlFeatureSet * set, const UdmlResult * res);

#endif /* UDML_EVAL_WINDOWS_H */
