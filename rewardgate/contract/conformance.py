"""The requests a verifier declares so any host can check it behaves: full, zero, invalid.

Every verifier sets `conformance = Conformance(full=..., zero=..., invalid=...)`:
a request it must pay in full, one it must judge `ok` with its lowest reward, and one
whose reference or options it must refuse as `invalid`. `rewardgate.testing` runs them
through the real engine for every installed verifier, so a new verifier, a built-in's
refactoring or a broken install shows up the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "Conformance"]


@dataclass(frozen=True)
class Case:
    """One request to the verifier, without its name (the verifier's own is used)."""

    response: str
    reference: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def item(self, verifier: str) -> dict[str, Any]:
        """The request item of `POST /v1/rewards` for `verifier`."""
        return {
            "verifier": verifier,
            "response": self.response,
            "reference": self.reference,
            "options": dict(self.options),
        }


@dataclass(frozen=True)
class Conformance:
    """`full` is `ok` with a reward of at least `full_reward`, `zero` is `ok` with at
    most `zero_reward` (a penalty that only tends to its floor says so), `invalid` is
    `invalid`; rewards are compared to 1e-6."""

    full: Case
    zero: Case
    invalid: Case
    full_reward: float = 1.0
    zero_reward: float = 0.0
