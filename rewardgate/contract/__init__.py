"""The contract every other layer builds on: wire models, the error tree, the `Verifier`
base, the registry and verdict fingerprints.

It sits at the package root, below everything else, so a client, a sandbox backend or a
new verifier can depend on it without pulling in FastAPI, the worker pool or any domain:
it imports pydantic and the standard library only (enforced by `make lint`, see
docs/architecture.md). `rewardgate.verifiers` re-exports these names for older imports.
"""

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.contract.errors import (
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
from rewardgate.contract.models import RewardRequest, RewardResult, Status, StepReward
from rewardgate.contract.registry import ENTRY_POINT_GROUP, Registry
from rewardgate.contract.settings import VerifierSettings
from rewardgate.contract.verifier import (
    FrozenDetails,
    FrozenList,
    NoReference,
    Prepared,
    SandboxEnv,
    Verdict,
    Verifier,
    VerifierEnv,
    VerifierOptions,
    describe_validation_error,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Case",
    "ConfigurationError",
    "Conformance",
    "FrozenDetails",
    "FrozenList",
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
    "SandboxEnv",
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
    "VerifierSettings",
    "VerifierTimeout",
    "describe_validation_error",
]
