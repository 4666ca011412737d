"""The scoring actor of `--engine ray` (`Scorer`) and the driver's sink, without a cluster.

`Scorer` is a plain class that Ray instantiates as an actor; called here directly on
the Arrow batches Ray Data would hand it, it must give exactly the lines local mode
writes for the same rows, since the driver writes its lines as they come.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from rewardgate.service.batch import FieldMap
from rewardgate.service.ray_engine import (
    OUT_LINE,
    OUT_PROBLEM,
    OUT_REWARD,
    OUT_STATUS,
    OUT_VERIFIER,
    Scorer,
)
from rewardgate.service.ray_io import ROW_ID, TEXT, LineSink
from tests.conftest import ROOT

# Named like the Ray tests but needs no cluster, nor Ray installed (tests/markers.py).
USES_RESOURCES = ()


def rows(n: int) -> list[dict[str, object]]:
    """Matches, misses, a fuzzy similarity, a row without a response (`invalid`)."""
    out: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {
            "row": i,
            "response": f"answer {i % 11}",
            "reference": f"answer {i % 7}",
            "meta": {"tags": [i % 2], "note": "é"},
        }
        if i % 5 == 0:
            row["options"] = {"operation": "fuzzy"}
        if i % 97 == 0:
            del row["response"]
        out.append(row)
    return out


def comparable(line: bytes) -> dict[str, object]:
    """A line without what differs between any two runs: time taken, cache hits."""
    row = json.loads(line)
    details = row["reward_details"]
    del details["elapsed_ms"], details["cached"]
    return row


def text_batch(lines: list[str], first_id: int = 0) -> pa.Table:
    """What `ray_read.RowsDatasource` hands the actor for JSONL lines."""
    return pa.table(
        {
            ROW_ID: pa.array(range(first_id, first_id + len(lines)), pa.int64()),
            TEXT: pa.array([line.encode() for line in lines], pa.large_binary()),
        }
    )


@pytest.fixture(scope="module")
def scorer() -> Iterator[Scorer]:
    # Chunks of 64: a 300-row batch is five chunks in flight in the engine at once.
    made = Scorer(FieldMap("string"), "jsonl", workers=1, settings={}, chunk=64)
    try:
        yield made
    finally:
        made.waiters.shutdown()
        made.client.close()


@pytest.fixture(scope="module")
def local_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[bytes]]:
    """300 input lines and local mode's output lines for them (the reference)."""
    folder = tmp_path_factory.mktemp("scorer")
    source, output = folder / "in.jsonl", folder / "local.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows(300)]
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    command = [sys.executable, "-m", "rewardgate.service.cli", "score", str(source)]
    command += ["-o", str(output), "--verifier", "string", "--quiet"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return lines, output.read_bytes().splitlines(keepends=True)


def test_lines_are_local_modes_lines(
    scorer: Scorer, local_output: tuple[list[str], list[bytes]]
) -> None:
    lines, expected = local_output
    out = scorer(text_batch(lines))
    got: list[bytes] = out[OUT_LINE].to_pylist()
    assert out[ROW_ID].to_pylist() == list(range(300))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in got)
    assert [comparable(line) for line in got] == [comparable(line) for line in expected]
    # What the driver's summary counts, row by row, from the same results.
    decoded = [json.loads(line) for line in got]
    assert out[OUT_STATUS].to_pylist() == [r["status"] for r in decoded]
    assert out[OUT_REWARD].to_pylist() == [
        r["reward"] if r["status"] == "ok" else None for r in decoded
    ]
    assert set(out[OUT_VERIFIER].to_pylist()) == {"string"}
    assert {r["status"] for r in decoded} == {"ok", "invalid"}
    assert out[OUT_PROBLEM].null_count == 300


def test_a_row_that_is_not_an_object_is_a_problem_not_a_line(scorer: Scorer) -> None:
    good = json.dumps({"response": "a", "reference": "a"})
    out = scorer(text_batch([good, "{not json", "[1, 2]", good], first_id=10))
    problems = out[OUT_PROBLEM].to_pylist()
    assert problems[0] is None and problems[3] is None
    assert problems[1] is not None and problems[1].startswith("not JSON")
    assert problems[2] == "a row must be a JSON object"
    lines = out[OUT_LINE].to_pylist()
    assert lines[1] is None and lines[2] is None
    assert json.loads(lines[3])["reward"] == 1.0
    assert out[ROW_ID].to_pylist() == [10, 11, 12, 13]


def test_parquet_rows_and_journal_lines_that_hold_the_scores_only() -> None:
    """A Parquet output's journal holds the score columns alone (the table is built from
    the input at the end); Parquet rows arrive as Arrow columns beside their ids."""
    made = Scorer(FieldMap("string"), "parquet", workers=1, settings={}, chunk=2, whole_rows=False)
    try:
        table = pa.Table.from_pylist(rows(12)[7:]).append_column(
            ROW_ID, pa.array(range(7, 12), pa.int64())
        )
        out = made(table)
    finally:
        made.waiters.shutdown()
        made.client.close()
    assert out[ROW_ID].to_pylist() == [7, 8, 9, 10, 11]
    lines = [json.loads(line) for line in out[OUT_LINE].to_pylist()]
    assert [sorted(line) for line in lines] == [["reward", "reward_details", "status"]] * 5
    # "answer 7" against "answer 0" and so on: no exact match.
    assert [line["reward"] for line in lines[:3]] == [0.0, 0.0, 0.0]
    assert {line["status"] for line in lines} == {"ok"}


def test_line_sink_appends_and_resume_counts_what_is_on_disk(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("{}\n" * 5)
    sink = LineSink(output, source, resume=False, force=False)
    assert sink.whole_rows
    sink.write_lines([b'{"a":1}\n', b'{"a":2}\n'])
    sink.close()
    resumed = LineSink(output, source, resume=True, force=False)
    assert resumed.done == 2
    resumed.write_lines([b'{"a":3}\n'])
    resumed.finish()
    assert output.read_bytes() == b'{"a":1}\n{"a":2}\n{"a":3}\n'
    assert not LineSink(tmp_path / "o.parquet", source, resume=False, force=False).whole_rows
