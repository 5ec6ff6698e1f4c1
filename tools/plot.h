/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plot.h — line plots written as SVG with cairo (udml-eval --plot). */
#ifndef UDML_TOOLS_PLOT_H
#define UDML_TOOLS_PLOT_H

#include <stddef.h>

typedef struct {
  const char *label;         /* legend text */
  int n;
  const double *x, *y;
  int color;                 /* index into a fixed palette */
  int dashed;
} PlotSeries;

typedef struct {
  const char *title, *xlabel, *ylabel;
  double xmin, xmax, ymin, ymax;
  double xstep, ystep;       /* tick spacing */
  int width, height;         /* points; 0 = 640 x 420 */
} PlotAxes;

/* Draws every series on one set of axes with a legend and writes an SVG
 * file. Returns 0, or -1 with a reason in msg. */
int plot_svg (const char *path, const PlotAxes *axes, const PlotSeries *s, int n,
    char *msg, size_t msg_len);

#endif /* UDML_TOOLS_PLOT_H */
