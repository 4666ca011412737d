"""From a response and a gold query to a verdict: extract, parse, execute, match.

`details["rule"]` names what decided: `match`, `mismatch`, `too_many_rows`,
`exec_error`, `timeout`, `unsafe`, `no_query`, `query_too_long`, `bad_format`
(SQL-R1's layout, when a reward weighs it). Everything the prediction does is a
verdict; only the reference can make a request `invalid` (a database that is missing
or unreadable, a gold query that fails, runs past the limit or returns more than
`max_rows` rows), and only the service (PostgreSQL unreachable) can make it an `error`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from rewardgate.verifiers.base import Verdict, VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import StepReward
from rewardgate.verifiers.sql.compare import (
    bird_equal,
    first_difference,
    order_matters,
    spider_equal,
    spider_preprocess,
)
from rewardgate.verifiers.sql.engines import QueryFailed, Rows, Target, connect, forget
from rewardgate.verifiers.sql.extract import Format, check_format, extract_query, strip_query
from rewardgate.verifiers.sql.models import RewardWeights, SqlOptions, SqlReference, SqlSettings
from rewardgate.verifiers.sql.rewards import clean_abnormal, length_bonus, ves_bucket
from rewardgate.verifiers.sql.safety import DIALECTS, check_query

__all__ = ["gold_rows", "judge"]

MAX_SHOWN_CHARS = 300
# Longer queries are refused unparsed: no text-to-SQL answer is this long, and parsing
# megabytes of SQL would cost more than any verdict is worth.
MAX_QUERY_CHARS = 100_000
_GOLD_CACHE_ENTRIES = 1024
_GOLD_CACHE_MAX_ROWS = 20_000
_gold_cache: OrderedDict[tuple[str, str, str, int], Rows] = OrderedDict()
_gold_lock = threading.Lock()


def _shown_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."


def _shown(row: Any) -> Any:
    return None if row is None else [_shown_value(v) for v in row]


def gold_rows(target: Target, gold_sql: str, options: SqlOptions) -> Rows:
    """The gold's result on `target`, cached per (database fingerprint, gold query)."""
    key = (target.fingerprint, target.engine, gold_sql, options.max_rows)
    with _gold_lock:
        rows = _gold_cache.get(key)
        if rows is not None:
            _gold_cache.move_to_end(key)
            return rows
    try:
        rows = connect(target).run(gold_sql, options.query_timeout_s, options.max_rows)
    except QueryFailed as exc:
        forget(target)
        hint = " (raise options.max_rows)" if exc.kind == "too_many_rows" else ""
        raise InvalidRequest(
            f"reference.gold_sql fails on {target.label}: {exc.message}{hint}"
        ) from None
    if len(rows) <= _GOLD_CACHE_MAX_ROWS:
        with _gold_lock:
            _gold_cache[key] = rows
            while len(_gold_cache) > _GOLD_CACHE_ENTRIES:
                _gold_cache.popitem(last=False)
    return rows


@dataclass
class _Scorer:
    """Collects each stage's step and the details as the pipeline goes."""

    weights: RewardWeights
    details: dict[str, Any]
    steps: list[StepReward] = field(default_factory=list)

    def step(self, label: str, reward: float, **info: Any) -> None:
        # Typed values only (a float reward: the weights are validated floats), so the
        # step is not validated again (four validations were 5% of a Chinook item).
        self.steps.append(StepReward.trusted(len(self.steps), float(reward), label, info))

    def verdict(self, rule: str) -> Verdict:
        self.details["rule"] = rule
        return Verdict(sum(s.reward for s in self.steps), steps=self.steps, details=self.details)

    def fail(self, label: str, rule: str, **info: Any) -> Verdict:
        self.step(label, self.weights.fails, ok=False, **info)
        return self.verdict(rule)


_RULES = {"timeout": "timeout", "refused": "unsafe", "error": "exec_error"}


def judge(
    response: str,
    reference: SqlReference,
    options: SqlOptions,
    env: VerifierEnv,
    settings: SqlSettings,
) -> Verdict:
    weights = options.weights()
    targets = reference.targets(env, settings)
    engines = sorted({t.engine for t in targets})
    score = _Scorer(weights, {"semantics": options.semantics, "engine": ",".join(engines)})
    fmt: Format | None = None
    if weights.uses_format:
        fmt = check_format(response)
        score.step(
            "format", weights.format_ok if fmt.ok else weights.format_bad, ok=fmt.ok, why=fmt.why
        )
        if not fmt.ok and weights.gate_on_format:
            return score.verdict("bad_format")
    query = strip_query(fmt.query) if fmt is not None and fmt.ok else extract_query(response)
    score.details["query"] = _shown_value(query)
    if not query:
        return score.fail("extract", "no_query")
    if len(query) > MAX_QUERY_CHARS:
        score.details["error"] = f"query longer than {MAX_QUERY_CHARS} characters"
        return score.fail("extract", "query_too_long", chars=len(query))
    score.step("extract", 0.0, ok=True)

    gold_sql, pred_sql = reference.gold_sql, query
    ordered = False
    if options.semantics == "spider":
        dialect = DIALECTS[targets[0].engine]
        gold_sql = spider_preprocess(gold_sql, options.keep_distinct, dialect)
        pred_sql = spider_preprocess(pred_sql, options.keep_distinct, dialect)
        score.details["order_matters"] = ordered = order_matters(gold_sql)
    parse_info: dict[str, Any] = {}
    for engine in engines:
        checked = check_query(pred_sql, engine)
        if checked.refusal:
            score.details["error"] = checked.refusal
            return score.fail("parse", "unsafe", engine=engine, error=checked.refusal)
        if not checked.parsed:
            parse_info = {"sqlglot": checked.parse_error, "decided_by": "engine"}
    score.step("parse", 0.0, ok=True, **parse_info)

    results: list[tuple[Target, Rows, Rows]] = []
    for target in targets:
        gold = gold_rows(target, gold_sql, options)
        try:
            pred = connect(target).run(pred_sql, options.query_timeout_s, options.max_rows)
        except QueryFailed as exc:
            score.details.update(error=_shown_value(exc.message), db=target.label)
            if exc.kind == "too_many_rows":
                score.step("execute", weights.executes, ok=True, db=target.label)
                score.step("match", weights.mismatch, ok=False, error=exc.message[:MAX_SHOWN_CHARS])
                return score.verdict("too_many_rows")
            return score.fail(
                "execute", _RULES[exc.kind], db=target.label, error=_shown_value(exc.message)
            )
        results.append((target, gold, pred))
    score.step("execute", weights.executes, ok=True, databases=len(results))
    return _match(score, results, gold_sql, pred_sql, options, fmt, ordered)


def _match(
    score: _Scorer,
    results: list[tuple[Target, Rows, Rows]],
    gold_sql: str,
    pred_sql: str,
    options: SqlOptions,
    fmt: Format | None,
    ordered: bool,
) -> Verdict:
    """`ordered`: spider semantics and the gold has ORDER BY."""
    for target, gold, pred in results:
        if options.semantics == "spider":
            equal = spider_equal(gold, pred, ordered)
        else:
            equal = bird_equal(gold, pred)
        if not equal:
            diff = first_difference(gold, pred, ordered)
            score.details.update(
                db=target.label,
                gold_rows=len(gold),
                pred_rows=len(pred),
                first_difference={
                    k: v if isinstance(v, int) else _shown(v) for k, v in diff.items()
                },
            )
            score.step("match", score.weights.mismatch, ok=False, db=target.label)
            return score.verdict("mismatch")
    score.details.update(gold_rows=len(results[0][1]), pred_rows=len(results[0][2]))
    match_reward = score.weights.match
    if options.ves:
        bucket = _ves(results[0][0], gold_sql, pred_sql, options, score.details)
        match_reward *= bucket
    score.step("match", match_reward, ok=True, databases=len(results))
    if score.weights.length and fmt is not None and fmt.ok:
        bonus = length_bonus(fmt.query, fmt.think, fmt.answer)
        score.step("length", score.weights.length * bonus, ok=True)
    return score.verdict("match")


def _ves(
    target: Target, gold_sql: str, pred_sql: str, options: SqlOptions, details: dict[str, Any]
) -> float:
    """BIRD's R-VES: mean gold/pred time ratio over timed runs, outliers dropped, bucketed."""
    conn = connect(target)
    ratios = []
    try:
        for _ in range(options.ves_runs):
            start = time.perf_counter()
            conn.run(pred_sql, options.query_timeout_s, options.max_rows)
            pred_time = time.perf_counter() - start
            start = time.perf_counter()
            conn.run(gold_sql, options.query_timeout_s, options.max_rows)
            gold_time = time.perf_counter() - start
            ratios.append(gold_time / max(pred_time, 1e-9))
    except QueryFailed as exc:
        details["ves"] = {"reward": 0.0, "error": exc.message}
        return 0.0
    kept = clean_abnormal(ratios)
    ratio = sum(kept) / len(kept)
    bucket = ves_bucket(ratio)
    details["ves"] = {"time_ratio": round(ratio, 4), "reward": bucket, "runs": len(ratios)}
    return bucket
