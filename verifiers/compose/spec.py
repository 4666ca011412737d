"""The reward spec: children, how they combine, and how the result is clipped.

A spec is a request's `options` for `compose`, or a name (`{"spec": "name"}`) of one
the server's config declares under `reward_specs`. The models only check the spec's
own shape; each child's `options` and `reference` are checked by the child verifier
when the composite is prepared.
"""

from __future__ import annotations

import keyword
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rewardgate.verifiers.base import VerifierOptions
from rewardgate.verifiers.compose.formula import FUNCTIONS

__all__ = ["ChildSpec", "ComposeSpec"]


class ChildSpec(BaseModel):
    """One scored part of a composite reward."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        description="Identifier of the child in `formula`, `gate` and the result's steps.",
    )
    verifier: str | None = Field(
        default=None, description="The child verifier's name (`math`, `format`, ...)."
    )
    spec: dict[str, Any] | str | None = Field(
        default=None,
        description="A nested spec (inline, or a configured spec's name) instead of `verifier`.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="The child verifier's options."
    )
    reference: Any = Field(
        default=None,
        description="The child's own reference; when absent the child gets the parent's.",
    )
    weight: float = Field(default=1.0, description="Weight in the default formula (a sum).")
    gate: str | None = Field(
        default=None,
        description="Name of a sibling: this child scores 0 unless that one scored at least "
        "the spec's `gate_threshold` (it is then not judged at all).",
    )
    fallback: float | None = Field(
        default=None,
        description="Score used when this child has no verdict (error or timeout); unset, "
        "the composite reports the child's failure instead of scoring it.",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if keyword.iskeyword(name) or name in FUNCTIONS:
            raise ValueError(f"{name!r} is reserved in formulas")
        return name

    @model_validator(mode="after")
    def _one_source(self) -> ChildSpec:
        if (self.verifier is None) == (self.spec is None):
            raise ValueError("give exactly one of `verifier` and `spec`")
        if self.spec is not None and self.options:
            raise ValueError("a nested `spec` is the child's options; give no `options`")
        return self

    @property
    def has_reference(self) -> bool:
        """Whether the child sets its own reference (an explicit null counts)."""
        return "reference" in self.model_fields_set

    def verifier_name(self, compose_name: str) -> str:
        return self.verifier if self.verifier is not None else compose_name

    def child_options(self) -> dict[str, Any]:
        if self.spec is None:
            return self.options
        return {"spec": self.spec} if isinstance(self.spec, str) else self.spec


class ComposeSpec(VerifierOptions):
    """Options of `compose`: an inline spec, or `spec` naming a configured one."""

    spec: str | None = Field(
        default=None, description="Name of a spec in the server's `reward_specs`."
    )
    children: tuple[ChildSpec, ...] = Field(
        default=(), description="The scored parts, judged on the parent's response."
    )
    formula: str | None = Field(
        default=None,
        description="Arithmetic over child names (e.g. `acc * (0.5 + 0.5 * fmt)`); "
        "default: the weighted sum of the children.",
    )
    clip: tuple[float, float] | None = Field(
        default=None, description="[low, high] bounds of the final reward."
    )
    gate_threshold: float = Field(
        default=0.5, description="Score a gating child must reach to open its gate."
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-child options merged over the spec's, by child name, e.g. "
        '{"len": {"length": 812}}: what the trainer knows of this item (a named spec too).',
    )

    @model_validator(mode="after")
    def _consistent(self) -> ComposeSpec:
        if self.spec is not None:
            if self.children or self.formula is not None or self.clip is not None:
                raise ValueError("a named `spec` takes no `children`, `formula` or `clip`")
            return self
        if not self.children:
            raise ValueError("give `children` (at least one) or a named `spec`")
        names = [child.name for child in self.children]
        unknown = sorted(set(self.overrides) - set(names))
        if unknown:
            raise ValueError(f"overrides name no child: {', '.join(unknown)}")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"child names must be unique: {', '.join(duplicates)}")
        for child in self.children:
            if child.gate is not None and child.gate not in names:
                raise ValueError(f"child {child.name!r} is gated by unknown child {child.gate!r}")
        if self.clip is not None and self.clip[0] > self.clip[1]:
            raise ValueError("clip must be [low, high] with low <= high")
        gate_order(self.children)  # raises on a cycle
        return self


def gate_order(children: tuple[ChildSpec, ...]) -> list[ChildSpec]:
    """The children in an order where each gate is judged before the children it gates."""
    by_name = {child.name: child for child in children}
    ordered: list[ChildSpec] = []
    placed: set[str] = set()

    def place(child: ChildSpec, path: tuple[str, ...]) -> None:
        if child.name in placed:
            return
        if child.name in path:
            raise ValueError(f"gates form a cycle: {' -> '.join((*path, child.name))}")
        if child.gate is not None:
            place(by_name[child.gate], (*path, child.name))
        placed.add(child.name)
        ordered.append(child)

    for child in children:
        place(child, ())
    return ordered
