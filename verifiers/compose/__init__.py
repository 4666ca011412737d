"""The `compose` verifier: several verifiers' verdicts combined into one reward.

A spec lists children (`{"name", "verifier" | "spec", "options", "reference",
"weight", "gate", "fallback"}`); each judges the parent's response against the
parent's reference unless it sets its own. The reward is `formula` over the children's
scores (default: their weighted sum), clipped to `clip`; `steps` has one entry per
child, labelled with its name. See `spec.py` for the fields and `formula.py` for what
a formula may contain.

Children are looked up in the registry that built this verifier
(`VerifierEnv.registry`), so a composite judges with exactly the verifiers its server,
`LocalClient` or test registered, plugins included. A `compose` built outside a
registry falls back to the installed verifiers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, PrivateAttr, RootModel, ValidationError

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import (
    Prepared,
    Verdict,
    Verifier,
    VerifierOptions,
    describe_validation_error,
)
from rewardgate.verifiers.compose.children import (
    PreparedChild,
    child_where,
    judge_child,
    relabel,
)
from rewardgate.verifiers.compose.formula import Formula, FormulaError
from rewardgate.verifiers.compose.spec import ChildSpec, ComposeSpec, gate_order
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import StepReward
from rewardgate.verifiers.registry import Registry

__all__ = ["ChildSpec", "ComposeReference", "ComposeSpec", "ComposeVerifier"]

# Nesting deeper than this is refused: it also stops named specs that name each other.
MAX_DEPTH = 8


class ComposeReference(RootModel[Any]):
    """The parent's reference, passed as it is to each child that sets none.

    It remembers the spec it was prepared with, so `fingerprints` (which the engine
    asks with the reference alone) can ask the children.
    """

    _spec: ComposeSpec | None = PrivateAttr(default=None)


_CONFORMANCE_SPEC = {
    "children": [
        {"name": "answer", "verifier": "math", "weight": 0.5},
        {"name": "form", "verifier": "format", "weight": 0.5, "options": {"pattern": "<think>.*"}},
    ]
}


class ComposeVerifier(Verifier[ComposeReference, ComposeSpec]):
    name = "compose"
    version = "1"
    description = (
        "Combines verifiers: children (format, math, length, ...) scored on the same "
        "response, gated, weighted or combined by a safe formula, clipped."
    )
    Reference: ClassVar[type[BaseModel]] = ComposeReference
    Options: ClassVar[type[VerifierOptions]] = ComposeSpec
    conformance = Conformance(
        full=Case("<think>ok</think> \\boxed{4}", "4", _CONFORMANCE_SPEC),
        zero=Case("no reasoning, \\boxed{5}", "4", _CONFORMANCE_SPEC),
        invalid=Case("\\boxed{4}", "4", {"children": [], "formula": "x"}),
    )

    _installed: Registry | None = None

    # -- preparing -------------------------------------------------------------------

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[ComposeReference, ComposeSpec]:
        """Resolve a named spec and prepare every child, so a bad child is `invalid` now."""
        spec = self._spec(options, "options", 0)
        self._children(reference, spec, 0)
        prepared_reference = ComposeReference(reference)
        prepared_reference._spec = spec
        return Prepared(prepared_reference, spec)

    def _spec(self, options: Any, where: str, depth: int) -> ComposeSpec:
        if depth > MAX_DEPTH:
            raise InvalidRequest(f"{where}: specs nest deeper than {MAX_DEPTH} levels")
        try:
            spec = ComposeSpec.model_validate(options or {})
        except ValidationError as exc:
            raise InvalidRequest(describe_validation_error(where, exc)) from None
        if spec.spec is not None:
            named = self.env.reward_specs
            if spec.spec not in named:
                raise InvalidRequest(
                    f"{where}.spec: no reward spec named {spec.spec!r}; this server has "
                    f"{', '.join(sorted(named)) or 'none'}"
                )
            resolved = dict(named[spec.spec])
            if spec.timeout_s is not None:
                resolved["timeout_s"] = spec.timeout_s
            if spec.overrides:
                resolved["overrides"] = {**resolved.get("overrides", {}), **spec.overrides}
            return self._spec(resolved, f"{where}.spec({spec.spec})", depth + 1)
        if spec.formula is not None:
            try:
                Formula.compile(spec.formula, [child.name for child in spec.children])
            except FormulaError as exc:
                raise InvalidRequest(f"{where}.formula: {exc}") from None
        return spec

    def _children(self, reference: Any, spec: ComposeSpec, depth: int) -> list[PreparedChild]:
        prepared = []
        for index, child in enumerate(spec.children):
            where = child_where(index, child)
            child_reference = child.reference if child.has_reference else reference
            name = child.verifier_name(self.name)
            options = {**child.child_options(), **spec.overrides.get(child.name, {})}
            try:
                if name == self.name:
                    nested = self._spec(options, f"{where}.options", depth + 1)
                    self._children(child_reference, nested, depth + 1)
                    verifier: Verifier = self
                    nested_reference = ComposeReference(child_reference)
                    nested_reference._spec = nested
                    child_prepared: Prepared[Any, Any] = Prepared(nested_reference, nested)
                else:
                    verifier = self._registry().get(name)
                    child_prepared = verifier.prepare(child_reference, options)
            except InvalidRequest as exc:
                raise relabel(exc, where) from None
            prepared.append(PreparedChild(index, child, verifier, child_prepared))
        return prepared

    def _registry(self) -> Registry:
        if self.env.registry is not None:
            return self.env.registry
        if self._installed is None:
            self._installed = Registry.from_entry_points(env=self.env)
        return self._installed

    # -- what the engine asks before judging -----------------------------------------

    def budget_s(
        self, reference: ComposeReference, options: ComposeSpec, default_s: float
    ) -> float:
        """The children run one after another, so the composite may take their sum."""
        if options.timeout_s is not None:
            return options.timeout_s
        return sum(
            child.verifier.budget_s(child.prepared.reference, child.prepared.options, default_s)
            for child in self._children(reference.root, options, 0)
        )

    def cacheable_for(self, reference: ComposeReference, options: ComposeSpec) -> bool:
        return all(
            child.verifier.cacheable_for(child.prepared.reference, child.prepared.options)
            for child in self._children(reference.root, options, 0)
        )

    def fingerprint_for(self, reference: ComposeReference, options: ComposeSpec) -> str:
        """The composite's own fingerprint and its children's: any of them judging anew
        changes the composite's verdict."""
        from rewardgate.verifiers.fingerprint import combine

        children = self._children(reference.root, options, 0)
        return combine(
            [
                self.fingerprint(None),
                *(
                    child.verifier.fingerprint_for(child.prepared.reference, child.prepared.options)
                    for child in children
                ),
            ]
        )

    def fingerprints(self, reference: ComposeReference) -> list[str]:
        """Every child's fingerprints: a composite's verdict reads what its children read."""
        if reference._spec is None:
            return []
        return [
            fingerprint
            for child in self._children(reference.root, reference._spec, 0)
            for fingerprint in child.verifier.fingerprints(child.prepared.reference)
        ]

    def lowest_reward_for(self, options: ComposeSpec) -> float:
        """`clip`'s low end, else the weighted sum of the children's lowest rewards.

        Without a clip this is an estimate erring low: a child weighted below 0 is
        taken at a reward of 1, and a formula is assumed to stay above the sum.
        """
        return self._lowest(options, 0)

    def _lowest(self, spec: ComposeSpec, depth: int) -> float:
        if spec.clip is not None:
            return spec.clip[0]
        total = 0.0
        for child in spec.children:
            lowest = self._child_lowest(child, spec, depth)
            total += child.weight * lowest if child.weight >= 0 else child.weight * 1.0
        return total

    def _child_lowest(self, child: ChildSpec, spec: ComposeSpec, depth: int) -> float:
        options = {**child.child_options(), **spec.overrides.get(child.name, {})}
        try:
            if child.verifier_name(self.name) == self.name:
                return self._lowest(self._spec(options, "options", depth + 1), depth + 1)
            verifier = self._registry().get(child.verifier_name(self.name))
            return verifier.lowest_reward_for(verifier.Options.model_validate(options))
        except (InvalidRequest, ValidationError):
            return 0.0  # the item is invalid anyway; prepare() says why

    # -- judging ---------------------------------------------------------------------

    def judge(self, response: str, reference: ComposeReference, options: ComposeSpec) -> Verdict:
        children = {c.spec.name: c for c in self._children(reference.root, options, 0)}
        scores: dict[str, float] = {}
        steps: dict[str, StepReward] = {}
        for child_spec in gate_order(options.children):
            child = children[child_spec.name]
            gate = child_spec.gate
            if gate is not None and scores[gate] < options.gate_threshold:
                scores[child_spec.name] = 0.0
                steps[child_spec.name] = _step(child, 0.0, {"gated_by": gate})
                continue
            verdict, error = judge_child(response, child)
            if verdict is None:
                assert child_spec.fallback is not None
                scores[child_spec.name] = child_spec.fallback
                steps[child_spec.name] = _step(child, child_spec.fallback, {"error": error})
                continue
            scores[child_spec.name] = verdict.reward
            evidence: dict[str, Any] = {"reward": verdict.reward, "details": verdict.details}
            if verdict.steps is not None:
                evidence["steps"] = [step.model_dump(mode="json") for step in verdict.steps]
            steps[child_spec.name] = _step(child, verdict.reward, evidence)
        reward, details = _combine(options, scores)
        return Verdict(
            reward, [steps[child.name] for child in options.children], {**details, "scores": scores}
        )


def _step(child: PreparedChild, score: float, evidence: dict[str, Any]) -> StepReward:
    details = {"verifier": child.verifier.name, "weight": child.spec.weight, **evidence}
    return StepReward(index=child.index, reward=score, label=child.spec.name, details=details)


def _combine(spec: ComposeSpec, scores: dict[str, float]) -> tuple[float, dict[str, Any]]:
    details: dict[str, Any] = {}
    if spec.formula is None:
        reward = sum(child.weight * scores[child.name] for child in spec.children)
    else:
        details["formula"] = spec.formula
        try:
            formula = Formula.compile(spec.formula, list(scores))
            reward = formula.evaluate(scores)
        except FormulaError as exc:
            raise InvalidRequest(f"options.formula: {exc}") from None
    if spec.clip is not None:
        low, high = spec.clip
        if not low <= reward <= high:
            details["unclipped"] = reward
        reward = min(max(reward, low), high)
    return reward, details
