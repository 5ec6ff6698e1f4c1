/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udmlfusepad.h — udmlfuse's sink pads: the pad type and its properties,
 * the caps a pad takes, and the conversion of its buffers to model format
 * into the shared windower. Private to the plugin. */
#ifndef __GST_UDML_FUSE_PAD_H__
#define __GST_UDML_FUSE_PAD_H__

#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include "media.h"
#include "udmlfuse.h"

G_BEGIN_DECLS

struct _GstUdmlFusePad
{
  GstAggregatorPad parent;

  /* properties, object lock */
  gdouble min_coverage;
  gboolean enabled;

  /* streaming state, src task only */
  UdmlModalityKind kind;
  GstCaps *caps;
  gboolean have_caps;
  GstVideoInfo vinfo;
  GstAudioInfo ainfo;
  gint format;                  /* UdmlMediaPixelFormat or
                                 * UdmlMediaSampleFormat, -1 = none */
  GstClockTime pos;             /* running time reached by popped data */
  gboolean pos_is_end;          /* pos is where the data ends (a known
                                 * duration), so a later buffer leaves a gap */
  GstClockTime audio_end;       /* grid time after the last converted
                                 * sample, NONE before any */
  GstClockTime audio_in_end;    /* grid time where the input ended */
  gboolean drained;             /* the resampler's tail went out */
  GstBufferPool *pool;          /* upstream pool of the last buffer */
  gboolean pool_too_small;      /* it cannot lend a window of buffers */
};

/* The conversion to model format the pads share; created at start. */
typedef struct
{
  UdmlScaler *scaler;
  UdmlResampler *resampler;
  gfloat *frame;                /* C x H x W scratch */
  gfloat *pcm;                  /* resampler output scratch */
  gint pcm_cap;
  gint rate;                    /* model sample rate */
} GstUdmlFuseConvert;

gboolean gst_udml_fuse_convert_init (GstUdmlFuseConvert * conv,
    const UdmlFeatureSpec * spec, UdmlError * err);
void gst_udml_fuse_convert_clear (GstUdmlFuseConvert * conv);

/* Adds udmlfuse's pad templates (video_%u, audio_%u, src) to klass. */
void gst_udml_fuse_pad_add_templates (GstElementClass * klass);

/* (transfer floating) (nullable) A sink pad for templ (video_%u or
 * audio_%u) named req_name, or the template's first name. */
GstUdmlFusePad *gst_udml_fuse_pad_new (GstPadTemplate * templ,
    const gchar * req_name);

/* Takes caps as the pad's format. Posts CORE/NEGOTIATION on element and
 * returns FALSE if the pad cannot read them. */
gboolean gst_udml_fuse_pad_set_caps (GstUdmlFusePad * pad,
    GstElement * element, GstCaps * caps);

/* (transfer full) The answer to a CAPS query: the template, for audio the
 * model's rate in mono first (model_rate > 0), intersected with what
 * srcpad's peer takes when the pad is passed through (srcpad not NULL),
 * then with filter. */
GstCaps *gst_udml_fuse_pad_query_caps (GstUdmlFusePad * pad,
    GstCaps * filter, gint model_rate, GstPad * srcpad);

/* The answer to an ACCEPT_CAPS query. */
gboolean gst_udml_fuse_pad_accept_caps (GstUdmlFusePad * pad, GstCaps * caps);

/* Converts buf (running time rt, duration dur, GST_CLOCK_TIME_NONE if
 * unknown) and adds it to windower. FALSE (logged) if it could not be
 * converted; the window then lacks that data. */
gboolean gst_udml_fuse_pad_feed (GstUdmlFusePad * pad,
    GstUdmlFuseConvert * conv, UdmlWindower * windower, GstBuffer * buf,
    GstClockTime rt, GstClockTime dur);

/* At the audio pad's EOS: adds the samples the resampler still holds to
 * windower, right after the others and up to where the input ended, so
 * the last window is covered as the input was. Once per stretch of data. */
void gst_udml_fuse_pad_drain (GstUdmlFusePad * pad,
    GstUdmlFuseConvert * conv, UdmlWindower * windower);

/* The audio pad's data starts afresh (a flush: windower NULL; a new
 * segment: the resampler's tail first goes to windower as at EOS). The
 * samples the resampler holds never reach the new data. No-op for video. */
void gst_udml_fuse_pad_restart (GstUdmlFusePad * pad,
    GstUdmlFuseConvert * conv, UdmlWindower * windower);

/* Duration of a buffer without one, from its size (audio) or the frame
 * rate (video); GST_CLOCK_TIME_NONE if unknown. */
GstClockTime gst_udml_fuse_pad_duration (GstUdmlFusePad * pad,
    GstBuffer * buf);

/* Which of pads (NULL entries allowed) has the buffer to take next, or -1
 * to wait. Buffers go in running-time order, each only once every other
 * input that is not at EOS is known to have reached its time (by a queued
 * buffer or by the data already taken), so no input runs ahead and the
 * aggregator always finds an empty pad to refill. After a live timeout
 * (timeout) an empty input is not waited for. */
gint gst_udml_fuse_pad_next (GstUdmlFusePad * pads[2], gboolean timeout);

/* Whether the pad's input takes part in a window: enabled, and the window
 * holds at least min-coverage of its data. */
gboolean gst_udml_fuse_pad_takes_part (GstUdmlFusePad * pad,
    const UdmlMediaWindow * win);

/* Running time of a buffer at pts, and of its end (rt_end, nullable) when
 * dur is known. A buffer without a PTS takes the time where the pad's data
 * reached (the segment start before any), so it is never dropped.
 * GST_CLOCK_TIME_NONE outside the segment. */
GstClockTime gst_udml_fuse_pad_buffer_time (GstUdmlFusePad * pad,
    GstClockTime pts, GstClockTime dur, GstClockTime * rt_end);

/* How many frames attach-mode=window holds at most: those of one window
 * plus the one that completes it; 0 if either duration is unknown. */
guint gst_udml_fuse_pad_frames_held (GstClockTime window, GstClockTime frame);

/* (transfer full) buf, or a deep copy of it (buf unreffed) when it comes
 * from an upstream pool that cannot lend held buffers (its max_buffers is
 * at most held), so holding a window never starves upstream. */
GstBuffer *gst_udml_fuse_pad_keepable (GstUdmlFusePad * pad, GstBuffer * buf,
    guint held);

/* Running time of ts in the pad's segment (GST_CLOCK_TIME_NONE outside). */
GstClockTime gst_udml_fuse_pad_running_time (GstUdmlFusePad * pad,
    GstClockTime ts);

G_END_DECLS

#endif /* __GST_UDML_FUSE_PAD_H__ */
