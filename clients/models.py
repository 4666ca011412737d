"""What the clients return besides `RewardResult`: verifier listings, limits, streamed
results, and the `rewards` helper that turns results into the numbers a trainer uses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from rewardgate.verifiers.models import RewardResult

__all__ = ["Limits", "Scored", "VerifierInfo", "rewards"]


class VerifierInfo(BaseModel):
    """One entry of `GET /v1/verifiers`."""

    name: str
    version: str
    # The verdict fingerprint (version, source digest, judging tools); None from an
    # older server.
    fingerprint: str | None = None
    description: str = ""
    reference_schema: dict[str, Any] = Field(default_factory=dict)
    options_schema: dict[str, Any] = Field(default_factory=dict)
    # The verifier's own server settings (`[verifiers.<name>]`); empty from an older server.
    settings_schema: dict[str, Any] = Field(default_factory=dict)


class Limits(BaseModel):
    """The server's request limits; `score_batch` splits batches to fit them."""

    max_items_per_request: int
    max_body_bytes: int | None = None
    max_asset_bytes: int | None = None
    max_run_memory_mb: int | None = None


class Scored(NamedTuple):
    """A streamed result and its position in the input (`for index, result in ...`)."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, on purpose
    result: RewardResult


def rewards(results: Iterable[RewardResult], *, abstain: bool = True) -> list[float | None]:
    """The rewards of `results`, in order.

    With `abstain=True` a non-ok result (invalid, error, timeout: no verdict) gives None,
    so a trainer can drop it from its advantage estimate instead of learning from the
    fallback reward; with `abstain=False` every result gives its `reward` as reported.
    """
    return [r.reward if (r.ok or not abstain) else None for r in results]
