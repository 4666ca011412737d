"""`POST /v1/rewards` and `GET /v1/verifiers`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, TypeAdapter
from starlette.responses import Response, StreamingResponse

from rewardgate.service.engine import Engine
from rewardgate.service.session_rewards import resolve_session_items
from rewardgate.service.settings import Settings
from rewardgate.verifiers.errors import InvalidRequest, PayloadTooLarge
from rewardgate.verifiers.models import RewardRequest, RewardResult

__all__ = ["router"]

log = logging.getLogger("rewardgate.http")
router = APIRouter()

NDJSON = "application/x-ndjson"


class RewardBatchResponse(BaseModel):
    results: list[RewardResult]


# The results serialised in one call (the same bytes as each result's own JSON, joined).
_RESULTS = TypeAdapter(list[RewardResult])


# Each item should be a RewardRequest, but the batch takes any JSON value as an item
# and answers a malformed one with its own `invalid` result (never a 400 for the batch),
# so the document says both: the shape to send, and that anything is accepted.
_BATCH_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "anyOf": [
                    RewardRequest.model_json_schema(),
                    {"description": "anything else: that item's result is `invalid`"},
                ]
            },
        }
    },
}


def _items_of(body: bytes, settings: Settings) -> list[Any]:
    """The batch's items, validated only as far as the batch itself.

    Each item is validated on its own by the engine, so one malformed item becomes an
    `invalid` result and the rest of the batch still scores.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"body is not JSON: {exc}") from None
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise InvalidRequest('body must be a JSON object {"items": [...]}')
    if len(items) > settings.max_items_per_request:
        raise PayloadTooLarge(
            f"{len(items)} items; at most {settings.max_items_per_request} per request"
        )
    return items


async def _disconnected(request: Request) -> None:
    """Returns when the client goes away (the body has already been read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _log_failures(results: list[tuple[int, RewardResult]]) -> None:
    for index, result in results:
        if result.status != "ok":
            log.warning(
                "item %d %s: %s",
                index,
                result.status,
                result.error,
                extra={"item_index": index, "item_id": result.id, "verifier": result.verifier},
            )


@router.post(
    "/v1/rewards",
    response_model=RewardBatchResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
    summary="Score a batch of model outputs",
    description=(
        "Results come back in request order. With `Accept: application/x-ndjson` they "
        "stream as they complete, one RewardResult plus `index` a line."
    ),
)
async def score(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    items = _items_of(await request.body(), request.app.state.settings)
    # Items naming a live session: read here, where the session lives (or forwarded).
    sessions = await resolve_session_items(items, request)
    if sessions is not None:
        items = sessions.items
    if NDJSON in request.headers.get("accept", ""):
        stream = await engine.open_stream(items)
        if sessions is not None:
            stream = sessions.stream(stream)

        async def lines() -> Any:
            async for index, result in stream:
                _log_failures([(index, result)])
                line = result.model_dump(mode="json")
                line["index"] = index
                yield orjson.dumps(line) + b"\n"

        return StreamingResponse(lines(), media_type=NDJSON)

    scoring = asyncio.ensure_future(engine.score(items))
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({scoring, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not scoring.done():
        scoring.cancel()
        log.info("client disconnected; cancelled %d items", len(items))
        return Response(status_code=499)
    results = scoring.result()
    if sessions is not None:
        results = sessions.merge(results)
    _log_failures(list(enumerate(results)))
    body = b'{"results":' + _RESULTS.dump_json(results) + b"}"
    return Response(body, media_type="application/json")


@router.get("/v1/verifiers", summary="List verifiers with their reference and options schemas")
async def verifiers(request: Request) -> dict[str, Any]:
    engine: Engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    # The first fingerprint of a verifier asks dpkg or docker: off the event loop.
    fingerprints = await asyncio.to_thread(engine.registry.fingerprints)
    return {
        "verifiers": [
            {
                "name": cls.name,
                "version": cls.version,
                "fingerprint": fingerprints[cls.name],
                "description": cls.description,
                "reference_schema": cls.Reference.model_json_schema(),
                "options_schema": cls.Options.model_json_schema(),
                "settings_schema": cls.Settings.model_json_schema(),
            }
            for cls in engine.registry.classes()
        ],
        "limits": {
            "max_items_per_request": settings.max_items_per_request,
            "max_body_bytes": settings.max_body_bytes,
            "max_asset_bytes": settings.max_asset_bytes,
            "max_run_memory_mb": settings.run_memory_cap_mb(),
        },
    }
