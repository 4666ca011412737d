"""The verifier contract and the registry; one module or subpackage per domain.

Domain modules (`rewardgate.verifiers.math`, ...) are not imported here: the registry
loads them through entry points, and the light client never pays for them.
"""

from rewardgate.verifiers.base import (
    NoReference,
    Prepared,
    Verdict,
    Verifier,
    VerifierEnv,
    VerifierOptions,
)
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
from rewardgate.verifiers.models import RewardRequest, RewardResult, Status, StepReward
from rewardgate.verifiers.registry import ENTRY_POINT_GROUP, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "ConfigurationError",
    "InsufficientStorage",
    "InvalidRequest",
    "NoReference",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "Prepared",
    "Registry",
    "RewardRequest",
    "RewardResult",
    "RewardgateError",
    "SandboxError",
    "Status",
    "StepReward",
    "Unauthorized",
    "UnknownVerifier",
    "Verdict",
    "Verifier",
    "VerifierEnv",
    "VerifierError",
    "VerifierOptions",
    "VerifierTimeout",
]
