"""The OpenAPI document, made to say what the server does.

FastAPI's generated spec documents a 422 the service never sends (validation errors
are answered 400 in the envelope), leaves out the 400/401/413/415/429/503 answers
that the routes and middleware do send, and calls `/metrics` JSON. Clients generated
from the spec, and fuzzers that check answers against it (schemathesis), need the
truth; it is written here once, per route, next to the envelope's schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["ERROR_RESPONSES", "install_openapi"]

ENVELOPE = {
    "title": "ErrorEnvelope",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}

ERROR_RESPONSES: dict[int, str] = {
    400: "Malformed request (bad JSON, parameters or batch shape)",
    401: "Missing or invalid bearer token (when the server has API keys)",
    404: "No such asset, or no live session of this key",
    413: "Body or batch over the server's limits",
    415: "Body is not application/json",
    429: "Overloaded; retry after `Retry-After` seconds",
    501: "A SandboxFusion route rewardgate does not serve",
    502: "The replica owning the session did not answer",
    503: "Not ready, or shutting down; retry after `Retry-After` seconds",
    504: "The run could not start within its own time budget; retry",
    507: "The asset store is full",
}
_SCORING = (400, 401, 413, 415, 429, 503)
# (path, method) -> the error statuses that operation can answer.
_ROUTE_ERRORS: dict[tuple[str, str], tuple[int, ...]] = {
    ("/v1/rewards", "post"): _SCORING,
    ("/get_reward", "post"): _SCORING,
    ("/run_code", "post"): (*_SCORING, 504),
    ("/v1/verifiers", "get"): (401, 503),
    ("/v1/assets", "post"): (400, 401, 413, 503, 507),
    ("/v1/assets/{sha256}", "get"): (400, 401, 404, 503),
    ("/v1/assets/{sha256}", "head"): (400, 401, 404, 503),
    ("/healthz", "get"): (503,),
    ("/readyz", "get"): (503,),
    ("/metrics", "get"): (401, 503),
    # Tool sessions (service/routes/sessions.py, verltool.py)
    ("/v1/sessions", "post"): _SCORING,
    ("/v1/sessions/{session_id}/run", "post"): (400, 401, 404, 413, 415, 502, 503),
    ("/v1/sessions/{session_id}", "get"): (400, 401, 404, 502, 503),
    ("/v1/sessions/{session_id}/files", "get"): (400, 401, 404, 502, 503),
    ("/v1/sessions/{session_id}", "delete"): (400, 401, 404, 502, 503),
    ("/run_jupyter", "post"): _SCORING,
    ("/get_observation", "post"): _SCORING,
}
_NO_BODY_METHODS = frozenset({"head"})


def _document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["ErrorEnvelope"] = ENVELOPE
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _ROUTE_ERRORS.get((path, method), (400, 401, 503)):
                answer: dict[str, Any] = {"description": ERROR_RESPONSES[status]}
                if method not in _NO_BODY_METHODS:
                    answer["content"] = {"application/json": {"schema": _REF}}
                responses[str(status)] = answer
    metrics = spec.get("paths", {}).get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    for path, method in (("/v1/assets/{sha256}", "head"),):
        head = spec.get("paths", {}).get(path, {}).get(method)
        if head is not None:
            head["responses"]["200"] = {
                "description": "The asset exists (Content-Length: its size)"
            }
    upload = spec.get("paths", {}).get("/v1/assets", {}).get("post")
    if upload is not None:
        upload["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    return spec


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
