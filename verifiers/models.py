"""The wire contract between trainers and verifiers (see DESIGN.md, "The contract").

These models are all the light client imports, so this module must stay free of any
server-side dependency.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ok", "invalid", "error", "timeout"]

__all__ = ["RewardRequest", "RewardResult", "Status", "StepReward"]


class RewardRequest(BaseModel):
    """One model output to score.

    `reference` and `options` are domain-specific and are validated by the named
    verifier's own models, not here, so a malformed reference becomes a per-item
    `invalid` result instead of failing the whole batch.
    """

    model_config = ConfigDict(extra="forbid")

    verifier: str
    response: str
    reference: Any = None
    options: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    fallback_reward: float | None = None


class StepReward(BaseModel):
    """A reward for one step of a solution or one test of a program, in order."""

    index: int
    reward: float
    label: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class RewardResult(BaseModel):
    """The verdict on one item.

    `reward` is meaningful only when `status == "ok"`; otherwise it is the request's
    `fallback_reward` (by default the verifier's lowest reward) so that breaking the
    checker never pays better than a wrong answer.
    """

    id: str | None = None
    verifier: str
    version: str | None = None
    # The verdict fingerprint (version, source digest, judging tools' versions) of the
    # judge that gave an `ok` verdict; see rewardgate.verifiers.fingerprint.
    fingerprint: str | None = None
    reward: float
    status: Status
    steps: list[StepReward] | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"
