"""`AsyncRewardClient`: the asyncio client, for trainers' rollout loops.

Its default transport is aiohttp's connection pool, which holds 512 and more requests
in flight without slowing down; with a `transport=` given (tests pass
`httpx.ASGITransport(app)`), or without aiohttp installed, httpx carries the requests
(see `rewardgate.clients.transports` and `bench/client_concurrency.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rewardgate.clients.base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    JSON_HEADERS,
    NDJSON_HEADERS,
    AssetSource,
    AsyncClosing,
    BaseClient,
    Item,
    Payload,
    asset_digest,
    chunk_ranges,
    encode_items,
    halves,
    make_item,
    parse_catalog,
    parse_line,
    parse_results,
    path_of,
    score_parts,
    to_payload,
)
from rewardgate.clients.errors import (
    RetriesExhausted,
    ServerError,
    TransportError,
    error_from_response,
    unreachable,
)
from rewardgate.clients.models import Limits, Scored, VerifierInfo
from rewardgate.clients.retry import Retry, Tries
from rewardgate.clients.sessions import AsyncSession
from rewardgate.clients.transports import Answer, HttpxSender, Sender, default_sender
from rewardgate.verifiers.errors import NotFound, PayloadTooLarge, RewardgateError
from rewardgate.verifiers.models import RewardResult

__all__ = ["AsyncRewardClient"]

Content = bytes | Callable[[], Any] | None
_ASSET_CHUNK = 1 << 20


class AsyncRewardClient(BaseClient, AsyncClosing):
    """The asyncio twin of `RewardClient`: the same verbs, awaited.

        async with AsyncRewardClient(["http://a:8000", "http://b:8000"]) as client:
            results = await client.score_batch(items)
            async for index, result in client.stream(items):
                ...

    One client holds many requests in flight (`max_connections`, default 1024);
    share it across the tasks of a process rather than making one per request.
    """

    def __init__(
        self,
        base_url: str | httpx.URL | Sequence[str | httpx.URL],
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: Retry | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            timeout=timeout,
            retry=retry,
            batch_size=batch_size,
            concurrency=concurrency,
            max_connections=max_connections,
            headers=headers,
        )
        headers = self._default_headers()
        self._sender: Sender = (
            default_sender(headers, self.timeout, max_connections)
            if transport is None
            else HttpxSender(transport, headers, self.timeout, max_connections)
        )
        self._limits_lock = asyncio.Lock()

    # -- the public verbs ------------------------------------------------------------------

    async def score(
        self,
        verifier: str,
        response: str,
        reference: Any = None,
        *,
        id: str | None = None,
        fallback_reward: float | None = None,
        **options: Any,
    ) -> RewardResult:
        """Score one output; `options` are the verifier's own (e.g. `timeout_s=5`)."""
        item = make_item(verifier, response, reference, id, fallback_reward, options)
        [result] = await self._score_part([item], range(1))
        return result

    async def score_batch(
        self,
        items: Sequence[Item],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> list[RewardResult]:
        """Score many items; results come back in input order.

        Sent as requests of at most `batch_size` items (and never more than the server
        accepts), `concurrency` requests at a time. Cancelling the call cancels them all.
        """
        payloads = [to_payload(item) for item in items]
        if not payloads:
            return []
        ranges = chunk_ranges(len(payloads), self._chunk_size(batch_size, await self.limits()))
        return await score_parts(
            ranges,
            lambda part: self._score_part(payloads, part),
            concurrency or self.concurrency,
        )

    async def stream(
        self, items: Sequence[Item], *, batch_size: int | None = None
    ) -> AsyncIterator[Scored]:
        """Yield `Scored(index, result)` as results complete, in completion order.

        Items go in requests as large as the server accepts (or `batch_size`), one
        request at a time. If a connection breaks mid-stream, only the items not yet
        answered are sent again.
        """
        payloads = [to_payload(item) for item in items]
        if not payloads:
            return
        limits = await self.limits()
        size = min(batch_size or limits.max_items_per_request, limits.max_items_per_request)
        for part in chunk_ranges(len(payloads), size):
            async for scored in self._stream_part(payloads, part):
                yield scored

    async def verifiers(self) -> list[VerifierInfo]:
        """The server's verifiers with their reference and options schemas."""
        response = await self._send("GET", "/v1/verifiers")
        verifiers, limits = parse_catalog(response.body)
        self._learned_limits(limits)
        return verifiers

    async def limits(self) -> Limits:
        """The server's request limits, asked once and remembered."""
        if self._limits is not None:
            return self._limits
        async with self._limits_lock:
            if self._limits is None:
                await self.verifiers()
        assert self._limits is not None
        return self._limits

    async def upload_asset(self, source: AssetSource) -> str:
        """Upload bytes or a file; answers the SHA-256 to refer to it as `asset:<sha256>`.

        The hash is computed here first (off the event loop) and nothing is sent to a
        server that already has the file. With several base URLs the file goes to each
        of them; one that cannot be reached is skipped.
        """
        sha, size = await asyncio.to_thread(asset_digest, source)
        path = path_of(source)
        content: Content = (lambda: _file_chunks(path)) if path is not None else bytes(source)
        failures: list[RewardgateError] = []
        targets = self._upload_targets()
        for url in targets:
            try:
                if not await self._has_asset(url, sha):
                    await self._upload(url, sha, size, content)
            except (TransportError, RetriesExhausted) as exc:
                if not unreachable(exc):
                    raise
                failures.append(exc)
        if len(failures) == len(targets):
            raise failures[-1]
        return sha

    # -- lifecycle -------------------------------------------------------------------------

    def session(
        self,
        kernel: str = "python",
        *,
        files: Mapping[str, str] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> AsyncSession:
        """A tool session (`async with client.session() as s: await s.run(code)`)."""
        return AsyncSession(self, kernel, files, limits)

    async def aclose(self) -> None:
        await self._sender.aclose()

    close = aclose

    # -- I/O -------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: Content = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        url: str | None = None,
    ) -> Any:
        """One call with its retries; a 2xx answer or the error tree's exception.

        `url` pins the call to one base URL; otherwise each try takes the next in turn.
        Answers a `_Read` (status and body), or with `stream=True` the open `Answer`,
        its body unread, for the caller to close.
        """
        tries = Tries(self.retry)
        request_id = self._request_id()
        while True:
            base = url or self._pick_url()
            answer: Answer | None = None
            try:
                answer = await self._sender.send(
                    method,
                    base + path,
                    {**(headers or {}), "x-request-id": request_id},
                    content() if callable(content) else content,
                )
                if 200 <= answer.status < 300:
                    return answer if stream else _Read(answer.status, await answer.read())
                body = await answer.read()
                error = error_from_response(
                    answer.status, body, answer.header("retry-after"), request_id
                )
            except TransportError as exc:
                error = self._note(exc, base)
            finally:
                if answer is not None and not (stream and 200 <= answer.status < 300):
                    await answer.aclose()
            await asyncio.sleep(self._after_failure(tries, error, None if url else base))

    async def _score_part(
        self, payloads: Sequence[Payload], part: Sequence[int]
    ) -> list[RewardResult]:
        try:
            response = await self._send(
                "POST",
                "/v1/rewards",
                content=encode_items([payloads[i] for i in part]),
                headers=JSON_HEADERS,
            )
        except PayloadTooLarge:
            if len(part) == 1:
                raise
            first, second = halves(part)
            return await self._score_part(payloads, first) + await self._score_part(
                payloads, second
            )
        return parse_results(response.body, len(part))

    async def _stream_part(
        self, payloads: Sequence[Payload], part: Sequence[int]
    ) -> AsyncIterator[Scored]:
        tries = Tries(self.retry)
        pending = list(part)
        while pending:
            try:
                response = await self._send(
                    "POST",
                    "/v1/rewards",
                    content=encode_items([payloads[i] for i in pending]),
                    headers=NDJSON_HEADERS,
                    stream=True,
                )
            except PayloadTooLarge:
                if len(pending) == 1:
                    raise
                for half in halves(pending):
                    async for scored in self._stream_part(payloads, half):
                        yield scored
                return
            answered: set[int] = set()
            broken: RewardgateError | None = None
            try:
                async for line in response.lines():
                    if line.strip():
                        scored = parse_line(line)
                        answered.add(scored.index)
                        yield Scored(pending[scored.index], scored.result)
            except TransportError as exc:
                broken = exc
            finally:
                await response.aclose()
            unanswered = [i for k, i in enumerate(pending) if k not in answered]
            if unanswered and broken is None:
                broken = ServerError(
                    f"the stream ended after {len(answered)} of {len(pending)} results",
                    http_status=response.status,
                    code="incomplete_stream",
                )
            if broken is not None:
                await asyncio.sleep(tries.failed(broken))
            pending = unanswered

    async def _has_asset(self, url: str, sha: str) -> bool:
        try:
            await self._send("HEAD", f"/v1/assets/{sha}", url=url)
        except NotFound:
            return False
        return True

    async def _upload(self, url: str, sha: str, size: int, content: Content) -> None:
        response = await self._send(
            "POST",
            "/v1/assets",
            content=content,
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
            url=url,
        )
        answered = json.loads(response.body).get("sha256")
        if answered != sha:
            raise ServerError(
                f"{url} stored the upload as {answered!r}, not {sha}",
                http_status=response.status,
                code="bad_response",
            )


async def _file_chunks(path: str | os.PathLike[str]) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, _ASSET_CHUNK):
            yield chunk
    finally:
        file.close()


@dataclass(frozen=True)
class _Read:
    """A 2xx answer whose body has been read."""

    status: int
    body: bytes
