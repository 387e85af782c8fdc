#!/bin/sh
# Start-up cost of phdeploy: `--version` and `plugins` with every bundled
# plugin loaded, side by side with `helm version` on the same machine.
#   bench/startup.sh [BUILDDIR] [ROUNDS=20]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top}" && pwd)
rounds=${2:-20}
tools=${PHD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/phdeploy/tools}
PHDEPLOY_PLUGIN_PATH=$(ls -d "$build"/plugins/*/.libs | paste -s -d : -)
export PHDEPLOY_PLUGIN_PATH
bin=$build/src/.libs/phdeploy
[ -x "$bin" ] || bin=$build/src/phdeploy
export LD_LIBRARY_PATH="$build/libphdeploy/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$(mktemp -d)"   # no phdeploy.yaml here
python3 "$top/bench/measure.py" "$rounds" \
	"helm version (helm 4)=$tools/helm4 version" \
	"phdeploy --version=$bin --version" \
	"phdeploy plugins (all bundled)=$bin plugins"
