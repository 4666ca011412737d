"""The documented names import, and importing the contract stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["rewardgate", "rewardgate.verifiers"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_imports(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no public names"
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but missing"


@pytest.mark.parametrize(
    "module", ["rewardgate", "rewardgate.verifiers", "rewardgate.verifiers.math"]
)
def test_importing_does_no_heavy_work(module: str) -> None:
    """No server, pool or symbolic-math import happens when the contract is imported."""
    heavy = ["fastapi", "uvicorn", "pebble", "sympy", "math_verify", "prometheus_client"]
    code = f"import sys, {module}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
