"""When to try a request again and how long to wait first, decided in one place.

Retried: 429 (honouring the server's Retry-After), 502/503, connection failures
(refused, reset, dropped before the answer was complete), and any other 5xx whose body
is not rewardgate's error envelope: that is a proxy or load balancer failing (nginx's
504, Ray Serve's bare 500 when a replica dies), never the gateway's answer, and with
several base URLs it is retried on another at once. Scoring is a pure function of the
request, so re-sending a batch is safe. Everything else is raised at once: a 401, a
400, a 413 (which `score_batch` answers by splitting), a 500 in rewardgate's envelope
(the gateway's own failure, retrying would repeat it), the client's own timeout.

The budget is time, not a count of tries: a server restarting takes seconds to tens of
seconds, and one under sustained load turns a client away for as long as the load
lasts, so a fixed number of quick tries gives up on a service that would have answered.
When the budget runs out the call raises `RetriesExhausted` with the last answer; it
never becomes a result.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from rewardgate.clients.errors import ConnectionFailed, RetriesExhausted, ServerError
from rewardgate.verifiers.errors import Overloaded, RewardgateError

__all__ = ["DEFAULT_RETRY_FOR_S", "Retry", "Tries", "from_proxy"]

# Long enough to ride through a server restart (6-19 s measured) and a burst of load
# many times over; short enough that a server that is truly gone is reported.
DEFAULT_RETRY_FOR_S = 120.0


def from_proxy(error: RewardgateError) -> bool:
    """A 5xx without rewardgate's `{"error": {...}}` envelope: something in front of
    the gateway failed (a proxy, a load balancer, a dying replica's server), so the
    request never got a verdict and may be sent again, elsewhere if possible.

    `error_from_response` names an answer without an envelope `http_<status>`.
    """
    status = vars(error).get("http_status")
    return (
        isinstance(status, int)
        and 500 <= status <= 599
        and isinstance(error, ServerError)
        and error.code == f"http_{status}"
    )


@dataclass(frozen=True)
class Retry:
    """A client's retry policy.

    `retry_for` is the budget in seconds, from the first try: retries go on until the
    next wait would end past it (the last try is made at the deadline). `None` retries
    for ever. `attempts`, when set, also caps the number of tries, the first included
    (1 turns retrying off). Waits grow as `backoff_s * 2**n` up to `max_backoff_s`, with
    jitter so that many clients turned away together do not come back together. A
    Retry-After from the server is waited out in full (plus up to 10% jitter), capped
    at `max_retry_after_s`.
    """

    attempts: int | None = None
    backoff_s: float = 0.2
    max_backoff_s: float = 10.0
    max_retry_after_s: float = 60.0
    statuses: frozenset[int] = field(default=frozenset({429, 502, 503}))
    retry_for: float | None = DEFAULT_RETRY_FOR_S

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("Retry.attempts counts the first try too; it must be >= 1")
        if self.retry_for is not None and self.retry_for < 0:
            raise ValueError("Retry.retry_for is seconds; it must be >= 0 (or None)")

    def retriable(self, error: RewardgateError) -> bool:
        if isinstance(error, ConnectionFailed):
            return True
        status = vars(error).get("http_status")
        if status in self.statuses or from_proxy(error):
            return True
        # An error with no HTTP status was raised in-process (LocalClient's engine).
        return status is None and isinstance(error, Overloaded)

    def backoff(self, retry: int) -> float:
        """The wait before retry number `retry` (0 for the first retry), jittered."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** min(retry, 64))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def delay(self, retry: int, error: RewardgateError) -> float:
        if isinstance(error, Overloaded) and "http_status" in vars(error):
            # Only a server's own 429 carries a Retry-After worth honouring.
            wait = min(error.retry_after, self.max_retry_after_s)
            return wait * (1 + random.uniform(0, 0.1))
        return self.backoff(retry)


class Tries:
    """One call's retry state: the sync and async clients loop over it the same way."""

    def __init__(self, policy: Retry) -> None:
        self.policy = policy
        self.count = 0
        self.started = time.monotonic()

    def failed(self, error: RewardgateError, *, elsewhere: bool = False) -> float:
        """Seconds to wait before the next try; raises when there is none.

        `elsewhere` says another base URL is there to try, so a connection failure or
        a proxy's bare 5xx is retried there at once instead of after a backoff.
        """
        self.count += 1
        if not self.policy.retriable(error):
            raise error
        attempts = self.policy.attempts
        if attempts is not None and self.count >= attempts:
            raise RetriesExhausted(error, self.count) from error
        if elsewhere and (isinstance(error, ConnectionFailed) or from_proxy(error)):
            wait = 0.0
        else:
            wait = self.policy.delay(self.count - 1, error)
        budget = self.policy.retry_for
        if budget is None:
            return wait
        left = budget - (time.monotonic() - self.started)
        if left <= 0:
            raise RetriesExhausted(error, self.count) from error
        # The last wait is cut short so the final try lands at the deadline.
        return min(wait, left)
