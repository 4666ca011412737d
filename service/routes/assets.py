"""Content-addressed uploads: `POST /v1/assets`, `HEAD`/`GET /v1/assets/{sha256}`.

With a shared object store (`asset_s3_bucket`) these calls reach it: an upload is
stored there, HEAD asks it, and GET on a replica that has not cached the asset fetches
it (checking its SHA-256). Those calls block, so they run in a thread, off the event loop.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from rewardgate.verifiers.assets import AssetStore

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/assets", summary="Upload a file (the body); answers its SHA-256")
async def upload(request: Request) -> dict[str, object]:
    store: AssetStore = request.app.state.assets
    with store.writer() as writer:
        async for chunk in request.stream():
            writer.write(chunk)
        sha = await anyio.to_thread.run_sync(writer.commit)
        return {"sha256": sha, "size": writer.size}


@router.head("/v1/assets/{sha256}", summary="Whether the server has an asset")
async def exists(sha256: str, request: Request) -> Response:
    store: AssetStore = request.app.state.assets
    size = await anyio.to_thread.run_sync(store.size, sha256)
    return Response(headers={"content-length": str(size)})


@router.get("/v1/assets/{sha256}", summary="Download an asset")
async def download(sha256: str, request: Request) -> FileResponse:
    store: AssetStore = request.app.state.assets
    path = await anyio.to_thread.run_sync(store.path, sha256)
    return FileResponse(path, media_type="application/octet-stream")
