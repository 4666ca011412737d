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


@router.get("/readyz", summary="Worker pool and every verifier's tools are up")
async def readyz(request: Request) -> JSONResponse:
    engine: Engine = request.app.state.engine
    checks: dict[str, Any] = {"workers": "ok" if engine.running else "worker pool is down"}
    for cls in engine.registry.classes():
        for tool, state in engine.registry.get(cls.name).health().items():
            checks[f"{cls.name}.{tool}"] = state
    ready = all(state == "ok" for state in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
