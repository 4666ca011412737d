# The README's two commands: `make serve` and `make test`. Both install everything first.
# `make check` is the developer's loop: lint, types and the fast tests, no installer.
VENV ?= .venv
PY := $(VENV)/bin/python

# pytest-xdist workers (one per core); PYTEST_WORKERS=0 runs the suite in one process.
# loadgroup: tests that share something exclusive run on one worker (tests/markers.py).
PYTEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup
# The tests that need no service of the machine and start no server process: markers
# from tests/markers.py (`make test` runs them all).
FAST := not docker and not postgres and not chromium and not cad and not ray and not slow

RUFF_CHECK := $(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
MYPY := $(VENV)/bin/mypy

.PHONY: setup postgres docker-images ray-extra serve test test-ray check lint typecheck bench clean

setup:
	bash scripts/setup.sh

# The sql verifier's PostgreSQL tests need a running server with Chinook loaded.
postgres: setup
	bash scripts/postgres.sh

# The docker sandbox backend's images (and dockerd, started when none runs).
docker-images: setup
	bash scripts/docker-images.sh

serve: setup
	$(VENV)/bin/rewardgate serve

# ruff check also enforces the layering (docs/architecture.md): the ruff.toml files in
# rewardgate/contract, sandbox, verifiers and clients ban the imports a layer may not make.
lint: setup
	$(RUFF_CHECK)

typecheck: setup
	$(MYPY)

test: setup postgres docker-images lint typecheck
	$(PYTEST) -m "not ray"
	$(MAKE) test-ray

# Ray is its own extra (a trainer's pinned Ray is never upgraded by `setup`). Its tests
# start Ray clusters, which two cores cannot run beside the rest of the suite: they run
# after it, in one process (16 tests, 3 min 40 s on two otherwise idle cores).
ray-extra: setup
	$(PY) -m pip install -q -e ".[ray]"

test-ray: ray-extra
	$(PY) -m pytest -m ray

# No `setup` prerequisite: it never runs the installer, so it takes minutes, not a
# quarter of an hour. The venv must exist (`make setup` or `make test` made it once).
check:
	@test -x $(PY) || { echo "make check: no $(VENV) yet; run make setup once" >&2; exit 1; }
	$(RUFF_CHECK)
	$(MYPY)
	$(PYTEST) -m "$(FAST)"

bench: setup
	$(PY) bench/math_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
