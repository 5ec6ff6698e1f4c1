# SPDX-License-Identifier: LGPL-2.1-or-later
# common.sh — sourced by the pipeline scripts: finds the udml plugin and the
# default model. Not meant to be run on its own.
#
# Environment:
#   UDML_MODEL      model file (default: models/avdigits.udml of this tree)
#   UDML_BUILD_DIR  meson build dir holding plugins/udml/libgstudml.so, used
#                   when the plugin is not installed (default: build/)
#   UDML_THREADS    num-threads of udmlfuse (default 1)

UDML_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${UDML_MODEL:=$UDML_ROOT/models/avdigits.udml}"
: "${UDML_THREADS:=1}"

udml_die () {
  echo "$(basename "$0"): error: $*" >&2
  exit 1
}

# Bad command line: exit status 2, as the udml tools use.
udml_usage () {
  echo "$(basename "$0"): error: $* (usage: $USAGE)" >&2
  exit 2
}

# Use the build tree's plugin unless udmlfuse is already visible.
if ! gst-inspect-1.0 udmlfuse >/dev/null 2>&1; then
  for d in "${UDML_BUILD_DIR:-}" "$UDML_ROOT/build"; do
    if [ -n "$d" ] && [ -e "$d/plugins/udml/libgstudml.so" ]; then
      export GST_PLUGIN_PATH="$d/plugins/udml${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
      # GST_PLUGIN_PATH_1_0 wins over GST_PLUGIN_PATH when both are set.
      [ -n "${GST_PLUGIN_PATH_1_0:-}" ] &&
        export GST_PLUGIN_PATH_1_0="$d/plugins/udml:$GST_PLUGIN_PATH_1_0"
      break
    fi
  done
fi
gst-inspect-1.0 udmlfuse >/dev/null 2>&1 ||
  udml_die "GStreamer element udmlfuse not found; build the project (meson setup build && ninja -C build) or set UDML_BUILD_DIR"

udml_need_model () {
  [ -r "$UDML_MODEL" ] || udml_die "model '$UDML_MODEL' not readable; set UDML_MODEL"
}

udml_need_input () {
  [ -n "${1:-}" ] || udml_usage "missing input file"
  [ -r "$1" ] || udml_die "input '$1' not readable"
}
