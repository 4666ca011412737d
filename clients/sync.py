"""`RewardClient`: the blocking client, for scripts, data pipelines and sync trainers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from rewardgate.clients.base import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_CONNECTIONS,
    JSON_HEADERS,
    NDJSON_HEADERS,
    AssetSource,
    BaseClient,
    Closing,
    Item,
    Payload,
    asset_digest,
    chunk_ranges,
    encode_items,
    file_chunks,
    halves,
    make_item,
    parse_catalog,
    parse_line,
    parse_results,
    path_of,
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
from rewardgate.clients.sessions import Session
from rewardgate.clients.transports import httpx_transport_error
from rewardgate.verifiers.errors import NotFound, PayloadTooLarge, RewardgateError
from rewardgate.verifiers.models import RewardResult

__all__ = ["RewardClient"]

Content = bytes | Callable[[], Any] | None


class RewardClient(BaseClient, Closing):
    """Scores model outputs on a rewardgate service.

        with RewardClient("http://rewardgate:8000") as client:
            result = client.score("math", "... so the answer is \\\\boxed{4}", "4")
            results = client.score_batch(items)          # in input order

    `base_url` may be a list: requests take the URLs in turn, passing over one that
    refused a connection. `api_key` defaults to `$REWARDGATE_API_KEY`. `transport` is
    any httpx transport (tests pass the app's own). Thread-safe: one client may serve
    many threads.
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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            headers=self._default_headers(),
            timeout=self.timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    # -- the public verbs ------------------------------------------------------------------

    def score(
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
        [result] = self._score_part([item], range(1))
        return result

    def score_batch(
        self,
        items: Sequence[Item],
        *,
        batch_size: int | None = None,
        concurrency: int | None = None,
    ) -> list[RewardResult]:
        """Score many items; results come back in input order.

        Sent as requests of at most `batch_size` items (and never more than the server
        accepts), `concurrency` requests at a time on a thread pool.
        """
        payloads = [to_payload(item) for item in items]
        if not payloads:
            return []
        ranges = chunk_ranges(len(payloads), self._chunk_size(batch_size, self.limits()))
        workers = min(concurrency or self.concurrency, len(ranges))
        if workers == 1:
            parts = [self._score_part(payloads, r) for r in ranges]
        else:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="rewardgate")
            try:
                futures = [pool.submit(self._score_part, payloads, r) for r in ranges]
                parts = [future.result() for future in futures]
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return [result for part in parts for result in part]

    def stream(self, items: Sequence[Item], *, batch_size: int | None = None) -> Iterator[Scored]:
        """Yield `Scored(index, result)` as results complete, in completion order.

        Items go in requests as large as the server accepts (or `batch_size`), one
        request at a time. If a connection breaks mid-stream, only the items not yet
        answered are sent again.
        """
        payloads = [to_payload(item) for item in items]
        if not payloads:
            return
        limits = self.limits()
        size = min(batch_size or limits.max_items_per_request, limits.max_items_per_request)
        for part in chunk_ranges(len(payloads), size):
            yield from self._stream_part(payloads, part)

    def verifiers(self) -> list[VerifierInfo]:
        """The server's verifiers with their reference and options schemas."""
        response = self._send("GET", "/v1/verifiers")
        verifiers, limits = parse_catalog(response.content)
        self._learned_limits(limits)
        return verifiers

    def limits(self) -> Limits:
        """The server's request limits, asked once and remembered."""
        if self._limits is None:
            self.verifiers()
        assert self._limits is not None
        return self._limits

    def upload_asset(self, source: AssetSource) -> str:
        """Upload bytes or a file; answers the SHA-256 to refer to it as `asset:<sha256>`.

        The hash is computed here first and nothing is sent to a server that already
        has the file. With several base URLs the file goes to each of them, so an item
        may be scored by any; one that cannot be reached is skipped.
        """
        sha, size = asset_digest(source)
        path = path_of(source)
        content: Content = (lambda: file_chunks(path)) if path is not None else bytes(source)
        failures: list[RewardgateError] = []
        targets = self._upload_targets()
        for url in targets:
            try:
                if not self._has_asset(url, sha):
                    self._upload(url, sha, size, content)
            except (TransportError, RetriesExhausted) as exc:
                if not unreachable(exc):
                    raise
                failures.append(exc)
        if len(failures) == len(targets):
            raise failures[-1]
        return sha

    def session(
        self,
        kernel: str = "python",
        *,
        files: Mapping[str, str] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> Session:
        """A tool session (`with client.session() as s: s.run(code)`): clients/sessions.py."""
        return Session(self, kernel, files, limits)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    # -- I/O -------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        content: Content = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        url: str | None = None,
    ) -> httpx.Response:
        """One call with its retries; a 2xx answer or the error tree's exception.

        `url` pins the call to one base URL; otherwise each try takes the next in turn.
        With `stream=True` the answer's body is left unread for the caller to close.
        """
        tries = Tries(self.retry)
        request_id = self._request_id()
        while True:
            base = url or self._pick_url()
            request = self._http.build_request(
                method,
                base + path,
                content=content() if callable(content) else content,
                headers={**(headers or {}), "x-request-id": request_id},
            )
            response: httpx.Response | None = None
            try:
                response = self._http.send(request, stream=True)
                if response.is_success:
                    if not stream:
                        response.read()
                    return response
                response.read()
                response.close()
                error = error_from_response(
                    response.status_code,
                    response.content,
                    response.headers.get("retry-after"),
                    request_id,
                )
            except httpx.TransportError as exc:
                if response is not None:
                    response.close()
                error = self._note(httpx_transport_error(exc, base), base)
            time.sleep(self._after_failure(tries, error, None if url else base))

    def _score_part(self, payloads: Sequence[Payload], part: Sequence[int]) -> list[RewardResult]:
        try:
            response = self._send(
                "POST",
                "/v1/rewards",
                content=encode_items([payloads[i] for i in part]),
                headers=JSON_HEADERS,
            )
        except PayloadTooLarge:
            if len(part) == 1:
                raise
            first, second = halves(part)
            return self._score_part(payloads, first) + self._score_part(payloads, second)
        return parse_results(response.content, len(part))

    def _stream_part(self, payloads: Sequence[Payload], part: Sequence[int]) -> Iterator[Scored]:
        tries = Tries(self.retry)
        pending = list(part)
        while pending:
            try:
                response = self._send(
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
                    yield from self._stream_part(payloads, half)
                return
            answered: set[int] = set()
            broken: RewardgateError | None = None
            try:
                for line in response.iter_lines():
                    if line.strip():
                        scored = parse_line(line)
                        answered.add(scored.index)
                        yield Scored(pending[scored.index], scored.result)
            except httpx.TransportError as exc:
                broken = httpx_transport_error(exc, str(response.request.url))
            finally:
                response.close()
            unanswered = [i for k, i in enumerate(pending) if k not in answered]
            if unanswered and broken is None:
                broken = ServerError(
                    f"the stream ended after {len(answered)} of {len(pending)} results",
                    http_status=response.status_code,
                    code="incomplete_stream",
                )
            if broken is not None:
                time.sleep(tries.failed(broken))
            pending = unanswered

    def _has_asset(self, url: str, sha: str) -> bool:
        try:
            self._send("HEAD", f"/v1/assets/{sha}", url=url)
        except NotFound:
            return False
        return True

    def _upload(self, url: str, sha: str, size: int, content: Content) -> None:
        response = self._send(
            "POST",
            "/v1/assets",
            content=content,
            headers={"content-type": "application/octet-stream", "content-length": str(size)},
            url=url,
        )
        answered = response.json().get("sha256")
        if answered != sha:
            raise ServerError(
                f"{url} stored the upload as {answered!r}, not {sha}",
                http_status=response.status_code,
                code="bad_response",
            )
