"""Test helpers for verifier authors: run a verifier through the real engine.

Installed as a pytest plugin (entry point `pytest11`), so a plugin's test suite gets
the `verifier_engine` fixture with no import:

    def test_my_verifier(verifier_engine):
        engine = verifier_engine(MyVerifier)
        [result] = engine.score([{"verifier": "mine", "response": "42", "reference": "42"}])
        assert result.status == "ok" and result.reward == 1.0

The engine is the one the server runs: worker processes, deadlines, validation and
caching, so a verifier that passes here behaves the same behind HTTP.

The `conformance` fixture checks the full-reward, zero-reward and invalid requests a
verifier declares (`Verifier.conformance`) the same way for every verifier:

    def test_my_verifier_conforms(conformance):
        conformance(MyVerifier)

and `check_conformance(harness, cls)` does it on an engine of your own (the suite runs
it over every installed entry point, tests/test_conformance.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pytest

from rewardgate.contract.registry import ENTRY_POINT_GROUP
from rewardgate.verifiers.base import Verifier, VerifierEnv
from rewardgate.verifiers.models import RewardResult
from rewardgate.verifiers.registry import Registry

if TYPE_CHECKING:
    from rewardgate.service.engine import Engine

__all__ = [
    "EngineHarness",
    "check_conformance",
    "conformance",
    "installed_names",
    "start_engine",
    "verifier_engine",
]

TOLERANCE = 1e-6


class EngineHarness:
    """A started engine with a synchronous `score`, for tests."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._loop = asyncio.new_event_loop()

    def score(self, items: Sequence[dict[str, Any]]) -> list[RewardResult]:
        return self._loop.run_until_complete(self.engine.score(items))

    def close(self) -> None:
        self.engine.close()
        self._loop.close()


def start_engine(
    *verifiers: type[Verifier],
    env: VerifierEnv | None = None,
    include_installed: bool = False,
    **engine_options: Any,
) -> EngineHarness:
    """Start an engine judging with `verifiers` (plus the installed ones if asked)."""
    from rewardgate.service.cache import MemoryCache
    from rewardgate.service.engine import Engine

    if include_installed:
        registry = Registry.from_entry_points(verifiers, env=env)
    else:
        registry = Registry(verifiers, env=env)
    engine_options.setdefault("workers", 1)
    engine_options.setdefault("cache", MemoryCache(10_000))
    engine = Engine(registry, **engine_options)
    engine.start()
    return EngineHarness(engine)


@pytest.fixture
def verifier_engine() -> Iterator[Callable[..., EngineHarness]]:
    """Factory: `verifier_engine(MyVerifier, workers=2, timeout_s=5)`; closed after the test."""
    started: list[EngineHarness] = []

    def factory(*verifiers: type[Verifier], **options: Any) -> EngineHarness:
        harness = start_engine(*verifiers, **options)
        started.append(harness)
        return harness

    yield factory
    for harness in started:
        harness.close()


def installed_names() -> list[str]:
    """The names of the installed verifiers (entry points), sorted; nothing is imported."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def check_conformance(harness: EngineHarness, verifier: type[Verifier]) -> list[RewardResult]:
    """Score `verifier`'s declared cases on `harness`; AssertionError naming each one that
    did not get its verdict. Returns the three results (full, zero, invalid)."""
    cases = verifier.conformance
    assert cases is not None, (
        f"verifier {verifier.name!r} declares no conformance cases: set "
        "`conformance = Conformance(full=Case(...), zero=Case(...), invalid=Case(...))`"
    )
    name = verifier.name
    results = harness.score(
        [cases.full.item(name), cases.zero.item(name), cases.invalid.item(name)]
    )
    full, zero, invalid = results
    problems = []
    if full.status != "ok" or full.reward < cases.full_reward - TOLERANCE:
        problems.append(f"full: want ok >= {cases.full_reward}, got {_verdict(full)}")
    if zero.status != "ok" or zero.reward > cases.zero_reward + TOLERANCE:
        problems.append(f"zero: want ok <= {cases.zero_reward}, got {_verdict(zero)}")
    if invalid.status != "invalid":
        problems.append(f"invalid: want invalid, got {_verdict(invalid)}")
    assert not problems, f"verifier {name!r}: " + "; ".join(problems)
    return results


def _verdict(result: RewardResult) -> str:
    text = f"{result.status} {result.reward}"
    if result.error:
        text += f" ({result.error})"
    elif result.details:
        text += f" {str(result.details)[:300]}"
    return text


@pytest.fixture
def conformance(
    verifier_engine: Callable[..., EngineHarness],
) -> Callable[..., list[RewardResult]]:
    """Factory: `conformance(MyVerifier, env=...)` checks its declared cases on an engine
    with every installed verifier too (a composite calls its siblings); a verifier that
    is installed is judged as installed."""

    def check(verifier: type[Verifier], **options: Any) -> list[RewardResult]:
        extra = () if verifier.name in installed_names() else (verifier,)
        harness = verifier_engine(*extra, include_installed=True, **options)
        return check_conformance(harness, verifier)

    return check
