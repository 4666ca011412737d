"""The one error envelope: every non-2xx body is `{"error": {"code", "message"}}`.

Handlers translate the error tree, Starlette's HTTP errors and request validation
errors. Anything else is caught by `RequestContextMiddleware`, logged with its
traceback under the request id and answered with a generic 500, so no stack trace
ever reaches a client.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rewardgate.verifiers.errors import Overloaded, RewardgateError, Unauthorized

__all__ = ["error_response", "install_error_handlers"]

log = logging.getLogger("rewardgate.http")

_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "overloaded",
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def response_for(exc: RewardgateError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(exc.http_status, exc.code, exc.message, headers)


async def _rewardgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RewardgateError)
    if exc.http_status >= 500:
        log.error("request failed: %s", exc.message)
    return response_for(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
        for err in exc.errors()
    ]
    return error_response(400, "invalid_request", "; ".join(parts))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RewardgateError, _rewardgate_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
