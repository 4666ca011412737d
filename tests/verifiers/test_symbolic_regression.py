"""The `symbolic_regression` verifier: hand-computed fits, hostile formulas, assets, recovery.

The fit metrics are checked against independent numpy formulas and scipy's
`stats.linregress` R² (for a linear fit R² = r², which both compute their own way).
"""

from __future__ import annotations

import hashlib
import io
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.symbolic_regression import SymbolicRegressionVerifier, data

SR = SymbolicRegressionVerifier()
XS = [1.0, 2.0, 3.0, 4.0, 5.0]
SQUARE = {"data": {"x": XS, "y": [2 * x * x for x in XS]}, "target": "2*x**2"}
# var(y) of SQUARE: y = 2, 8, 18, 32, 50 -> mean 22, variance 1496 / 5 = 299.2
VAR = 299.2


def score(response: str, reference: Any = SQUARE, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="symbolic_regression", response=response, reference=reference, options=options
    )
    return SR.verify(request)


def _nmse(predicted: list[float]) -> float:
    y = [2 * x * x for x in XS]
    return sum((a - b) ** 2 for a, b in zip(y, predicted, strict=True)) / len(y) / VAR


HAND = [
    pytest.param("y = 2*x**2", {}, 1.0, id="exact-python"),
    pytest.param("<answer>2*x^2</answer>", {}, 1.0, id="caret-power"),
    pytest.param("\\boxed{2x^2}", {}, 1.0, id="latex-box"),
    pytest.param("$f(x) = \\frac{4x^{2}}{2}$", {}, 1.0, id="latex-frac-lhs"),
    pytest.param("2x^2", {}, 1.0, id="implicit-product"),
    pytest.param("x**2 + x**2", {}, 1.0, id="rewritten"),
    pytest.param("2*x**2 + 1", {}, 1 - _nmse([2 * x * x + 1 for x in XS]), id="offset"),
    pytest.param("x**2", {}, 1 - _nmse([x * x for x in XS]), id="half"),
    pytest.param("0", {}, 0.0, id="zero-r2-clipped"),
    pytest.param("22", {}, 0.0, id="mean-r2-zero"),
    pytest.param("2*x**2 + 1", {"metric": "inv_nmse"}, 1 / (1 + 1 / VAR), id="inv-nmse"),
    pytest.param("2*x**2 + 1", {"metric": "nmse"}, -1 / VAR, id="nmse"),
    pytest.param("1e6*x", {"metric": "nmse"}, -10.0, id="nmse-capped"),
    pytest.param("2*x**2", {"complexity_penalty": 0.01}, 0.95, id="penalty-size-5"),
    pytest.param("x**2 + x**2", {"complexity_penalty": 0.01}, 1 - 0.01 * 7, id="penalty-size-7"),
    pytest.param("1/(x - 3)", {}, 0.0, id="division-by-zero"),
    pytest.param("log(x - 2)", {}, 0.0, id="log-of-negative"),
    pytest.param("sqrt(-x)", {}, 0.0, id="complex"),
    pytest.param("sqrt(x - 3)", {"metric": "nmse"}, -10.0, id="complex-nmse-worst"),
    pytest.param("exp(exp(100*x))", {}, 0.0, id="overflow"),
    pytest.param("10**10**9", {}, 0.0, id="huge-power"),
    pytest.param("x**(10**30)", {}, 0.0, id="huge-exponent"),
    pytest.param("__import__('os').system('true')", {}, 0.0, id="import"),
    pytest.param("().__class__.__bases__", {}, 0.0, id="dunder"),
    pytest.param("lambda: 1", {}, 0.0, id="lambda"),
    pytest.param("2*z**2", {}, 0.0, id="unknown-variable"),
    pytest.param("y = ", {}, 0.0, id="empty"),
    pytest.param("", {}, 0.0, id="no-text"),
    pytest.param("x < 3", {}, 0.0, id="relation"),
    pytest.param("1, 2", {}, 0.0, id="list"),
    pytest.param("+".join(["x"] * 400), {}, 0.0, id="too-large"),
    pytest.param("(" * 300 + "x" + ")" * 300, {}, 0.0, id="deep-nesting"),
    pytest.param("x" + "**x" * 50, {}, 0.0, id="power-tower"),
    pytest.param("2*X**2", {}, 1.0, id="case-blind"),
    pytest.param("\\sin{x}", {}, 0.0, id="sin-wrong"),
]


@pytest.mark.parametrize(("response", "options", "expected"), HAND)
def test_hand_computed(response: str, options: dict[str, Any], expected: float) -> None:
    result = score(response, **options)
    assert result.status == "ok"
    assert math.isfinite(result.reward)
    assert result.reward == pytest.approx(expected)


def test_details_say_why_an_expression_scores_the_worst() -> None:
    assert "division by zero" in score("1/(x - 3)").details["reason"]
    assert "unknown variables: z" in score("z").details["reason"]
    assert "unreadable" in score("__import__('os')").details["reason"]
    details = score("x**2").details
    assert (details["size"], details["recovered"]) == (3, True)  # a constant factor away
    assert details["r2"] == pytest.approx(1 - _nmse([x * x for x in XS]))


RECOVERY = [
    pytest.param("2*x**2", True, id="same"),
    pytest.param("2.0001*x**2", True, id="constant-factor"),
    pytest.param("2*x**2 + 3.7", True, id="constant-offset"),
    pytest.param("\\frac{x^2}{0.5}", True, id="latex"),
    pytest.param("2*x**3", False, id="other-power"),
    pytest.param("2*x**2 + x", False, id="extra-term"),
    pytest.param("sin(x)", False, id="other-law"),
]


@pytest.mark.parametrize(("response", "expected"), RECOVERY)
def test_exact_recovery_up_to_constants(response: str, expected: bool) -> None:
    result = score(response, reward="recovery")
    assert result.details["recovered"] is expected
    assert result.reward == float(expected)


def test_two_variables_and_many_points_are_subsampled() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-3, 3, 5000), rng.uniform(0.5, 3, 5000)
    reference = {"data": {"a": a.tolist(), "B": b.tolist(), "y": (a * np.log(b)).tolist()}}
    result = score("a*log(b)", reference, max_points=300)
    assert result.reward == pytest.approx(1.0)
    assert result.details["points"] == 300


@pytest.mark.parametrize("seed", range(6))
def test_r2_matches_scipy_on_a_linear_fit(seed: int) -> None:
    from scipy import stats

    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, 200)
    y = 3 * x + 1 + rng.normal(0, 2, 200)
    fit = stats.linregress(x, y)
    response = f"{float(fit.slope)!r}*x + {float(fit.intercept)!r}"
    result = score(response, {"data": {"x": x.tolist(), "y": y.tolist()}})
    assert result.reward == pytest.approx(fit.rvalue**2, rel=1e-9)
    expected_nmse = np.mean((y - (fit.slope * x + fit.intercept)) ** 2) / np.var(y)
    assert result.details["nmse"] == pytest.approx(expected_nmse, rel=1e-9)


def test_constant_target_uses_the_plain_error() -> None:
    reference = {"data": {"x": [1, 2, 3], "y": [4, 4, 4]}}
    assert score("4", reference).reward == 1.0
    assert score("5", reference, metric="inv_nmse").reward == pytest.approx(0.5)


def test_csv_asset(tmp_path: Path) -> None:
    text = "x,y\n" + "".join(f"{x},{2 * x * x}\n" for x in XS)
    sha = hashlib.sha256(text.encode()).hexdigest()
    (tmp_path / sha[:2]).mkdir()
    (tmp_path / sha[:2] / sha).write_text(text)
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    reference = {"data": f"asset:{sha}"}
    request = RewardRequest(verifier="symbolic_regression", response="2*x**2", reference=reference)
    result = verifier.verify(request)
    assert result.reward == 1.0
    assert verifier.fingerprints(verifier.prepare(reference, {}).reference) == [f"asset:{sha}"]
    with pytest.raises(InvalidRequest, match="no asset"):
        verifier.prepare({"data": "asset:" + "0" * 64}, {})
    with pytest.raises(InvalidRequest, match="SHA-256"):
        verifier.prepare({"data": "asset:../../etc/passwd"}, {})


@pytest.mark.parametrize(
    ("reference", "options", "field"),
    [
        pytest.param(None, {}, "reference.data", id="missing"),
        pytest.param({"data": {"x": [1, 2]}}, {}, "target column 'y'", id="no-y"),
        pytest.param({"data": {"x": [1, 2], "y": [1]}}, {}, "length", id="ragged"),
        pytest.param({"data": {"x": [], "y": []}}, {}, "points", id="empty"),
        pytest.param({"data": {"x": [1, "a"], "y": [1, 2]}}, {}, "number", id="not-number"),
        pytest.param({"data": {"x": [1, float("nan")], "y": [1, 2]}}, {}, "finite", id="nan"),
        pytest.param({"data": {"x": [1], "X": [2], "y": [1]}}, {}, "twice", id="case-clash"),
        pytest.param({"data": "/etc/passwd"}, {}, "asset", id="path"),
        pytest.param({"data": "asset:" + "0" * 64}, {}, "no asset store", id="no-store"),
        pytest.param(
            {"data": {"x": [1], "y": [1]}, "target": "__import__('os')"},
            {},
            "reference.target",
            id="bad-target",
        ),
        pytest.param(
            {"data": {"x": [1], "y": [1]}, "target": "x*w"}, {}, "no data for w", id="target-var"
        ),
        pytest.param(
            {"data": {"x": [1], "y": [1]}},
            {"reward": "recovery"},
            "target",
            id="recovery-without-target",
        ),
        pytest.param(
            {"data": {"x": [1], "y": [1]}}, {"metric": "mae"}, "options.metric", id="unknown-metric"
        ),
        pytest.param(
            {"data": {"x": [1], "y": [1]}},
            {"complexity_penalty": -1},
            "complexity_penalty",
            id="negative-penalty",
        ),
    ],
)
def test_malformed_requests_are_invalid(
    reference: Any, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequest, match=field):
        SR.prepare(reference, options)


def test_lowest_reward_follows_the_metric_and_penalty() -> None:
    assert SR.lowest_reward_for(SR.prepare(SQUARE, {}).options) == 0.0
    assert SR.lowest_reward_for(SR.prepare(SQUARE, {"metric": "nmse"}).options) == -10.0
    assert SR.lowest_reward_for(SR.prepare(SQUARE, {"complexity_penalty": 0.001}).options) < 0


def test_usable_in_compose() -> None:
    request = RewardRequest(
        verifier="compose",
        response="<think>quadratic</think>\n<answer>2*x**2</answer>",
        reference=SQUARE,
        options={
            "children": [
                {"name": "fmt", "verifier": "format", "weight": 0.5},
                {"name": "fit", "verifier": "symbolic_regression"},
            ]
        },
    )
    result = ComposeVerifier().verify(request)
    assert result.status == "ok"
    assert result.reward == pytest.approx(1.5)


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(SymbolicRegressionVerifier)
    items = [
        {"verifier": "symbolic_regression", "response": r, "reference": SQUARE}
        for r in ("2*x**2", "1/(x - 3)", "x")
    ]
    items.append({"verifier": "symbolic_regression", "response": "x", "reference": {"data": 1}})
    results = engine.score(items)
    assert [r.status for r in results] == ["ok", "ok", "ok", "invalid"]
    assert results[0].reward == 1.0 and results[0].details["recovered"] is True
    assert results[1].reward == 0.0 and "division by zero" in results[1].details["reason"]


# --- Parquet data assets ------------------------------------------------------------------


def _store(asset_dir: Path, blob: bytes) -> str:
    sha = hashlib.sha256(blob).hexdigest()
    (asset_dir / sha[:2]).mkdir(exist_ok=True)
    (asset_dir / sha[:2] / sha).write_bytes(blob)
    return f"asset:{sha}"


def _parquet(table: pa.Table, **write: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **write)
    return sink.getvalue()


def test_parquet_asset(tmp_path: Path) -> None:
    """A Parquet file (pyarrow's own writer) reads as the CSV with the same columns does."""
    table = pa.table(
        {
            "X": pa.array(XS, pa.float32()),
            "y": pa.array([int(2 * x * x) for x in XS], pa.int64()),
            "z": pa.array([Decimal("1.5")] * 5, pa.decimal128(4, 2)),
        }
    )
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    reference = {"data": _store(tmp_path, _parquet(table, compression="zstd")), "target": "2*x^2"}
    exact = verifier.verify(
        RewardRequest(verifier="symbolic_regression", response="2*x**2", reference=reference)
    )
    assert (exact.status, exact.reward, exact.details["recovered"]) == ("ok", 1.0, True)
    off = verifier.verify(
        RewardRequest(verifier="symbolic_regression", response="2*x**2 + z", reference=reference)
    )
    # every residual is 1.5: NMSE = 2.25 / var(y)
    assert off.reward == pytest.approx(1 - 2.25 / VAR)
    assert verifier.fingerprints(verifier.prepare(reference, {}).reference) == [reference["data"]]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        pytest.param({"x": ["1", "2"], "y": [1.0, 2.0]}, "string column", id="strings"),
        pytest.param({"x": [True, False], "y": [1.0, 2.0]}, "bool column", id="booleans"),
        pytest.param({"x": [1.0, None], "y": [1.0, 2.0]}, "not a number", id="null"),
        pytest.param({"x": [1.0, float("nan")], "y": [1.0, 2.0]}, "finite", id="nan"),
        pytest.param({"x": [[1.0], [2.0]], "y": [1.0, 2.0]}, "list", id="nested"),
        pytest.param({"x": [1.0, 2.0], "Y": [1.0, 2.0], "y": [3.0, 4.0]}, "twice", id="case-dup"),
        pytest.param({"x": [1.0, 2.0]}, "no target column", id="no-target"),
        pytest.param({f"x{i}": [1.0] for i in range(40)} | {"y": [1.0]}, "columns", id="wide"),
    ],
)
def test_hostile_parquet_is_invalid(tmp_path: Path, columns: dict[str, Any], message: str) -> None:
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    asset = _store(tmp_path, _parquet(pa.table(columns)))
    with pytest.raises(InvalidRequest, match=message):
        verifier.prepare({"data": asset}, {})


def test_parquet_limits_are_read_from_the_footer(tmp_path: Path) -> None:
    """Too many rows are refused from the footer: the file is small although its data
    would be large in memory."""
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    rows = data.MAX_ROWS + 1
    tall = pa.table({"x": pa.array(np.zeros(rows)), "y": pa.array(np.zeros(rows))})
    blob = _parquet(tall, compression="zstd")
    assert len(blob) < 100_000  # zeros compress to almost nothing
    with pytest.raises(InvalidRequest, match="points"):
        verifier.prepare({"data": _store(tmp_path, blob)}, {})
    huge_text = pa.table({"x": ["9" * 1_000_000], "y": [1.0]})
    with pytest.raises(InvalidRequest, match="string column"):
        verifier.prepare({"data": _store(tmp_path, _parquet(huge_text))}, {})


def test_oversized_file_is_invalid(tmp_path: Path) -> None:
    blob = _parquet(pa.table({"x": XS, "y": XS}))
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    asset = _store(tmp_path, blob)
    limit = data.MAX_DATA_BYTES
    try:
        data.MAX_DATA_BYTES = len(blob) - 1  # the same check, at a size a test writes quickly
        with pytest.raises(InvalidRequest, match="file over"):
            verifier.prepare({"data": asset}, {})
    finally:
        data.MAX_DATA_BYTES = limit


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        pytest.param(b"PAR1" + b"\x00" * 64 + b"PAR1", "unreadable Parquet", id="fake-footer"),
        pytest.param(b"PAR1garbage", "unreadable Parquet", id="truncated"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "", id="not-parquet"),
    ],
)
def test_broken_or_foreign_files_are_invalid(tmp_path: Path, blob: bytes, message: str) -> None:
    """A file with Parquet's magic but a broken body is an unreadable Parquet file; any
    other bytes are read as CSV and fail its rules."""
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    with pytest.raises(InvalidRequest, match=message or "reference.data"):
        verifier.prepare({"data": _store(tmp_path, blob)}, {})


def test_truncated_real_parquet_is_invalid(tmp_path: Path) -> None:
    blob = _parquet(pa.table({"x": XS, "y": XS}))
    verifier = SymbolicRegressionVerifier(VerifierEnv(asset_dir=tmp_path))
    with pytest.raises(InvalidRequest, match="unreadable Parquet"):
        verifier.prepare({"data": _store(tmp_path, blob[: len(blob) // 2])}, {})
