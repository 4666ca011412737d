"""The one exception tree of rewardgate.

    RewardgateError                 500 internal
    ├── InvalidRequest              400 invalid_request   (item status "invalid")
    │   ├── UnknownVerifier         400 unknown_verifier
    │   └── NotFound                404 not_found
    ├── VerifierError               500 verifier_error    (item status "error")
    │   └── SandboxError            503 sandbox_error
    ├── VerifierTimeout             504 timeout           (item status "timeout")
    ├── Overloaded                  429 overloaded        (carries retry_after seconds)
    ├── Unauthorized                401 unauthorized
    ├── PayloadTooLarge             413 payload_too_large
    ├── InsufficientStorage         507 insufficient_storage
    └── ConfigurationError          500 configuration     (raised at start-up, e.g. a
                                                           duplicate verifier name)

Third-party exceptions are translated where they enter (the engine maps worker deaths
and deadlines; verifiers map their tools' failures), so the HTTP layer only ever sees
this tree. `status` on each class is the item status the engine reports for it.
"""

from __future__ import annotations

from typing import ClassVar

from rewardgate.contract.models import Status

__all__ = [
    "ConfigurationError",
    "InsufficientStorage",
    "InvalidRequest",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RewardgateError",
    "SandboxError",
    "Unauthorized",
    "UnknownVerifier",
    "VerifierError",
    "VerifierTimeout",
]


class RewardgateError(Exception):
    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    status: ClassVar[Status] = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(RewardgateError):
    http_status = 400
    code = "invalid_request"
    status = "invalid"


class UnknownVerifier(InvalidRequest):
    code = "unknown_verifier"


class NotFound(InvalidRequest):
    http_status = 404
    code = "not_found"


class VerifierError(RewardgateError):
    code = "verifier_error"


class SandboxError(VerifierError):
    http_status = 503
    code = "sandbox_error"


class VerifierTimeout(RewardgateError):
    http_status = 504
    code = "timeout"
    status = "timeout"


class Overloaded(RewardgateError):
    http_status = 429
    code = "overloaded"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(RewardgateError):
    http_status = 401
    code = "unauthorized"


class PayloadTooLarge(RewardgateError):
    http_status = 413
    code = "payload_too_large"


class InsufficientStorage(RewardgateError):
    http_status = 507
    code = "insufficient_storage"


class ConfigurationError(RewardgateError):
    code = "configuration"
