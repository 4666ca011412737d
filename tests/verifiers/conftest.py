"""Shared fixtures of the verifier tests: the web verifier on each sandbox backend (each
module brings its own bwrap `verifier` fixture; these add docker's beside it)."""

from __future__ import annotations

import pytest

from rewardgate.verifiers.base import SandboxEnv, VerifierEnv
from rewardgate.verifiers.web import WebVerifier


@pytest.fixture(scope="module")
def docker_verifier() -> WebVerifier:
    """The verifier of a server whose `sandbox_backend` is docker: Chromium in a
    container of the sandbox image."""
    return WebVerifier(VerifierEnv(sandbox=SandboxEnv(backend="docker")))


@pytest.fixture(params=["bwrap", "docker"])
def any_verifier(request: pytest.FixtureRequest) -> WebVerifier:
    """Each backend's verifier in turn (the module's `verifier` for bwrap)."""
    name = "verifier" if request.param == "bwrap" else "docker_verifier"
    found: WebVerifier = request.getfixturevalue(name)
    return found
