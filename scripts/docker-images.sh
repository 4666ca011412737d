#!/usr/bin/env bash
# Builds the docker backend's images, with no image registry:
#   rewardgate/base:bookworm    debootstrap --variant=minbase bookworm + docker import
#   rewardgate/sandbox:latest   sandbox/Dockerfile on that base (Debian's toolchains)
# Idempotent and quick when done: the base is kept once made, and each image carries
# the hash of what it was built from (label io.rewardgate.recipe) and is rebuilt only
# when that changes. Starts dockerd first when none is running.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${REWARDGATE_BASE_IMAGE:-rewardgate/base:bookworm}
SANDBOX=${REWARDGATE_DOCKER_IMAGE:-rewardgate/sandbox:latest}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

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

# build IMAGE DOCKERFILE [CONTEXT]: rebuilt when the Dockerfile (or the context's
# tracked files) changed; no context means the Dockerfile copies nothing.
build() {
    local image=$1 dockerfile=$2 context=${3:-}
    local recipe
    if [ -n "$context" ]; then
        recipe=$( (cat "$dockerfile"; git ls-files -s -- "$context" 2>/dev/null) | sha256sum | cut -c1-16)
    else
        recipe=$(sha256sum <"$dockerfile" | cut -c1-16)
    fi
    recipe="$recipe-$(docker image inspect -f '{{.Id}}' "$BASE" | cut -c8-19)"
    local have
    have=$(docker image inspect -f '{{ index .Config.Labels "io.rewardgate.recipe" }}' \
        "$image" 2>/dev/null || true)
    if [ "$have" = "$recipe" ]; then
        return
    fi
    echo "docker-images: building $image"
    local args=(build --network host --build-arg "BASE=$BASE" --label "io.rewardgate.recipe=$recipe"
                -t "$image")
    if [ -n "$context" ]; then
        docker "${args[@]}" -f "$dockerfile" "$context" >/dev/null
    else
        docker "${args[@]}" - <"$dockerfile" >/dev/null
    fi
}

build "$SANDBOX" sandbox/Dockerfile
