"""The `rewardgate` command: score (JSONL/Parquet, resume after SIGKILL), verifiers, doctor."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT

CLI = [sys.executable, "-m", "rewardgate.service.cli"]


def math_rows(n: int) -> list[dict[str, object]]:
    """Distinct responses, so nothing is cached and the run takes a while."""
    return [
        {
            "row": i,
            "response": f"Attempt {i}: we compute $\\frac{{{i}}}{{{i % 7 + 1}}}$, so "
            f"\\boxed{{{i % 9}}}",
            "reference": str(i % 3),
            "meta": {"split": "train", "tags": [i % 2]},
        }
        for i in range(n)
    ]


def write_input(path: Path, rows: list[dict[str, object]]) -> None:
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def read_output(path: Path) -> list[dict[str, object]]:
    if path.suffix == ".parquet":
        return list(pq.read_table(path).to_pylist())
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300
    )


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_sigkill_midway_then_resume_gives_every_row_once_in_order(
    tmp_path: Path, suffix: str
) -> None:
    n = 2000
    source, output = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    write_input(source, math_rows(n))
    progress_file = output if suffix == ".jsonl" else Path(f"{output}.partial.jsonl")
    args = [
        *CLI,
        "score",
        str(source),
        "-o",
        str(output),
        "--verifier",
        "math",
        "--quiet",
        "--chunk-size",
        "64",
    ]
    process = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if progress_file.exists() and progress_file.read_bytes().count(b"\n") >= 300:
            break
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before the kill"
    process.send_signal(signal.SIGKILL)
    process.wait()
    written_before = progress_file.read_bytes().count(b"\n")
    assert 300 <= written_before < n, "the kill must land midway"

    refused = run_cli("score", str(source), "-o", str(output), "--verifier", "math")
    assert refused.returncode != 0 and "--resume" in refused.stderr

    resumed = run_cli(
        "score", str(source), "-o", str(output), "--verifier", "math", "--resume", "--quiet"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"after {written_before} rows from an earlier run" in resumed.stderr
    assert f"scored {n - written_before} rows" in resumed.stderr

    rows = read_output(output)
    assert [r["row"] for r in rows] == list(range(n))
    assert all(r["status"] == "ok" for r in rows)
    expected = [float(i % 9 == i % 3) for i in range(n)]
    assert [r["reward"] for r in rows] == expected
    if suffix == ".parquet":
        assert not progress_file.exists()
        details = json.loads(rows[0]["reward_details"])  # type: ignore[arg-type]
        assert details["verifier"] == "math" and "extracted" in details["details"]
        assert rows[5]["meta"] == {"split": "train", "tags": [1]}, "input types survive"


def test_rows_keep_their_fields_and_bad_rows_get_their_own_status(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [
        {"q": "a", "completion": "\\boxed{4}", "solution": "4", "verifier": "math"},
        {"q": "b", "completion": "\\boxed{5}", "solution": "4", "verifier": "math"},
        {"q": "c", "solution": "4", "verifier": "math"},
        {"q": "d", "completion": "x", "solution": "4", "verifier": "no-such"},
    ]
    write_input(source, rows)
    result = run_cli(
        "score",
        str(source),
        "-o",
        str(output),
        "--response-field",
        "completion",
        "--reference-field",
        "solution",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    out = read_output(output)
    assert [r["q"] for r in out] == ["a", "b", "c", "d"]
    assert [(r["status"], r["reward"]) for r in out] == [
        ("ok", 1.0),
        ("ok", 0.0),
        ("invalid", 0.0),
        ("invalid", 0.0),
    ]
    assert "response" in out[2]["reward_details"]["error"]  # type: ignore[index]
    assert "by status: invalid 2, ok 2" in result.stderr
    assert "mean reward (ok rows): 0.5000" in result.stderr


def test_options_and_reference_json(tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(
        source, [{"response": "\\boxed{5} no wait \\boxed{7}", "reference": '{"answer": "5"}'}]
    )
    first = run_cli(
        "score",
        str(source),
        "-o",
        str(output),
        "--verifier",
        "math",
        "--reference-json",
        "--options",
        '{"boxed": "first"}',
        "--quiet",
    )
    assert first.returncode == 0, first.stderr
    assert read_output(output)[0]["reward"] == 1.0
    bad = run_cli("score", str(source), "-o", str(output), "--force", "--options", "{nope")
    assert bad.returncode != 0 and "--options" in bad.stderr


def test_scoring_through_a_server(tmp_path: Path, live_server) -> None:
    server = live_server(workers=2)
    source, output = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    write_input(source, [{"response": str(i % 2), "reference": {"answer": "1"}} for i in range(50)])
    result = run_cli(
        "score",
        str(source),
        "-o",
        str(output),
        "--verifier",
        "echo",
        "--server",
        server.url,
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert [r["reward"] for r in read_output(output)] == [float(i % 2) for i in range(50)]


def test_verifiers_and_doctor_commands() -> None:
    listed = run_cli("verifiers", "--json")
    assert listed.returncode == 0
    assert "math" in [v["name"] for v in json.loads(listed.stdout)]
    doctor = run_cli("doctor", "--json")
    assert doctor.returncode == 0
    checks = {c["name"]: c for c in json.loads(doctor.stdout)}
    assert checks["math.math_verify"]["ok"] is True
    assert all(c["ok"] or c["fix"] for c in checks.values()), "every failed check has a fix"
