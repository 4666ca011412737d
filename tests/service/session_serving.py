"""The in-process app with the code and patch verifiers beside the probes, for the
tests that score live sessions (tests/service/test_session_rewards*.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.patch import PatchVerifier
from tests.service import inprocess_server
from tests.service.probes import PROBES

__all__ = ["authed", "run", "score", "serve_scoring"]


@contextlib.contextmanager
def serve_scoring(folder: Path, **overrides: Any) -> Iterator[str]:
    """`serve_app` whose registry also holds the code and patch verifiers."""
    patch = pytest.MonkeyPatch()
    patch.setattr(inprocess_server, "PROBES", (*PROBES, CodeVerifier, PatchVerifier))
    try:
        with inprocess_server.serve_app(folder, **overrides) as url:
            yield url
    finally:
        patch.undo()


def authed(url: str, key: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=180)


def run(client: httpx.Client, sid: str, code: str) -> dict[str, Any]:
    answer = client.post(f"/v1/sessions/{sid}/run", json={"code": code})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def score(client: httpx.Client, *items: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.post("/v1/rewards", json={"items": list(items)})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results
