"""verl's own reward loop (the current release and the previous minor) scoring with
rewardgate's `compute_score_async` against a live server.

Each release runs in a subprocess (tests/clients/verl_reward_loop_run.py) with its own
folder first on the path (tests/clients/verl_envs.py): verl's `RewardLoopWorker`,
built from a config, with the `naive`, `dapo`, `gdpo` and `rate_limited` managers,
over a real `DataProto` batch. Its scores must equal one direct batch request's, and
the per-response calls must arrive coalesced (a few requests, not one per response).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rewardgate.clients.verl import compute_score
from tests.clients.support import metrics_of, request_count
from tests.clients.test_trl_trainer import tiny_tokenizer
from tests.clients.verl_batch import ROWS
from tests.clients.verl_envs import VERSIONS, installed, target
from tests.conftest import serving

USES_RESOURCES = ()
# verl imports Ray (verl/protocol.py): these run with the ray extra, in `make test-ray`.
pytestmark = [pytest.mark.slow, pytest.mark.ray]

ROOT = Path(__file__).resolve().parents[2]
MANAGERS = ("naive", "dapo", "gdpo", "rate_limited")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("verl_managers"), workers=2) as server:
        yield server.url


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("tokenizer")
    tiny_tokenizer().save_pretrained(folder)
    return str(folder)


def run_loop(version: str, url: str, managers: str, tokenizer_dir: str) -> Any:
    assert installed(version), (
        f"verl {version} is not installed: run `python -m tests.clients.verl_envs install`"
    )
    env = {k: v for k, v in os.environ.items() if k != "REWARDGATE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "tests.clients.verl_reward_loop_run", url, managers, tokenizer_dir],
        cwd=ROOT,
        env={**env, "PYTHONPATH": f"{target(version)}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_verl_reward_loop_managers_score_as_one_batch_request(
    version: str, url: str, tokenizer_dir: str
) -> None:
    direct = compute_score(
        data_sources=[r["data_source"] for r in ROWS],
        solution_strs=[r["response"] for r in ROWS],
        ground_truths=[r["ground_truth"] for r in ROWS],
        url=url,
    )
    assert isinstance(direct, list)
    expected = [d["score"] for d in direct]
    assert expected == [1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    before = request_count(metrics_of(url), 200)
    done = run_loop(version, url, ",".join(MANAGERS), tokenizer_dir)
    assert done.returncode == 0, done.stderr[-4000:]
    sent = request_count(metrics_of(url), 200) - before
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["verl"] == version
    for manager in MANAGERS:
        assert out[manager]["scores"] == expected, manager
        assert [e["status"] for e in out[manager]["extra"]] == [d["status"] for d in direct]
        assert [e["verifier"] for e in out[manager]["extra"]] == [d["verifier"] for d in direct]
    # One call per response and manager; coalesced, they share requests. (verl decodes
    # each response in a thread first, so on a busy machine calls straggle past the
    # linger window: fewer requests than calls is what holds everywhere.)
    assert sent < len(ROWS) * len(MANAGERS), sent


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A server that answers every request with a 500 in rewardgate's error envelope, as a
    broken gateway would (not retried: a 5xx without the envelope is a proxy's, retried)."""

    class Broken(http.server.BaseHTTPRequestHandler):
        def _fail(self) -> None:
            body = b'{"error": {"code": "internal", "message": "broken on purpose"}}'
            self.send_response(500)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _fail

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_service_fails_verls_reward_loop(failing_url: str, tokenizer_dir: str) -> None:
    """No reward is made up: verl's reward loop raises the client's error."""
    done = run_loop(VERSIONS[0], failing_url, "naive", tokenizer_dir)
    assert done.returncode != 0
    assert "RewardgateError: broken on purpose" in done.stderr, done.stderr[-4000:]
    assert '"scores"' not in done.stdout
