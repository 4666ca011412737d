"""OpenRLHF's two remote-reward clients, vendored unchanged, against a live server.

- The current one (`SingleTurnAgentExecutor`, tests/clients/vendor/openrlhf/agent.py)
  generates, decodes prompt and response together with special tokens kept, and posts
  `{"query", "prompts", "labels"}` for each sample with aiohttp. Its generation engine
  (vLLM) is replaced here by one that returns a fixed response's tokens.
- The old one (`request_api_wrapper` in remote_rm_utils.py, which OpenRLHF ran as a Ray
  task per endpoint) posts a whole batch with `requests`.

With several `--remote_rm_url` endpoints, OpenRLHF shards each call's samples across
them; the current client calls once per sample, so every sample goes to the first URL
(the others get empty requests): the README says to give one load-balanced URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.clients.support import metrics_of
from tests.clients.test_trl_trainer import tiny_tokenizer
from tests.clients.vendor.openrlhf.agent import SingleTurnAgentExecutor
from tests.conftest import serving

USES_RESOURCES = ()
pytestmark = pytest.mark.slow

ROUTE = "/get_reward"
# (prompt, response, label, reward) with math's default verifier.
SAMPLES = [("1+1=", "2", "2", 1.0), ("2+3=", "6", "5", 0.0), ("4+4=", "8", "8", 1.0)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    with (
        serving(tmp_path_factory.mktemp("openrlhf_a"), workers=1) as first,
        serving(tmp_path_factory.mktemp("openrlhf_b"), workers=1) as second,
    ):
        yield [first.url, second.url]


@dataclass
class SamplingParams:
    """What the executor reads of vLLM's SamplingParams."""

    max_tokens: int | None = 8
    logprobs: int | None = None


@dataclass
class Output:
    token_ids: list[int]
    finish_reason: str = "stop"
    logprobs: Any = None


@dataclass
class RequestOutput:
    outputs: list[Output] = field(default_factory=list)


class FixedEngine:
    """Stands in for vLLM: 'generates' a given response's tokens."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        ids = tokenizer(response, add_special_tokens=False).input_ids
        self.ids = [*ids, tokenizer.eos_token_id]

    async def generate(self, prompt_ids: list[int], params: Any, **_: Any) -> RequestOutput:
        return RequestOutput([Output(list(self.ids))])


def run_current(urls: str | list[str]) -> list[dict[str, Any]]:
    tokenizer = tiny_tokenizer()
    executor = SingleTurnAgentExecutor(urls)

    async def all_samples() -> list[dict[str, Any]]:
        return await asyncio.gather(
            *(
                executor.execute(
                    prompt, label, SamplingParams(), 32, tokenizer, FixedEngine(tokenizer, text)
                )
                for prompt, text, label, _ in SAMPLES
            )
        )

    return asyncio.run(all_samples())


def test_current_client_scores_each_sample(servers: list[str]) -> None:
    outputs = run_current(servers[0] + ROUTE)
    # One request per sample: each answer is a list of one, as OpenRLHF reads it.
    assert [o["reward"] for o in outputs] == [[reward] for *_, reward in SAMPLES]
    assert [o["scores"] for o in outputs] == [[reward] for *_, reward in SAMPLES]
    assert [o["extra_logs"]["verified"] for o in outputs] == [[1.0]] * len(SAMPLES)


def test_current_client_with_two_urls_sends_every_sample_to_the_first(
    servers: list[str],
) -> None:
    before = [items_scored(url) for url in servers]
    outputs = run_current([url + ROUTE for url in servers])
    after = [items_scored(url) for url in servers]
    assert [o["reward"] for o in outputs] == [[reward] for *_, reward in SAMPLES]
    # Every sample is scored at the first URL; the second gets empty requests.
    assert [a - b for a, b in zip(after, before, strict=True)] == [len(SAMPLES), 0]


def items_scored(url: str) -> int:
    """Items the server has scored so far, from /metrics."""
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(metrics_of(url))
        if family.name == "rewardgate_items"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def old_client() -> Any:
    """OpenRLHF's old `request_api_wrapper`: its module imports Ray (OpenRLHF ran it as a
    Ray task), so the tests using it are `ray` tests, run by `make test-ray`, which
    installs the extra."""
    from tests.clients.vendor.openrlhf.remote_rm_utils import request_api_wrapper

    return request_api_wrapper


@pytest.mark.ray
def test_old_client_posts_a_batch(servers: list[str]) -> None:
    answer = old_client()(
        servers[0] + ROUTE,
        {
            "query": [prompt + text for prompt, text, *_ in SAMPLES],
            "prompts": [prompt for prompt, *_ in SAMPLES],
            "labels": [label for _, _, label, _ in SAMPLES],
        },
    )
    assert answer["rewards"] == [reward for *_, reward in SAMPLES]
    assert answer["scores"] == answer["rewards"]


@pytest.mark.ray
def test_old_client_raises_when_the_service_fails(servers: list[str]) -> None:
    """OpenRLHF's old client retries 5 times, then raises: no reward is made up."""
    with pytest.raises(Exception, match="Request error for 1 times"):
        old_client()(servers[0] + "/no-such-route", {"query": ["x"]}, try_max_times=1)
