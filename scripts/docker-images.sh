#!/usr/bin/env bash
# Builds the docker images, with no image registry:
#   rewardgate/base:bookworm    debootstrap --variant=minbase bookworm + docker import
#   rewardgate/python-prefix    the host's scientific Python prefix, files only (FROM
#                               scratch), for the sandbox image to copy
#   rewardgate/jest-prefix      the host's jest packages (scripts/install-jest.sh), likewise
#   rewardgate/sandbox:latest   sandbox/Dockerfile on that base (Debian's toolchains, the
#                               CAD runtime and the Python prefix, copied from the host)
#   rewardgate/service:latest   Dockerfile on that base (the gateway, from a wheelhouse
#                               made here: pip in a build cannot verify TLS)
# Idempotent and quick when done: the base is kept once made, and each image carries
# the hash of what it was built from (label io.rewardgate.recipe) and is rebuilt only
# when that changes. Starts dockerd first when none is running.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${REWARDGATE_BASE_IMAGE:-rewardgate/base:bookworm}
SANDBOX=${REWARDGATE_DOCKER_IMAGE:-rewardgate/sandbox:latest}
SERVICE=${REWARDGATE_SERVICE_IMAGE:-rewardgate/service:latest}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
VENV=${VENV:-.venv}
CAD_RUNTIME=${REWARDGATE_CAD_RUNTIME:-/usr/local/lib/rewardgate/cad}
PYTHON_PREFIX=${REWARDGATE_PYTHON_PREFIX:-/usr/local/lib/rewardgate/python}
PREFIX_IMAGE=${REWARDGATE_PYTHON_PREFIX_IMAGE:-rewardgate/python-prefix:latest}
JEST_PREFIX=${REWARDGATE_JEST_PREFIX:-build/jest}
JEST_IMAGE=${REWARDGATE_JEST_IMAGE:-rewardgate/jest-prefix:latest}

bash scripts/dockerd.sh

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    echo "docker-images: making $BASE with debootstrap"
    root=$(mktemp -d /var/tmp/rewardgate-rootfs.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
    tar -C "$root" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$root"
    trap - EXIT
fi
base_id=$(docker image inspect -f '{{.Id}}' "$BASE" | cut -c8-19)

# recipe FILE...: a hash of the files' contents (tracked files under folders) and the base.
recipe() {
    { git ls-files -z -- "$@" | xargs -0 sha256sum; echo "$base_id"; } | sha256sum | cut -c1-16
}

# stale IMAGE RECIPE: whether IMAGE is missing or was built from something else.
stale() {
    local have
    have=$(docker image inspect -f '{{ index .Config.Labels "io.rewardgate.recipe" }}' \
        "$1" 2>/dev/null || true)
    [ "$have" != "$2" ]
}

build_args() {
    echo build --network host --build-arg "BASE=$BASE" --label "io.rewardgate.recipe=$2" -t "$1"
}

# The sandbox image carries the CAD runtime: its build context is the runtime's prefix
# (installed first when missing or stale; quick when done). The recipe names the
# runtime's packages and versions, so a reinstall with other versions rebuilds it.
REWARDGATE_CAD_RUNTIME="$CAD_RUNTIME" bash scripts/install-cad.sh
cad_packages=$(cd "$CAD_RUNTIME" && ls -d lib/python3*/site-packages/*.dist-info)

# The scientific Python prefix, likewise (installed first; quick when done), as an
# image of its files where the sandbox's python3 looks, /usr/local/lib/python3.X/
# dist-packages: the sandbox image copies it in (its context is the CAD runtime's).
REWARDGATE_PYTHON_PREFIX="$PYTHON_PREFIX" bash scripts/install-python-prefix.sh
python_packages=$(cd "$PYTHON_PREFIX" && ls -d lib/python3*/site-packages/*.dist-info)
prefix_recipe=$({ recipe scripts/install-python-prefix.sh scripts/python-prefix.txt
    echo "$python_packages"; } | sha256sum | cut -c1-16)
if stale "$PREFIX_IMAGE" "$prefix_recipe"; then
    echo "docker-images: building $PREFIX_IMAGE (context: $PYTHON_PREFIX)"
    site=$(cd "$PYTHON_PREFIX" && ls -d lib/python3*/site-packages | head -1)
    printf 'FROM scratch\nCOPY %s /usr/local/%s\n' "$site" "${site%site-packages}dist-packages" |
        docker build --label "io.rewardgate.recipe=$prefix_recipe" -t "$PREFIX_IMAGE" \
            -f - "$PYTHON_PREFIX" >/dev/null
fi

# jest's packages (SandboxFusion's `jest` language), likewise: at /opt/rewardgate/jest,
# where bwrap mounts the host's prefix.
REWARDGATE_JEST_PREFIX="$JEST_PREFIX" bash scripts/install-jest.sh
jest_recipe=$(recipe scripts/install-jest.sh scripts/jest)
if stale "$JEST_IMAGE" "$jest_recipe"; then
    echo "docker-images: building $JEST_IMAGE (context: $JEST_PREFIX)"
    printf 'FROM scratch\nCOPY . /opt/rewardgate/jest\n' |
        docker build --label "io.rewardgate.recipe=$jest_recipe" -t "$JEST_IMAGE" \
            -f - "$JEST_PREFIX" >/dev/null
fi

sandbox_recipe=$({ recipe sandbox/Dockerfile scripts/install-cad.sh; echo "$cad_packages"
    echo "$prefix_recipe"; echo "$jest_recipe"; } | sha256sum | cut -c1-16)
if stale "$SANDBOX" "$sandbox_recipe"; then
    echo "docker-images: building $SANDBOX (context: $CAD_RUNTIME)"
    # shellcheck disable=SC2046
    docker $(build_args "$SANDBOX" "$sandbox_recipe") --build-arg "PYTHON_PREFIX=$PREFIX_IMAGE" \
        --build-arg "JEST_PREFIX=$JEST_IMAGE" -f - "$CAD_RUNTIME" <sandbox/Dockerfile >/dev/null
fi

service_recipe=$(recipe Dockerfile .dockerignore pyproject.toml rewardgate verifiers sandbox \
    service clients)
if stale "$SERVICE" "$service_recipe"; then
    echo "docker-images: building $SERVICE"
    rm -rf build/wheelhouse
    "$VENV/bin/python" -m pip wheel -q -w build/wheelhouse ".[all]"
    # shellcheck disable=SC2046
    docker $(build_args "$SERVICE" "$service_recipe") . >/dev/null
fi
