#!/usr/bin/env bash
# Installs the cad verifier's runtime: CadQuery (with OCP), numpy and scipy for the
# system python3 that sandboxes run (/usr/bin/python3), in a virtual environment of its
# own that the verifier mounts read-only into its sandboxes (the service's .venv is for
# another python and not readable there). It must be readable by uid 65534. The
# verifier's `cad_runtime` setting names the prefix; keep the two in step.
# Needs root for the default prefix. Safe to run again: a matching stamp skips it.
set -euo pipefail

PREFIX=${REWARDGATE_CAD_RUNTIME:-/usr/local/lib/rewardgate/cad}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
REQUIREMENTS=(cadquery==2.8.0 "scipy>=1.11")
STAMP="$PREFIX/.rewardgate-installed"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${REQUIREMENTS[*]}" ]; then
    exit 0
fi
echo "install-cad: installing ${REQUIREMENTS[*]} for $SYSTEM_PYTHON into $PREFIX"
mkdir -p "$(dirname "$PREFIX")"
"$SYSTEM_PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install -q --upgrade pip
"$PREFIX/bin/python" -m pip install -q "${REQUIREMENTS[@]}"
chmod -R a+rX "$PREFIX"  # the sandbox's uid 65534 reads it
echo "${REQUIREMENTS[*]}" > "$STAMP"
