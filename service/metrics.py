"""Prometheus metrics, one registry per app so tests can build several side by side."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
