"""Math rewards over HTTP: the gateway and the real math verifier together."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def client(make_client):
    return make_client(installed=True, workers=2)


def test_batch_mixing_valid_unknown_and_malformed_items(client) -> None:
    items = [
        {
            "verifier": "math",
            "response": "so $\\boxed{\\frac{1}{2}}$",
            "reference": "0.5",
            "id": "a",
        },
        {
            "verifier": "math",
            "response": "The answer is 3.",
            "reference": "$\\sqrt{16}$",
            "id": "b",
        },
        {"verifier": "maths", "response": "1", "reference": "1", "id": "c"},
        {"verifier": "math", "response": "1", "reference": {"answer": ""}, "id": "d"},
        {"verifier": "math", "response": "1", "reference": {"gold": "1"}, "id": "e"},
        {
            "verifier": "math",
            "response": "\\boxed{4}",
            "reference": {"answer": "\\sqrt{16}"},
            "id": "f",
        },
    ]
    response = client.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    results = {r["id"]: r for r in response.json()["results"]}
    assert [r["id"] for r in response.json()["results"]] == list("abcdef")
    assert (results["a"]["status"], results["a"]["reward"]) == ("ok", 1.0)
    assert (results["b"]["status"], results["b"]["reward"]) == ("ok", 0.0)
    assert results["c"]["status"] == "invalid" and "math" in results["c"]["error"]
    assert results["d"]["status"] == "invalid" and "reference" in results["d"]["error"]
    assert results["e"]["status"] == "invalid" and "reference" in results["e"]["error"]
    assert (results["f"]["status"], results["f"]["reward"]) == ("ok", 1.0)
    assert results["a"]["details"], "details show the extracted and parsed answers"


def test_pathological_input_times_out_within_its_budget(client) -> None:
    budget = 2.0
    item = {
        "verifier": "math",
        "response": "$\\boxed{10^{10^{10^{10}}}}$",
        "reference": "10^{10^{10^{10}}} + 1",
        "options": {"timeout_s": budget},
    }
    start = time.monotonic()
    response = client.post("/v1/rewards", json={"items": [item, {**item, "reference": "5"}]})
    elapsed = time.monotonic() - start
    first = response.json()["results"][0]
    assert first["status"] == "timeout", first
    assert first["reward"] == 0.0
    # Killed at its budget, not left to run: the budget plus the pool's reaction time.
    assert elapsed < budget * 2 + 5
    after = client.post(
        "/v1/rewards", json={"items": [{"verifier": "math", "response": "2", "reference": "2"}]}
    )
    assert after.json()["results"][0]["reward"] == 1.0


def test_a_grpo_group_repeats_hit_the_cache(client) -> None:
    group = [
        {"verifier": "math", "response": f"\\boxed{{{answer}}}", "reference": "6"}
        for answer in ["6", "6", "3+3", "7", "6", "6.0"]
    ]
    first = client.post("/v1/rewards", json={"items": group}).json()["results"]
    assert [r["reward"] for r in first] == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    second = client.post("/v1/rewards", json={"items": group}).json()["results"]
    assert all(r["cached"] for r in second)
    assert [r["reward"] for r in second] == [r["reward"] for r in first]
