"""The one rule for the backend of every verifier that runs programs (code, chart, cad):
the request's, else the server's `sandbox_backend`, else bwrap; an unknown name is
invalid with the available ones."""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.verifiers.base import Verifier, VerifierEnv
from rewardgate.verifiers.cad import CadVerifier
from rewardgate.verifiers.chart import ChartVerifier
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.errors import InvalidRequest

# A verifier and a reference it accepts.
SANDBOXED: dict[str, tuple[type[Verifier[Any, Any]], dict[str, Any]]] = {
    "code": (CodeVerifier, {"tests": [{"stdin": "", "expected_stdout": "1"}]}),
    "chart": (ChartVerifier, {"target_code": "import matplotlib.pyplot as plt\nplt.plot([1])\n"}),
    "cad": (CadVerifier, {"reference_step": "asset:" + "0" * 64}),
}


@pytest.mark.parametrize("name", list(SANDBOXED))
@pytest.mark.parametrize(
    ("server_default", "options", "expected"),
    [
        (None, {}, "bwrap"),
        ("docker", {}, "docker"),
        ("docker", {"backend": "bwrap"}, "bwrap"),
        ("bwrap", {"backend": "docker"}, "docker"),
    ],
    ids=["no-setting", "server-default", "request-overrides-to-bwrap", "request-asks-docker"],
)
def test_backend_is_the_requests_or_the_servers(
    name: str, server_default: str | None, options: dict[str, Any], expected: str
) -> None:
    cls, reference = SANDBOXED[name]
    config = {"sandbox_backend": server_default} if server_default else {}
    prepared = cls(VerifierEnv(config=config)).prepare(reference, options)
    assert prepared.options.backend == expected


@pytest.mark.parametrize("name", list(SANDBOXED))
def test_an_unknown_backend_is_invalid(name: str) -> None:
    cls, reference = SANDBOXED[name]
    with pytest.raises(InvalidRequest, match="available: bwrap, docker"):
        cls(VerifierEnv()).prepare(reference, {"backend": "vm"})


@pytest.mark.parametrize("name", list(SANDBOXED))
def test_memory_is_held_to_the_servers_cap(name: str) -> None:
    """Every sandboxed run's memory fits `max_run_memory_mb` (defect: chart and CAD
    scripts could ask for 16 GB each, times the workers)."""
    cls, reference = SANDBOXED[name]
    verifier = cls(VerifierEnv(config={"max_run_memory_mb": 300}))
    assert verifier.prepare(reference, {}).options.memory_mb == 300  # the default, lowered
    assert verifier.prepare(reference, {"memory_mb": 256}).options.memory_mb == 256
    with pytest.raises(InvalidRequest, match=r"options\.memory_mb: 4096 is over"):
        verifier.prepare(reference, {"memory_mb": 4096})
    uncapped = cls(VerifierEnv()).prepare(reference, {"memory_mb": 4096})
    assert uncapped.options.memory_mb == 4096
