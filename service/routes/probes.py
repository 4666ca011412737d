"""Health probes and metrics: `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from rewardgate.service.engine import Engine
from rewardgate.service.metrics import Metrics

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The worker pool is up; the state of every verifier's tools")
async def readyz(request: Request) -> JSONResponse:
    """503 only when no item can be scored (the pool is down).

    A missing tool (bwrap, a compiler, a browser) breaks only the verifiers that need
    it: they answer `error` for their items while the rest keep scoring, so it is
    listed under `degraded` rather than taking the whole replica out of rotation.
    """
    engine: Engine = request.app.state.engine
    checks: dict[str, Any] = {"workers": "ok" if engine.running else "worker pool is down"}
    for cls in engine.registry.classes():
        for tool, state in engine.registry.get(cls.name).health().items():
            checks[f"{cls.name}.{tool}"] = state
    degraded = sorted(name for name, state in checks.items() if state != "ok")
    body = {"ready": engine.running, "degraded": degraded, "checks": checks}
    return JSONResponse(body, status_code=200 if engine.running else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
