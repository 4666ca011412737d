"""`POST /get_reward`: OpenRLHF's remote reward-model protocol on the real app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from rewardgate.clients import RewardClient
from rewardgate.service.routes.openrlhf import reference_of, response_of
from tests.clients.rollouts import expected_math_rewards, math_items, math_rollouts

IM_END = "<|im_end|>"


@pytest.fixture
def client(make_client):
    return make_client(installed=True, workers=2)


def openrlhf_body(rollouts: list[Any], end: str = IM_END) -> dict[str, list[Any]]:
    """What OpenRLHF sends: each query is the prompt and the response decoded together."""
    return {
        "query": [r.prompt + r.completion + end for r in rollouts],
        "prompts": [r.prompt for r in rollouts],
        "labels": [r.gold for r in rollouts],
    }


def test_math_batch_answers_rewards_scores_and_extra_logs(client) -> None:
    rollouts = math_rollouts()[:8]
    answer = client.post("/get_reward", json=openrlhf_body(rollouts))
    assert answer.status_code == 200
    data = answer.json()
    assert set(data) == {"rewards", "scores", "extra_logs"}
    assert data["rewards"] == expected_math_rewards()[:8]
    assert data["scores"] == data["rewards"]
    assert data["extra_logs"] == {"verified": [1.0] * 8}


@pytest.mark.parametrize(
    ("query", "prompt", "response"),
    [
        ("Q: 2+2?\nA: \\boxed{4}", "Q: 2+2?\nA:", " \\boxed{4}"),
        ("<s>Q: 2+2? \\boxed{5} A: \\boxed{4}", "Q: 2+2? \\boxed{5}", " A: \\boxed{4}"),
        ("Q: 2+2? A: 4<|im_end|>\n<|endoftext|>", "Q: 2+2?", " A: 4"),
        ("Q A: 4<\uff5cend\u2581of\u2581sentence\uff5c>", "Q", " A: 4"),
        ("Q A: 4</s>", "Q", " A: 4"),
        ("A: 4 <|im_end|> then more", "Q", "A: 4 <|im_end|> then more"),
        ("the whole query", "not in it", "the whole query"),
        ("the whole query", None, "the whole query"),
        ("the whole query", "", "the whole query"),
        ("Q", "Q", ""),
    ],
    ids=[
        "prompt-prefix",
        "after-bos-and-prompt-answer-ignored",
        "qwen-end-tokens",
        "deepseek-end-token",
        "llama-eos",
        "special-token-mid-text-kept",
        "prompt-not-found",
        "no-prompt",
        "empty-prompt",
        "empty-response",
    ],
)
def test_response_is_the_query_after_its_prompt(query: str, prompt: str | None, response) -> None:
    assert response_of(query, prompt) == response


@pytest.mark.parametrize(
    ("label", "reference"),
    [
        ("\\frac{1}{2}", "\\frac{1}{2}"),
        ("[1, 2]", "[1, 2]"),
        ("{1, 2}", "{1, 2}"),
        ('{"answer": "42"}', {"answer": "42"}),
        (' {"tests": []}', {"tests": []}),
        ('{"unclosed": ', '{"unclosed": '),
        ({"answer": "7"}, {"answer": "7"}),
        (3, 3),
        (None, None),
    ],
    ids=[
        "latex-gold",
        "json-list-stays-text",
        "set-stays-text",
        "json-object",
        "json-object-leading-space",
        "broken-json",
        "already-an-object",
        "number",
        "none",
    ],
)
def test_labels_become_references(label: Any, reference: Any) -> None:
    assert reference_of(label) == reference


def test_query_parameter_picks_the_verifier_and_json_labels_are_references(client) -> None:
    body = {
        "query": ["Q: say 42\n42", "Q: say 42\n41"],
        "prompts": ["Q: say 42\n", "Q: say 42\n"],
        "labels": [json.dumps({"answer": "42"})] * 2,
    }
    answer = client.post("/get_reward?verifier=echo", json=body)
    assert answer.status_code == 200
    assert answer.json()["rewards"] == [1.0, 0.0]


def test_the_setting_names_the_default_verifier(make_client) -> None:
    client = make_client(installed=True, get_reward_verifier="echo")
    body = {"query": ["P42"], "prompts": ["P"], "labels": ['{"answer": "42"}']}
    assert client.post("/get_reward", json=body).json()["rewards"] == [1.0]
    math = {"query": ["P \\boxed{42}"], "prompts": ["P"], "labels": ["42"]}
    assert client.post("/get_reward?verifier=math", json=math).json()["rewards"] == [1.0]


def test_items_without_a_verdict_get_the_fallback_and_are_not_verified(client) -> None:
    body = {"query": ["Ptool", "P0.5"], "prompts": ["P", "P"], "labels": [None, None]}
    data = client.post("/get_reward?verifier=faulty", json=body).json()
    assert data["rewards"] == [-1.0, 0.5]  # faulty's lowest reward, then its verdict
    assert data["extra_logs"] == {"verified": [0.0, 1.0]}
    unknown = client.post("/get_reward?verifier=nope", json=body).json()
    assert unknown["extra_logs"]["verified"] == [0.0, 0.0]
    no_label = {"query": ["P \\boxed{1}"], "prompts": ["P"]}
    data = client.post("/get_reward", json=no_label).json()  # math needs a gold answer
    assert (data["rewards"], data["extra_logs"]["verified"]) == ([0.0], [0.0])


def test_an_empty_batch_answers_empty_lists(client) -> None:
    data = client.post("/get_reward", json={"query": [], "prompts": [], "labels": []}).json()
    assert data == {"rewards": [], "scores": [], "extra_logs": {"verified": []}}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b"not json", 400, "query"),
        (b'{"prompts": ["p"]}', 400, "query"),
        (b'{"query": "one string"}', 400, "query"),
        (b'{"query": ["a", "b"], "prompts": ["a"]}', 400, "1 prompts for 2 queries"),
        (b'{"query": ["a"], "labels": ["1", "2"]}', 400, "2 labels for 1 queries"),
        (json.dumps({"query": ["q"] * 5}).encode(), 413, "at most 4"),
    ],
    ids=["not-json", "no-query", "query-not-a-list", "prompts-short", "labels-long", "too-many"],
)
def test_malformed_requests_get_the_error_envelope(make_client, body, status, words) -> None:
    client = make_client(installed=True, max_items_per_request=4)
    answer = client.post("/get_reward", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status
    error = answer.json()["error"]
    assert set(error) == {"code", "message"} and words in error["message"]


async def _post_like_openrlhf(url: str, data: dict[str, Any]) -> Any:
    """openrlhf/utils/agent.py `_post_request`, the request part (it retries on errors)."""
    timeout = aiohttp.ClientTimeout(total=180)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, json=data) as response,
    ):
        response.raise_for_status()
        return await response.json()


def test_grpo_batches_of_64_match_direct_client_calls(live_server) -> None:
    server = live_server(workers=2)
    rollouts = math_rollouts()
    assert len(rollouts) == 64
    with RewardClient(server.url) as direct:
        expected = [r.reward for r in direct.score_batch(math_items(rollouts))]
    assert expected == expected_math_rewards()
    for step in range(2):  # a second step answers the same, from the cache
        reply = asyncio.run(
            _post_like_openrlhf(f"{server.url}/get_reward", openrlhf_body(rollouts))
        )
        assert reply["rewards"] == expected, f"step {step}"
        assert reply["scores"] == expected
        assert reply["extra_logs"]["verified"] == [1.0] * 64

    # OpenRLHF >= 0.8 sends one query per request, many at a time
    async def one_by_one() -> list[Any]:
        bodies = [openrlhf_body([r]) for r in rollouts]
        url = f"{server.url}/get_reward"
        return await asyncio.gather(*(_post_like_openrlhf(url, body) for body in bodies))

    replies = asyncio.run(one_by_one())
    assert [reply["rewards"][0] for reply in replies] == expected


def test_guarded_by_api_keys_like_every_endpoint(make_client) -> None:
    client = make_client(installed=True, api_keys="key-one-0123456789abcdef")
    body = {"query": ["P \\boxed{1}"], "prompts": ["P"], "labels": ["1"]}
    refused = client.post("/get_reward", json=body)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    allowed = client.post(
        "/get_reward", json=body, headers={"authorization": "Bearer key-one-0123456789abcdef"}
    )
    assert allowed.json()["rewards"] == [1.0]
