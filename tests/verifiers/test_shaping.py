"""Shaping verifiers: format, length, repetition and string, on hand-computed tables."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from rewardgate.service.app import verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers.base import Verifier, VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.shaping import (
    FormatVerifier,
    LengthVerifier,
    RepetitionVerifier,
    StringVerifier,
)


def score(verifier: Verifier, response: str, reference: Any = None, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier=verifier.name, response=response, reference=reference, options=options
    )
    return verifier.verify(request)


# --- format ------------------------------------------------------------------------------

FORMAT = FormatVerifier()
R1 = "<think>\nreasoning\n</think>\n<answer>\n42\n</answer>"

TAGS = [
    pytest.param("<think>a</think><answer>b</answer>", {}, 1.0, id="compact"),
    pytest.param(R1, {}, 1.0, id="r1-layout"),
    pytest.param("  <think>a</think>\n\n<answer>b</answer>\n", {}, 1.0, id="whitespace-around"),
    pytest.param("<answer>b</answer><think>a</think>", {}, 0.0, id="out-of-order"),
    pytest.param("<think>a</think>", {}, 0.0, id="missing-answer"),
    pytest.param("hi <think>a</think><answer>b</answer>", {}, 0.0, id="text-before"),
    pytest.param("<think>a</think>x<answer>b</answer>", {}, 0.0, id="text-between"),
    pytest.param("<think>a</think><answer>b</answer><answer>c</answer>", {}, 0.0, id="twice"),
    pytest.param("<think>a<answer>b</answer></think>", {}, 0.0, id="nested"),
    pytest.param("<think></think><answer>b</answer>", {}, 1.0, id="empty-allowed"),
    pytest.param(
        "<think> </think><answer>b</answer>", {"allow_empty": False}, 0.0, id="empty-refused"
    ),
    pytest.param(R1, {"newlines": True}, 1.0, id="newlines-r1"),
    pytest.param(
        "<think>a</think><answer>b</answer>", {"newlines": True}, 0.0, id="newlines-missing"
    ),
    pytest.param("<reasoning>x</reasoning>", {"tags": ["reasoning"]}, 1.0, id="custom-tag"),
]


@pytest.mark.parametrize(("response", "options", "reward"), TAGS)
def test_format_tags(response: str, options: dict[str, Any], reward: float) -> None:
    result = score(FORMAT, response, **options)
    assert result.reward == reward, result.details


TAG_COUNT = [
    pytest.param(R1, 1.0, id="all-four"),
    pytest.param("<think>\nx\n</think>\nno answer", 0.5, id="think-only"),
    pytest.param(
        "<think>\nx\n</think>\n<answer>\n1\n</answer>\n<answer>\n2\n</answer>",
        0.5,
        id="answer-twice",
    ),
    pytest.param("<think>x</think><answer>y</answer>", 0.0, id="no-newlines"),
    pytest.param("", 0.0, id="empty"),
]


@pytest.mark.parametrize(("response", "reward"), TAG_COUNT)
def test_format_tag_count_is_open_r1s(response: str, reward: float) -> None:
    assert score(FORMAT, response, mode="tag_count").reward == reward


REGEX = [
    pytest.param(r"\d+", "full", "123", 1.0, id="full"),
    pytest.param(r"\d+", "full", "123 apples", 0.0, id="full-rejects-extra"),
    pytest.param(r"\d+", "prefix", "123 apples", 1.0, id="prefix"),
    pytest.param(r"\d+", "prefix", "apples 123", 0.0, id="prefix-needs-start"),
    pytest.param(r"\d+", "search", "apples 123", 1.0, id="search"),
]


def test_a_pattern_alone_means_regex_mode() -> None:
    assert score(FORMAT, "<answer>7</answer>", pattern=r"<answer>\d+</answer>").reward == 1.0


@pytest.mark.parametrize(("pattern", "match", "response", "reward"), REGEX)
def test_format_regex(pattern: str, match: str, response: str, reward: float) -> None:
    assert score(FORMAT, response, mode="regex", pattern=pattern, match=match).reward == reward


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"mode": "regex", "pattern": "("}, id="bad-regex"),
        pytest.param({"mode": "regex"}, id="regex-without-pattern"),
        pytest.param({"mode": "tags", "pattern": "x"}, id="pattern-in-tags-mode"),
        pytest.param({"tags": ["a b"]}, id="bad-tag"),
        pytest.param({"tags": []}, id="no-tags"),
    ],
)
def test_format_bad_options_are_invalid(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        score(FORMAT, "x", **options)


# --- length: DAPO ------------------------------------------------------------------------

LENGTH = LengthVerifier()


def dapo_expected(n: int, max_len: int, buffer: int, p: float) -> float:
    """The paper's piecewise formula, written out independently of the verifier."""
    if n <= max_len - buffer:
        return 0.0
    if n <= max_len:
        return ((max_len - buffer) - n) / buffer * p
    return -p


DAPO = [
    pytest.param(n, max_len, buffer, p, id=f"len{n}-max{max_len}-buf{buffer}-p{p}")
    for n, max_len, buffer, p in [
        (0, 100, 20, 1.0),
        (80, 100, 20, 1.0),
        (81, 100, 20, 1.0),
        (90, 100, 20, 1.0),
        (100, 100, 20, 1.0),
        (101, 100, 20, 1.0),
        (5000, 100, 20, 1.0),
        (90, 100, 20, 0.5),
        (16384, 20480, 4096, 1.0),
        (18432, 20480, 4096, 1.0),
        (20480, 20480, 4096, 1.0),
        (20481, 20480, 4096, 1.0),
        (50, 50, 0, 1.0),
        (51, 50, 0, 1.0),
    ]
]


@pytest.mark.parametrize(("n", "max_len", "buffer", "p"), DAPO)
def test_dapo_overlong_penalty_with_the_trainers_length(
    n: int, max_len: int, buffer: int, p: float
) -> None:
    result = score(LENGTH, "ignored", length=n, max_len=max_len, buffer=buffer, penalty_factor=p)
    assert result.reward == pytest.approx(dapo_expected(n, max_len, buffer, p))
    assert result.details == {"length": n, "counted": "given"}


@pytest.mark.parametrize(
    ("response", "unit", "length"),
    [
        pytest.param("one two  three\nfour", "words", 4, id="words"),
        pytest.param("one two", "chars", 7, id="chars"),
        pytest.param("", "words", 0, id="empty"),
    ],
)
def test_length_units(response: str, unit: str, length: int) -> None:
    result = score(LENGTH, response, unit=unit, max_len=3, buffer=1)
    assert result.details["length"] == length
    assert result.reward == dapo_expected(length, 3, 1, 1.0)


def tokenizer_file(tmp_path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "a": 1, "b": 2, ",": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return path


@pytest.mark.parametrize("unit", ["tokens", "auto"])
def test_length_in_tokens_of_the_servers_tokenizer(tmp_path: Path, unit: str) -> None:
    path = tokenizer_file(tmp_path)
    for configured in (path, tmp_path):  # the file, or the folder holding it
        verifier = LengthVerifier(VerifierEnv(config={"length_tokenizer": configured}))
        result = score(verifier, "a,b a zzz", unit=unit, max_len=4, buffer=2)
        assert result.details == {"length": 5, "counted": "tokens"}
        assert result.reward == pytest.approx(-1.0)
        assert score(verifier, "a,b a zzz", unit="words").details["length"] == 3


def test_length_from_the_tokenizer_setting(tmp_path: Path) -> None:
    settings = Settings(asset_dir=tmp_path, length_tokenizer=tokenizer_file(tmp_path))
    verifier = LengthVerifier(verifier_env(settings))
    assert score(verifier, "a,b").details == {"length": 3, "counted": "tokens"}
    assert score(LENGTH, "a,b").details == {"length": 1, "counted": "words"}


def test_tokens_without_a_configured_tokenizer_are_invalid() -> None:
    with pytest.raises(InvalidRequest, match="length_tokenizer"):
        score(LENGTH, "a b", unit="tokens")
    assert score(LENGTH, "a b", unit="tokens", length=3).details["length"] == 3


def test_dapo_buffer_longer_than_max_len_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="buffer"):
        score(LENGTH, "x", max_len=10, buffer=11)


# --- length: cosine ----------------------------------------------------------------------


def cosine_expected(n: int, correct: bool, max_len: int) -> float:
    """open-r1's get_cosine_scaled_reward with its default values."""
    cosine = math.cos(min(n / max_len, 1.0) * math.pi)
    low, high = (0.5, 1.0) if correct else (-0.5, -1.0)
    return low + 0.5 * (high - low) * (1.0 + cosine)


COSINE = [
    pytest.param(0, True, 1.0, id="correct-empty"),
    pytest.param(50, True, 0.75, id="correct-half"),
    pytest.param(100, True, 0.5, id="correct-max"),
    pytest.param(250, True, 0.5, id="correct-past-max-stays"),
    pytest.param(0, False, -1.0, id="wrong-empty"),
    pytest.param(50, False, -0.75, id="wrong-half"),
    pytest.param(100, False, -0.5, id="wrong-max"),
    pytest.param(25, True, None, id="correct-quarter"),
]


@pytest.mark.parametrize(("n", "correct", "reward"), COSINE)
def test_cosine_length_scaling(n: int, correct: bool, reward: float | None) -> None:
    result = score(LENGTH, "x", mode="cosine", length=n, correct=correct, max_len=100)
    expected = cosine_expected(n, correct, 100)
    assert result.reward == pytest.approx(expected)
    if reward is not None:
        assert result.reward == pytest.approx(reward)


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        pytest.param("so \\boxed{12}", True, id="right"),
        pytest.param("so \\boxed{13}", False, id="wrong"),
    ],
)
def test_cosine_asks_math_for_correctness(response: str, correct: bool) -> None:
    result = score(LENGTH, response, reference="12", mode="cosine", unit="chars", max_len=100)
    assert result.details["correct"] is correct
    assert result.reward == pytest.approx(cosine_expected(len(response), correct, 100))


def test_cosine_without_a_gold_or_correctness_is_invalid() -> None:
    with pytest.raises(InvalidRequest, match="cosine needs"):
        score(LENGTH, "x", mode="cosine")


# --- repetition --------------------------------------------------------------------------

REPETITION = RepetitionVerifier()

REPEATS = [
    # words: a b c a b c a b c -> 7 trigrams, 3 distinct: (1 - 3/7) * -1
    pytest.param("a b c a b c a b c", {}, -(1 - 3 / 7), id="cycle"),
    pytest.param("the quick brown fox jumps", {}, 0.0, id="no-repeats"),
    pytest.param("A b C a B c", {}, -(1 - 3 / 4), id="case-insensitive"),
    pytest.param("a b", {}, 0.0, id="shorter-than-n"),
    pytest.param("", {}, 0.0, id="empty"),
    pytest.param("x x x x x", {"ngram_size": 1, "max_penalty": -0.5}, -0.5 * 0.8, id="unigram"),
    pytest.param("abab", {"unit": "chars", "ngram_size": 2}, -(1 - 2 / 3), id="chars"),
]


@pytest.mark.parametrize(("response", "options", "reward"), REPEATS)
def test_repetition_penalty(response: str, options: dict[str, Any], reward: float) -> None:
    assert score(REPETITION, response, **options).reward == pytest.approx(reward)


def test_repetition_penalty_must_not_be_positive() -> None:
    with pytest.raises(InvalidRequest, match="max_penalty"):
        score(REPETITION, "x", max_penalty=0.5)


# --- string ------------------------------------------------------------------------------

STRING = StringVerifier()

STRINGS = [
    pytest.param(" Paris ", "Paris", {}, 1.0, id="eq-stripped"),
    pytest.param("paris", "Paris", {}, 0.0, id="eq-case"),
    pytest.param("paris", "Paris", {"operation": "ieq"}, 1.0, id="ieq"),
    pytest.param("Rome", "Paris", {"operation": "ne"}, 1.0, id="ne"),
    pytest.param("It is Paris.", "Paris", {"operation": "like"}, 1.0, id="like"),
    pytest.param("It is PARIS.", "Paris", {"operation": "like"}, 0.0, id="like-case"),
    pytest.param("It is PARIS.", "Paris", {"operation": "ilike"}, 1.0, id="ilike"),
    pytest.param("id: AB-123", r"[A-Z]{2}-\d+", {"operation": "regex"}, 1.0, id="regex"),
    pytest.param("Lyon", ["Paris", "Lyon"], {}, 1.0, id="any-of-list"),
    pytest.param("Lyon", {"answer": "Lyon"}, {}, 1.0, id="answer-key"),
    pytest.param(
        "kitten", "sitting", {"operation": "fuzzy_match"}, 1 - 5 / 13, id="openai-fuzzy-name"
    ),
    pytest.param("a  b\nc", "a b c", {"collapse_whitespace": True}, 1.0, id="whitespace"),
    pytest.param(
        "<answer>x</answer> then <answer>Paris</answer>",
        {"value": "Paris"},
        {"extract": r"<answer>(.*?)</answer>"},
        1.0,
        id="extract-last",
    ),
    pytest.param("no tags", "Paris", {"extract": r"<a>(.*)</a>"}, 0.0, id="extract-nothing"),
    # rapidfuzz ratio: 1 - Indel distance / total length; kitten/sitting: 1 - 5/13
    pytest.param("kitten", "sitting", {"operation": "fuzzy"}, 1 - 5 / 13, id="fuzzy"),
    pytest.param(
        "kitten", "sitting", {"operation": "fuzzy", "pass_threshold": 0.6}, 1.0, id="fuzzy-pass"
    ),
    pytest.param(
        "kitten", "sitting", {"operation": "fuzzy", "pass_threshold": 0.7}, 0.0, id="fuzzy-fail"
    ),
    # 4 of 6 words shared, 6 gold words: P = R = 2/3
    pytest.param(
        "the cat sat on a mat",
        "the cat lay on the mat",
        {"operation": "rouge_1"},
        2 / 3,
        id="rouge-1",
    ),
    # bigrams: (the cat) shared of 5 each: P = R = 1/5
    pytest.param(
        "the cat sat on a mat",
        "the cat lay on the mat",
        {"operation": "rouge_2"},
        1 / 5,
        id="rouge-2",
    ),
    # LCS "the cat on mat" = 4 words of 6 and 6: F1 = 2/3
    pytest.param(
        "The cat sat on a mat.",
        "the cat lay on the mat",
        {"operation": "rouge_l"},
        2 / 3,
        id="rouge-l",
    ),
    pytest.param("", "the cat", {"operation": "rouge_l"}, 0.0, id="rouge-empty"),
    pytest.param(
        "a b", "a b", {"operation": "rouge_2", "pass_threshold": 1.0}, 1.0, id="rouge-pass"
    ),
]


@pytest.mark.parametrize(("response", "reference", "options", "reward"), STRINGS)
def test_string_checks(
    response: str, reference: Any, options: dict[str, Any], reward: float
) -> None:
    assert score(STRING, response, reference, **options).reward == pytest.approx(reward)


@pytest.mark.parametrize(
    ("reference", "options"),
    [
        pytest.param(None, {}, id="no-reference"),
        pytest.param([], {}, id="empty-list"),
        pytest.param("(", {"operation": "regex"}, id="bad-regex-reference"),
        pytest.param("x", {"extract": "("}, id="bad-extract"),
        pytest.param("x", {"operation": "soundex"}, id="unknown-operation"),
    ],
)
def test_string_bad_requests_are_invalid(reference: Any, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        score(STRING, "x", reference, **options)


@pytest.mark.parametrize(
    ("verifier", "options", "lowest"),
    [
        pytest.param(LENGTH, {"penalty_factor": 0.5}, -0.5, id="dapo"),
        pytest.param(LENGTH, {"mode": "cosine", "correct": True}, -1.0, id="cosine"),
        pytest.param(REPETITION, {"max_penalty": -0.2}, -0.2, id="repetition"),
        pytest.param(FORMAT, {}, 0.0, id="format"),
    ],
)
def test_lowest_reward_follows_the_options(
    verifier: Verifier, options: dict[str, Any], lowest: float
) -> None:
    assert verifier.lowest_reward_for(verifier.Options.model_validate(options)) == lowest
