#!/usr/bin/env bash
# jest for SandboxFusion's `jest` language id: the pinned packages of scripts/jest/
# (package.json and its package-lock.json) installed with `npm ci` into a prefix on the
# host, build/jest by default (REWARDGATE_JEST_PREFIX). bwrap mounts it read-only at
# /opt/rewardgate/jest; scripts/docker-images.sh copies it into the sandbox image there.
# Sandboxes never reach a registry, and tests download nothing: this runs at setup.
# Quick when done: the prefix keeps the hash of the files it was installed from.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${REWARDGATE_JEST_PREFIX:-build/jest}
want=$(cat scripts/jest/package.json scripts/jest/package-lock.json | sha256sum | cut -c1-64)
stamp="$PREFIX/.rewardgate-recipe"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$PREFIX/node_modules/jest/bin/jest.js" ]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "install-jest: npm is missing (Debian: apt-get install npm); the jest language needs it" >&2
    exit 1
fi
echo "install-jest: installing jest into $PREFIX"
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
cp scripts/jest/package.json scripts/jest/package-lock.json "$PREFIX/"
npm ci --prefix "$PREFIX" --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
chmod -R a+rX,go-w "$PREFIX"
echo "$want" >"$stamp"
