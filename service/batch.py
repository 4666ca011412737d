"""The loop behind `rewardgate score`: a dataset through any scorer, in order, resumable.

Rows are scored in chunks with several chunks in flight, but written strictly in
input order as each chunk at the head completes, so the output is always a prefix of
the finished file and `--resume` only has to count it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardgate.service.datasets import ResultSink, read_rows
from rewardgate.verifiers.models import RewardResult

__all__ = ["FieldMap", "ScoreSummary", "score_dataset"]

ScoreBatch = Callable[[list[dict[str, Any]]], Awaitable[list[RewardResult]]]


@dataclass(frozen=True)
class FieldMap:
    """How a dataset row becomes a reward request."""

    verifier: str | None = None
    response_field: str = "response"
    reference_field: str = "reference"
    options: dict[str, Any] = field(default_factory=dict)
    # Parquet datasets often store structured references as JSON text; never guessed,
    # since a math gold such as "[0, 1]" is an interval, not a list.
    reference_json: bool = False

    def item(self, index: int, row: dict[str, Any]) -> dict[str, Any]:
        """The request for `row`; a row missing its response becomes an `invalid` result."""
        item: dict[str, Any] = {"id": str(index), "verifier": self.verifier or row.get("verifier")}
        if self.response_field in row:
            item["response"] = row[self.response_field]
        reference = row.get(self.reference_field)
        if self.reference_json and isinstance(reference, str):
            # Undecodable text stays text: the verifier's validation then rules on it.
            with contextlib.suppress(json.JSONDecodeError):
                reference = json.loads(reference)
        item["reference"] = reference
        row_options = row.get("options")
        item["options"] = {**self.options, **(row_options if isinstance(row_options, dict) else {})}
        return item


@dataclass
class ScoreSummary:
    already_done: int = 0
    scored: int = 0
    reward_sum: float = 0.0
    ok: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_verifier: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, result: RewardResult) -> None:
        self.scored += 1
        self.by_status[result.status] += 1
        self.by_verifier[result.verifier or "?"] += 1
        if result.status == "ok":
            self.ok += 1
            self.reward_sum += result.reward

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.ok if self.ok else None

    @property
    def items_per_s(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0


def score_columns(result: RewardResult) -> dict[str, Any]:
    return {
        "reward": result.reward,
        "status": result.status,
        "reward_details": {
            "verifier": result.verifier,
            "version": result.version,
            "steps": [s.model_dump(mode="json") for s in result.steps]
            if result.steps is not None
            else None,
            "details": result.details,
            "error": result.error,
            "elapsed_ms": result.elapsed_ms,
            "cached": result.cached,
        },
    }


def _chunks(
    rows: Iterator[dict[str, Any]], start: int, size: int
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    chunk: list[tuple[int, dict[str, Any]]] = []
    for index, row in enumerate(rows, start):
        chunk.append((index, row))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def score_dataset(
    source: Path,
    sink: ResultSink,
    score_batch: ScoreBatch,
    fields: FieldMap,
    *,
    chunk_size: int = 256,
    concurrency: int = 4,
    progress: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Score every row of `source` not yet in `sink`; returns what this run did."""
    summary = ScoreSummary(already_done=sink.done)
    start = time.perf_counter()
    chunks = _chunks(read_rows(source, sink.done), sink.done, chunk_size)
    in_flight: deque[tuple[list[tuple[int, dict[str, Any]]], asyncio.Task[list[RewardResult]]]]
    in_flight = deque()

    async def launch() -> bool:
        # Reading a chunk (a Parquet row group, a JSONL slice) and writing one are file
        # work: off the event loop, so the chunks in flight keep being scored meanwhile.
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return False
        items = [fields.item(index, row) for index, row in chunk]
        in_flight.append((chunk, asyncio.ensure_future(score_batch(items))))
        return True

    try:
        while len(in_flight) < concurrency and await launch():
            pass
        while in_flight:
            chunk, task = in_flight.popleft()
            results = await task
            rows = [(row, score_columns(r)) for (_, row), r in zip(chunk, results, strict=True)]
            await asyncio.to_thread(sink.write, rows)
            for result in results:
                summary.add(result)
            if progress is not None:
                progress(len(results))
            await launch()
    finally:
        for _, task in in_flight:
            task.cancel()
        summary.seconds = time.perf_counter() - start
    sink.finish()
    return summary
