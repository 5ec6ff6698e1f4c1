/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plot.c — cairo SVG line plot: axes, ticks, grid, labels, legend. */
#include "plot.h"

#include <cairo.h>
#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const double palette[][3] = {
  {0.122, 0.467, 0.706}, {0.839, 0.153, 0.157}, {0.173, 0.627, 0.173},
  {1.000, 0.498, 0.055}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
  {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
};

#define N_COLORS ((int) (sizeof palette / sizeof palette[0]))

static void
text_at (cairo_t * cr, double x, double y, const char *s, double ax, double ay)
{
  cairo_text_extents_t e;
  cairo_text_extents (cr, s, &e);
  cairo_move_to (cr, x - ax * e.width - e.x_bearing,
      y - ay * e.height - e.y_bearing);
  cairo_show_text (cr, s);
}

int
plot_svg (const char *path, const PlotAxes * a, const PlotSeries * s, int n,
    char *msg, size_t msg_len)
{
  double W = a->width > 0 ? a->width : 640, H = a->height > 0 ? a->height : 420;
  double left = 64, right = 190, top = 40, bottom = 56;
  double pw = W - left - right, ph = H - top - bottom;
  cairo_surface_t *surf = cairo_svg_surface_create (path, W, H);
  cairo_t *cr = NULL;
  int ret = -1;
  char buf[64];

  if (cairo_surface_status (surf) != CAIRO_STATUS_SUCCESS) {
    snprintf (msg, msg_len, "%s: %s", path,
        cairo_status_to_string (cairo_surface_status (surf)));
    goto out;
  }
  if (a->xmax <= a->xmin || a->ymax <= a->ymin) {
    snprintf (msg, msg_len, "%s: empty axis range", path);
    goto out;
  }
  cr = cairo_create (surf);
#define PX(v) (left + ((v) - a->xmin) / (a->xmax - a->xmin) * pw)
#define PY(v) (top + ph - ((v) - a->ymin) / (a->ymax - a->ymin) * ph)

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
      CAIRO_FONT_WEIGHT_NORMAL);

  /* grid and ticks */
  cairo_set_font_size (cr, 11);
  cairo_set_line_width (cr, 0.5);
  double xs = a->xstep > 0 ? a->xstep : (a->xmax - a->xmin) / 10;
  double ys = a->ystep > 0 ? a->ystep : (a->ymax - a->ymin) / 5;
  for (double v = a->xmin; v <= a->xmax + 1e-9; v += xs) {
    cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
    cairo_move_to (cr, PX (v), top);
    cairo_line_to (cr, PX (v), top + ph);
    cairo_stroke (cr);
    cairo_set_source_rgb (cr, 0, 0, 0);
    snprintf (buf, sizeof buf, "%g", v);
    text_at (cr, PX (v), top + ph + 6, buf, 0.5, 0);
  }
  for (double v = a->ymin; v <= a->ymax + 1e-9; v += ys) {
    cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
    cairo_move_to (cr, left, PY (v));
    cairo_line_to (cr, left + pw, PY (v));
    cairo_stroke (cr);
    cairo_set_source_rgb (cr, 0, 0, 0);
    snprintf (buf, sizeof buf, "%.2g", v);
    text_at (cr, left - 6, PY (v), buf, 1, 0.5);
  }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, left, top, pw, ph);
  cairo_stroke (cr);

  /* labels */
  cairo_set_font_size (cr, 13);
  if (a->xlabel)
    text_at (cr, left + pw / 2, H - 18, a->xlabel, 0.5, 0.5);
  if (a->ylabel) {
    cairo_save (cr);
    cairo_translate (cr, 18, top + ph / 2);
    cairo_rotate (cr, -M_PI / 2);
    text_at (cr, 0, 0, a->ylabel, 0.5, 0.5);
    cairo_restore (cr);
  }
  if (a->title) {
    cairo_set_font_size (cr, 14);
    text_at (cr, left + pw / 2, top / 2, a->title, 0.5, 0.5);
  }

  /* series, clipped to the plot area */
  cairo_save (cr);
  cairo_rectangle (cr, left, top, pw, ph);
  cairo_clip (cr);
  for (int i = 0; i < n; i++) {
    const double *c = palette[s[i].color % N_COLORS];
    double dash[] = { 6, 4 };
    cairo_set_source_rgb (cr, c[0], c[1], c[2]);
    cairo_set_line_width (cr, 2);
    cairo_set_dash (cr, dash, s[i].dashed ? 2 : 0, 0);
    int started = 0;
    for (int k = 0; k < s[i].n; k++) {
      if (!isfinite (s[i].y[k])) {
        started = 0;
        continue;
      }
      if (!started)
        cairo_move_to (cr, PX (s[i].x[k]), PY (s[i].y[k]));
      else
        cairo_line_to (cr, PX (s[i].x[k]), PY (s[i].y[k]));
      started = 1;
    }
    cairo_stroke (cr);
    cairo_set_dash (cr, NULL, 0, 0);
    for (int k = 0; k < s[i].n; k++) {
      if (!isfinite (s[i].y[k]))
        continue;
      cairo_arc (cr, PX (s[i].x[k]), PY (s[i].y[k]), 2.5, 0, 2 * M_PI);
      cairo_fill (cr);
    }
  }
  cairo_restore (cr);

  /* legend */
  cairo_set_font_size (cr, 11);
  for (int i = 0; i < n; i++) {
    const double *c = palette[s[i].color % N_COLORS];
    double dash[] = { 6, 4 };
    double ly = top + 10 + i * 18, lx = left + pw + 12;
    cairo_set_source_rgb (cr, c[0], c[1], c[2]);
    cairo_set_line_width (cr, 2);
    cairo_set_dash (cr, dash, s[i].dashed ? 2 : 0, 0);
    cairo_move_to (cr, lx, ly);
    cairo_line_to (cr, lx + 24, ly);
    cairo_stroke (cr);
    cairo_set_dash (cr, NULL, 0, 0);
    cairo_set_source_rgb (cr, 0, 0, 0);
    text_at (cr, lx + 30, ly, s[i].label ? s[i].label : "", 0, 0.5);
  }
#undef PX
#undef PY

  cairo_destroy (cr);
  cr = NULL;
  cairo_surface_finish (surf);
  if (cairo_surface_status (surf) != CAIRO_STATUS_SUCCESS) {
    snprintf (msg, msg_len, "%s: %s", path,
        cairo_status_to_string (cairo_surface_status (surf)));
    goto out;
  }
  ret = 0;
out:
  if (cr)
    cairo_destroy (cr);
  cairo_surface_destroy (surf);
  return ret;
}
