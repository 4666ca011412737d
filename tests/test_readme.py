"""Every example in the README runs as written (only the server's port is substituted)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, LiveServer, free_port, serving

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)
DOC_URL = "http://127.0.0.1:8000"
BIN = Path(sys.executable).parent


def blocks(lang: str, containing: str) -> list[str]:
    found = [code for kind, code in BLOCKS if kind == lang and containing in code]
    assert found, f"no {lang} block containing {containing!r} in the README"
    return found


def expected_prints(code: str) -> list[str]:
    """The `# ...` comments after print() calls: what the README says the lines print."""
    return [m.group(1) for m in re.finditer(r"^print\(.*\)\s+# (.*)$", code, re.M)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for every example: each sends its own requests, as a reader's would."""
    with serving(tmp_path_factory.mktemp("readme"), workers=2) as live:
        yield live


def test_quick_start_serve_starts_the_service(tmp_path: Path) -> None:
    [quick] = blocks("sh", "make serve")
    assert "make test" in quick, "the quick start names both commands"
    for target in ("serve", "test"):
        plan = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert "scripts/setup.sh" in plan.stdout, f"make {target} installs everything first"
    port = free_port()
    env = {**os.environ, "REWARDGATE_PORT": str(port), "REWARDGATE_ASSET_DIR": str(tmp_path)}
    # `-o setup`: the installer already ran (`make test` runs it first), and running it
    # again from inside the suite reinstalls the venv under tests that are using it.
    process = subprocess.Popen(
        ["make", "-o", "setup", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "make serve exited"
            time.sleep(0.5)
        else:
            raise AssertionError("make serve did not become ready")
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=60)


def test_curl_example(server) -> None:
    [curl] = blocks("sh", "curl")
    out = subprocess.run(
        ["bash", "-c", curl.replace(DOC_URL, server.url)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    results = json.loads(out.stdout)["results"]
    assert [(r["id"], r["status"], r["reward"]) for r in results] == [
        ("a", "ok", 1.0),
        ("b", "ok", 0.0),
    ]


CLIENT_EXAMPLES = [
    code for kind, code in BLOCKS if kind == "python" and "verifier_engine" not in code
]


@pytest.mark.parametrize(
    "code", CLIENT_EXAMPLES, ids=[f"block{i}" for i, _ in enumerate(CLIENT_EXAMPLES)]
)
def test_python_examples(server, code: str) -> None:
    assert expected_prints(code), "each example shows what it prints"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(DOC_URL, server.url), "README.md", "exec"), {})
    assert printed.getvalue().splitlines() == expected_prints(code)


def test_cli_example(tmp_path: Path) -> None:
    [cli] = blocks("sh", "rewardgate score")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run(
        ["bash", "-c", cli], cwd=tmp_path, env=env, check=True, timeout=300, capture_output=True
    )
    rows = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [(r["status"], r["reward"]) for r in rows] == [("ok", 1.0), ("ok", 0.0)]


def test_plugin_author_example(verifier_engine) -> None:
    from pydantic import BaseModel

    from rewardgate.verifiers import Verdict, Verifier

    class Answer(BaseModel):
        answer: str

        @classmethod
        def model_validate(cls, obj, **kwargs):  # type: ignore[no-untyped-def, override]
            return super().model_validate({"answer": obj} if isinstance(obj, str) else obj)

    class MyVerifier(Verifier):  # type: ignore[type-arg]
        name = "mine"
        version = "1"
        Reference = Answer

        def judge(self, response, reference, options):  # type: ignore[no-untyped-def]
            return Verdict(reward=float(response.strip() == reference.answer))

    [code] = blocks("python", "verifier_engine")
    namespace: dict[str, object] = {"MyVerifier": MyVerifier}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["test_my_verifier"](verifier_engine)  # type: ignore[operator]
