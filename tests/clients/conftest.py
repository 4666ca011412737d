"""In-process apps for the client tests: the real app, its engine started, no server.

`httpx.ASGITransport` does not run an app's lifespan, so the factory enters it here;
the engine's workers start with it and stop when the test ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.service.probes import PROBES

AppFactory = Callable[..., Awaitable[FastAPI]]


@pytest.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """`await make_app(max_items_per_request=4)`: the real app with the probe verifiers."""
    async with contextlib.AsyncExitStack() as stack:

        async def factory(**overrides: Any) -> FastAPI:
            overrides.setdefault("workers", 1)
            overrides.setdefault("asset_dir", tmp_path / "assets")
            settings = Settings(**overrides)
            app = create_app(settings, Registry(PROBES, env=verifier_env(settings)))
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        yield factory
