"""Runs a real `rewardgate serve` (same code path) with the probe verifiers added.

Usage: python -m tests.service.serve_probes PORT [SETTING=VALUE ...]
"""

from __future__ import annotations

import sys

from rewardgate.service.app import verifier_env
from rewardgate.service.cli import run_server
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.service.probes import PROBES

if __name__ == "__main__":
    overrides = dict(arg.split("=", 1) for arg in sys.argv[2:])
    settings = Settings(port=int(sys.argv[1]), **overrides)  # type: ignore[arg-type]
    run_server(settings, Registry.from_entry_points(PROBES, env=verifier_env(settings)))
