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
