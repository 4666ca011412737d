"""Tool sessions from Python: `client.session(...)`, sync and async.

    with RewardClient(url) as client, client.session("python") as s:
        s.run("x = 41")
        s.run("x + 1")["value"]  # "42"

A session lives on the replica that created it, so every call of one goes to the base
URL that created it. `close` (the context's exit) ends it on the server; one left open
ends there on its idle or lifetime limit. The answers are the server's JSON as dicts
(README, "Tool sessions for agentic RL"). `score` judges the session's files as they
are now (the `code` verifier's program file, or the `patch` verifier's repository):
sent to the replica holding the session, never cached.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rewardgate.clients.base import JSON_HEADERS, Closing, make_item, parse_results
from rewardgate.clients.errors import NotFound
from rewardgate.verifiers.models import RewardResult

if TYPE_CHECKING:
    from rewardgate.clients.aio import AsyncRewardClient
    from rewardgate.clients.sync import RewardClient

__all__ = ["AsyncSession", "Session"]

JSON = {"content-type": "application/json"}


def _create_body(
    kernel: str, files: Mapping[str, str] | None, limits: Mapping[str, float] | None
) -> bytes:
    return json.dumps(
        {"kernel": kernel, "files": dict(files or {}), "limits": dict(limits or {})}
    ).encode()


def _run_body(code: str, timeout_s: float | None) -> bytes:
    return json.dumps({"code": code, "timeout_s": timeout_s}).encode()


def _score_body(
    session_id: str,
    verifier: str,
    reference: Any,
    file: str | None,
    id: str | None,
    fallback_reward: float | None,
    options: dict[str, Any],
) -> bytes:
    """One reward item naming the session (its response is read there)."""
    item = make_item(verifier, "", reference, id, fallback_reward, options)
    del item["response"]
    item["session"] = {"id": session_id, **({"file": file} if file is not None else {})}
    return json.dumps({"items": [item]}).encode()


class Session(Closing):
    """A live session of a `RewardClient`; a context manager that ends it on exit."""

    def __init__(
        self,
        client: RewardClient,
        kernel: str = "python",
        files: Mapping[str, str] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> None:
        self._client = client
        self.url = client._pick_url()
        body = _create_body(kernel, files, limits)
        answer = client._send("POST", "/v1/sessions", content=body, headers=JSON, url=self.url)
        self.info: dict[str, Any] = json.loads(answer.content)
        self.id: str = self.info["id"]

    def run(self, code: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Run one cell: `{status, stdout, stderr, value, elapsed_ms, ...}`."""
        path = f"/v1/sessions/{self.id}/run"
        body = _run_body(code, timeout_s)
        answer = self._client._send("POST", path, content=body, headers=JSON, url=self.url)
        result: dict[str, Any] = json.loads(answer.content)
        return result

    def files(self) -> list[dict[str, Any]]:
        """The files of the session's work dir (`path`, `bytes`)."""
        answer = self._client._send("GET", f"/v1/sessions/{self.id}", url=self.url)
        files: list[dict[str, Any]] = json.loads(answer.content)["files"]
        return files

    def score(
        self,
        verifier: str,
        reference: Any = None,
        *,
        file: str | None = None,
        id: str | None = None,
        fallback_reward: float | None = None,
        **options: Any,
    ) -> RewardResult:
        """Score the session's files now: `code` tests the program in `file` (default
        solution.py), `patch` (`mode="execution"`) runs the tests on the session's
        changes to the reference's repository. The session stays usable."""
        body = _score_body(self.id, verifier, reference, file, id, fallback_reward, options)
        answer = self._client._send(
            "POST", "/v1/rewards", content=body, headers=JSON_HEADERS, url=self.url
        )
        [result] = parse_results(answer.content, 1)
        return result

    def close(self) -> None:
        """End the session on the server (an ended one is not an error)."""
        with contextlib.suppress(NotFound):
            self._client._send("DELETE", f"/v1/sessions/{self.id}", url=self.url)


class AsyncSession:
    """`async with client.session(...) as s`: created on entry, ended on exit."""

    def __init__(
        self,
        client: AsyncRewardClient,
        kernel: str = "python",
        files: Mapping[str, str] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> None:
        self._client = client
        self._body = _create_body(kernel, files, limits)
        self.url = client._pick_url()
        self.info: dict[str, Any] = {}
        self.id = ""

    async def open(self) -> AsyncSession:
        answer = await self._client._send(
            "POST", "/v1/sessions", content=self._body, headers=JSON, url=self.url
        )
        self.info = json.loads(answer.body)
        self.id = self.info["id"]
        return self

    async def run(self, code: str, timeout_s: float | None = None) -> dict[str, Any]:
        path = f"/v1/sessions/{self.id}/run"
        body = _run_body(code, timeout_s)
        answer = await self._client._send("POST", path, content=body, headers=JSON, url=self.url)
        result: dict[str, Any] = json.loads(answer.body)
        return result

    async def files(self) -> list[dict[str, Any]]:
        answer = await self._client._send("GET", f"/v1/sessions/{self.id}", url=self.url)
        files: list[dict[str, Any]] = json.loads(answer.body)["files"]
        return files

    async def score(
        self,
        verifier: str,
        reference: Any = None,
        *,
        file: str | None = None,
        id: str | None = None,
        fallback_reward: float | None = None,
        **options: Any,
    ) -> RewardResult:
        """`Session.score`, awaited."""
        body = _score_body(self.id, verifier, reference, file, id, fallback_reward, options)
        answer = await self._client._send(
            "POST", "/v1/rewards", content=body, headers=JSON_HEADERS, url=self.url
        )
        [result] = parse_results(answer.body, 1)
        return result

    async def close(self) -> None:
        if not self.id:
            return
        with contextlib.suppress(NotFound):
            await self._client._send("DELETE", f"/v1/sessions/{self.id}", url=self.url)

    async def __aenter__(self) -> AsyncSession:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
