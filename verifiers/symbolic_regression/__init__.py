"""The `symbolic_regression` verifier: a model's formula fitted against data points.

The response gives an expression in the data's variables (`y = 2.5*x1**2 + sin(x2)` or
LaTeX), in its last `<answer>`, else its last `\\boxed{}`, else its last line; a left side
`y =` / `f(x) =` is dropped. The reference holds the data (`{"x1": [...], "y": [...]}`
inline, or a CSV with a header row or a Parquet file uploaded as `asset:<sha256>`) and
optionally the true expression `target`. The fit is measured on at most `max_points`
points (evenly spaced when there are more), as SRBench and RSRM measure it:

- `nmse` = mean((y - ŷ)²) / var(y) (the plain MSE when y is constant);
- metric `r2`: reward max(0, 1 - NMSE) (R² clipped at 0); `inv_nmse`: 1 / (1 + NMSE);
  `nmse`: reward -min(NMSE, `nmse_cap`), so lower error is higher reward.

`complexity_penalty` subtracts that much per node of the expression tree. With
`target`, `details["recovered"]` says whether the answer is the true law up to constants
(SRBench's symbolic-solution test: the difference or the ratio simplifies to a
constant); `reward: "recovery"` makes that the reward (1 or 0).

An expression that cannot be read, names a variable the data lacks, is larger than
`MAX_NODES`, or overflows, divides by zero or turns complex on the data earns the
defined worst fit (0; -`nmse_cap` for metric `nmse`), never NaN; `details` says why.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.symbolic_regression.data import Columns, load
from rewardgate.verifiers.symbolic_regression.expression import (
    MAX_NODES,
    Unusable,
    evaluate,
    find,
    numerically_constant,
    read,
    recovered,
    tree_size,
)

__all__ = ["SymbolicRegressionOptions", "SymbolicRegressionReference", "SymbolicRegressionVerifier"]


class SymbolicRegressionReference(BaseModel):
    """`{"data": {"<var>": [...], ..., "y": [...]} | "asset:<sha256>", "target"?: str}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data: dict[str, list[Any]] | str
    target: str | None = Field(default=None, description="The true expression, if known.")
    # The checked columns, filled by `prepare`, so a worker need not read them twice.
    _columns: Columns | None = PrivateAttr(default=None)
    # Per (target column, max_points): y, the variables and var(y) as (read-only) numpy
    # arrays, built by the first verdict and reused by every later one on this reference.
    _arrays: dict[tuple[str, int], tuple[Any, dict[str, Any], float]] = PrivateAttr(
        default_factory=dict
    )


class SymbolicRegressionOptions(VerifierOptions):
    metric: Literal["r2", "nmse", "inv_nmse"] = "r2"
    complexity_penalty: float = Field(default=0.0, ge=0, description="Per expression-tree node.")
    reward: Literal["fit", "recovery"] = Field(
        default="fit", description="The fit metric, or 1/0 for recovering `target`."
    )
    target_column: str = Field(default="y", min_length=1)
    max_points: int = Field(default=1000, ge=1, le=100_000)
    nmse_cap: float = Field(default=10.0, gt=0, description="metric nmse: the worst reward.")


class SymbolicRegressionVerifier(Verifier[SymbolicRegressionReference, SymbolicRegressionOptions]):
    name = "symbolic_regression"
    version = "1"
    description = (
        "Symbolic regression: a formula (Python syntax or LaTeX, read safely) fitted on data "
        "points: R², NMSE or 1/(1+NMSE), complexity penalty, exact recovery of the true law."
    )
    Reference: ClassVar[type[BaseModel]] = SymbolicRegressionReference
    Options: ClassVar[type[VerifierOptions]] = SymbolicRegressionOptions
    conformance = Conformance(
        full=Case("y = 2*x**2", {"data": {"x": [1, 2, 3, 4, 5], "y": [2, 8, 18, 32, 50]}}),
        zero=Case("1/(x - 3)", {"data": {"x": [1, 2, 3, 4, 5], "y": [2, 8, 18, 32, 50]}}),
        invalid=Case("2*x**2", {"data": {"x": [1, 2], "y": [1]}}),  # columns differ in length
    )
    judging_packages = ("sympy", "numpy", "math-verify", "latex2sympy2_extended", "pyarrow")
    # Its expressions are found and read by the math verifier's modules.
    source_modules = ("rewardgate.verifiers.math", "rewardgate.verifiers.qa")

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[SymbolicRegressionReference, SymbolicRegressionOptions]:
        prepared: Prepared[SymbolicRegressionReference, SymbolicRegressionOptions] = (
            super().prepare(reference, options)
        )
        ref, opts = prepared.reference, prepared.options
        ref._columns = load(ref.data, self.env.asset_dir, opts.target_column.lower())
        if ref.target is not None:
            try:
                true = read(find(ref.target))
            except Unusable as exc:
                raise InvalidRequest(f"reference.target: {exc}") from None
            missing = sorted(str(s) for s in true.free_symbols if str(s) not in ref._columns)
            if missing:
                raise InvalidRequest(f"reference.target: no data for {', '.join(missing[:5])}")
        elif opts.reward == "recovery":
            raise InvalidRequest("reference.target: reward recovery needs the true expression")
        return prepared

    def warmup(self) -> None:
        """Import sympy, numpy and the expression readers once, before workers fork."""
        read("x**2 + 1")

    def fingerprints(self, reference: SymbolicRegressionReference) -> list[str]:
        return [reference.data] if isinstance(reference.data, str) else []

    def lowest_reward_for(self, options: SymbolicRegressionOptions) -> float:
        worst = -options.nmse_cap if options.metric == "nmse" else 0.0
        if options.reward == "recovery":
            return 0.0
        return worst - options.complexity_penalty * (MAX_NODES + 1)

    def judge(
        self,
        response: str,
        reference: SymbolicRegressionReference,
        options: SymbolicRegressionOptions,
    ) -> Verdict:
        import numpy as np

        y, data, variance = _points(self, reference, options)
        worst = -options.nmse_cap if options.metric == "nmse" else 0.0
        text = find(response)
        details: dict[str, Any] = {"expression": text[:300], "points": len(y)}
        try:
            expr = read(text)
            size = tree_size(expr)
            details["size"] = size
            if size > MAX_NODES:
                raise Unusable(f"larger than {MAX_NODES} nodes")
            predicted = evaluate(expr, data, len(y))
        except Unusable as exc:
            return Verdict(worst, details={**details, "reason": str(exc)})
        details["parsed"] = str(expr)[:300]
        mse = float(np.mean((y - predicted) ** 2))
        nmse = mse / variance if variance > 0 else mse
        if not np.isfinite(nmse):
            return Verdict(worst, details={**details, "reason": "error overflows"})
        r2 = 1.0 - nmse
        details.update(mse=mse, nmse=nmse, r2=r2)
        if reference.target is not None:
            details["recovered"] = _recovers(expr, predicted, read(find(reference.target)), data)
        if options.reward == "recovery":
            return Verdict(float(details["recovered"]), details=details)
        if options.metric == "r2":
            fit = max(0.0, r2)
        elif options.metric == "inv_nmse":
            fit = 1.0 / (1.0 + nmse)
        else:
            fit = -min(nmse, options.nmse_cap)
        penalty = options.complexity_penalty * size
        details["fit"], details["penalty"] = fit, penalty
        return Verdict(fit - penalty, details=details)


def _points(
    self: SymbolicRegressionVerifier,
    reference: SymbolicRegressionReference,
    options: SymbolicRegressionOptions,
) -> tuple[Any, dict[str, Any], float]:
    """y, the variables' columns and var(y), on at most `max_points` evenly spaced points."""
    import numpy as np

    target = options.target_column.lower()
    key = (target, options.max_points)
    cached = reference._arrays.get(key)
    if cached is not None:
        return cached
    columns = reference._columns
    if columns is None or target not in columns:
        columns = load(reference.data, self.env.asset_dir, target)
    columns = dict(columns)
    y = np.asarray(columns.pop(target), dtype=float)
    if len(y) > options.max_points:
        keep = np.linspace(0, len(y) - 1, options.max_points).round().astype(int)
        y = y[keep]
        columns = {k: list(np.asarray(v)[keep]) for k, v in columns.items()}
    data = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    for array in (y, *data.values()):
        array.flags.writeable = False
    cached = (y, data, float(np.var(y)))
    reference._arrays[key] = cached
    return cached


def _recovers(expr: Any, predicted: Any, target: Any, data: dict[str, Any]) -> bool:
    """Recovery of `target`: first on the data (cheap), then symbolically (simplify)."""
    try:
        true = evaluate(target, data, len(predicted))
    except Unusable:  # the true law is undefined somewhere on the data: symbolic test only
        return recovered(expr, target)
    return numerically_constant(predicted, true) and recovered(expr, target)
