"""`create_app(settings)`: the FastAPI app, built from arguments, no globals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from rewardgate import __version__
from rewardgate.service.asset_store_s3 import asset_store
from rewardgate.service.engine import Engine
from rewardgate.service.errors import install_error_handlers
from rewardgate.service.heap import serving_heap
from rewardgate.service.metrics import Metrics
from rewardgate.service.middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    JsonOnlyMiddleware,
    RequestContextMiddleware,
)
from rewardgate.service.openapi import install_openapi
from rewardgate.service.ring import recent_results
from rewardgate.service.routes import (
    assets,
    openrlhf,
    probes,
    rewards,
    sandbox_fusion,
    sessions,
    ui,
    verltool,
)
from rewardgate.service.settings import Settings
from rewardgate.service.verifier_settings import check_registry, verifier_env
from rewardgate.verifiers.registry import Registry

__all__ = ["create_app", "verifier_env"]

log = logging.getLogger("rewardgate.http")


def create_app(
    settings: Settings | None = None,
    registry: Registry | None = None,
    *,
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the service. `registry` defaults to every installed verifier.

    The worker pool starts in the app's lifespan and stops there, after uvicorn has
    drained in-flight requests on SIGTERM.

    `freeze_heap` is for a process that serves this app and nothing else (`rewardgate
    serve`, a Ray Serve replica): once the engine is warm, its collector is set up for
    serving (service/heap.py).
    """
    settings = settings or Settings()
    registry = registry or Registry.from_entry_points(env=verifier_env(settings))
    check_registry(settings, registry)
    metrics = Metrics()
    engine = Engine.from_settings(settings, registry, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _log_start(settings)
        await anyio.to_thread.run_sync(engine.start)
        if freeze_heap:
            serving_heap()
        try:
            yield
        finally:
            # Tool sessions end with the server (their processes and cgroups go), not
            # at interpreter exit, which a worker-managed uvicorn may never reach.
            sessions = getattr(app.state, "sessions", None)
            if sessions is not None:
                await anyio.to_thread.run_sync(sessions.close)
            await anyio.to_thread.run_sync(engine.close)

    app = FastAPI(
        title="rewardgate",
        version=__version__,
        description="Verifiable rewards for RL training.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.assets = asset_store(settings)
    app.state.recent = recent_results(settings, engine)
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(rewards.router)
    app.include_router(assets.router)
    app.include_router(probes.router)
    app.include_router(openrlhf.router)
    app.include_router(sandbox_fusion.router)
    app.include_router(ui.router)
    app.include_router(sessions.router)
    app.include_router(verltool.router)
    # Added last runs first: ids and logs wrap auth, auth wraps the media-type check,
    # which wraps the size limit.
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, exempt_prefixes=("/v1/assets",)
    )
    app.add_middleware(JsonOnlyMiddleware)
    app.add_middleware(AuthMiddleware, api_keys=settings.api_keys)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def _log_start(settings: Settings) -> None:
    """Say at start whether the API is guarded: an open one should be a choice."""
    if settings.api_keys:
        log.info(
            "auth on: %d API key(s) guard every endpoint but the probes", len(settings.api_keys)
        )
    else:
        log.warning("auth OFF: no REWARDGATE_API_KEYS; anyone who reaches this port may use it")
    for line in settings.deprecation_warnings():
        log.warning(line)
    cap = settings.run_memory_cap_mb()
    if cap < settings.max_run_memory_mb:
        log.warning(
            "sandboxed runs capped at %d MB each (not max_run_memory_mb=%d) so that %d "
            "concurrent runs fit in the memory budget",
            cap,
            settings.max_run_memory_mb,
            2 * settings.workers,
        )
