"""`rewardgate report` on generated scored files, and `rewardgate score --report`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardgate.service.report import REPORT_CSP, collect
from tests.service.test_cli import run_cli, write_input

HOSTILE = "<script>alert(1)</script><svg onload=\"fetch('http://203.0.113.9/')\"></svg>"


def scored_rows(groups: int = 20, per_group: int = 4) -> list[dict[str, Any]]:
    """Rows as `rewardgate score` writes them: math (half the groups all wrong, so zero
    variance), code with a failing test, one invalid row and one hostile response."""
    rows: list[dict[str, Any]] = []
    for g in range(groups):
        for k in range(per_group):
            reward = 0.0 if g % 2 else float(k % 2)
            rows.append(
                {
                    "prompt": f"question {g}",
                    "response": f"\\boxed{{{k}}}",
                    "reward": reward,
                    "status": "ok",
                    "reward_details": {
                        "verifier": "math",
                        "details": {
                            "extracted": str(k),
                            "rule": "equivalent" if reward else "not_equivalent",
                        },
                        "steps": None,
                        "elapsed_ms": float(10 + g + k),
                    },
                }
            )
    code_steps = [
        {"index": 0, "reward": 1.0, "label": "passed", "details": {}},
        {
            "index": 1,
            "reward": 0.0,
            "label": "wrong_answer",
            "details": {"input": "1 2", "expected": "3", "actual": "-1"},
        },
    ]
    rows.append(
        {
            "prompt": "add",
            "response": HOSTILE,
            "reward": -0.25,  # below every math row: it is the lowest
            "status": "ok",
            "reward_details": {
                "verifier": "code",
                "details": {"language": "python", "passed": 1, "tests": 2},
                "steps": code_steps,
                "elapsed_ms": 900.0,
            },
        }
    )
    rows.append(
        {
            "prompt": "bad",
            "response": "x",
            "reward": 0.0,
            "status": "invalid",
            "reward_details": {"verifier": "math", "error": "no reference", "elapsed_ms": 1.0},
        }
    )
    return rows


def test_collect_counts_groups_and_keeps_only_the_extremes(tmp_path: Path) -> None:
    source = tmp_path / "scored.jsonl"
    write_input(source, scored_rows())
    data = collect(source, top=3)
    assert data.rows == 82
    assert data.by_status == {"ok": 81, "invalid": 1}
    assert data.by_verifier_status["math"] == {"ok": 80, "invalid": 1}
    assert len(data.lowest) == 3 and len(data.highest) == 3
    assert min(r for r, _, _ in data.highest) == 1.0
    assert sorted(-r for r, _, _ in data.lowest)[0] == -0.25
    sized = [g for g in data.groups.values() if len(g) >= 2]
    assert sum(1 for g in sized if max(g) == min(g)) == 10  # the odd math groups


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_report_command_writes_a_self_contained_page(tmp_path: Path, suffix: str) -> None:
    source, html = tmp_path / f"scored{suffix}", tmp_path / "report.html"
    rows = scored_rows()
    if suffix == ".parquet":  # as `score` writes Parquet: reward_details as JSON text
        table = [{**r, "reward_details": json.dumps(r["reward_details"])} for r in rows]
        pq.write_table(pa.Table.from_pylist(table), source)
    else:
        write_input(source, rows)
    result = run_cli("report", str(source), "-o", str(html))
    assert result.returncode == 0, result.stderr
    assert "82 rows" in result.stderr
    page = html.read_text()
    assert REPORT_CSP in page and "<script" not in page.replace("&lt;script", "")
    assert "<b id=zero-variance>10</b> of 20 groups" in page
    assert "(<b>50.0%</b>)" in page
    assert page.count("<svg class=hist") == 2  # math and code
    assert re.search(r"<td>code</td><td>900.0</td>", page)  # latency percentiles
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the hostile row, escaped
    assert "<span class=del>-3</span>" in page and "<span class=add>+-1</span>" in page
    assert not re.search(r"<[^>]*203\.0\.113\.9", page)
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing to fetch


def test_report_refuses_an_unknown_format(tmp_path: Path) -> None:
    source = tmp_path / "scored.csv"
    source.write_text("a,b\n")
    result = run_cli("report", str(source), "-o", str(tmp_path / "r.html"))
    assert result.returncode != 0
    assert "unknown format" in result.stderr


@pytest.mark.slow
def test_score_writes_the_report_at_the_end(tmp_path: Path) -> None:
    source, output, html = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "r.html"
    rows = [
        {"prompt": p, "response": f"\\boxed{{{a}}}", "reference": "4", "verifier": "math"}
        for p, a in (("p1", 4), ("p1", 4), ("p2", 4), ("p2", 5))
    ]
    write_input(source, rows)
    result = run_cli("score", str(source), "-o", str(output), "--quiet", "--report", str(html))
    assert result.returncode == 0, result.stderr
    page = html.read_text()
    assert "<p id=rows>4 rows</p>" in page
    assert "<b id=zero-variance>1</b> of 2 groups" in page
