"""`RecentResults`: the last N scored items (request and result), for `/ui`.

Off unless `recent_items` is set: a training run's prompts and answers may be
sensitive, so the server keeps none of them by default. When on, the buffer is bounded
twice, by item count and by the bytes of the items' JSON, so a burst of huge responses
cannot grow the server's memory past `recent_max_bytes`: the oldest items are dropped
first, and an item larger than the whole budget is kept with its long text fields cut.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from rewardgate.verifiers.models import RewardResult

if TYPE_CHECKING:
    from rewardgate.service.engine import Engine
    from rewardgate.service.settings import Settings

__all__ = ["RecentItem", "RecentResults", "recent_results"]

# Long strings in a kept request are cut to this many characters when an item alone
# would not fit the byte budget.
_CUT_CHARS = 4096


@dataclass(frozen=True)
class RecentItem:
    """One scored item as kept: `seq` numbers items from 1 in the order they finished."""

    seq: int
    at: float
    request: Any
    result: dict[str, Any]
    size: int

    @property
    def verifier(self) -> str:
        return str(self.result.get("verifier", ""))

    @property
    def status(self) -> str:
        return str(self.result.get("status", ""))

    @property
    def reward(self) -> float:
        return float(self.result.get("reward", 0.0))


def _cut(value: Any, chars: int) -> Any:
    """`value` with every string longer than `chars` cut (marked, so nobody mistakes it)."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + f"… [{len(value)} chars, cut]"
    if isinstance(value, dict):
        return {str(k): _cut(v, chars) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v, chars) for v in value]
    return value


class RecentResults:
    """A ring of the last `max_items` results holding at most `max_bytes` of JSON."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("a recent-results buffer needs room for at least one item")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: deque[RecentItem] = deque()
        self._bytes = 0
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.dropped = 0  # items that did not fit even cut (never happens for sane bounds)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def add(self, request: Any, result: RewardResult) -> None:
        """Keep one finished item, evicting the oldest ones until both bounds hold."""
        kept_result = result.model_dump(mode="json")
        try:
            size = len(orjson.dumps([request, kept_result], default=str))
        except TypeError:
            request, size = repr(request), 0
        if size == 0 or size > self.max_bytes:
            request, kept_result = _cut(request, _CUT_CHARS), _cut(kept_result, _CUT_CHARS)
            size = len(orjson.dumps([request, kept_result], default=str))
        if size > self.max_bytes:
            self.dropped += 1
            return
        with self._lock:
            item = RecentItem(next(self._seq), time.time(), request, kept_result, size)
            self._items.append(item)
            self._bytes += size
            while len(self._items) > self.max_items or self._bytes > self.max_bytes:
                self._bytes -= self._items.popleft().size

    def items(self) -> list[RecentItem]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._items))

    def get(self, seq: int) -> RecentItem | None:
        with self._lock:
            for item in self._items:
                if item.seq == seq:
                    return item
        return None


def recent_results(settings: Settings, engine: Engine) -> RecentResults | None:
    """The app's ring, wired to the engine's result path; None (keep nothing) by default."""
    if settings.recent_items <= 0:
        return None
    ring = RecentResults(settings.recent_items, settings.recent_max_bytes)
    engine.on_result = ring.add
    return ring
