"""`rewardgate score --server` rides through server restarts and its own crashes.

A real server process, a real CLI process, a dataset long enough to be cut in the
middle. The server is stopped (SIGTERM, or SIGKILL of its whole process group) and
restarted on the same port while the CLI runs, for longer than any fixed handful of
quick retries lasts; the CLI itself is SIGKILLed and resumed, with and without a
server restart in between. Every time the output must be exact: each input row once,
in input order, with its own verdict.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, LiveServer, free_port
from tests.service.live import start_server, stop_server

pytestmark = pytest.mark.slow

ROWS = 160
# Longer than the old client's whole retry budget (six tries, about 3-6 s of backoff).
DOWN_S = 7.0


def write_rows(path: Path) -> None:
    """Even rows sleep (so the run lasts), odd rows are echo items right every third."""
    with path.open("w") as f:
        for k in range(ROWS):
            if k % 2 == 0:
                row: dict[str, Any] = {"k": k, "verifier": "sleepy", "reference": {"seconds": 0.04}}
                row["response"] = ""
            else:
                answer = str(k) if k % 3 == 0 else "no"
                row = {
                    "k": k,
                    "verifier": "echo",
                    "response": str(k),
                    "reference": {"answer": answer},
                }
            f.write(json.dumps(row) + "\n")


def expected_reward(k: int) -> float:
    return 1.0 if k % 2 == 0 or k % 3 == 0 else 0.0


def start_cli(source: Path, output: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "rewardgate.service.cli", "score", str(source), "-o", str(output)]
    argv += ["--server", url, "--chunk-size", "4", "--concurrency", "2", "--quiet", *extra]
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def rows_written(output: Path) -> int:
    if not output.exists():
        return 0
    return output.read_bytes().count(b"\n")


def wait_for_rows(output: Path, at_least: int, cli: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while rows_written(output) < at_least:
        assert cli.poll() is None, cli.communicate()[0].decode()[-3000:]
        assert time.monotonic() < deadline, "the CLI made no progress"
        time.sleep(0.05)


def finish(cli: subprocess.Popen[bytes]) -> str:
    out, _ = cli.communicate(timeout=240)
    text = out.decode(errors="replace")
    assert cli.returncode == 0, text[-3000:]
    return text


def assert_exact(output: Path) -> None:
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["k"] for row in rows] == list(range(ROWS)), "rows lost, repeated or reordered"
    bad = [(r["k"], r["status"], r["reward"]) for r in rows if r["status"] != "ok"]
    assert not bad, bad[:10]
    assert [row["reward"] for row in rows] == [expected_reward(k) for k in range(ROWS)]


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    source = tmp_path / "rows.jsonl"
    write_rows(source)
    port = free_port()
    servers: list[LiveServer] = []

    def serve() -> LiveServer:
        server = start_server(tmp_path / "server", port=port, workers=1)
        servers.append(server)
        return server

    yield source, tmp_path / "scored.jsonl", serve
    for server in servers:
        stop_server(server, signal.SIGKILL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_server_restart_mid_run_loses_and_repeats_nothing(setup, stop: int) -> None:
    source, output, serve = setup
    server = serve()
    cli = start_cli(source, output, server.url)  # the default --retry-for
    wait_for_rows(output, 20, cli)
    stop_server(server, stop)
    time.sleep(DOWN_S)
    assert cli.poll() is None, "the CLI gave up while the server was down"
    serve()
    finish(cli)
    assert_exact(output)


def test_a_spent_retry_budget_stops_the_run_with_an_error_not_scores(setup) -> None:
    source, output, serve = setup
    server = serve()
    cli = start_cli(source, output, server.url, "--retry-for", "1")
    wait_for_rows(output, 8, cli)
    stop_server(server, signal.SIGKILL)
    out, _ = cli.communicate(timeout=60)
    assert cli.returncode != 0
    assert b"retries_exhausted" in out or b"gave up" in out, out.decode()[-2000:]
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["k"] for row in rows] == list(range(len(rows)))
    assert all(row["status"] == "ok" for row in rows)  # nothing unscored was written


@pytest.mark.parametrize("restart_server", [False, True], ids=["same-server", "server-restarted"])
def test_a_killed_cli_resumes_exactly(setup, restart_server: bool) -> None:
    source, output, serve = setup
    server = serve()
    cli = start_cli(source, output, server.url)
    wait_for_rows(output, 30, cli)
    cli.send_signal(signal.SIGKILL)
    cli.wait(timeout=30)
    assert rows_written(output) < ROWS
    if restart_server:
        stop_server(server, signal.SIGKILL)
        server = serve()
    finish(start_cli(source, output, server.url, "--resume"))
    assert_exact(output)
