"""verl's `compute_score`, called as verl's reward managers call it, in-process and remote."""

from __future__ import annotations

import array
import asyncio
import importlib
import importlib.util
import inspect
import json
import os
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from rewardgate.clients import verl
from rewardgate.clients.connect import close_shared
from rewardgate.clients.verl import compute_score, compute_score_async, to_item, verifier_for
from tests.clients.rollouts import (
    ADD_CALL,
    ADD_STDIO,
    BAD_CALL,
    BAD_STDIO,
    GOOD_CALL,
    GOOD_STDIO,
    MODES,
    Mode,
    adapter_mode,
    expected_math_rewards,
    math_items,
    math_rollouts,
)
from tests.clients.support import metrics_of, request_count

MATH_SOURCES = ["openai/gsm8k", "lighteval/MATH", "HuggingFaceH4/MATH-500", "aime2024"]


@pytest.fixture(params=MODES)
def mode(request, monkeypatch, tmp_path, live_server) -> Iterator[Mode]:
    yield from adapter_mode(request.param, monkeypatch, tmp_path, live_server)


# -- how verl calls a custom reward function ------------------------------------------------


def load_extern_object(module_path: str, object_name: str) -> Any:
    """verl.utils.import_utils.load_extern_object: `pkg://module` or a file path."""
    if module_path.startswith("pkg://"):
        module = importlib.import_module(module_path[len("pkg://") :].replace("/", "."))
    else:
        spec = importlib.util.spec_from_file_location(
            f"custom_module_{hash(os.path.abspath(module_path))}", module_path
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return getattr(module, object_name)


def _call_with_kwargs(raw_fn: Any, extra_kwargs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """verl.trainer.ppo.reward._call_with_kwargs: reward_kwargs from the config win."""
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


def get_custom_reward_fn(path: str, name: str, reward_kwargs: dict[str, Any]) -> Any:
    """verl.trainer.ppo.reward.get_custom_reward_fn."""
    raw_fn = load_extern_object(path, name)
    return partial(_call_with_kwargs, raw_fn, reward_kwargs)


def naive_manager(compute: Any, rows: list[dict[str, Any]]) -> list[float]:
    """NaiveRewardManager.__call__'s scoring loop: one call per response, dict or float."""
    rewards = []
    extra: dict[str, list[Any]] = {}
    for row in rows:
        extra_info = dict(row.get("extra_info", {}))
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        score = compute(
            data_source=row["data_source"],
            solution_str=row["response"],
            ground_truth=row["reward_model"]["ground_truth"],
            extra_info=extra_info,
        )
        if isinstance(score, dict):
            rewards.append(score["score"])
            for key, value in score.items():
                extra.setdefault(key, []).append(value)
        else:
            rewards.append(score)
    assert all(len(values) == len(rows) for values in extra.values()), "ragged extra info"
    return rewards


def batch_manager(compute: Any, rows: list[dict[str, Any]], **reward_kwargs: Any) -> list[Any]:
    """BatchRewardManager.verify: one call with the plural keywords."""
    extras = [dict(row.get("extra_info", {})) for row in rows]
    for extra in extras:
        extra["rollout_reward_scores"] = {}
    return compute(  # type: ignore[no-any-return]
        data_sources=[row["data_source"] for row in rows],
        solution_strs=[row["response"] for row in rows],
        ground_truths=[row["reward_model"].get("ground_truth", None) for row in rows],
        extra_infos=extras,
        **reward_kwargs,
    )


def math_rows() -> list[dict[str, Any]]:
    return [
        {
            "data_source": MATH_SOURCES[i % len(MATH_SOURCES)],
            "response": r.completion,
            "reward_model": {"style": "rule", "ground_truth": r.gold},
            "extra_info": {"split": "train", "index": i},
        }
        for i, r in enumerate(math_rollouts())
    ]


def code_rows() -> list[dict[str, Any]]:
    cases = [
        ("codecontests", GOOD_STDIO, ADD_STDIO),
        ("apps", BAD_STDIO, ADD_STDIO),
        ("taco", GOOD_CALL, ADD_CALL),
        ("codeforces", BAD_CALL, ADD_CALL),
        ("primeintellect", GOOD_CALL, json.loads(ADD_CALL)),  # a dict, not a string
    ]
    return [
        {"data_source": ds, "response": text, "reward_model": {"ground_truth": truth}}
        for ds, text, truth in cases
    ]


# -- the tests -------------------------------------------------------------------------------


def assert_verl_safe(scores: list[dict[str, Any]]) -> None:
    """verl gathers each key over the batch and averages numbers (strings are skipped)."""
    keys = {"score", "status", "verifier", "error", "details"}
    for score in scores:
        assert set(score) == keys
        assert isinstance(score["score"], float)
        assert all(isinstance(score[k], str) for k in keys - {"score"})
        json.loads(score["details"])


def test_grpo_batches_of_64_match_direct_client_calls(mode: Mode) -> None:
    rows = math_rows()
    with mode.direct() as direct:
        expected = [r.reward for r in direct.score_batch(math_items(math_rollouts()))]
    assert expected == expected_math_rewards()
    before = mode.requests()
    batch = batch_manager(compute_score, rows)
    assert mode.requests() - before == (1 if mode.url else 0), "one request per batch"
    assert_verl_safe(batch)
    assert [score["score"] for score in batch] == expected
    assert {score["verifier"] for score in batch} == {"math"}
    assert naive_manager(compute_score, rows) == expected
    assert mode.requests() - before == (65 if mode.url else 0)


def test_a_large_batch_is_one_request(live_server) -> None:
    server = live_server(workers=1)
    n = 300  # more than a client's default batch
    try:
        scores = compute_score(
            data_sources=["math"] * n,
            solution_strs=["\\boxed{2}"] * n,
            ground_truths=["2"] * n,
            url=server.url,
        )
    finally:
        close_shared()
    assert [s["score"] for s in scores] == [1.0] * n
    assert request_count(metrics_of(server.url), 200) == 1


def test_code_data_sources_run_the_code_verifier(mode: Mode) -> None:
    scores = batch_manager(compute_score, code_rows())
    assert_verl_safe(scores)
    assert [(s["verifier"], s["status"], s["score"]) for s in scores] == [
        ("code", "ok", 1.0),
        ("code", "ok", 0.0),
        ("code", "ok", 1.0),
        ("code", "ok", 0.0),
        ("code", "ok", 1.0),
    ]
    assert naive_manager(compute_score, code_rows()) == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_loaded_by_path_with_reward_kwargs_as_verl_does(monkeypatch, live_server) -> None:
    """custom_reward_function.path/name/reward_kwargs: `url` there sends items to a service."""
    monkeypatch.delenv("REWARDGATE_URL", raising=False)
    server = live_server(workers=1)
    kwargs = {"url": server.url, "fallback_reward": -1.0, "sources": {"my/set": "math"}}
    rows = [
        {"data_source": "my/set", "response": "\\boxed{4}", "reward_model": {"ground_truth": "4"}},
        {"data_source": "my/set", "response": "\\boxed{4}", "reward_model": {"ground_truth": ""}},
    ]
    try:
        for path in ("pkg://rewardgate.clients.verl", verl.__file__):
            compute = get_custom_reward_fn(path, "compute_score", kwargs)
            assert naive_manager(compute, rows) == [1.0, -1.0]
            assert [s["status"] for s in batch_manager(compute, rows)] == ["ok", "invalid"]
    finally:
        close_shared()
    assert request_count(metrics_of(server.url), 200) == 6


def test_non_ok_items_get_the_fallback_reward_with_details(mode: Mode) -> None:
    rows = [
        {
            "data_source": "apps",
            "response": GOOD_STDIO,
            "reward_model": {"ground_truth": "not json"},
        },
        {"data_source": "searchR1_nq", "response": "x", "reward_model": {"ground_truth": "x"}},
        {
            "data_source": "openai/gsm8k",
            "response": "#### 4",
            "reward_model": {"ground_truth": "4"},
        },
        {
            "data_source": "math",
            "response": "4",
            "reward_model": {"ground_truth": "4"},
            "extra_info": {"options": '["not", "an", "object"]'},
        },
    ]
    default = batch_manager(compute_score, rows)
    assert_verl_safe(default)
    assert [(s["status"], s["score"]) for s in default] == [
        ("invalid", 0.0),  # the verifier's lowest reward
        ("invalid", 0.0),
        ("ok", 1.0),
        ("invalid", 0.0),
    ]
    assert "JSON" in default[0]["error"] and "searchR1_nq" in default[1]["error"]
    assert default[2]["error"] == ""
    scored = batch_manager(compute_score, rows, fallback_reward=-0.5)
    assert [s["score"] for s in scored[:3]] == [-0.5, -0.5, 1.0]
    assert scored[3]["status"] == "invalid" and "options" in scored[3]["error"]


def test_async_twin_for_the_reward_loop(mode: Mode) -> None:
    assert inspect.iscoroutinefunction(compute_score_async)
    row = {"data_source": "math", "solution_str": "so \\boxed{\\frac12}", "ground_truth": "0.5"}

    async def reward_loop() -> list[Any]:  # the reward loop awaits many items at once
        return await asyncio.gather(*(compute_score_async(**row, extra_info={}) for _ in range(8)))

    scores = asyncio.run(reward_loop())
    assert [s["score"] for s in scores] == [1.0] * 8
    assert scores[0] == compute_score(**row)


SOURCE_CASES: list[tuple[str, dict[str, str] | None, str]] = [
    ("openai/gsm8k", None, "math"),
    ("lighteval/MATH", None, "math"),
    ("DigitalLearningGmbH/MATH-lighteval", None, "math"),
    ("HuggingFaceH4/MATH-500", None, "math"),
    ("math_dapo", None, "math"),
    ("aime2025", None, "math"),
    ("numina_olympiads", None, "math"),
    ("codecontests", None, "code"),
    ("apps", None, "code"),
    ("taco", None, "code"),
    ("codeforces", None, "code"),
    ("primeintellect", None, "code"),
    ("math", None, "math"),
    ("code", None, "code"),
    ("sql", None, "sql"),
    ("my/gsm", {"my/gsm": "math"}, "math"),
    ("openai/gsm8k", {"openai/gsm8k": "string"}, "string"),
    ("lab/aime-hard", {"lab/*": "math_steps"}, "math_steps"),
    ("aime2025", {"aime*": "math_steps"}, "math_steps"),
    ("xaime", None, "xaime"),
]


@pytest.mark.parametrize(
    ("data_source", "sources", "verifier"),
    SOURCE_CASES,
    ids=[f"{ds}{'-with-table' if table else ''}->{v}" for ds, table, v in SOURCE_CASES],
)
def test_data_sources_map_to_verifiers(data_source, sources, verifier) -> None:
    assert verifier_for(data_source, sources) == verifier


def test_extra_info_names_the_verifier_and_options_and_arrays_become_lists() -> None:
    extra = {"verifier": "math", "options": {"boxed": "first"}, "index": 3}
    item = to_item("openai/gsm8k", "text", "1", extra, fallback_reward=-1.0)
    assert item == {
        "verifier": "math",
        "response": "text",
        "reference": "1",
        "options": {"boxed": "first"},
        "fallback_reward": -1.0,
    }
    as_json = {"options": '{"require_box": true}'}
    assert to_item("math", "x", "1", as_json)["options"] == {"require_box": True}
    assert "options" not in to_item("math", "x", "1", {"options": ""})
    tests = {"inputs": array.array("i", [1, 2]), "outputs": [[2], [3]], "fn_name": "f"}
    assert to_item("mine", "text", {"tests": [tests]}, None)["reference"] == {
        "tests": [{"inputs": [1, 2], "outputs": [[2], [3]], "fn_name": "f"}]
    }


@pytest.mark.parametrize(
    ("ground_truth", "reference"),
    [
        (ADD_STDIO, {"inputs": ["1 2\n", "5 7\n"], "outputs": ["3\n", "12\n"]}),
        (ADD_CALL, json.loads(ADD_CALL)),
        (
            json.dumps({"inputs": ["1\n"], "outputs": ["1\n"], "fn_name": None, "source": "x"}),
            {"inputs": ["1\n"], "outputs": ["1\n"]},
        ),
        ({"inputs": [[1]], "outputs": [1], "fn_name": ""}, {"inputs": [[1]], "outputs": [1]}),
        ("not json", "not json"),
        ('{"asserts": ["assert f()"]}', '{"asserts": ["assert f()"]}'),
    ],
    ids=["stdio-json", "call-json", "null-fn-name-extra-key", "empty-fn-name", "not-json", "other"],
)
def test_code_ground_truth_becomes_an_apps_reference(ground_truth, reference) -> None:
    assert to_item("taco", "x", ground_truth)["reference"] == reference


def test_batch_keywords_must_line_up() -> None:
    with pytest.raises(ValueError, match="same length"):
        compute_score(data_sources=["math"], solution_strs=["a", "b"])
    with pytest.raises(ValueError, match="ground_truths"):
        compute_score(data_sources=["math"], solution_strs=["a"], ground_truths=[])
    with pytest.raises(TypeError, match="data_source"):
        compute_score()
