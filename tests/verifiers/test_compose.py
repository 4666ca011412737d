"""The `compose` verifier: format + math + DAPO length shaping, gates, formulas, failures.

Children are real verifiers (format, math, length, string) found through the registry;
the failing children are the engine tests' probes, which break on command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rewardgate.service.app import verifier_env
from rewardgate.service.settings import Settings
from rewardgate.testing import EngineHarness, start_engine
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest, VerifierError
from rewardgate.verifiers.math import MathVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.registry import Registry
from rewardgate.verifiers.shaping import (
    FormatVerifier,
    LengthVerifier,
    RepetitionVerifier,
    StringVerifier,
)
from tests.conftest import ROOT
from tests.service.probes import Echo, Faulty, Sleepy

# format 0.2 + math 0.8 (only when the format holds) + DAPO overlong shaping:
# L_max = 20 words, buffer 10, penalty 1: 0 up to 10 words, -(|y| - 10)/10 up to 20, -1 past.
SPEC: dict[str, Any] = {
    "children": [
        {"name": "fmt", "verifier": "format", "weight": 0.2},
        {"name": "acc", "verifier": "math", "weight": 0.8, "gate": "fmt"},
        {
            "name": "len",
            "verifier": "length",
            "options": {"max_len": 20, "buffer": 10, "penalty_factor": 1.0},
        },
    ]
}


def words(n: int) -> str:
    return " ".join(["w"] * n)


def answer(think_words: int, boxed: str) -> str:
    """A formatted response of exactly think_words whitespace words (the last joins the tags)."""
    return f"<think>{words(think_words)}</think><answer>\\boxed{{{boxed}}}</answer>"


# (response, gold, expected reward, expected child scores fmt/acc/len), hand-computed.
ACCEPTANCE = [
    pytest.param(answer(4, "4"), "4", 1.0, (1, 1, 0), id="formatted-right-short"),
    pytest.param(answer(4, "5"), "4", 0.2, (1, 0, 0), id="formatted-wrong-short"),
    pytest.param("so \\boxed{4}", "4", 0.0, (0, 0, 0), id="unformatted-right-gated"),
    pytest.param(answer(10, "4"), "4", 1.0, (1, 1, 0), id="right-at-buffer-start"),
    pytest.param(answer(15, "4"), "4", 0.5, (1, 1, -0.5), id="right-half-into-buffer"),
    pytest.param(answer(20, "4"), "4", 0.0, (1, 1, -1.0), id="right-at-max-len"),
    pytest.param(answer(30, "4"), "4", 0.0, (1, 1, -1.0), id="right-past-max-len"),
    pytest.param(answer(17, "5"), "4", -0.5, (1, 0, -0.7), id="wrong-in-buffer"),
    pytest.param(words(25), "4", -1.0, (0, 0, -1.0), id="unformatted-overlong"),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineHarness]:
    harness = start_engine(
        ComposeVerifier,
        FormatVerifier,
        LengthVerifier,
        MathVerifier,
        StringVerifier,
        RepetitionVerifier,
        Echo,
        Faulty,
        Sleepy,
        env=VerifierEnv(config={"reward_specs": {"fmt_math": SPEC}}),
    )
    yield harness
    harness.close()


def compose(**options: Any) -> dict[str, Any]:
    return {"verifier": "compose", **options}


@pytest.mark.parametrize(("response", "gold", "reward", "scores"), ACCEPTANCE)
def test_format_math_and_dapo_length_give_the_hand_computed_rewards(
    engine: EngineHarness, response: str, gold: str, reward: float, scores: tuple[float, ...]
) -> None:
    [result] = engine.score([compose(response=response, reference=gold, options=SPEC)])
    assert result.status == "ok", result.error
    assert result.reward == pytest.approx(reward)
    assert result.steps is not None
    assert [s.label for s in result.steps] == ["fmt", "acc", "len"]
    assert [s.reward for s in result.steps] == pytest.approx(list(scores))
    assert result.details["scores"] == pytest.approx(
        dict(zip(["fmt", "acc", "len"], scores, strict=True))
    )


def test_a_named_spec_from_the_server_config_scores_the_same(engine: EngineHarness) -> None:
    inline, named = engine.score(
        [
            compose(response=answer(15, "4"), reference="4", options=SPEC),
            compose(response=answer(15, "4"), reference="4", options={"spec": "fmt_math"}),
        ]
    )
    assert (inline.status, named.status) == ("ok", "ok")
    assert named.reward == inline.reward == pytest.approx(0.5)


def test_a_gated_child_is_not_judged_and_says_why(engine: EngineHarness) -> None:
    [result] = engine.score([compose(response="no tags \\boxed{4}", reference="4", options=SPEC)])
    assert result.steps is not None
    acc = result.steps[1]
    assert acc.details["gated_by"] == "fmt"
    assert "details" not in acc.details


# --- formula and clip ------------------------------------------------------------------

FORMULA_CASES = [
    pytest.param("acc * (0.5 + 0.5 * fmt)", None, 1, 1, 1.0, id="product-both"),
    pytest.param("acc * (0.5 + 0.5 * fmt)", None, 0, 1, 0.5, id="product-no-format"),
    pytest.param("min(acc, fmt)", None, 0, 1, 0.0, id="min"),
    pytest.param("max(acc, fmt) - 2", [-1, 1], 1, 0, -1.0, id="clipped-low"),
    pytest.param("acc + fmt", [0, 1.5], 1, 1, 1.5, id="clipped-high"),
    pytest.param("1 if acc >= 1 and fmt else -1", None, 0, 1, -1.0, id="conditional"),
    pytest.param("clip(acc * 3, 0, 2) + abs(fmt - 1)", None, 0, 1, 3.0, id="clip-abs"),
]


@pytest.mark.parametrize(("formula", "clip", "fmt_ok", "acc_ok", "reward"), FORMULA_CASES)
def test_formula_and_clip(
    engine: EngineHarness,
    formula: str,
    clip: list[float] | None,
    fmt_ok: int,
    acc_ok: int,
    reward: float,
) -> None:
    response = f"{'<think>t</think><answer>' if fmt_ok else ''}\\boxed{{{4 if acc_ok else 5}}}"
    response += "</answer>" if fmt_ok else ""
    spec = {
        "children": [
            {"name": "fmt", "verifier": "format"},
            {"name": "acc", "verifier": "math"},
        ],
        "formula": formula,
        "clip": clip,
    }
    [result] = engine.score([compose(response=response, reference="4", options=spec)])
    assert result.status == "ok", result.error
    assert result.details["scores"] == {"fmt": fmt_ok, "acc": acc_ok}
    assert result.reward == pytest.approx(reward)


def test_children_may_set_their_own_reference_and_nest(engine: EngineHarness) -> None:
    spec = {
        "children": [
            {"name": "acc", "verifier": "math"},
            {
                "name": "says",
                "verifier": "string",
                "reference": "yes",
                "options": {"operation": "like"},
            },
            {
                "name": "inner",
                "weight": 0.5,
                "spec": {"children": [{"name": "acc2", "verifier": "math", "weight": 2}]},
            },
        ]
    }
    [result] = engine.score([compose(response="yes: \\boxed{4}", reference="4", options=spec)])
    assert result.status == "ok", result.error
    assert result.details["scores"] == {"acc": 1.0, "says": 1.0, "inner": 2.0}
    assert result.reward == pytest.approx(3.0)
    assert result.steps is not None
    inner = result.steps[2]
    assert [s["label"] for s in inner.details["steps"]] == ["acc2"]


# --- invalid specs -----------------------------------------------------------------------


def child(name: str, verifier: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "verifier": verifier, **extra}


INVALID = [
    pytest.param({"children": []}, "children", id="no-children"),
    pytest.param({"children": [child("a", "nope")]}, "unknown verifier 'nope'", id="unknown"),
    pytest.param(
        {"children": [child("a", "format", options={"mode": "nope"})]},
        "children[0] (a): options.mode",
        id="bad-child-options",
    ),
    pytest.param({"children": [child("a", "echo")]}, "children[0] (a): reference", id="bad-ref"),
    pytest.param(
        {"children": [child("a", "format"), child("a", "math")]}, "unique", id="duplicate"
    ),
    pytest.param({"children": [child("a", "format", gate="b")]}, "unknown child", id="bad-gate"),
    pytest.param(
        {"children": [child("a", "format", gate="b"), child("b", "format", gate="a")]},
        "cycle",
        id="gate-cycle",
    ),
    pytest.param({"children": [child("min", "format")]}, "reserved", id="reserved-name"),
    pytest.param(
        {"children": [child("a", "format")], "formula": "a.__class__"},
        "Attribute is not allowed",
        id="attribute",
    ),
    pytest.param(
        {"children": [child("a", "format")], "formula": "__import__('os')"},
        "only the functions",
        id="import",
    ),
    pytest.param(
        {"children": [child("a", "format")], "formula": "b + 1"}, "unknown name 'b'", id="name"
    ),
    pytest.param({"spec": "nope"}, "no reward spec named 'nope'", id="unknown-named-spec"),
    pytest.param(
        {"children": [child("a", "format")], "clip": [1, 0]}, "low <= high", id="clip-order"
    ),
    pytest.param(
        {"children": [{"name": "a", "verifier": "format", "spec": {"children": []}}]},
        "exactly one of",
        id="verifier-and-spec",
    ),
]


@pytest.mark.parametrize(("spec", "message"), INVALID)
def test_a_malformed_spec_is_invalid_and_names_the_part(
    engine: EngineHarness, spec: dict[str, Any], message: str
) -> None:
    [result] = engine.score([compose(response="x", reference="4", options=spec)])
    assert result.status == "invalid"
    assert message in (result.error or "")


def test_named_specs_that_name_each_other_are_refused() -> None:
    loop = {"children": [{"name": "again", "spec": "loop"}]}
    registry = Registry(
        [ComposeVerifier, FormatVerifier], env=VerifierEnv(config={"reward_specs": {"loop": loop}})
    )
    with pytest.raises(InvalidRequest, match="nest deeper"):
        registry.get("compose").prepare(None, {"spec": "loop"})


def test_a_runtime_formula_failure_is_invalid(engine: EngineHarness) -> None:
    spec = {"children": [child("fmt", "format")], "formula": "1 / fmt"}
    [result] = engine.score([compose(response="no tags", options=spec)])
    assert result.status == "invalid"
    assert "cannot be evaluated" in (result.error or "")


# --- failures of children ---------------------------------------------------------------


def test_a_failing_child_fails_the_composite_instead_of_scoring_zero(
    engine: EngineHarness,
) -> None:
    spec = {"children": [child("fmt", "format"), child("tool", "faulty")]}
    [result] = engine.score([compose(response="tool", options=spec)])
    assert result.status == "error"
    assert "children[1] (tool)" in (result.error or "")
    assert "tool is missing" in (result.error or "")


def test_a_child_fallback_scores_a_failure_when_the_spec_says_so(engine: EngineHarness) -> None:
    spec = {"children": [child("fmt", "format"), child("tool", "faulty", fallback=-0.25)]}
    [result] = engine.score([compose(response="tool", options=spec)])
    assert result.status == "ok", result.error
    assert result.reward == pytest.approx(-0.25)
    assert result.steps is not None
    assert "tool is missing" in result.steps[1].details["error"]


def test_in_process_verify_raises_the_childs_error() -> None:
    registry = Registry([ComposeVerifier, Faulty])
    request = RewardRequest(
        verifier="compose", response="tool", options={"children": [child("t", "faulty")]}
    )
    with pytest.raises(VerifierError, match=r"children\[0\] \(t\)"):
        registry.get("compose").verify(request)


# --- budget and caching ------------------------------------------------------------------


def test_budget_is_the_sum_of_the_childrens_budgets() -> None:
    verifier = Registry([ComposeVerifier, FormatVerifier, LengthVerifier]).get("compose")
    spec = {
        "children": [
            child("f", "format", options={"timeout_s": 2}),
            child("l", "length", options={"timeout_s": 3}),
            child("d", "format"),
        ]
    }
    prepared = verifier.prepare(None, spec)
    assert verifier.budget_s(prepared.reference, prepared.options, 10.0) == 15.0
    prepared = verifier.prepare(None, {**spec, "timeout_s": 4})
    assert verifier.budget_s(prepared.reference, prepared.options, 10.0) == 4.0


def scored_twice(engine: EngineHarness, spec: dict[str, Any]) -> list[RewardResult]:
    item = compose(response="<think>a</think><answer>b</answer>", options=spec)
    return [engine.score([item])[0] for _ in range(2)]


def test_cached_only_when_every_child_is_cacheable(engine: EngineHarness) -> None:
    cacheable = {"children": [child("fmt", "format"), child("len", "length")]}
    assert [r.cached for r in scored_twice(engine, cacheable)] == [False, True]
    with_sleepy = {"children": [child("fmt", "format"), child("s", "sleepy")]}
    assert [r.cached for r in scored_twice(engine, with_sleepy)] == [False, False]


def test_compose_outside_a_registry_uses_the_installed_verifiers() -> None:
    request = RewardRequest(
        verifier="compose",
        response=answer(4, "4"),
        reference="4",
        options={"children": [child("fmt", "format"), child("acc", "math")]},
    )
    result = ComposeVerifier().verify(request)
    assert result.reward == 2.0


def test_the_readme_config_names_a_spec_requests_can_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    [toml] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "reward_specs" in b]
    config = tmp_path / "rewardgate.toml"
    config.write_text(toml)
    monkeypatch.setenv("REWARDGATE_CONFIG", str(config))
    monkeypatch.setenv("JUDGE_API_KEY", "k")
    env = verifier_env(Settings(asset_dir=tmp_path))
    assert env.judge_endpoints["local"].api_key == "k"
    registry = Registry([ComposeVerifier, FormatVerifier, LengthVerifier, MathVerifier], env=env)
    for overrides, reward in [({}, 1.0), ({"len": {"length": 3584}}, 0.5)]:
        options = {"spec": "r1_math", "overrides": overrides}
        request = RewardRequest(
            verifier="compose", response=answer(3, "4"), reference="4", options=options
        )
        assert registry.get("compose").verify(request).reward == pytest.approx(reward)


def test_a_malformed_named_spec_stops_the_server_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"reward_specs\.bad"):
        Settings(asset_dir=tmp_path, reward_specs={"bad": {"children": [], "formula": "x"}})


@pytest.mark.parametrize(
    ("length", "reward"),
    [(5, 1.0), (15, 0.5), (25, 0.0)],
    ids=["short", "in-buffer", "overlong"],
)
def test_the_trainer_passes_per_item_options_to_a_named_specs_child(
    engine: EngineHarness, length: int, reward: float
) -> None:
    options = {"spec": "fmt_math", "overrides": {"len": {"length": length}}}
    [result] = engine.score([compose(response=answer(3, "4"), reference="4", options=options)])
    assert result.status == "ok", result.error
    assert result.reward == pytest.approx(reward)
    assert result.steps is not None
    assert result.steps[2].details["details"] == {"length": length, "counted": "given"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"nope": {"length": 1}}, "overrides name no child: nope", id="unknown"),
        pytest.param({"len": {"length": -1}}, "children[2] (len): options.length", id="bad"),
    ],
)
def test_bad_overrides_are_invalid(
    engine: EngineHarness, overrides: dict[str, Any], message: str
) -> None:
    options = {"spec": "fmt_math", "overrides": overrides}
    [result] = engine.score([compose(response="x", reference="4", options=options)])
    assert result.status == "invalid"
    assert message in (result.error or "")


@pytest.mark.parametrize(
    ("spec", "lowest"),
    [
        pytest.param(SPEC, -1.0, id="format-math-dapo"),
        pytest.param({**SPEC, "clip": [-0.5, 1]}, -0.5, id="clip"),
        pytest.param(
            {"children": [child("r", "repetition", weight=2, options={"max_penalty": -0.5})]},
            -1.0,
            id="weighted-repetition",
        ),
        pytest.param({"children": [child("f", "format", weight=-0.5)]}, -0.5, id="negative-weight"),
        pytest.param(
            {"children": [{"name": "inner", "spec": SPEC, "weight": 0.5}]}, -0.5, id="nested"
        ),
    ],
)
def test_without_a_verdict_the_reward_is_the_lowest_a_verdict_could_give(
    engine: EngineHarness, spec: dict[str, Any], lowest: float
) -> None:
    breaking = {**spec, "children": [*spec["children"], child("tool", "faulty", weight=0)]}
    [result] = engine.score([compose(response="tool", reference="4", options=breaking)])
    assert result.status == "error"
    assert result.reward == pytest.approx(lowest)


def test_over_http_with_a_spec_named_in_the_settings(make_client: Any) -> None:
    client = make_client(installed=True, reward_specs={"fmt_math": SPEC})
    listed = {v["name"]: v for v in client.get("/v1/verifiers").json()["verifiers"]}
    for name in ("compose", "format", "length", "repetition", "string", "math_steps", "judge"):
        assert listed[name]["options_schema"], name
    items = [
        {"verifier": "compose", "response": answer(15, "4"), "reference": "4", "options": o}
        for o in ({"spec": "fmt_math"}, {"spec": "missing"})
    ]
    results = client.post("/v1/rewards", json={"items": items}).json()["results"]
    assert [(r["status"], r["reward"]) for r in results] == [("ok", 0.5), ("invalid", 0.0)]
    assert [s["label"] for s in results[0]["steps"]] == ["fmt", "acc", "len"]


class Filed(FormatVerifier):
    """A format check that says it read a named file, as sql's databases are read."""

    name = "filed"

    def fingerprints(self, reference: Any) -> list[str]:
        return ["file:abc"]


def test_fingerprints_of_children_and_nested_specs_key_the_cache() -> None:
    compose_verifier = Registry([ComposeVerifier, FormatVerifier, Filed]).get("compose")
    spec = {
        "children": [
            child("plain", "format"),
            child("read", "filed"),
            {"name": "inner", "spec": {"children": [child("read2", "filed")]}},
        ]
    }
    prepared = compose_verifier.prepare(None, spec)
    assert compose_verifier.fingerprints(prepared.reference) == ["file:abc", "file:abc"]
