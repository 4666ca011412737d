#!/usr/bin/env bash
# Installs everything rewardgate needs on a Debian machine: the Debian packages its
# verifiers use (when run as root), a virtual environment in .venv with the package
# and all its extras. Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
mapfile -t DEBIAN_PACKAGES < <(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')

missing_packages() {
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || echo "$pkg"
    done
}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
elif [ -n "$(missing_packages)" ]; then
    echo "setup: not root; these Debian packages are missing (some verifiers will report" \
         "them in /readyz and 'rewardgate doctor'): $(missing_packages | tr '\n' ' ')" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".[all,dev]"
# The verl releases the reward-loop tests run, each in build/verl/VERSION without its
# conflicting dependencies (tests/clients/verl_envs.py).
"$VENV/bin/python" -m tests.clients.verl_envs install

# The cad verifier's CadQuery runtime, for the sandbox's python3 (see the script).
if [ "$(id -u)" = 0 ]; then
    bash scripts/install-cad.sh
else
    echo "setup: not root; the cad verifier needs scripts/install-cad.sh run as root" >&2
fi

# jest for SandboxFusion's `jest` language, pinned, into build/jest (see the script).
bash scripts/install-jest.sh

# The sandbox's scientific Python prefix (numpy, pandas, scipy, ...; see the script).
if [ "$(id -u)" = 0 ]; then
    bash scripts/install-python-prefix.sh
else
    echo "setup: not root; Python in sandboxes imports numpy, pandas... only once" \
         "scripts/install-python-prefix.sh has run as root" >&2
fi
