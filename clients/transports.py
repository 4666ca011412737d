"""The async client's two ways of carrying a request, behind one small interface.

`AiohttpSender` is the default: at 512 requests in flight aiohttp's pool keeps its
latency flat, while httpx's own pool spends its time scanning its connection list
(seconds of p99), and httpx's client layers over aiohttp's pool (`httpx-aiohttp`)
still cost half the throughput when client and server share the CPUs; see
`bench/client_concurrency.py`. `HttpxSender` carries any httpx transport, which is how
tests run the client against the app in-process (`httpx.ASGITransport(app)`).

Both translate their library's failures into the error tree here, where they enter:
`ConnectionFailed` (with `connecting=True` when no connection was made, so the
client passes over that base URL for a while) and `ClientTimeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from rewardgate.clients.errors import ClientTimeout, ConnectionFailed, TransportError

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "AiohttpSender",
    "Answer",
    "HttpxSender",
    "Sender",
    "httpx_transport_error",
]


class Answer(Protocol):
    """An HTTP answer whose body has not been read yet."""

    status: int

    def header(self, name: str) -> str | None: ...

    async def read(self) -> bytes: ...

    def lines(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Sender(Protocol):
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: Any
    ) -> Answer: ...

    async def aclose(self) -> None: ...


def httpx_transport_error(exc: httpx.TransportError, url: str) -> TransportError:
    """httpx's transport errors in the tree: the one place they are translated."""
    text = f"{url}: {type(exc).__name__}: {exc}".rstrip(": ")
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return ConnectionFailed(text, url, connecting=True)
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
        return ConnectionFailed(text, url)
    if isinstance(exc, httpx.TimeoutException):
        return ClientTimeout(f"{url}: no answer within the client's timeout ({exc})", url)
    return TransportError(text, url)


# -- httpx --------------------------------------------------------------------------------


class HttpxAnswer:
    def __init__(self, response: httpx.Response, url: str) -> None:
        self.response = response
        self.status = response.status_code
        self.url = url

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name)

    async def read(self) -> bytes:
        try:
            return await self.response.aread()
        except httpx.TransportError as exc:
            raise httpx_transport_error(exc, self.url) from exc

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            async for line in self.response.aiter_lines():
                yield line.encode()
        except httpx.TransportError as exc:
            raise httpx_transport_error(exc, self.url) from exc

    async def aclose(self) -> None:
        await self.response.aclose()


class HttpxSender:
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
        max_connections: int,
    ) -> None:
        self.client = httpx.AsyncClient(
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: Any
    ) -> HttpxAnswer:
        request = self.client.build_request(method, url, content=content, headers=headers)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise httpx_transport_error(exc, url) from exc
        return HttpxAnswer(response, url)

    async def aclose(self) -> None:
        await self.client.aclose()


# -- aiohttp ------------------------------------------------------------------------------


class AiohttpAnswer:
    def __init__(self, response: aiohttp.ClientResponse, url: str) -> None:
        self.response = response
        self.status = response.status
        self.url = url

    def header(self, name: str) -> str | None:
        return self.response.headers.get(name)

    async def read(self) -> bytes:
        with _aiohttp_errors(self.url):
            body = await self.response.read()
        self.response.release()
        return body

    async def lines(self) -> AsyncIterator[bytes]:
        # Split by hand: aiohttp's own line iterator refuses lines over 64 KiB, and a
        # result's `details` may be larger.
        buffer = b""
        with _aiohttp_errors(self.url):
            async for chunk in self.response.content.iter_any():
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    yield line
        if buffer:
            yield buffer

    async def aclose(self) -> None:
        self.response.close()


class _aiohttp_errors:
    """Translates aiohttp's failures into the tree (a context manager)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            return
        import aiohttp

        text = f"{self.url}: {type(exc).__name__}: {exc}".rstrip(": ")
        if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
            raise ConnectionFailed(text, self.url, connecting=True) from exc
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            raise ClientTimeout(
                f"{self.url}: no answer within the client's timeout", self.url
            ) from exc
        if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
            raise ConnectionFailed(text, self.url) from exc
        if isinstance(exc, aiohttp.ClientError):
            raise TransportError(text, self.url) from exc


class AiohttpSender:
    """aiohttp's pool; its session is made on first use, inside the running loop."""

    def __init__(
        self, headers: Mapping[str, str], timeout: httpx.Timeout, max_connections: int
    ) -> None:
        import aiohttp

        self.headers = dict(headers)
        self.max_connections = max_connections
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.pool,
            sock_connect=timeout.connect,
            sock_read=timeout.read,
        )
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        import aiohttp

        return aiohttp.ClientSession(
            headers=self.headers,
            timeout=self.timeout,
            connector=aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=60),
            auto_decompress=True,
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], content: Any
    ) -> AiohttpAnswer:
        if self._session is None:
            self._session = self._new_session()
        with _aiohttp_errors(url):
            response = await self._session.request(
                method, url, data=content, headers=headers, allow_redirects=False
            )
        return AiohttpAnswer(response, url)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def default_sender(
    headers: Mapping[str, str], timeout: httpx.Timeout, max_connections: int
) -> Sender:
    """aiohttp's pool where aiohttp is installed, else httpx's own."""
    try:
        return AiohttpSender(headers, timeout, max_connections)
    except ImportError:
        import logging

        logging.getLogger("rewardgate.clients").warning(
            "aiohttp is not installed; AsyncRewardClient falls back to httpx's pool, "
            "which slows down past ~100 requests in flight (pip install aiohttp)"
        )
        return HttpxSender(None, headers, timeout, max_connections)
