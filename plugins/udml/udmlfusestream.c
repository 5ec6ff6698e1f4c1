/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusestream.c — udmlfuse's src task (udmlfusestream.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "udmlfusestream.h"

GST_DEBUG_CATEGORY_EXTERN (gst_udml_fuse_debug);
#define GST_CAT_DEFAULT gst_udml_fuse_debug

/* The alert threshold when alert-noise is 0 and the model has no noise
 * calibration: above the shipped model's clean sigma-hat (at most 4.1 on
 * the bundled sample), below its sigma-hat under Gaussian video noise of
 * level 8 (5.4, models/MODEL.md). */
#define FALLBACK_ALERT_THRESHOLD 5.0

/* ----------------------------------------------------------- time line */

/* Windows live on the grid time line, the stream time of the first data
 * after a start or flush carried on by running time: window k is
 * [k*hop, k*hop + window) in stream time, so a seek lands on the same grid
 * as an uninterrupted run. */
static gint64
grid_time (GstUdmlFuse * self, GstClockTime rt)
{
  return (gint64) rt + self->grid_offset;
}

static GstClockTime
grid_to_running_time (GstUdmlFuse * self, gint64 t)
{
  t -= self->grid_offset;
  return t > 0 ? (GstClockTime) t : 0;
}

static GstClockTime
clock_running_time (GstUdmlFuse * self)
{
  GstClock *clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  GstClockTime now, base;

  if (clock == NULL)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  gst_object_unref (clock);
  return now > base ? now - base : 0;
}

static gboolean
is_live (GstUdmlFuse * self)
{
  return GST_CLOCK_TIME_IS_VALID (gst_aggregator_get_latency (GST_AGGREGATOR
          (self)));
}

/* ------------------------------------------------------------ streaming */

/* Running time by which the next window or the oldest queued buffer is
 * due; the base class times out at this + latency in live mode, so a
 * starved input never stalls the others. */
GstClockTime
gst_udml_fuse_get_next_time (GstAggregator * agg)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstClockTime next = GST_CLOCK_TIME_NONE;
  gint k;

  if (self->windower == NULL)
    return GST_CLOCK_TIME_NONE;
  if (self->started) {
    gint64 start = self->next_index * (gint64) self->spec.hop_ns;
    gint64 pos = 0;

    for (k = 0; k < 2; k++)
      if (self->in_model[k])
        pos = MAX (pos, udml_media_windower_position (self->windower, k));
    if (pos > start)
      next = grid_to_running_time (self, start + self->spec.window_ns);
  }
  for (k = 0; k < 2; k++) {
    GstUdmlFusePad *pad = gst_udml_fuse_get_pad (self, k);
    GstBuffer *head;

    if (pad == NULL)
      continue;
    head = gst_aggregator_pad_peek_buffer (GST_AGGREGATOR_PAD (pad));
    if (head) {
      GstClockTime rt = gst_udml_fuse_pad_running_time (pad,
          GST_BUFFER_PTS (head));
      if (GST_CLOCK_TIME_IS_VALID (rt) && (!GST_CLOCK_TIME_IS_VALID (next)
              || rt < next))
        next = rt;
      gst_buffer_unref (head);
    }
    gst_object_unref (pad);
  }
  return next;
}

/* Pops the head buffer of a pad into the windower; the primary pad's
 * buffers are kept for output. */
static GstFlowReturn
pop_one (GstUdmlFuse * self, GstUdmlFusePad * pad)
{
  GstAggregatorPad *aggpad = GST_AGGREGATOR_PAD (pad);
  GstBuffer *buf = gst_aggregator_pad_pop_buffer (aggpad);
  GstClockTime pts, dur, rt, rt_end = GST_CLOCK_TIME_NONE;
  gboolean gap, enabled, primary;

  if (buf == NULL)
    return GST_FLOW_OK;
  pts = GST_BUFFER_PTS (buf);
  dur = GST_BUFFER_DURATION (buf);
  gap = GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP)
      && gst_buffer_get_size (buf) == 0;

  if (!pad->have_caps && !gap) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Data on pad %s before caps (not negotiated).", GST_PAD_NAME (pad)),
        ("buffer %" GST_PTR_FORMAT, buf));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (!GST_CLOCK_TIME_IS_VALID (dur) && !gap)
    dur = gst_udml_fuse_pad_duration (pad, buf);
  rt = gst_udml_fuse_pad_buffer_time (pad, pts, dur, &rt_end);
  if (!GST_CLOCK_TIME_IS_VALID (rt)) {
    GST_DEBUG_OBJECT (pad, "dropping buffer outside the segment");
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  pad->pos = GST_CLOCK_TIME_IS_VALID (rt_end) ? rt_end : rt;
  pad->pos_is_end = GST_CLOCK_TIME_IS_VALID (rt_end);

  /* the window grid starts at the window holding the first data */
  if (!self->started) {
    GstClockTime st;

    GST_OBJECT_LOCK (pad);
    st = gst_segment_to_stream_time (&aggpad->segment, GST_FORMAT_TIME, pts);
    GST_OBJECT_UNLOCK (pad);
    self->grid_offset = GST_CLOCK_TIME_IS_VALID (st) ?
        (gint64) st - (gint64) rt : 0;
    if (grid_time (self, rt) < 0)
      self->grid_offset = 0;
    udml_media_windower_reset (self->windower, grid_time (self, rt));
    self->next_index = grid_time (self, rt) / self->spec.hop_ns;
    self->started = TRUE;
    GST_DEBUG_OBJECT (self, "grid offset %" G_GINT64_FORMAT " ns, first "
        "window %" G_GINT64_FORMAT, self->grid_offset, self->next_index);
  }

  if (gap) {
    udml_media_windower_gap (self->windower, pad->kind, grid_time (self, rt),
        GST_CLOCK_TIME_IS_VALID (rt_end) ? (gint64) (rt_end - rt) : 0);
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }

  GST_OBJECT_LOCK (pad);
  enabled = pad->enabled;
  GST_OBJECT_UNLOCK (pad);
  if (enabled && self->in_model[pad->kind]) {
    gst_udml_fuse_pad_feed (pad, &self->conv, self->windower, buf,
        grid_time (self, rt),
        GST_CLOCK_TIME_IS_VALID (rt_end) ? rt_end - rt : GST_CLOCK_TIME_NONE);
  }

  primary = gst_udml_fuse_is_primary (self, pad);
  if (primary) {
    buf =
        gst_udml_fuse_pad_keepable (pad, buf, gst_udml_fuse_frames_held (self,
            dur));
    gst_udml_publisher_hold (&self->pub, buf, grid_time (self, rt), pad->kind);
  } else {
    gst_buffer_unref (buf);
  }
  return GST_FLOW_OK;
}

/* A pad whose next buffer starts after the end of its data so far has no
 * data in between: declaring it lets the windows of the other input go on
 * (a timestamp jump would otherwise stall them until the ring overflows).
 * A step within the windower's jitter tolerance is no gap: the windower
 * joins such data to the data before it. */
static void
declare_head_gaps (GstUdmlFuse * self, GstUdmlFusePad * pads[2])
{
  gint k;

  for (k = 0; k < 2; k++) {
    GstBuffer *head;
    GstClockTime rt;

    if (pads[k] == NULL || !pads[k]->pos_is_end
        || !GST_CLOCK_TIME_IS_VALID (pads[k]->pos))
      continue;
    head = gst_aggregator_pad_peek_buffer (GST_AGGREGATOR_PAD (pads[k]));
    if (head == NULL)
      continue;
    rt = gst_udml_fuse_pad_running_time (pads[k], GST_BUFFER_PTS (head));
    gst_buffer_unref (head);
    if (GST_CLOCK_TIME_IS_VALID (rt) && rt > pads[k]->pos
        && !udml_media_contiguous ((gint64) pads[k]->pos, (gint64) rt)) {
      udml_media_windower_gap (self->windower, pads[k]->kind,
          grid_time (self, pads[k]->pos), (gint64) (rt - pads[k]->pos));
      pads[k]->pos = rt;
    }
  }
}

/* Marks the inputs that are gone, disabled or at EOS as not waited for;
 * returns whether every input is at EOS. */
static gboolean
update_done (GstUdmlFuse * self, GstUdmlFusePad * pads[2])
{
  gboolean all_eos = TRUE, any_pad = FALSE;
  gint k;

  for (k = 0; k < 2; k++) {
    gboolean done = TRUE;

    if (pads[k]) {
      gboolean eos = gst_aggregator_pad_is_eos (GST_AGGREGATOR_PAD (pads[k]));
      if (eos && self->windower)
        gst_udml_fuse_pad_drain (pads[k], &self->conv, self->windower);
      GST_OBJECT_LOCK (pads[k]);
      done = eos || !pads[k]->enabled;
      GST_OBJECT_UNLOCK (pads[k]);
      if (!eos)
        all_eos = FALSE;
      any_pad = TRUE;
    }
    udml_media_windower_set_done (self->windower, k, done);
  }
  return any_pad && all_eos;
}

static GstFlowReturn handle_window (GstUdmlFuse * self,
    const UdmlMediaWindow * win, gboolean live);

/* Takes buffers in running-time order (gst_udml_fuse_pad_next), each
 * followed by the windows it completes, so the windower never holds more
 * than its horizon. */
static GstFlowReturn
drain_pads (GstUdmlFuse * self, GstUdmlFusePad * pads[2], gboolean timeout,
    gboolean live)
{
  GstFlowReturn ret = GST_FLOW_OK;
  UdmlMediaWindow win;
  gint k;

  while (ret == GST_FLOW_OK
      && (k = gst_udml_fuse_pad_next (pads, timeout)) >= 0) {
    if (self->started)
      declare_head_gaps (self, pads);
    ret = pop_one (self, pads[k]);
    while (ret == GST_FLOW_OK && self->started
        && udml_media_windower_next (self->windower, 0, &win))
      ret = handle_window (self, &win, live);
  }
  return ret;
}

/* Which inputs take part in a window. */
static void
window_use (GstUdmlFuse * self, const UdmlMediaWindow * win, gboolean use[2])
{
  gint k;

  for (k = 0; k < 2; k++) {
    GstUdmlFusePad *pad = gst_udml_fuse_get_pad (self, k);

    use[k] = pad != NULL && gst_udml_fuse_pad_takes_part (pad, win);
    if (pad)
      gst_object_unref (pad);
  }
}

/* Live: a window more than a window behind its deadline is dropped, to
 * catch up instead of letting the latency grow. Returns how late it is
 * (ns past its deadline), or -1 when it is kept. */
static gint64
window_lateness (GstUdmlFuse * self, const UdmlMediaWindow * win)
{
  GstClockTime now = clock_running_time (self);
  GstClockTime lat = gst_aggregator_get_latency (GST_AGGREGATOR (self));
  GstClockTime deadline;

  if (!GST_CLOCK_TIME_IS_VALID (now) || !GST_CLOCK_TIME_IS_VALID (lat))
    return -1;
  deadline = grid_to_running_time (self, win->end_ns) + lat;
  if (now <= deadline + self->spec.window_ns)
    return -1;
  GST_DEBUG_OBJECT (self, "dropping late window %" G_GINT64_FORMAT
      " (now %" GST_TIME_FORMAT ")", win->index, GST_TIME_ARGS (now));
  return (gint64) (now - deadline);
}

/* Per model modality: alert-noise when positive, else the model's noise
 * calibration, else FALLBACK_ALERT_THRESHOLD. Returns whether the fallback
 * was used. */
static gboolean
alert_thresholds (GstUdmlFuse * self, gdouble alert_noise, gint n,
    gdouble threshold[UDML_MAX_MODALITIES])
{
  gboolean fallback = FALSE;
  gint m;

  for (m = 0; m < n && m < UDML_MAX_MODALITIES; m++) {
    threshold[m] = alert_noise;
    if (threshold[m] <= 0)
      threshold[m] = gst_udml_fuse_model_noise_calibration (&self->model, m);
    if (threshold[m] <= 0) {
      threshold[m] = FALLBACK_ALERT_THRESHOLD;
      fallback = TRUE;
    }
  }
  return fallback;
}

/* Infers one window (with no lock held) and publishes its record; a late
 * window (live) is recorded as dropped without inference. */
static GstFlowReturn
handle_window (GstUdmlFuse * self, const UdmlMediaWindow * win, gboolean live)
{
  GstUdmlRecord rec;
  UdmlError err = { 0 };
  GstUdmlFusePolicy policy;
  GstClockTime elapsed;
  gboolean use[2], post, meta, fallback;
  gdouble min_conf, alert_noise, threshold[UDML_MAX_MODALITIES];
  guint alert_windows;
  gint64 late = -1;
  UdmlStatus st;

  self->next_index = win->index + win->n_windows;
  if (live && !win->gap)
    late = window_lateness (self, win);
  memset (&rec, 0, sizeof rec);
  gst_udml_window_times (&self->primary_segment, win, self->grid_offset, &rec);
  rec.partial = win->partial != 0;
  rec.gap = win->gap != 0;
  rec.dropped = late >= 0;
  if (rec.dropped)
    use[0] = use[1] = FALSE;
  else
    window_use (self, win, use);
  g_mutex_lock (&self->lock);
  policy = self->policy;
  g_mutex_unlock (&self->lock);

  st = gst_udml_fuse_model_infer (&self->model, GST_ELEMENT_CAST (self),
      self->forward_hook, win, use, policy, &rec, &elapsed, &err);

  g_mutex_lock (&self->lock);
  if (elapsed > 0)
    self->proc_estimate = (self->proc_estimate * 7 + elapsed) / 8;
  post = self->post_messages;
  meta = self->attach_meta;
  elapsed = self->proc_estimate;
  min_conf = self->min_confidence;
  alert_windows = self->alert_windows;
  alert_noise = self->alert_noise;
  g_mutex_unlock (&self->lock);
  fallback = alert_thresholds (self, alert_noise, rec.n_modalities, threshold);
  rec.source = self->source_name;
  gst_udml_record_apply_min_confidence (&rec, min_conf);
  if (alert_windows > 0 && fallback && !self->warned_threshold) {
    self->warned_threshold = TRUE;
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS,
        ("The model has no noise calibration and alert-noise is 0: alerts "
            "use the default threshold %.1f.", FALLBACK_ALERT_THRESHOLD),
        ("set alert-noise to choose the threshold"));
  }
  if (st != UDML_OK)
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Inference failed for window %" G_GINT64_FORMAT ".", win->index),
        ("%s", err.msg));
  if (rec.dropped)
    gst_udml_publisher_drop (&self->pub, GST_ELEMENT_CAST (self), &rec, late,
        (gdouble) elapsed / self->spec.hop_ns);
  gst_udml_publisher_publish (&self->pub, GST_ELEMENT_CAST (self), &rec,
      post, meta);
  gst_udml_publisher_alerts (&self->pub, GST_ELEMENT_CAST (self), &rec,
      alert_windows, threshold);
  return GST_FLOW_OK;
}

/* When the primary input changed (a pad was released or requested), drops
 * the held buffers of the old one and renegotiates the src caps, so no
 * buffer leaves under caps it does not match. */
static GstFlowReturn
check_primary (GstUdmlFuse * self)
{
  GstAggregator *agg = GST_AGGREGATOR (self);
  GstUdmlFusePad *pad = gst_udml_fuse_get_pad (self, UDML_MODALITY_VIDEO);
  GstFlowReturn ret = GST_FLOW_OK;

  if (pad == NULL)
    pad = gst_udml_fuse_get_pad (self, UDML_MODALITY_AUDIO);
  if (pad == NULL)
    return GST_FLOW_OK;
  if (self->primary_kind != (gint) pad->kind) {
    guint dropped = gst_udml_publisher_drop_held_except (&self->pub, pad->kind);

    GST_DEBUG_OBJECT (self, "primary input is now %s: %u held buffers "
        "dropped", GST_PAD_NAME (pad), dropped);
    self->primary_kind = pad->kind;
    GST_OBJECT_LOCK (pad);
    self->primary_segment = GST_AGGREGATOR_PAD (pad)->segment;
    GST_OBJECT_UNLOCK (pad);
    gst_aggregator_update_segment (agg, &self->primary_segment);
  }
  /* without caps yet, its CAPS event renegotiates (nothing of it is held
   * before that) */
  if (self->out_kind >= 0 && self->out_kind != (gint) pad->kind
      && pad->caps != NULL && !gst_aggregator_negotiate (agg))
    ret = GST_PAD_IS_FLUSHING (agg->srcpad) ? GST_FLOW_FLUSHING :
        GST_FLOW_NOT_NEGOTIATED;
  gst_object_unref (pad);
  return ret;
}

/* Sends the primary buffers whose result is known (all of them at EOS). */
static GstFlowReturn
push_held (GstUdmlFuse * self, gboolean eos)
{
  gboolean per_window, meta;

  g_mutex_lock (&self->lock);
  per_window = self->attach_mode == GST_UDML_FUSE_ATTACH_WINDOW;
  meta = self->attach_meta;
  g_mutex_unlock (&self->lock);
  return gst_udml_publisher_push_held (&self->pub, GST_AGGREGATOR (self),
      per_window, meta, self->spec.hop_ns, self->next_index, eos);
}

GstFlowReturn
gst_udml_fuse_aggregate (GstAggregator * agg, gboolean timeout)
{
  GstUdmlFuse *self = GST_UDML_FUSE (agg);
  GstUdmlFusePad *pads[2];
  GstFlowReturn ret = GST_FLOW_OK;
  UdmlMediaWindow win;
  gboolean all_eos, live = is_live (self);
  gboolean report_again;
  gint k;

  for (k = 0; k < 2; k++)
    pads[k] = gst_udml_fuse_get_pad (self, k);

  update_done (self, pads);
  ret = drain_pads (self, pads, timeout, live);
  if (ret != GST_FLOW_OK)
    goto out;
  all_eos = update_done (self, pads);

  if (self->started) {
    while (ret == GST_FLOW_OK
        && udml_media_windower_next (self->windower, 0, &win))
      ret = handle_window (self, &win, live);

    if (timeout && live) {
      GstClockTime now = clock_running_time (self);
      GstClockTime lat = gst_aggregator_get_latency (agg);

      /* windows whose deadline passed close with what they have */
      while (ret == GST_FLOW_OK && GST_CLOCK_TIME_IS_VALID (now)
          && GST_CLOCK_TIME_IS_VALID (lat)
          && grid_to_running_time (self,
              self->next_index * (gint64) self->spec.hop_ns +
              (gint64) self->spec.window_ns) + lat <= now
          && udml_media_windower_next (self->windower, 1, &win))
        ret = handle_window (self, &win, live);
    }
    if (all_eos) {
      while (ret == GST_FLOW_OK
          && udml_media_windower_next (self->windower, 1, &win))
        ret = handle_window (self, &win, live);
    }
  }
  if (ret == GST_FLOW_OK)
    ret = check_primary (self);
  if (ret == GST_FLOW_OK)
    ret = push_held (self, all_eos);

  if (ret == GST_FLOW_OK && all_eos) {
    GST_DEBUG_OBJECT (self, "all inputs at EOS after %" G_GUINT64_FORMAT
        " windows (%" G_GUINT64_FORMAT " dropped)", self->pub.processed,
        self->pub.dropped);
    ret = GST_FLOW_EOS;
  }

out:
  for (k = 0; k < 2; k++)
    if (pads[k])
      gst_object_unref (pads[k]);
  /* re-report when the processing time moved by more than 25 % */
  g_mutex_lock (&self->lock);
  report_again = self->proc_estimate > self->reported_proc +
      self->reported_proc / 4
      || self->proc_estimate < self->reported_proc - self->reported_proc / 4;
  g_mutex_unlock (&self->lock);
  if (report_again)
    gst_udml_fuse_update_latency (self);
  return ret;
}
