"""SandboxFusion's `run_jupyter` against rewardgate, through SandboxFusion's own PyPI
client: state across cells, the last value as display, errors, files in and out,
and a runaway cell ending the notebook as SandboxFusion reports it; with the sessions
on bwrap and on docker (`session_backend`)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
import sandbox_fusion
from sandbox_fusion import RunJupyterRequest

from tests.service.inprocess_server import serve_app


@pytest.fixture(scope="module", params=["bwrap", "docker"])
def url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("jupyter")
    with serve_app(folder, workers=1, session_max_live=1, session_backend=request.param) as served:
        yield served


def test_run_jupyter_keeps_state_and_answers_in_sandbox_fusions_shape(url: str) -> None:
    cells = [
        "a = int(open('in.txt').read())",
        "a + 1",
        "print(a)",
        "import sys; sys.stderr.write('stderr message')",
        "raise RuntimeError('error message')",
        "open('out.txt', 'w').write(str(a * 2))",
    ]
    files = {"in.txt": base64.b64encode(b"122").decode()}
    request = RunJupyterRequest(cells=cells, files=files, fetch_files=["out.txt", "missing"])
    answer = sandbox_fusion.run_jupyter(request, endpoint=url, max_attempts=1)
    assert answer.status == "Success" and answer.driver and answer.driver.status == "Finished"
    assert [c.display for c in answer.cells][:2] == [[], [{"text/plain": "123"}]]
    assert answer.cells[2].stdout == "122\n"
    assert answer.cells[3].stderr == "stderr message"
    error = answer.cells[4].error[0]
    assert (error["ename"], error["evalue"]) == ("RuntimeError", "error message")
    assert base64.b64decode(answer.files["out.txt"]) == b"244"
    assert "missing" not in answer.files


def test_run_jupyter_cell_timeout_fails_the_notebook(url: str) -> None:
    request = RunJupyterRequest(cells=["x = 1", "while True: pass", "x"], cell_timeout=1.0)
    answer = sandbox_fusion.run_jupyter(request, endpoint=url, max_attempts=1)
    assert answer.status == "Failed" and answer.driver is not None
    assert answer.driver.status == "TimeLimitExceeded"
    assert len(answer.cells) == 2


def test_run_jupyter_ends_its_session_and_refuses_other_kernels(url: str) -> None:
    """One live session at most on this server: each call must have ended its own."""
    for _ in range(3):
        answer = httpx.post(f"{url}/run_jupyter", json={"cells": ["1"]}, timeout=60)
        assert answer.status_code == 200 and answer.json()["status"] == "Success"
    refused = httpx.post(f"{url}/run_jupyter", json={"cells": ["1"], "kernel": "R"}, timeout=60)
    assert refused.status_code == 400
