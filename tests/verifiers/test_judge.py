"""`judge` against a real HTTP server process speaking the chat-completions protocol.

The server (tests/verifiers/judge_server.py) replies as the scored response tells it
(`SCORE=7`, `SAY:...`, `FAIL:2:key`, `SLOW:2`), so each case sets the judge's behaviour.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rewardgate.service.app import verifier_env
from rewardgate.service.settings import Settings
from rewardgate.testing import start_engine
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.compose import ComposeVerifier
from rewardgate.verifiers.errors import InvalidRequest, VerifierError
from rewardgate.verifiers.judge import JudgeEndpoint, JudgeVerifier
from rewardgate.verifiers.judge.scoring import read_label, read_score, to_reward
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.registry import Registry
from rewardgate.verifiers.shaping import FormatVerifier
from tests.conftest import free_port

SERVER = Path(__file__).resolve().parent / "judge_server.py"
KEY = "test-key"
SCORE_PATTERN = r"(?i)score(?:\s*\([^)]*\))?[\s:*=]*(-?\d+(?:\.\d+)?)"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(SERVER), str(port), KEY])
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/requests", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "no judge server"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def endpoint(url: str, **overrides: Any) -> JudgeEndpoint:
    settings: dict[str, Any] = {"base_url": url, "model": "judge-model", "api_key": KEY}
    return JudgeEndpoint(**{**settings, **overrides})


def verifier(url: str, **overrides: Any) -> JudgeVerifier:
    return JudgeVerifier(
        VerifierEnv(config={"judge_endpoints": {"local": endpoint(url, **overrides)}})
    )


def score(
    judge: JudgeVerifier, response: str, reference: Any = "42", **options: Any
) -> RewardResult:
    request = RewardRequest(
        verifier="judge", response=response, reference=reference, options=options
    )
    return judge.verify(request)


def received(url: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/requests").json()["requests"])


def unique() -> str:
    return uuid.uuid4().hex[:12]


# --- reading scores ---------------------------------------------------------------------

SCORES = [
    pytest.param("Reasoning.\nScore: 7", 7.0, id="score-line"),
    pytest.param("**Score:** 8.5", 8.5, id="markdown"),
    pytest.param("score = 3 at first; final Score: 9", 9.0, id="last-counts"),
    pytest.param('{"reasoning": "ok", "score": 6}', 6.0, id="json"),
    pytest.param("Score: -1", -1.0, id="negative"),
    pytest.param("Score (0-10): 4", 4.0, id="scale-in-parentheses"),
    pytest.param("I cannot tell.", None, id="none"),
    pytest.param('{"score": "high"}', None, id="json-non-number"),
]


@pytest.mark.parametrize(("text", "value"), SCORES)
def test_read_score(text: str, value: float | None) -> None:
    assert read_score(text, SCORE_PATTERN) == value


LABELS = {"correct": 1.0, "incorrect": 0.0, "not correct": 0.0, "partially correct": 0.5}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        pytest.param("Verdict: CORRECT", "correct", id="case"),
        pytest.param("This is incorrect.", "incorrect", id="word-boundary"),
        pytest.param("It is not correct", "not correct", id="longest-at-end"),
        pytest.param("correct? no: partially correct", "partially correct", id="last"),
        pytest.param("no verdict", None, id="none"),
    ],
)
def test_read_label(text: str, label: str | None) -> None:
    found = read_label(text, LABELS)
    assert (found[0] if found else None) == label


@pytest.mark.parametrize(
    ("value", "span", "reward"),
    [(7, (0, 10), 0.7), (11, (0, 10), 1.0), (-2, (0, 10), 0.0), (3, (1, 5), 0.5)],
)
def test_scores_map_to_unit_rewards(value: float, span: tuple[float, float], reward: float) -> None:
    assert to_reward(value, span) == pytest.approx(reward)


# --- against the server -------------------------------------------------------------------


def test_a_score_becomes_the_reward_and_the_request_is_the_protocols(server_url: str) -> None:
    marker = unique()
    result = score(
        verifier(server_url),
        f"SCORE=7 {marker}",
        {"question": "What is 6 * 7?", "answer": "42"},
        rubric="Q: {{question}}\nGold: {{reference}}\nAnswer: {{response}}\nGive Score: N",
        system="Be strict.",
        seed=3,
    )
    assert result.status == "ok"
    assert result.reward == pytest.approx(0.7)
    assert result.details["score"] == 7.0
    [request] = [r for r in received(server_url) if marker in str(r["body"])]
    assert request["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "judge-model"
    assert body["temperature"] == 0.0
    assert body["seed"] == 3
    assert body["messages"] == [
        {"role": "system", "content": "Be strict."},
        {
            "role": "user",
            "content": f"Q: What is 6 * 7?\nGold: 42\nAnswer: SCORE=7 {marker}\nGive Score: N",
        },
    ]


def test_the_response_cannot_inject_placeholders(server_url: str) -> None:
    marker = unique()
    score(verifier(server_url), f"SCORE=1 {marker} {{{{reference}}}}", "SECRET-GOLD")
    [request] = [r for r in received(server_url) if marker in str(r["body"])]
    content = request["body"]["messages"][-1]["content"]
    assert content.count("SECRET-GOLD") == 1, "the gold appears once, where the rubric puts it"
    assert "{{reference}}" in content


def test_labels(server_url: str) -> None:
    result = score(verifier(server_url), "SAY:Verdict: not correct", labels=LABELS)
    assert (result.reward, result.details["label"]) == (0.0, "not correct")


@pytest.mark.parametrize(
    ("directive", "attempts"),
    [("FAIL:2:{key}", 3), ("RATE:1:{key}", 2)],
    ids=["server-errors", "rate-limited"],
)
def test_busy_or_broken_endpoints_are_retried(
    server_url: str, directive: str, attempts: int
) -> None:
    result = score(verifier(server_url), f"SCORE=10 {directive.format(key=unique())}")
    assert result.reward == 1.0
    assert result.details["attempts"] == attempts


def test_past_its_retries_the_judge_gives_no_verdict(server_url: str) -> None:
    with pytest.raises(VerifierError, match=r"after 3 attempt.*HTTP 500"):
        score(verifier(server_url), f"SCORE=10 FAIL:5:{unique()}")


def test_a_reply_without_a_score_is_no_verdict(server_url: str) -> None:
    with pytest.raises(VerifierError, match="no score in the judge's reply"):
        score(verifier(server_url, max_retries=1), "SAY:hmm, hard to say")


def test_a_slow_endpoint_times_out(server_url: str) -> None:
    with pytest.raises(VerifierError, match=r"no answer within 0\.3 s"):
        score(verifier(server_url, timeout_s=0.3, max_retries=0), "SCORE=5 SLOW:2")


def test_a_wrong_key_fails_without_retries(server_url: str) -> None:
    marker = unique()
    with pytest.raises(VerifierError, match="HTTP 401"):
        score(verifier(server_url, api_key="wrong"), f"SCORE=5 {marker}")
    assert len([r for r in received(server_url) if marker in str(r["body"])]) == 1


def test_an_unreachable_endpoint_is_no_verdict() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(VerifierError, match="unreachable"):
        score(verifier(url, max_retries=0), "SCORE=5")


# --- what requests may ask ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"endpoint": "http://169.254.169.254/"}, "no endpoint", id="url-not-a-name"),
        pytest.param({"endpoint": "other"}, "this server's endpoints: local", id="unknown"),
        pytest.param({"rubric": "{{question}} {{response}}"}, "{{question}}", id="placeholder"),
        pytest.param({"score_range": [10, 0]}, "score_range", id="range"),
        pytest.param({"score_pattern": "("}, "score_pattern", id="pattern"),
        pytest.param({"base_url": "http://evil/"}, "base_url", id="no-url-option"),
    ],
)
def test_requests_name_endpoints_and_never_give_urls(
    server_url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message.replace("{", r"\{").replace("}", r"\}")):
        score(verifier(server_url), "x", **options)


def test_without_configured_endpoints_the_judge_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="judge_endpoints"):
        score(JudgeVerifier(), "x")


def test_the_server_reads_the_key_from_the_named_variable(
    server_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", KEY)
    settings = Settings(
        asset_dir=tmp_path,
        judge_endpoints={
            "local": {"base_url": server_url, "model": "m", "api_key_env": "JUDGE_TEST_KEY"}
        },
    )
    judge = JudgeVerifier(verifier_env(settings))
    assert score(judge, "SCORE=4").reward == pytest.approx(0.4)


def test_budget_covers_every_attempt(server_url: str) -> None:
    judge = verifier(server_url, timeout_s=10, max_retries=2)
    prepared = judge.prepare("42", {})
    assert judge.budget_s(prepared.reference, prepared.options, 30.0) >= 30.0


def test_only_greedy_verdicts_are_cached(server_url: str) -> None:
    env = VerifierEnv(config={"judge_endpoints": {"local": endpoint(server_url)}})
    engine = start_engine(JudgeVerifier, env=env)
    try:
        for temperature, cached in [(0.0, [False, True]), (0.7, [False, False])]:
            item = {
                "verifier": "judge",
                "response": f"SCORE=6 {unique()}",
                "reference": "42",
                "options": {"temperature": temperature},
            }
            results = [engine.score([item])[0] for _ in range(2)]
            assert [r.status for r in results] == ["ok", "ok"]
            assert [r.cached for r in results] == cached, temperature
    finally:
        engine.close()


def test_judge_inside_compose(server_url: str) -> None:
    env = VerifierEnv(config={"judge_endpoints": {"local": endpoint(server_url)}})
    registry = Registry([ComposeVerifier, FormatVerifier, JudgeVerifier], env=env)
    spec = {
        "children": [
            {"name": "fmt", "verifier": "format"},
            {"name": "quality", "verifier": "judge", "gate": "fmt"},
        ],
        "formula": "0.5 * fmt + 0.5 * quality",
    }
    request = RewardRequest(
        verifier="compose",
        response="<think>t</think><answer>SCORE=8</answer>",
        reference="42",
        options=spec,
    )
    compose = registry.get("compose")
    assert compose.verify(request).reward == pytest.approx(0.9)
    prepared = compose.prepare(
        "42",
        {
            **spec,
            "children": [
                spec["children"][0],
                {"name": "quality", "verifier": "judge", "options": {"temperature": 1.0}},
            ],
        },
    )
    assert not compose.cacheable_for(prepared.reference, prepared.options)
