# The README's two commands: `make serve` and `make test`. Both install everything first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup postgres docker-images serve test lint typecheck bench clean

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

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

test: setup postgres docker-images lint typecheck
	$(PY) -m pytest

bench: setup
	$(PY) bench/math_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
