"""The resource markers follow what a test uses, and the run ends with the timing table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# These tests write "docker" everywhere but need nothing (tests/markers.py).
USES_RESOURCES = ()

# The repository's two hooks, in a small suite of its own.
CONFTEST = """
import pytest
from tests import markers
from tests.timing import TimingSummary

def pytest_configure(config):
    markers.register(config)
    config.pluginmanager.register(TimingSummary(), "rewardgate-timing")

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    markers.apply(items)

@pytest.fixture
def docker_backend():
    return "a daemon"

@pytest.fixture(params=["bwrap", "docker"])
def any_backend(request):
    return request.param
"""

SUITE = """
import pytest

@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_param(backend):
    pass

def test_fixture(docker_backend):
    pass

def test_through_a_fixture_param(any_backend):
    pass

def test_literal():
    config = {"sandbox_backend": "docker"}
    assert config

@pytest.mark.parametrize("kind", ["bwrap", "docker"])
def test_literal_but_parametrized(kind):
    assert kind in ("bwrap", "docker")

def test_reads_the_docker_socket():
    pass

@pytest.mark.slow
def test_plain():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def selected(pytester: pytest.Pytester, expression: str) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q", "-m", expression, "--strict-markers")
    return sorted(line.split("::", 1)[1] for line in result.outlines if "::" in line)


def test_docker_is_what_a_test_uses(suite: pytest.Pytester) -> None:
    assert selected(suite, "docker") == [
        "test_fixture",
        "test_literal",
        "test_literal_but_parametrized[docker]",
        "test_param[docker]",
        "test_reads_the_docker_socket",
        "test_through_a_fixture_param[docker]",
    ]
    assert selected(suite, "not docker") == [
        "test_literal_but_parametrized[bwrap]",
        "test_param[bwrap]",
        "test_plain",
        "test_through_a_fixture_param[bwrap]",
    ]


def test_the_run_ends_with_time_by_group(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)
    start = next(i for i, line in enumerate(result.outlines) if "time by group" in line)
    table = result.outlines[start:]
    rows = {line.split()[0]: line.split()[1] for line in table[2:] if line and line[0].isalpha()}
    assert {k: rows[k] for k in ("docker", "slow", "other", "total")} == {
        "docker": "6",
        "slow": "1",
        "other": "3",
        "total": "10",
    }


def test_the_suites_modules_carry_their_resource() -> None:
    """On the real suite: whole modules (cad), and bwrap cases stay out of `docker`."""
    code = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    files = ["tests/verifiers/test_cad_backends.py", "tests/sandbox/test_seccomp.py"]
    out = subprocess.run(
        [*code, "-m", "not cad and docker", *files], cwd=ROOT, capture_output=True, text=True
    ).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    assert ids and all("test_seccomp.py::" in i and "docker" in i for i in ids), out
