"""Prometheus metrics, one registry per app so tests can build several side by side."""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._item_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self.requests = Counter(
            "rewardgate_requests",
            "HTTP requests by route and status code.",
            ["route", "code"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "rewardgate_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.items = Counter(
            "rewardgate_items",
            "Scored items by verifier and result status.",
            ["verifier", "status"],
            registry=self.registry,
        )
        self.item_seconds = Histogram(
            "rewardgate_item_seconds",
            "Per-item latency (queue wait included) by verifier.",
            ["verifier"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "rewardgate_cache_hits", "Items answered from the result cache.", registry=self.registry
        )
        self.cache_misses = Counter(
            "rewardgate_cache_misses", "Cacheable items not in the cache.", registry=self.registry
        )
        self.inflight = Gauge(
            "rewardgate_queue_depth",
            "Items admitted and not finished (queued or running).",
            registry=self.registry,
        )
        self.waiting = Gauge(
            "rewardgate_admission_waiting",
            "Items of requests waiting in the admission line.",
            registry=self.registry,
        )
        self.cache_errors = Counter(
            "rewardgate_cache_errors",
            "Result-cache failures by operation; the items were scored without the cache.",
            ["operation"],
            registry=self.registry,
        )
        self.item_retries = Counter(
            "rewardgate_item_retries",
            "Items judged once more because their worker died.",
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "rewardgate_worker_restarts",
            "Worker processes killed for a deadline or found dead.",
            registry=self.registry,
        )

        self.shared_cache_errors = Counter(
            "rewardgate_shared_cache_errors",
            "Shared (Redis) cache failures by operation; those items were scored without "
            "the shared cache, and Redis is skipped for redis_retry_s after each.",
            ["operation"],
            registry=self.registry,
        )

    def observe_item(self, verifier: str, status: str, seconds: float) -> None:
        """Count one scored item and its latency. The labelled children are kept:
        looking them up (`labels()`, a lock and a dict) cost more per item than the
        counting itself. `verifier` is a registered name or "unknown", so this holds
        one pair per verifier and status."""
        children = self._item_children.get((verifier, status))
        if children is None:
            children = (self.items.labels(verifier, status), self.item_seconds.labels(verifier))
            self._item_children[(verifier, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_items(self, verifier: str, status: str, seconds: list[float]) -> None:
        """`observe_item` for several items of one verifier and status at once: one
        increment of the count, of the sum and of each bucket touched, instead of three
        locked increments per item (a batch's items finish together by the hundred)."""
        if not seconds:
            return
        children = self._item_children.get((verifier, status))
        if children is None:
            self.observe_item(verifier, status, seconds[0])
            children = self._item_children[(verifier, status)]
            seconds = seconds[1:]
            if not seconds:
                return
        counter, histogram = children
        counter.inc(len(seconds))
        bounds = getattr(histogram, "_upper_bounds", None)
        buckets = getattr(histogram, "_buckets", None)
        total = getattr(histogram, "_sum", None)
        if bounds is None or buckets is None or total is None:  # another prometheus_client
            for value in seconds:
                histogram.observe(value)
            return
        # Buckets are stored per bound, not cumulative: each value counts in the first
        # bound at or above it, as `Histogram.observe` does.
        per_bucket = collections.Counter(bisect.bisect_left(bounds, value) for value in seconds)
        total.inc(sum(seconds))
        for index, count in per_bucket.items():
            buckets[index].inc(count)

    def watch_verifiers(self, read: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        """Expose in-flight and queued items per verifier, read at each scrape.

        `read` answers `{verifier: (in_flight, queued)}`: items handed to the worker
        pool and not finished, and those of them no worker has started yet. An
        autoscaler scales a verifier's pool of replicas on these.
        """
        self.registry.register(_VerifierLoad(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _VerifierLoad(Collector):
    def __init__(self, read: Callable[[], Mapping[str, tuple[int, int]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        inflight = GaugeMetricFamily(
            "rewardgate_verifier_inflight",
            "Items being judged (queued for a worker or running) by verifier.",
            labels=["verifier"],
        )
        queued = GaugeMetricFamily(
            "rewardgate_verifier_queued",
            "Items waiting for a free worker by verifier.",
            labels=["verifier"],
        )
        for name, (running, waiting) in sorted(self._read().items()):
            inflight.add_metric([name], running)
            queued.add_metric([name], waiting)
        yield inflight
        yield queued
