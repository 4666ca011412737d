"""The client's half of the exception tree, and the one place HTTP answers become errors.

Errors the server reports come back as the same classes the server raised, so
`except Unauthorized` or `except PayloadTooLarge` reads the same against a remote
service and a `LocalClient`. The client adds what only a client can see:

    RewardgateError                     (rewardgate.verifiers.errors)
    ├── InvalidRequest   400            not retried
    │   ├── UnknownVerifier
    │   └── NotFound     404
    ├── Overloaded       429            retried, honouring Retry-After
    ├── Unauthorized     401            not retried
    ├── PayloadTooLarge  413            a batch is split and re-sent; one item is raised
    ├── ...                             the rest of the server's tree, by error code
    ├── ServerError                     a non-2xx answer whose code the tree does not
    │                                   name (a proxy's 502, a 405); 502/503 are retried
    ├── TransportError                  no HTTP answer at all
    │   ├── ConnectionFailed            refused, reset, dropped: retried (on another URL)
    │   └── ClientTimeout               the client's own timeout: not retried
    └── RetriesExhausted                every try failed; `.last` is the final error

Every error built from an HTTP answer carries the server's `code` and `message` (the
`{"error": {"code", "message"}}` envelope), the answer's `http_status` and the
`request_id` the client sent (the server logs under it).
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from rewardgate.verifiers.errors import (
    ConfigurationError,
    InsufficientStorage,
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RewardgateError,
    SandboxError,
    Unauthorized,
    UnknownVerifier,
    VerifierError,
    VerifierTimeout,
)

__all__ = [
    "ClientTimeout",
    "ConnectionFailed",
    "RetriesExhausted",
    "ServerError",
    "TransportError",
    "error_from_response",
    "parse_retry_after",
    "unreachable",
]


class ServerError(RewardgateError):
    """A non-2xx answer whose error code is not one of the tree's (or has no envelope)."""

    def __init__(self, message: str, *, http_status: int, code: str) -> None:
        super().__init__(message)
        _annotate(self, code=code, http_status=http_status)


class TransportError(RewardgateError):
    """No HTTP answer came back; `url` is the base URL that was tried."""

    code = "transport_error"

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class ConnectionFailed(TransportError):
    """Could not connect (`connecting`), or the connection broke before the answer was
    complete."""

    code = "connection_failed"

    def __init__(self, message: str, url: str | None = None, *, connecting: bool = False) -> None:
        super().__init__(message, url)
        self.connecting = connecting


class ClientTimeout(TransportError):
    """The client's own timeout ran out waiting for the server; not retried, since the
    server may still be working on the request and retrying would add to its load."""

    code = "client_timeout"


class RetriesExhausted(RewardgateError):
    """Every try of a retriable failure failed; `last` holds the final one."""

    code = "retries_exhausted"

    def __init__(self, last: RewardgateError, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} tries; last: {last.code}: {last.message}")
        self.last = last
        self.attempts = attempts


# The tree's classes by the code the server puts in the envelope.
_BY_CODE: dict[str, type[RewardgateError]] = {
    cls.code: cls
    for cls in (
        RewardgateError,
        InvalidRequest,
        UnknownVerifier,
        NotFound,
        VerifierError,
        SandboxError,
        VerifierTimeout,
        Overloaded,
        Unauthorized,
        PayloadTooLarge,
        InsufficientStorage,
        ConfigurationError,
    )
}
# For codes the tree does not name: the class whose meaning the status carries.
_BY_STATUS: dict[int, type[RewardgateError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    404: NotFound,
    413: PayloadTooLarge,
    429: Overloaded,
}


def _annotate(exc: RewardgateError, **attrs: Any) -> None:
    # `code` and `http_status` are class-level defaults on the tree; an instance built
    # from an answer records what that answer actually said.
    vars(exc).update(attrs)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(
    status: int, body: bytes, retry_after: str | None = None, request_id: str | None = None
) -> RewardgateError:
    """The tree's error for a non-2xx answer, carrying the server's code and message."""
    code, message = f"http_{status}", ""
    try:
        envelope = json.loads(body)["error"]
        code, message = str(envelope["code"]), str(envelope["message"])
    except (ValueError, KeyError, TypeError):
        message = body[:500].decode("utf-8", "replace").strip()
    message = message or f"HTTP {status} with no error message"
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    exc: RewardgateError
    if cls is None:
        exc = ServerError(message, http_status=status, code=code)
    elif issubclass(cls, Overloaded):
        seconds = parse_retry_after(retry_after)
        exc = cls(message, retry_after=1.0 if seconds is None else seconds)
    else:
        exc = cls(message)
    _annotate(exc, code=code, http_status=status, request_id=request_id)
    return exc


def unreachable(exc: RewardgateError) -> bool:
    """Whether `exc` means the server could not be reached (after any retries)."""
    if isinstance(exc, RetriesExhausted):
        exc = exc.last
    return isinstance(exc, ConnectionFailed)
