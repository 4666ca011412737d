"""Tool sessions over HTTP: create, run a cell, list files, end (`service/sessions.py`),
and SandboxFusion's `/run_jupyter` (a python session created and ended within the call).

The manager is this replica's, made on first use and kept on `app.state.sessions`,
with a reaper thread that ends idle and expired sessions. When API keys are set a
session belongs to the key that created it: another key gets 404 for it.
"""

from __future__ import annotations

import atexit
import base64
import threading
import time
from dataclasses import replace
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from rewardgate.contract.errors import InvalidRequest, SandboxError
from rewardgate.service.routes.fields import Utf8
from rewardgate.service.sessions import SessionManager, limits_from, owner_of
from rewardgate.service.sessions_forward import forward, peer_for

__all__ = ["router"]

router = APIRouter()
_made = threading.Lock()
REAP_EVERY_S = 1.0


class CreateSession(BaseModel):
    kernel: str = Field("python", description="`python` (state kept like a notebook) or `bash`.")
    files: dict[Utf8, Utf8] = Field({}, description="name -> text, or `asset:<sha256>`.")
    limits: dict[str, float] = Field({}, description="Lower the server's session limits.")


class RunCell(BaseModel):
    code: Utf8
    timeout_s: float | None = Field(None, gt=0, description="At most the session's limit.")


def _reap_forever(manager: SessionManager, stop: threading.Event) -> None:
    while not stop.wait(REAP_EVERY_S):
        manager.reap()


def manager_of(request: Request) -> SessionManager:
    """The app's session manager, made (and its reaper started) on first use."""
    state = request.app.state
    with _made:
        if getattr(state, "sessions", None) is None:
            store = getattr(state, "assets", None)
            manager = SessionManager.from_settings(
                state.settings, store.resolve if store is not None else None
            )
            stop = threading.Event()
            threading.Thread(
                target=_reap_forever, args=(manager, stop), name="rewardgate-sessions", daemon=True
            ).start()
            atexit.register(manager.close)
            atexit.register(stop.set)
            state.sessions = manager
    sessions: SessionManager = state.sessions
    return sessions


def owner_from_request(request: Request) -> str | None:
    if not request.app.state.settings.api_keys:
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return owner_of(token.strip()) if scheme.lower() == "bearer" else None


@router.post("/v1/sessions", status_code=201)
async def create(body: CreateSession, request: Request) -> dict[str, Any]:
    manager = manager_of(request)
    limits = limits_from(body.limits, manager.limits)
    session = await anyio.to_thread.run_sync(
        lambda: manager.create(body.kernel, body.files, limits, owner_from_request(request))
    )
    return session.describe()


async def _forwarded(session_id: str, request: Request) -> Response | None:
    """The owning peer's answer when another replica owns `session_id`."""
    settings = request.app.state.settings
    url = peer_for(settings, session_id, request.headers)
    if url is None:
        return None
    body = await request.body()
    timeout_s = settings.session_call_timeout_s + 30
    return await forward(url, request.method, request.url.path, request.headers, body, timeout_s)


@router.post("/v1/sessions/{session_id}/run", response_model=None)
async def run(session_id: str, body: RunCell, request: Request) -> dict[str, Any] | Response:
    if (forwarded := await _forwarded(session_id, request)) is not None:
        return forwarded
    manager = manager_of(request)
    owner = owner_from_request(request)
    return await anyio.to_thread.run_sync(
        lambda: manager.run(session_id, body.code, body.timeout_s, owner)
    )


@router.get("/v1/sessions/{session_id}", response_model=None)
async def describe(session_id: str, request: Request) -> dict[str, Any] | Response:
    if (forwarded := await _forwarded(session_id, request)) is not None:
        return forwarded
    manager = manager_of(request)
    owner = owner_from_request(request)
    session = manager.get(session_id, owner)
    files = await anyio.to_thread.run_sync(lambda: manager.files(session_id, owner))
    return {**session.describe(), "files": files}


@router.get("/v1/sessions/{session_id}/files", response_model=None)
async def files(session_id: str, request: Request) -> dict[str, Any] | Response:
    """The files of the session's work dir alone (the route DESIGN.md names)."""
    if (forwarded := await _forwarded(session_id, request)) is not None:
        return forwarded
    manager = manager_of(request)
    owner = owner_from_request(request)
    listed = await anyio.to_thread.run_sync(lambda: manager.files(session_id, owner))
    return {"files": listed}


@router.delete("/v1/sessions/{session_id}", status_code=204)
async def delete(session_id: str, request: Request) -> Response:
    if (forwarded := await _forwarded(session_id, request)) is not None:
        return forwarded
    manager = manager_of(request)
    owner = owner_from_request(request)
    await anyio.to_thread.run_sync(lambda: manager.delete(session_id, owner))
    return Response(status_code=204)


class RunJupyter(BaseModel):
    """SandboxFusion's `RunJupyterRequest`."""

    cells: list[Utf8]
    cell_timeout: float = Field(0, ge=0, description="Per cell (0: the total's remainder).")
    total_timeout: float = Field(45, gt=0)
    kernel: str = "python3"
    files: dict[Utf8, str | None] = Field({}, description="path -> base64 content.")
    fetch_files: list[Utf8] = []


def _jupyter_cell(answer: dict[str, Any]) -> dict[str, Any]:
    """One of our answers as SandboxFusion's `CellRunResult`."""
    display = [{"text/plain": answer["value"]}] if answer.get("value") is not None else []
    error = answer.get("error")
    errors = [{**error, "traceback": answer.get("stderr", "").splitlines()}] if error else []
    stderr = "" if error else answer.get("stderr", "")
    return {
        "stdout": answer.get("stdout", ""),
        "stderr": stderr,
        "display": display,
        "error": errors,
    }


def _run_jupyter(manager: SessionManager, body: RunJupyter, owner: str | None) -> dict[str, Any]:
    """Create a python session, run the cells in order, fetch the files, end it."""
    try:
        files = {
            name: base64.b64decode(data or "", validate=True) for name, data in body.files.items()
        }
    except ValueError as exc:  # binascii.Error, or text that is not even ASCII
        raise InvalidRequest(f"files: not base64: {exc}") from exc
    total = min(body.total_timeout, manager.limits.lifetime_s)
    limits = replace(manager.limits, lifetime_s=total, idle_s=total)
    started = time.monotonic()
    try:
        session = manager.create("python", files, limits, owner)
    except SandboxError as exc:
        return {"status": "SandboxError", "message": str(exc), "cells": [], "files": {}}
    cells: list[dict[str, Any]] = []
    driver_status = "Finished"
    try:
        for code in body.cells:
            left = total - (time.monotonic() - started)
            limit = min(body.cell_timeout or left, left)
            if limit <= 0:
                driver_status = "TimeLimitExceeded"
                break
            answer = manager.run(session.id, code, limit, owner)
            if answer["status"] in ("timeout", "ended"):
                timed_out = answer["status"] == "timeout" or "timeout" in answer.get("ended", "")
                driver_status = "TimeLimitExceeded" if timed_out else "Error"
                cells.append(_jupyter_cell(answer))
                break
            cells.append(_jupyter_cell(answer))
        fetched: dict[str, str | None] = {}
        if body.fetch_files and session.ended is None:
            fetched = manager.read(session.id, body.fetch_files, owner)
    finally:
        if session.ended is None:
            manager.delete(session.id, owner)
    elapsed = time.monotonic() - started
    return {
        "status": "Success" if driver_status == "Finished" else "Failed",
        "message": "" if driver_status == "Finished" else f"the notebook ended: {driver_status}",
        "driver": {"status": driver_status, "execution_time": round(elapsed, 3)},
        "cells": cells,
        "files": {name: data for name, data in fetched.items() if data is not None},
    }


@router.post("/run_jupyter")
async def run_jupyter(body: RunJupyter, request: Request) -> dict[str, Any]:
    """SandboxFusion's `run_jupyter`: a session created and ended within the call."""
    if body.kernel != "python3":
        raise InvalidRequest(f"kernel {body.kernel!r}: SandboxFusion's run_jupyter has python3")
    manager = manager_of(request)
    owner = owner_from_request(request)
    return await anyio.to_thread.run_sync(lambda: _run_jupyter(manager, body, owner))
