"""Python clients of rewardgate: sync and async over HTTP, and in-process.

    from rewardgate.clients import RewardClient, rewards

    with RewardClient("http://localhost:8000") as client:
        results = client.score_batch(items)
    trainer_rewards = rewards(results)          # None where no verdict (abstain)

`RewardClient` / `AsyncRewardClient` talk to a service (several base URLs may be
given); `LocalClient` / `AsyncLocalClient` run the engine in this process and need
the `[server]` extra. All four have the same verbs: `score`, `score_batch`, `stream`,
`verifiers`, `limits`, `upload_asset`. Importing this package loads only httpx,
pydantic and the wire models; the engine and aiohttp load when first used.

Trainer adapters live in their own modules: `rewardgate.clients.verl.compute_score`
(verl's custom reward function), `rewardgate.clients.trl.reward_func` (TRL reward
functions); they score at `$REWARDGATE_URL` when set, else in-process (`connect`).
"""

from rewardgate.clients.aio import AsyncRewardClient
from rewardgate.clients.errors import (
    ClientTimeout,
    ConnectionFailed,
    RetriesExhausted,
    ServerError,
    TransportError,
)
from rewardgate.clients.local import AsyncLocalClient, LocalClient
from rewardgate.clients.models import Limits, Scored, VerifierInfo, rewards
from rewardgate.clients.retry import Retry
from rewardgate.clients.sync import RewardClient
from rewardgate.verifiers.errors import (
    InvalidRequest,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RewardgateError,
    Unauthorized,
)
from rewardgate.verifiers.models import RewardRequest, RewardResult, StepReward

__all__ = [
    "AsyncLocalClient",
    "AsyncRewardClient",
    "ClientTimeout",
    "ConnectionFailed",
    "InvalidRequest",
    "Limits",
    "LocalClient",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RetriesExhausted",
    "Retry",
    "RewardClient",
    "RewardRequest",
    "RewardResult",
    "RewardgateError",
    "Scored",
    "ServerError",
    "StepReward",
    "TransportError",
    "Unauthorized",
    "VerifierInfo",
    "rewards",
]
