/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plugin.c — registers udmlfuse, udmlnoise and udmloverlay. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "udmlfuse.h"
#include "udmlnoise.h"
#include "udmloverlay.h"

#ifndef PACKAGE
#define PACKAGE "udml"
#endif

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (udmlfuse, plugin);
  ret |= GST_ELEMENT_REGISTER (udmlnoise, plugin);
  ret |= GST_ELEMENT_REGISTER (udmloverlay, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, udml,
    "Unbiased Dynamic Multimodal Learning: audio-video fusion with "
    "noise-aware, dependency-corrected weights",
    plugin_init, UDML_VERSION, "LGPL", "udml", "https://github.com/udml/udml")
