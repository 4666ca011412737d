"""Preparing and judging a spec's children in-process, through the host's registry.

Children run inside the composite's own worker, one after another, under the
composite's deadline (the sum of the children's budgets). A child with no verdict
(an exception from the error tree) fails the composite unless the child names a
`fallback` score: a broken checker must never turn into a silent 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.base import Prepared, Verdict, Verifier
from rewardgate.verifiers.errors import InvalidRequest, RewardgateError

if TYPE_CHECKING:
    from rewardgate.verifiers.compose.spec import ChildSpec

__all__ = ["PreparedChild", "judge_child", "relabel"]


@dataclass(frozen=True)
class PreparedChild:
    index: int
    spec: ChildSpec
    verifier: Verifier
    prepared: Prepared[Any, Any]


def relabel(exc: RewardgateError, where: str) -> RewardgateError:
    """The same kind of error, its message prefixed with the child it came from."""
    try:
        relabelled = type(exc)(f"{where}: {exc.message}")
    except TypeError:  # a plugin's error with another constructor: keep it as it is
        return exc
    relabelled.__cause__ = exc
    return relabelled


def child_where(index: int, spec: ChildSpec) -> str:
    return f"options.children[{index}] ({spec.name})"


def judge_child(response: str, child: PreparedChild) -> tuple[Verdict | None, str | None]:
    """The child's verdict, or (None, error) when it failed and names a fallback.

    Invalid requests always propagate: a child that finds its reference malformed
    while judging (math's unreadable gold) makes the whole request invalid.
    """
    prepared = child.prepared
    try:
        return child.verifier.judge(response, prepared.reference, prepared.options), None
    except InvalidRequest as exc:
        raise relabel(exc, child_where(child.index, child.spec)) from None
    except RewardgateError as exc:
        if child.spec.fallback is None:
            raise relabel(exc, child_where(child.index, child.spec)) from None
        return None, f"{exc.status}: {exc.message}"
