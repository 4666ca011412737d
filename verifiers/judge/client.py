"""One chat completion from an OpenAI-compatible endpoint, with retries and timeouts.

Transport errors, timeouts, 429 and 5xx are retried (`max_retries` of the endpoint,
exponential backoff, a short `Retry-After` honoured); other 4xx answers are the
server's configuration problem and fail at once. Everything ends as `VerifierError`:
a judge that cannot be reached gives no verdict, never a 0.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.errors import VerifierError

if TYPE_CHECKING:
    import httpx

    from rewardgate.verifiers.judge.endpoint import JudgeEndpoint

__all__ = ["ChatClient", "RetryableError", "backoff_s"]

MAX_BACKOFF_S = 4.0


class RetryableError(VerifierError):
    """A failure worth another attempt (the endpoint was busy or unreachable)."""

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def backoff_s(attempt: int, retry_after: str | None = None) -> float:
    """Seconds before attempt `attempt + 1`: Retry-After if short, else 0.25 * 2^attempt."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_BACKOFF_S)
        except ValueError:
            pass
    return min(0.25 * 2**attempt, MAX_BACKOFF_S)


class ChatClient:
    """An httpx client per endpoint, made in the process that uses it (workers fork)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[int, str], httpx.Client] = {}

    def _client(self, endpoint: JudgeEndpoint) -> httpx.Client:
        import httpx

        key = (os.getpid(), endpoint.base_url)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = httpx.Client(base_url=endpoint.base_url.rstrip("/"))
        return client

    def complete(self, endpoint: JudgeEndpoint, body: dict[str, Any]) -> str:
        """The first choice's message content, from one attempt."""
        import httpx

        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        try:
            response = self._client(endpoint).post(
                "/chat/completions", json=body, headers=headers, timeout=endpoint.timeout_s
            )
        except httpx.TimeoutException:
            raise RetryableError(
                f"judge endpoint gave no answer within {endpoint.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise RetryableError(f"judge endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(
                f"judge endpoint answered HTTP {response.status_code}",
                response.headers.get("retry-after"),
            )
        if response.status_code != 200:
            raise VerifierError(
                f"judge endpoint refused the request: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise VerifierError(
                "judge endpoint answered without choices[0].message.content"
            ) from None
        if not isinstance(content, str):
            raise VerifierError("judge endpoint's message content is not text")
        return content

    def sleep_before_retry(self, attempt: int, error: RetryableError) -> None:
        time.sleep(backoff_s(attempt, error.retry_after))
