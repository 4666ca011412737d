"""Which sandbox backend a code item runs on, and what a backend that is down gives."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from rewardgate.testing import EngineHarness
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.models import RewardRequest

IMAGE = os.environ.get("REWARDGATE_DOCKER_IMAGE", "rewardgate/sandbox:latest")
REFERENCE = {"asserts": ["assert twice(2) == 4", "assert twice(-1) == -2"]}
RIGHT = "def twice(x):\n    return 2 * x\n"
WHOAMI = "import os\ndef twice(x):\n    return 2 * x if os.path.islink('/prog') else None\n"


def verifier(**config: Any) -> CodeVerifier:
    return CodeVerifier(VerifierEnv(config={"docker_sandbox": {"image": IMAGE}, **config}))


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_the_chosen_backend_runs_the_tests(backend: str) -> None:
    # Only the docker image links /prog: the program can tell where it runs.
    request = RewardRequest(
        verifier="code", response=WHOAMI, reference=REFERENCE, options={"backend": backend}
    )
    result = verifier().verify(request)
    assert result.status == "ok"
    assert result.reward == (1.0 if backend == "docker" else 0.0), result


def test_unknown_backend_is_invalid(verifier_engine: Callable[..., EngineHarness]) -> None:
    engine = verifier_engine(CodeVerifier, env=VerifierEnv())
    item = {"verifier": "code", "response": RIGHT, "reference": REFERENCE}
    [result] = engine.score([{**item, "options": {"backend": "vm"}}])
    assert result.status == "invalid"
    assert "available: bwrap, docker" in (result.error or "")


def test_a_configured_backend_that_is_down_is_an_error(
    verifier_engine: Callable[..., EngineHarness],
) -> None:
    config = {"sandbox_backend": "docker", "docker_sandbox": {"image": "rg/none:never"}}
    engine = verifier_engine(CodeVerifier, env=VerifierEnv(config=config))
    item = {"verifier": "code", "response": RIGHT, "reference": REFERENCE}
    down, on_bwrap = engine.score([item, {**item, "options": {"backend": "bwrap"}}])
    assert (down.status, down.reward) == ("error", 0.0), down
    assert "rg/none:never" in (down.error or "")
    assert (on_bwrap.status, on_bwrap.reward) == ("ok", 1.0), on_bwrap
    health = CodeVerifier(VerifierEnv(config=config)).health()
    assert health["bwrap"] == "ok" and health["docker"] == "ok"
    assert "missing" in health["docker_image"]
