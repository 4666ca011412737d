"""Health probes and metrics: `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from rewardgate.service.engine import Engine
from rewardgate.service.errors import error_response
from rewardgate.service.metrics import Metrics

__all__ = ["router"]

router = APIRouter()


@router.get("/healthz", summary="The process can serve, or can heal itself to serve")
async def healthz(request: Request) -> Response:
    """503 only when the engine cannot heal by itself, so an orchestrator restarts it.

    A worker that died, a probe that failed once, a pool busy to the brim: the engine
    heals or waits those out, and restarting the process would lose its in-flight
    work, so they stay 200. Repeated failed liveness probes, or no worker startable
    for a while, are beyond healing.
    """
    engine: Engine = request.app.state.engine
    problem = engine.problem
    if problem is not None:
        return error_response(503, "unhealthy", problem)
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="The worker pool is up; the state of every verifier's tools")
async def readyz(request: Request) -> JSONResponse:
    """503 only when no item can be scored (the pool is down).

    A missing tool (bwrap, a compiler, a browser) breaks only the verifiers that need
    it: they answer `error` for their items while the rest keep scoring, so it is
    listed under `degraded` rather than taking the whole replica out of rotation.
    The tools are probed off the event loop with a timeout and re-probed once their
    answer is older than the engine's `health.refresh_s` (service/doctor.py), so a
    hung docker daemon is reported as such, never stalls this endpoint or the
    scoring beside it, and a backend that recovers is ready again.
    """
    engine: Engine = request.app.state.engine
    problem = engine.problem
    ready = engine.running and problem is None
    checks: dict[str, Any] = {"workers": "ok" if ready else problem or "worker pool is down"}
    checks.update(await engine.health.checks())
    degraded = sorted(name for name, state in checks.items() if state != "ok")
    body = {"ready": ready, "degraded": degraded, "checks": checks, "pool": engine.pool_state()}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
