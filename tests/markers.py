"""Markers from what a test uses, so `-m "not docker"` needs no list of test ids.

A test is marked with each resource it needs: the fixtures it requests (directly or
through other fixtures), the values it is parametrized with (a `backend` of "docker"),
its name ("docker" in it) and its module (every test of tests/verifiers/test_cad*.py
needs the CAD runtime). Markers written by hand (`@pytest.mark.slow`) stay. `make check`
deselects the resource markers; `make test` runs everything.

Under pytest-xdist, tests that share something exclusive get one `xdist_group` (and so
one worker, with `--dist loadgroup`): see GROUPS.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Resource:
    """How to tell that a test needs one resource."""

    doc: str
    fixtures: frozenset[str] = frozenset()
    # A parametrized value (or a fixture's param) equal to one of these.
    params: frozenset[str] = frozenset()
    # A word in the test's name (the function, without its parameters).
    names: tuple[str, ...] = ()
    # A string constant in the test function's body (`sandbox_backend="docker"`), unless
    # the test is parametrized over one of `params` or `others` (then that decides: the
    # bwrap case of a test that compares with "docker" does not need docker).
    literals: frozenset[str] = frozenset()
    others: frozenset[str] = frozenset()
    # Test files whose every test needs it: patterns of the path under tests/, where `*`
    # crosses folders.
    modules: tuple[str, ...] = field(default=())
    # Names whose import into a test module means its every test needs it.
    imports: frozenset[str] = frozenset()


RESOURCES: dict[str, Resource] = {
    "docker": Resource(
        "needs dockerd and the sandbox image (scripts/docker-images.sh)",
        fixtures=frozenset({"docker_backend"}),
        params=frozenset({"docker"}),
        names=("docker",),
        literals=frozenset({"docker"}),
        others=frozenset({"bwrap"}),
        modules=("sandbox/test_docker.py", "test_compose.py"),
    ),
    "postgres": Resource(
        "needs the PostgreSQL server with Chinook (scripts/postgres.sh)",
        fixtures=frozenset({"postgres_dsn"}),
        modules=("verifiers/test_sql_postgres.py",),
    ),
    "chromium": Resource(
        "drives Debian's Chromium through Playwright (the web verifier)",
        modules=("verifiers/test_web.py", "verifiers/test_web_hostile.py"),
        imports=frozenset({"WebVerifier"}),
    ),
    "cad": Resource(
        "runs CadQuery scripts in the sandbox (scripts/install-cad.sh)",
        modules=("verifiers/test_cad*.py",),
    ),
    "ray": Resource(
        "starts a Ray cluster",
        fixtures=frozenset({"ray_cluster"}),
        modules=("ray/*", "test_ray*.py", "*/test_ray*.py"),
    ),
}

SLOW = "slow: takes more than a few seconds (still runs in CI)"
# `slow` is also what a test costs, not only what it needs: a real server process warms
# every installed verifier up first (tests/conftest.py `serving`), the compose gateway
# starts two images. `make check` keeps these; `-m "not slow"` leaves them out.
SLOW_WHEN = Resource(SLOW, fixtures=frozenset({"live_server", "server", "gateway"}))

# Tests that must not run at the same time as each other, by xdist group: each group
# runs on one worker, in collection order. (Most resources are shared safely: the
# PostgreSQL role is read-only, docker containers and sandboxes are per process, ports
# come from the kernel.)
GROUPS: dict[str, tuple[str, ...]] = {
    # docker-compose up/down of the whole deployment: the heaviest thing the suite does;
    # alone on its worker so it never competes with itself for the two cores.
    "compose": ("test_compose.py",),
}


def register(config: pytest.Config) -> None:
    """Declare the markers (the suite runs with --strict-markers)."""
    for name, resource in RESOURCES.items():
        config.addinivalue_line("markers", f"{name}: {resource.doc}")
    config.addinivalue_line("markers", SLOW)


def _fixture_params(item: pytest.Item) -> list[object]:
    callspec = getattr(item, "callspec", None)
    return list(callspec.params.values()) if callspec is not None else []


def _module(item: pytest.Item) -> str:
    """The test's file under tests/, as `verifiers/test_cad.py`."""
    path = Path(str(item.path))
    return (path.relative_to(TESTS) if path.is_relative_to(TESTS) else path).as_posix()


@functools.cache
def _constants(function: Callable[..., object]) -> frozenset[str]:
    """The string constants of a test function's source (empty when it has none)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return frozenset()
    return frozenset(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def needs(item: pytest.Item, resource: Resource) -> bool:
    """Whether `item` needs `resource`, from its fixtures, parameters, name or module.

    A test module that names resources for other reasons (tests/test_markers.py) says
    what it needs itself: `USES_RESOURCES = ()`.
    """
    declared = getattr(getattr(item, "module", None), "USES_RESOURCES", None)
    if declared is not None:
        return any(RESOURCES.get(name) is resource for name in declared)
    if any(fnmatchcase(_module(item), pattern) for pattern in resource.modules):
        return True
    if resource.imports & set(vars(getattr(item, "module", None) or object)):
        return True
    if resource.fixtures & set(getattr(item, "fixturenames", ())):
        return True
    values = {v for v in _fixture_params(item) if isinstance(v, str)}
    if values & resource.params:
        return True
    name = getattr(item, "originalname", item.name)
    if any(word in name.split("_") for word in resource.names):
        return True
    function = getattr(item, "function", None)
    if not resource.literals or function is None or values & resource.others:
        return False
    return bool(resource.literals & _constants(function))


def group_of(item: pytest.Item) -> str | None:
    for group, patterns in GROUPS.items():
        if any(fnmatchcase(_module(item), pattern) for pattern in patterns):
            return group
    return None


# The groups of the timing table (tests/timing.py), carried in each test's report.
TIMED = (*RESOURCES, "slow")
TIMED_PROPERTY = "rewardgate_groups"


def apply(items: list[pytest.Item]) -> None:
    """Add the resource markers and xdist groups to the collected tests.

    The test's timing groups also go into its `user_properties`, which reach the xdist
    controller's reports (its keywords there also hold parameter ids, such as "cad").
    """
    for item in items:
        for name, resource in RESOURCES.items():
            if needs(item, resource):
                item.add_marker(name)
        if item.get_closest_marker("slow") is None and needs(item, SLOW_WHEN):
            item.add_marker("slow")
        timed = [name for name in TIMED if item.get_closest_marker(name) is not None]
        item.user_properties.append((TIMED_PROPERTY, ",".join(timed)))
        group = group_of(item)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
