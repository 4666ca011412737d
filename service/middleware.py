"""ASGI middleware: request ids and timing, bearer-token auth, request-size limits,
JSON-only bodies.

Written as plain ASGI (not BaseHTTPMiddleware) so streaming responses and client
disconnects pass through untouched.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rewardgate.service.errors import error_response
from rewardgate.service.logs import request_id_var
from rewardgate.service.metrics import Metrics

__all__ = [
    "JSON_ONLY_PATHS",
    "UI_COOKIE",
    "AuthMiddleware",
    "BodyLimitMiddleware",
    "JsonOnlyMiddleware",
    "RequestContextMiddleware",
    "ui_token",
]

log = logging.getLogger("rewardgate.http")

# Probes stay open so orchestrators can check a server whose keys they do not hold.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
# The endpoints that take a JSON body: a browser may send any page's form or text to
# them without asking (a "simple" cross-site request), but never application/json.
JSON_ONLY_PATHS = frozenset({"/v1/rewards", "/get_reward", "/run_code"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


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
        status = 499  # what the log and metrics say if the client left before an answer
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
        except asyncio.CancelledError:
            # Under uvicorn only the server cancels a request's task: its graceful
            # shutdown ran out of time. Say so in the envelope, retriable, instead of
            # uvicorn's plain 500, then let the cancellation go on (an in-process caller
            # that cancelled its own request must still see it cancelled).
            log.warning("request cut short (the server's shutdown ran out of time)")
            if not started:
                response = error_response(
                    503,
                    "shutting_down",
                    "the server shut down before this request finished; retry it",
                    {"Retry-After": "1", "Connection": "close"},
                )
                await response(scope, receive, send_with_id)
            raise
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


UI_COOKIE = "rewardgate_ui"
UI_PREFIX = "/ui"
# The login form itself and its stylesheet must be reachable without a key.
UI_PUBLIC_PATHS = frozenset({"/ui/login", "/ui/static/ui.css"})


def ui_token(key: bytes) -> bytes:
    """The /ui cookie for an API key: a digest of it, so the cookie never holds the key."""
    return hmac.new(key, b"rewardgate /ui session", "sha256").hexdigest().encode()


def _cookie(scope: Scope, name: str) -> bytes | None:
    for header, value in scope["headers"]:
        if header == b"cookie":
            for part in value.split(b";"):
                key, _, found = part.strip().partition(b"=")
                if key == name.encode():
                    return found
    return None


def _is_ui(path: str) -> bool:
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


class AuthMiddleware:
    """Bearer-token auth on every path but the health probes; off when no keys are set.

    A browser cannot send a bearer header when it navigates, so under /ui (only) the
    login form's HttpOnly cookie, a digest of a key, is accepted as well; a page
    navigation without it is sent to the login form.
    """

    def __init__(self, app: ASGIApp, api_keys: Iterable[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in api_keys]
        self.ui_tokens = [ui_token(k) for k in self.keys]

    def _ui_authorized(self, scope: Scope) -> bool:
        if not _is_ui(scope["path"]):
            return False
        if scope["path"] in UI_PUBLIC_PATHS:
            return True
        token = _cookie(scope, UI_COOKIE)
        return token is not None and any(hmac.compare_digest(token, t) for t in self.ui_tokens)

    def _authorized(self, scope: Scope) -> bool:
        if self._ui_authorized(scope):
            return True
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
        if _is_ui(scope["path"]) and scope["method"] == "GET":
            login = error_response(303, "unauthorized", "log in first", {"Location": "/ui/login"})
            await login(scope, receive, send)
            return
        response = error_response(
            401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"}
        )
        await response(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413: by Content-Length up front, else as read.

    The body is read here, whole, before the app sees it (it is at most `max_bytes`),
    so a chunked body that runs over is answered 413 like any other, whatever the
    route would have done with an error raised mid-read. Asset uploads stream and get
    their own, larger limit, enforced by the asset writer.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        too_large = error_response(
            413, "payload_too_large", f"request body exceeds {self.max_bytes} bytes"
        )
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await too_large(scope, receive, send)
                return
        parts: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body: nobody to answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await too_large(scope, receive, send)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        body: bytes | None = b"".join(parts)

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # after the body: the disconnect, when it comes
            message: Message = {"type": "http.request", "body": body, "more_body": False}
            body = None
            return message

        await self.app(scope, replay, send)


class JsonOnlyMiddleware:
    """Refuses a body that is not `application/json` (UTF-8) on the JSON endpoints, 415.

    Browsers send `text/plain`, form and multipart bodies cross-site without a CORS
    preflight, so a local service without API keys would score (and run code for) any
    web page its user opens; `application/json` always needs a preflight, which the
    service never grants. A missing Content-Type is refused for the same reason.
    """

    def __init__(self, app: ASGIApp, paths: frozenset[str] = JSON_ONLY_PATHS) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and scope["path"] in self.paths
        ):
            problem = _not_json(scope)
            if problem is not None:
                response = error_response(415, "unsupported_media_type", problem)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _not_json(scope: Scope) -> str | None:
    """Why the request's Content-Type is not JSON, or None when it is."""
    values = [v for k, v in scope["headers"] if k == b"content-type"]
    if len(values) != 1:
        return "send the body as Content-Type: application/json"
    media, *params = values[0].decode("latin-1").split(";")
    if media.strip().lower() != "application/json":
        return f"send the body as Content-Type: application/json, not {media.strip()[:80]!r}"
    for param in params:
        key, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            return f"a JSON body is UTF-8, not {charset[:40]!r}"
    return None
