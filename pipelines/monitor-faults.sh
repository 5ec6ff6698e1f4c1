#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# monitor-faults.sh — sensor faults and udmlfuse's alerts. Annotates a media
# file (default: the bundled AV-digits sample) while udmlnoise fails one
# sensor at a time, driven in time by a GstController on its level: the lens
# is covered (kind=occlusion level=11) from 2 s to 5 s, later the microphone
# is muted (kind=dropout level=11) from 7 s to 10 s. Windows of 1 s every
# 250 ms; alert-windows 3. The JSON Lines hold one record per window and one
# {"event":"alert", ...} line per alert raised or cleared.
#
# usage: monitor-faults.sh [FILE] [OUT.jsonl|-]
#
# Environment (besides common.sh's):
#   UDML_FAULT_VIDEO  video kind (default occlusion), UDML_FAULT_AUDIO audio
#                     kind (default dropout), both at UDML_FAULT_LEVEL (11)
#   UDML_FAULT_TIMES  "VSTART VEND ASTART AEND" in seconds (default "2 5 7 10")
#   UDML_ALERT_NOISE  alert-noise of udmlfuse (default 0: the model's
#                     calibration, else udmlfuse's documented fallback)
#   UDML_ALERT_WINDOWS alert-windows (default 3)
# Needs Python 3 with GObject introspection for GStreamer (python3-gi,
# gir1.2-gstreamer-1.0): gst-launch-1.0 cannot drive a property in time.
set -euo pipefail
USAGE="monitor-faults.sh [FILE] [OUT.jsonl|-]"
. "$(dirname "$0")/common.sh"
in=${1:-$UDML_ROOT/tests/data/sample/avdigits-sample.mkv}
udml_need_input "$in"
udml_need_model
json=${2:--}

py=""
for c in python3 /usr/bin/python3; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c \
      "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstController', '1.0')" \
      2>/dev/null; then
    py=$c
    break
  fi
done
[ -n "$py" ] || udml_die "needs Python 3 with python3-gi and gir1.2-gstreamer-1.0"

UDML_IN=$in UDML_JSON=$json UDML_MODEL=$UDML_MODEL UDML_THREADS=$UDML_THREADS exec "$py" - <<'PY'
import os
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstController", "1.0")
from gi.repository import Gst, GstController  # noqa: E402

Gst.init(None)
env = os.environ.get
vk, ak = env("UDML_FAULT_VIDEO", "occlusion"), env("UDML_FAULT_AUDIO", "dropout")
level = int(env("UDML_FAULT_LEVEL", "11"))
vs, ve, as_, ae = (float(x) for x in env("UDML_FAULT_TIMES", "2 5 7 10").split())
desc = (
    f'filesrc name=src ! decodebin name=d '
    f'udmlfuse name=f attach-mode=window window-hop=250000000 '
    f'alert-windows={env("UDML_ALERT_WINDOWS", "3")} '
    f'alert-noise={env("UDML_ALERT_NOISE", "0")} num-threads={env("UDML_THREADS", "1")} '
    f'! fakesink sync=false '
    f'd. ! videoconvert ! udmlnoise name=nv kind={vk} level=1 ! queue ! f.video_0 '
    f'd. ! audioconvert ! audioresample ! udmlnoise name=na kind={ak} level=1 '
    f'! queue ! f.audio_0')
pipe = Gst.parse_launch(desc)
pipe.get_by_name("src").set_property("location", env("UDML_IN"))
fuse = pipe.get_by_name("f")
fuse.set_property("model", env("UDML_MODEL"))
fuse.set_property("json-location", env("UDML_JSON"))


def fault(name, start, end):
    # level 1 (clean) outside [start, end), `level` inside: a step control
    # source on the normalised level (1..11 maps to 0..1)
    el = pipe.get_by_name(name)
    cs = GstController.InterpolationControlSource()
    cs.set_property("mode", GstController.InterpolationMode.NONE)
    hi = (level - 1) / 10.0
    for t, v in ((0.0, 0.0), (start, hi), (end, 0.0)):
        cs.set(int(t * Gst.SECOND), v)
    el.add_control_binding(GstController.DirectControlBinding.new(el, "level", cs))


fault("nv", vs, ve)
fault("na", as_, ae)
bus = pipe.get_bus()
pipe.set_state(Gst.State.PLAYING)
rc = 0
while True:
    msg = bus.timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                 Gst.MessageType.EOS | Gst.MessageType.ERROR |
                                 Gst.MessageType.ELEMENT |
                                 Gst.MessageType.WARNING)
    if msg.type == Gst.MessageType.ELEMENT:
        s = msg.get_structure()
        if s.get_name() == "udml-alert":
            sys.stderr.write("monitor-faults: %s %s (%s) at %.2f s, noise %.2f\n" % (
                s.get_string("modality"), s.get_string("state"),
                s.get_string("reason"), s.get_uint64("stream_time")[1] / 1e9,
                s.get_double("noise")[1]))
        continue
    if msg.type == Gst.MessageType.WARNING:
        err, _ = msg.parse_warning()
        sys.stderr.write(f"monitor-faults: warning: {err.message}\n")
        continue
    if msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        sys.stderr.write(f"monitor-faults: error: {err.message} ({dbg})\n")
        rc = 1
    break
pipe.set_state(Gst.State.NULL)
sys.exit(rc)
PY
