/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* convert.h — lib/media internal: the converters on FFmpeg's own format
 * numbers, for the decoder, which gets any format FFmpeg produces. */
#ifndef UDML_MEDIA_CONVERT_H
#define UDML_MEDIA_CONVERT_H

#include "media.h"

/* av_fmt: an AVSampleFormat; in is planar or interleaved as it says. */
UdmlStatus udml_media_resample_av (UdmlResampler *r, int av_fmt, int rate, int channels,
    const uint8_t *const *in, int n_in, float *out, int out_cap, int *n_out, UdmlError *err);

/* av_fmt: an AVPixelFormat. */
UdmlStatus udml_media_scale_av (UdmlScaler *s, int av_fmt, int width, int height,
    const uint8_t *const planes[4], const int strides[4], float *out, UdmlError *err);

#endif /* UDML_MEDIA_CONVERT_H */
