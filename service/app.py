"""`create_app(settings)`: the FastAPI app, built from arguments, no globals."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from rewardgate import __version__
from rewardgate.service.engine import Engine
from rewardgate.service.errors import install_error_handlers
from rewardgate.service.metrics import Metrics
from rewardgate.service.middleware import (
    AuthMiddleware,
    BodyLimitMiddleware,
    JsonOnlyMiddleware,
    RequestContextMiddleware,
)
from rewardgate.service.openapi import install_openapi
from rewardgate.service.routes import assets, openrlhf, probes, rewards, sandbox_fusion
from rewardgate.service.settings import Settings
from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.registry import Registry

__all__ = ["create_app", "verifier_env"]

log = logging.getLogger("rewardgate.http")


def verifier_env(settings: Settings) -> VerifierEnv:
    """What verifiers may know of this server; secrets named by settings are read here."""
    judge_endpoints = {
        name: endpoint.model_copy(
            update={
                "api_key": os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
            }
        )
        for name, endpoint in settings.judge_endpoints.items()
    }
    return VerifierEnv(
        asset_dir=settings.asset_dir,
        config={
            "reward_specs": settings.reward_specs,
            "judge_endpoints": judge_endpoints,
            "length_tokenizer": settings.length_tokenizer,
            "cad_runtime": settings.cad_runtime,
            "sql_db_dir": settings.sql_db_dir,
            "sql_postgres": dict(settings.sql_postgres),
            "sandbox_backend": settings.sandbox_backend,
            "docker_sandbox": {
                "image": settings.docker_image,
                "pool_size": settings.docker_pool_size,
            },
            "svg_max_elements": settings.svg_max_elements,
            "svg_max_canvas_px": settings.svg_max_canvas_px,
            "web_chromium": settings.web_chromium,
            "image_perceptual": settings.image_perceptual,
            "max_run_memory_mb": settings.run_memory_cap_mb(),
        },
    )


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> FastAPI:
    """Build the service. `registry` defaults to every installed verifier.

    The worker pool starts in the app's lifespan and stops there, after uvicorn has
    drained in-flight requests on SIGTERM.
    """
    settings = settings or Settings()
    registry = registry or Registry.from_entry_points(env=verifier_env(settings))
    metrics = Metrics()
    engine = Engine.from_settings(settings, registry, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _log_start(settings)
        await anyio.to_thread.run_sync(engine.start)
        try:
            yield
        finally:
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
    app.state.assets = AssetStore(
        settings.asset_dir, settings.max_asset_bytes, settings.max_asset_store_bytes
    )
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(rewards.router)
    app.include_router(assets.router)
    app.include_router(probes.router)
    app.include_router(openrlhf.router)
    app.include_router(sandbox_fusion.router)
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
    cap = settings.run_memory_cap_mb()
    if cap < settings.max_run_memory_mb:
        log.warning(
            "sandboxed runs capped at %d MB each (not max_run_memory_mb=%d) so that %d "
            "concurrent runs fit in the memory budget",
            cap,
            settings.max_run_memory_mb,
            2 * settings.workers,
        )
