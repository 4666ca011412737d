#!/usr/bin/env bash
# Starts the Docker daemon when none answers (CI and fresh machines: root, no systemd).
# Idempotent: returns at once when `docker info` works.
set -euo pipefail
if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    echo "dockerd: not installed (apt-get install docker.io)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "dockerd: not running, and only root can start it here" >&2
    exit 1
fi
LOG=${DOCKERD_LOG:-/var/log/rewardgate-dockerd.log}
# Its own session and no inherited descriptors, so it outlives this script and make.
setsid dockerd </dev/null >"$LOG" 2>&1 &
for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "dockerd did not answer within 60 s; its log: $LOG" >&2
tail -20 "$LOG" >&2
exit 1
