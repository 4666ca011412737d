"""`bench/all.py` runs the benches it is asked for and writes one Markdown file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def bench_all(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "bench" / "all.py"), "-o", str(out), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_chosen_benches_tables_land_in_one_file_with_the_machine(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    done = bench_all("--quick", "--only", "cheap_verifiers", "patch", out=out)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith("# rewardgate benches")
    assert "logical cores" in text and "Load average before" in text
    assert "\n## cheap_verifiers\n" in text and "\n## patch\n" in text
    assert "## sql" not in text  # not asked for
    # One index of the run: each bench, what it measures, how it ended.
    assert "| bench | measures | outcome | seconds |" in text
    assert "| [patch](#patch) | patch rewards against the bare difflib loop | exit 0 |" in text
    assert "bench/cheap_verifiers.py --items 100 --rounds 1` — exit 0" in text
    # The benches' own tables, verbatim: the ratio columns a reader looks for.
    assert "preference labels" in text and "rewardgate / bare throughput" in text


def test_a_bench_that_overruns_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    done = bench_all("--quick", "--only", "patch", "--timeout", "0.05", out=out)
    assert done.returncode == 1
    assert "— stopped after 0.05 s" in out.read_text()
    assert "| stopped after 0.05 s |" in out.read_text()
