"""ASGI middleware: request ids and timing, bearer-token auth, request-size limits.

Written as plain ASGI (not BaseHTTPMiddleware) so streaming responses and client
disconnects pass through untouched.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardgate.service.errors import error_response
from rewardgate.service.logs import request_id_var
from rewardgate.service.metrics import Metrics
from rewardgate.verifiers.errors import PayloadTooLarge

__all__ = ["AuthMiddleware", "BodyLimitMiddleware", "RequestContextMiddleware"]

log = logging.getLogger("rewardgate.http")

# Probes stay open so orchestrators can check a server whose keys they do not hold.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


class RequestContextMiddleware:
    """Gives each request an id (or keeps the caller's X-Request-ID), logs and counts it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Anything the handlers did not translate: log it in full, tell the client
            # only the id to quote. Caught here, inside the id's context, not outermost.
            log.exception("unhandled error")
            if started:
                raise
            response = error_response(
                500,
                "internal",
                f"internal error; the server log has it under request id {request_id}",
            )
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(label, str(status)).inc()
            self.metrics.request_seconds.labels(label).observe(elapsed)
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"status": status, "ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


class AuthMiddleware:
    """Bearer-token auth on every path but the health probes; off when no keys are set."""

    def __init__(self, app: ASGIApp, api_keys: Iterable[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in api_keys]

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    return False
                token = token.strip()
                return any(hmac.compare_digest(token, key) for key in self.keys)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.keys
            or scope["path"] in PUBLIC_PATHS
            or self._authorized(scope)
        ):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413: by Content-Length up front, else while read.

    Asset uploads get their own, larger limit, enforced by the asset writer.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = error_response(
                    413, "payload_too_large", f"request body exceeds {self.max_bytes} bytes"
                )
                await response(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge(f"request body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)
