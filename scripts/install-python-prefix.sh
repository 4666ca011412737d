#!/usr/bin/env bash
# Installs the sandbox's scientific Python prefix: numpy, pandas, scipy, sympy,
# scikit-learn, networkx... (scripts/python-prefix.txt, every package pinned) for the
# system python3 that sandboxes run (/usr/bin/python3), as PyPI wheels in
# PREFIX/lib/pythonX.Y/site-packages. The bwrap backend mounts that directory read-only
# over the sandbox's /usr/local/lib/pythonX.Y/dist-packages, which python3 searches
# even under -I, so every Python run (code, /run_code, sessions) imports from it; the
# sandbox image copies the same bits there (sandbox/Dockerfile). It must be readable by
# uid 65534 and writable by nobody else: owned by root, a+rX.
# Needs root for the default prefix. Safe to run again: a matching stamp skips it.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${REWARDGATE_PYTHON_PREFIX:-/usr/local/lib/rewardgate/python}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
REQUIREMENTS=scripts/python-prefix.txt
STAMP="$PREFIX/.rewardgate-installed"
want=$(grep -v '^\s*#' "$REQUIREMENTS" | grep -v '^\s*$' | tr '\n' ' ')

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
version=$("$SYSTEM_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "install-python-prefix: installing $want for $SYSTEM_PYTHON into $PREFIX"
mkdir -p "$(dirname "$PREFIX")"
work=$(mktemp -d /var/tmp/rewardgate-pyprefix.XXXXXX)
trap 'rm -rf "$work" "$PREFIX.new"' EXIT
# pip itself runs from a throwaway venv; the prefix gets the wheels only (no pip, no
# scripts on any PATH). Bytecode is compiled here: the prefix is read-only in sandboxes.
"$SYSTEM_PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip download -q -d "$work/wheels" --only-binary=:all: --no-deps \
    --python-version "$version" -r "$REQUIREMENTS"
rm -rf "$PREFIX.new"
"$work/venv/bin/python" -m pip install -q --no-index --find-links "$work/wheels" --no-deps \
    --target "$PREFIX.new/lib/python$version/site-packages" -r "$REQUIREMENTS"
# Whether the set is whole (no dependency missing) and loads, as the sandbox will load it.
PYTHONPATH="$PREFIX.new/lib/python$version/site-packages" "$work/venv/bin/python" -m pip check \
    >/dev/null
chmod -R a+rX,go-w "$PREFIX.new"
rm -rf "$PREFIX"
mv "$PREFIX.new" "$PREFIX"
echo "$want" > "$STAMP"
# bwrap mounts the prefix over this directory, which must exist in the host's /usr.
mkdir -p "/usr/local/lib/python$version/dist-packages"
