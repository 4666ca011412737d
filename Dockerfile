# The rewardgate service image, on the same locally made base as the sandbox image.
#
# No registry is reachable where it is built, and pip inside a build cannot verify TLS
# here: scripts/docker-images.sh first makes a wheelhouse on the host
# (build/wheelhouse: rewardgate and its dependencies), which this file installs
# offline. The base is a build argument (rewardgate/base:bookworm, made by debootstrap).
ARG BASE=rewardgate/base:bookworm
FROM ${BASE}

ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# Runtime libraries the verifiers load: cairo (svg), GL and X11 (CadQuery's OCP),
# libatomic (the node binary of Playwright's driver: the web verifier drives Chromium
# in a sandbox container from here).
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv \
        libcairo2 libgl1 libx11-6 libatomic1 \
    && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*

COPY build/wheelhouse /tmp/wheels
RUN python3 -m venv /opt/rewardgate \
    && /opt/rewardgate/bin/pip install -q --no-index --find-links /tmp/wheels "rewardgate[all]" \
    && rm -rf /tmp/wheels

# The gateway listens on all interfaces of its container; the compose file publishes it
# on the host's loopback only. Code runs go to the docker backend through the host's
# Docker socket (see docker-compose.yml for what that trusts).
ENV PATH=/opt/rewardgate/bin:$PATH \
    REWARDGATE_HOST=0.0.0.0 \
    REWARDGATE_PORT=8000 \
    REWARDGATE_SANDBOX_BACKEND=docker \
    REWARDGATE_ASSET_DIR=/data/assets \
    REWARDGATE_CACHE_PATH=/data/cache.sqlite
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["rewardgate", "serve"]
