"""Test helpers for verifier authors: run a verifier through the real engine.

Installed as a pytest plugin (entry point `pytest11`), so a plugin's test suite gets
the `verifier_engine` fixture with no import:

    def test_my_verifier(verifier_engine):
        engine = verifier_engine(MyVerifier)
        [result] = engine.score([{"verifier": "mine", "response": "42", "reference": "42"}])
        assert result.status == "ok" and result.reward == 1.0

The engine is the one the server runs: worker processes, deadlines, validation and
caching, so a verifier that passes here behaves the same behind HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from rewardgate.verifiers.base import Verifier, VerifierEnv
from rewardgate.verifiers.models import RewardResult
from rewardgate.verifiers.registry import Registry

if TYPE_CHECKING:
    from rewardgate.service.engine import Engine

__all__ = ["EngineHarness", "verifier_engine"]


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
