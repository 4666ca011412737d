"""TRL reward functions, called as GRPOTrainer._calculate_rewards calls them."""

from __future__ import annotations

import asyncio
import functools
import inspect
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rewardgate.clients import LocalClient
from rewardgate.clients.trl import async_reward_func, completion_text, reward_func
from tests.clients.rollouts import (
    MODES,
    Mode,
    adapter_mode,
    expected_math_rewards,
    math_items,
    math_rollouts,
)


@pytest.fixture(params=MODES)
def mode(request, monkeypatch, tmp_path, live_server) -> Iterator[Mode]:
    yield from adapter_mode(request.param, monkeypatch, tmp_path, live_server)


# -- how TRL calls reward functions ----------------------------------------------------------


def get_callable_name(func: Callable[..., Any]) -> str:
    """trl.trainer.utils.get_callable_name: what TRL logs a reward under."""
    while isinstance(func, functools.partial):
        func = func.func
    return getattr(func, "__name__", type(func).__name__)


class GRPOLoop:
    """GRPOTrainer._calculate_rewards for custom functions, sync and async (the latter
    gathered on the trainer's own event loop, in a daemon thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.logged: dict[str, list[Any]] = {}

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def rewards(
        self,
        reward_funcs: list[Callable[..., Any]],
        inputs: list[dict[str, Any]],
        prompts: list[Any],
        completions: list[Any],
    ) -> dict[str, list[float | None]]:
        keys = [key for key in inputs[0] if key not in ["prompt", "completion", "completion_ids"]]
        reward_kwargs: dict[str, Any] = {key: [example[key] for example in inputs] for key in keys}
        reward_kwargs["trainer_state"] = object()
        reward_kwargs["log_extra"] = lambda column, values: self.logged.update({column: values})
        reward_kwargs["log_metric"] = lambda name, value: None
        completion_ids = [[1, 2, 3] for _ in completions]
        out: dict[str, list[float | None]] = {}
        pending = []
        for func in reward_funcs:
            if inspect.iscoroutinefunction(func):
                pending.append(func)
            else:
                out[get_callable_name(func)] = func(
                    prompts=prompts,
                    completions=completions,
                    completion_ids=completion_ids,
                    **reward_kwargs,
                )

        async def run_async() -> list[Any]:
            return await asyncio.gather(
                *(
                    func(
                        prompts=prompts,
                        completions=completions,
                        completion_ids=completion_ids,
                        **reward_kwargs,
                    )
                    for func in pending
                )
            )

        if pending:
            results = asyncio.run_coroutine_threadsafe(run_async(), self.loop).result()
            for func, result in zip(pending, results, strict=True):
                out[get_callable_name(func)] = result
        return out


@pytest.fixture
def grpo() -> Iterator[GRPOLoop]:
    loop = GRPOLoop()
    yield loop
    loop.close()


def dataset_batch(conversational: bool) -> tuple[list[dict[str, Any]], list[Any], list[Any]]:
    """inputs (dataset rows repeated per generation), prompts and completions."""
    inputs, prompts, completions = [], [], []
    for r in math_rollouts():
        if conversational:
            prompt: Any = [{"role": "user", "content": r.prompt}]
            completion: Any = [{"role": "assistant", "content": r.completion}]
        else:
            prompt, completion = r.prompt, r.completion
        inputs.append({"prompt": prompt, "solution": r.gold, "level": "easy"})
        prompts.append(prompt)
        completions.append(completion)
    return inputs, prompts, completions


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("conversational", [False, True], ids=["plain", "conversational"])
def test_grpo_batches_of_64_match_direct_client_calls(mode: Mode, grpo, conversational) -> None:
    with mode.direct() as direct:
        expected = [r.reward for r in direct.score_batch(math_items(math_rollouts()))]
    assert expected == expected_math_rewards()
    inputs, prompts, completions = dataset_batch(conversational)
    funcs = [reward_func("math"), async_reward_func("math", name="math_async")]
    before = mode.requests()
    for _step in range(2):
        logged = grpo.rewards(funcs, inputs, prompts, completions)
        assert logged == {"math_reward": expected, "math_async": expected}
    assert mode.requests() - before == (4 if mode.url else 0), "one request per call"


def test_abstain_gives_none_for_items_without_a_verdict(mode: Mode, grpo) -> None:
    inputs = [{"solution": gold} for gold in ["4", "", "4"]]
    completions = ["\\boxed{4}", "\\boxed{4}", "\\boxed{5}"]
    funcs = [
        reward_func("math", name="abstains", abstain=True),
        async_reward_func("math", name="abstains_async", abstain=True),
        reward_func("math", name="fallback"),
        reward_func("math", name="fallback_set", fallback_reward=-1.0),
    ]
    logged = grpo.rewards(funcs, inputs, ["p"] * 3, completions)
    assert logged == {
        "abstains": [1.0, None, 0.0],
        "abstains_async": [1.0, None, 0.0],
        "fallback": [1.0, 0.0, 0.0],
        "fallback_set": [1.0, -1.0, 0.0],
    }


def test_reference_column_options_and_per_row_options(mode: Mode, grpo) -> None:
    unboxed = "The final answer is 1."
    inputs = [
        {"answer": "1", "opts": {"require_box": True}, "opts_json": '{"require_box": true}'},
        {"answer": "1", "opts": {}, "opts_json": ""},
        {"answer": "1", "opts": None, "opts_json": "not json"},
    ]
    funcs = [
        reward_func("math", "answer", name="default"),
        reward_func("math", "answer", name="boxed", options={"require_box": True}),
        reward_func("math", reference_field="answer", options_field="opts", name="per_row"),
        reward_func("math", "answer", options_field="opts_json", abstain=True, name="json"),
    ]
    logged = grpo.rewards(funcs, inputs, ["p"] * 3, [unboxed] * 3)
    assert logged == {
        "default": [1.0, 1.0, 1.0],
        "boxed": [0.0, 0.0, 0.0],
        "per_row": [0.0, 1.0, 1.0],
        "json": [0.0, 1.0, None],  # options that are not an object: no verdict
    }


def test_names_pickling_and_a_given_client(tmp_path) -> None:
    func = reward_func("math")
    assert get_callable_name(func) == func.__name__ == "math_reward"
    assert get_callable_name(reward_func("code", name="unit_tests")) == "unit_tests"
    assert get_callable_name(async_reward_func("math")) == "math_reward"
    assert inspect.iscoroutinefunction(async_reward_func("math"))
    assert not inspect.iscoroutinefunction(func)
    copy = pickle.loads(pickle.dumps(func))  # TRL's async trainer spawns with pickled funcs
    assert (copy.__name__, copy.verifier, copy.reference_field) == (
        "math_reward",
        "math",
        "solution",
    )
    from rewardgate.service.settings import Settings

    with LocalClient(Settings(workers=1, asset_dir=tmp_path)) as client:
        given = reward_func("math", client=client)
        assert given(prompts=["p"], completions=["\\boxed{2}"], solution=["2"]) == [1.0]
        assert given(prompts=[], completions=[], solution=[]) == []


def test_a_missing_reference_column_is_named() -> None:
    func = reward_func("math")
    with pytest.raises(KeyError, match=r"'solution'.*'answer'"):
        func(prompts=["p"], completions=["c"], answer=["1"], trainer_state=None)
    with pytest.raises(ValueError, match="2 values for 1 completions"):
        func(prompts=["p"], completions=["c"], solution=["1", "2"])


@pytest.mark.parametrize(
    ("completion", "text"),
    [
        ("plain text", "plain text"),
        ([{"role": "assistant", "content": "the answer"}], "the answer"),
        (
            [
                {"role": "assistant", "content": "let me call a tool"},
                {"role": "tool", "content": "42"},
                {"role": "assistant", "content": "so \\boxed{42}"},
            ],
            "so \\boxed{42}",
        ),
        (
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ],
            "ab",
        ),
        ([{"role": "assistant", "content": None, "tool_calls": []}], ""),
        ([{"content": "no role"}], "no role"),
        ({"role": "assistant", "content": "one message"}, "one message"),
        ([], ""),
    ],
    ids=[
        "plain",
        "conversational",
        "tool-use-last-reply",
        "content-parts",
        "tool-call-only",
        "no-role",
        "single-message",
        "empty",
    ],
)
def test_completion_text(completion: Any, text: str) -> None:
    assert completion_text(completion) == text
