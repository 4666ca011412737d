"""What `RewardClient` and `AsyncRewardClient` share, written once (httpx's `_BaseClient`).

Here: the base URLs and how requests spread over them, headers and auth, building
request bodies, splitting batches, and parsing answers; the retry policy is in
`retry.py`, the translation of transport failures in `transports.py`. The twins add
only the I/O: sending, sleeping, and running chunks side by side (threads or tasks).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import httpx
import pydantic_core
from pydantic import BaseModel
from typing_extensions import Self  # typing.Self needs Python 3.11; pydantic brings it

from rewardgate.clients.errors import ConnectionFailed, ServerError
from rewardgate.clients.models import Limits, Scored, VerifierInfo
from rewardgate.clients.retry import Retry, Tries, from_proxy
from rewardgate.verifiers.errors import InvalidRequest, RewardgateError
from rewardgate.verifiers.models import RewardRequest, RewardResult

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_TIMEOUT",
    "AssetSource",
    "BaseClient",
    "Item",
    "Payload",
    "asset_digest",
    "chunk_ranges",
    "encode_items",
    "file_chunks",
    "halves",
    "make_item",
    "parse_catalog",
    "parse_line",
    "parse_results",
    "path_of",
    "score_parts",
    "to_payload",
]

API_KEY_ENV = "REWARDGATE_API_KEY"
# Generous on reading: a batch answers when its slowest item does, and a verifier's
# budget may be minutes. Connecting is quick or the server is not there.
DEFAULT_TIMEOUT = httpx.Timeout(660.0, connect=10.0)
DEFAULT_BATCH_SIZE = 256
DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_CONNECTIONS = 1024
# How long a base URL that refused a connection is passed over by the round-robin.
COOLDOWN_S = 5.0
NDJSON = "application/x-ndjson"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
NDJSON_HEADERS = {"content-type": "application/json", "accept": NDJSON}
_ASSET_CHUNK = 1 << 20

Item: TypeAlias = RewardRequest | Mapping[str, Any]
Payload: TypeAlias = Any  # a JSON-ready item, as sent
AssetSource: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str]


def to_payload(item: Item) -> Payload:
    """An item as the wire carries it. Dicts go as given, unvalidated: a malformed
    item must come back as that item's `invalid` result, not fail its whole batch."""
    if isinstance(item, RewardRequest):
        return item.model_dump(mode="json", exclude_defaults=True)
    return item


def make_item(
    verifier: str,
    response: str,
    reference: Any,
    id: str | None,
    fallback_reward: float | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    item: dict[str, Any] = {"verifier": verifier, "response": response}
    if reference is not None:
        item["reference"] = reference
    if options:
        item["options"] = options
    if id is not None:
        item["id"] = id
    if fallback_reward is not None:
        item["fallback_reward"] = fallback_reward
    return item


def encode_items(payloads: Sequence[Payload]) -> bytes:
    try:
        return pydantic_core.to_json({"items": list(payloads)})
    except pydantic_core.PydanticSerializationError as exc:
        raise InvalidRequest(f"items are not JSON-serialisable: {exc}") from None


async def score_parts(
    ranges: Sequence[range],
    score_part: Callable[[range], Awaitable[list[RewardResult]]],
    concurrency: int,
) -> list[RewardResult]:
    """Score each range with at most `concurrency` in flight; results in input order.

    Cancelling the call cancels every part still running (so an engine kills them).
    """
    gate = asyncio.Semaphore(concurrency)

    async def run(part: range) -> list[RewardResult]:
        async with gate:
            return await score_part(part)

    tasks = [asyncio.ensure_future(run(part)) for part in ranges]
    try:
        parts = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return [result for part in parts for result in part]


def chunk_ranges(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, max(1, size))]


def halves(indices: Sequence[int]) -> tuple[Sequence[int], Sequence[int]]:
    middle = len(indices) // 2
    return indices[:middle], indices[middle:]


class _Batch(BaseModel):
    results: list[RewardResult]


class _Catalog(BaseModel):
    verifiers: list[VerifierInfo]
    limits: Limits | None = None


def parse_results(body: bytes, expected: int) -> list[RewardResult]:
    results = _Batch.model_validate_json(body).results
    if len(results) != expected:
        raise ServerError(
            f"the server answered {len(results)} results for {expected} items",
            http_status=200,
            code="bad_response",
        )
    return results


def parse_line(line: str | bytes) -> Scored:
    data = pydantic_core.from_json(line)
    index = data.pop("index")
    return Scored(index, RewardResult.model_validate(data))


def parse_catalog(body: bytes) -> tuple[list[VerifierInfo], Limits | None]:
    catalog = _Catalog.model_validate_json(body)
    return catalog.verifiers, catalog.limits


def asset_digest(source: AssetSource) -> tuple[str, int]:
    """SHA-256 and size of the bytes or of the file at a path, read in chunks."""
    digest = hashlib.sha256()
    if isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(source)
        return digest.hexdigest(), len(source)
    size = 0
    with open(source, "rb") as file:
        while chunk := file.read(_ASSET_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def path_of(source: AssetSource) -> Path | None:
    return None if isinstance(source, (bytes, bytearray, memoryview)) else Path(source)


def file_chunks(path: str | os.PathLike[str]) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(_ASSET_CHUNK):
            yield chunk


def _base_urls(base_url: str | httpx.URL | Sequence[str | httpx.URL]) -> list[str]:
    urls = [base_url] if isinstance(base_url, (str, httpx.URL)) else list(base_url)
    if not urls:
        raise ValueError("give at least one base URL")
    return [str(url).rstrip("/") for url in urls]


def _timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is None:
        return DEFAULT_TIMEOUT
    return httpx.Timeout(timeout, connect=min(timeout, DEFAULT_TIMEOUT.connect or timeout))


class BaseClient:
    """Configuration and every decision that does not wait on I/O."""

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
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be >= 1")
        self.base_urls = _base_urls(base_url)
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        self.timeout = _timeout(timeout)
        self.retry = retry or Retry()
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.max_connections = max_connections
        self._extra_headers = dict(headers or {})
        self._turn = itertools.count()
        self._down_until: dict[str, float] = {}
        self._limits: Limits | None = None

    def _default_headers(self) -> dict[str, str]:
        from rewardgate import __version__

        headers = {"user-agent": f"rewardgate-client/{__version__}"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        headers.update(self._extra_headers)
        return headers

    # -- spreading over base URLs ------------------------------------------------------

    def _pick_url(self) -> str:
        """The next base URL in turn, passing over those that recently refused us.

        When all of them did, the one whose cool-down ends first is tried anyway: a
        client must not stop trying merely because every server restarted at once.
        """
        urls = self.base_urls
        if len(urls) == 1:
            return urls[0]
        now = time.monotonic()
        for _ in urls:  # a URL passed over uses up its turn, so the others share evenly
            url = urls[next(self._turn) % len(urls)]
            if self._down_until.get(url, 0.0) <= now:
                return url
        return min(urls, key=lambda u: self._down_until.get(u, 0.0))

    def _up_elsewhere(self, url: str) -> bool:
        now = time.monotonic()
        return any(u != url and self._down_until.get(u, 0.0) <= now for u in self.base_urls)

    def _upload_targets(self) -> list[str]:
        """Every base URL not known to be down (all of them if none is up)."""
        now = time.monotonic()
        up = [u for u in self.base_urls if self._down_until.get(u, 0.0) <= now]
        return up or list(self.base_urls)

    def _request_id(self) -> str:
        return uuid.uuid4().hex

    # -- failures ------------------------------------------------------------------------

    def _note(self, error: RewardgateError, url: str) -> RewardgateError:
        """Remember a base URL that refused a connection or whose proxy answered a bare
        5xx, so the round-robin skips it and the retry goes to another."""
        if (isinstance(error, ConnectionFailed) and error.connecting) or from_proxy(error):
            self._down_until[url] = time.monotonic() + COOLDOWN_S
        return error

    def _after_failure(self, tries: Tries, error: RewardgateError, url: str | None) -> float:
        if url is not None and from_proxy(error):
            self._note(error, url)
        return tries.failed(error, elsewhere=url is not None and self._up_elsewhere(url))

    # -- batching ------------------------------------------------------------------------

    def _chunk_size(self, batch_size: int | None, limits: Limits) -> int:
        return max(1, min(batch_size or self.batch_size, limits.max_items_per_request))

    def _learned_limits(self, limits: Limits | None) -> Limits:
        # A server that does not report limits is split by its 413s alone.
        self._limits = limits or Limits(max_items_per_request=1 << 30)
        return self._limits

    def __repr__(self) -> str:
        urls = self.base_urls if len(self.base_urls) > 1 else self.base_urls[0]
        return f"{type(self).__name__}({urls!r})"


class Closing:
    """`with client:` closes it on the way out: the context protocol of every
    synchronous client and session, written once (each class has its own `close`)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing:
    """`async with client:` awaits its `aclose` on the way out (the asynchronous twin)."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
