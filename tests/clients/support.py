"""Helpers for the client tests (fixtures are in conftest.py)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from rewardgate.clients import AsyncRewardClient, Retry

IN_PROCESS = "http://rewardgate.test"


def in_process(app: FastAPI, **options: Any) -> AsyncRewardClient:
    """An async client whose requests go straight into `app`."""
    options.setdefault("retry", Retry(backoff_s=0.01))
    return AsyncRewardClient(IN_PROCESS, transport=httpx.ASGITransport(app=app), **options)


def echo(response: str, answer: str = "42", **extra: Any) -> dict[str, Any]:
    return {"verifier": "echo", "response": response, "reference": {"answer": answer}, **extra}


def request_count(metrics_text: str | bytes, code: int, route: str = "/v1/rewards") -> int:
    """How many requests the server answered with `code` on `route`, from /metrics."""
    text = metrics_text.decode() if isinstance(metrics_text, bytes) else metrics_text
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "rewardgate_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels.get("code") == str(code)
        and sample.labels.get("route") == route
    )


def metrics_of(url: str, api_key: str | None = None) -> str:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
