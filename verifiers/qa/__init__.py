"""The `qa` verifier: short answers of search agents against gold aliases.

Search-R1, R1-Searcher and their kin reward a search agent's final answer by exact
match (EM) after SQuAD's normalisation (lower case, punctuation, the articles a/an/the
and extra whitespace removed), by token F1, or by "cover" EM (the gold answer occurs in
the prediction). The best score over the gold aliases counts. The answer is the last
`<answer>...</answer>` of the response, else its last `\\boxed{...}`; a response with
neither has given no answer and scores 0.

Presets reproduce the papers' own reward functions (Search-R1's
`verl/utils/reward_score/qa_em.py` and `qa_em_format.py`, checked against the vendored
code in `tests/verifiers/qa_reference/`):

- `search_r1`: EM of the last answer tag, 1 or 0 (`format_score` for a wrong answer).
- `search_r1_subem`: the same with Search-R1's substring EM (normalised gold is a
  substring of the normalised prediction).
- `search_r1_format`: EM plus the structure rule of `qa_em_format.py`: a response whose
  tags follow think -> (search -> information -> think)* -> answer is "valid"; weights
  `structure_format_score` (0.2), `final_format_score` (0.1), `retrieval_score` (0), as
  Search-R1's v0.3 training scripts set them.
- `r1_searcher`: R1-Searcher's reward server (`train/reward_server_qwen_zero.py`): token
  F1 under its own normalisation, 0 without answer tags, -2 when its format rule fails
  (see `r1_searcher.py`); the response is the text after the prompt's `<think>`.

Search-R1 applies its functions to prompt + response, and its prompt shows one example
`<answer>` tag, so its code needs two tags and reads the last. `response_includes_prompt`
says which text the trainer sends: false (the default) reads the response alone, where
one tag is enough, which equals the paper's reward on prompt + response.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.qa.tags import answer_tags, tag_contents

__all__ = ["QaOptions", "QaReference", "QaVerifier", "normalize_answer"]

Metric = Literal["em", "f1", "cover_em"]
Preset = Literal["search_r1", "search_r1_subem", "search_r1_format", "r1_searcher"]
_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASSISTANT = re.compile(r"<\|im_start\|>assistant\s*")
_TAG_SPLIT = re.compile(r"(</?(?:think|search|information|answer)>)")
# (state, tag) -> next state of Search-R1's is_valid_sequence.
_TRANSITIONS = {
    ("start", "<think>"): "in_think",
    ("information", "<think>"): "in_think",
    ("in_think", "</think>"): "after_think",
    ("after_think", "<search>"): "in_search",
    ("in_search", "</search>"): "after_search",
    ("after_search", "<information>"): "in_information",
    ("in_information", "</information>"): "information",
    ("after_think", "<answer>"): "in_answer",
    ("in_answer", "</answer>"): "end",
}
MAX_ANSWER_CHARS = 10_000


class QaReference(BaseModel):
    """`{"answers": [...]}`, or a bare string or list; Search-R1's `{"target": [...]}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    answers: tuple[str, ...] = Field(min_length=1, description="Gold answer and its aliases.")

    @model_validator(mode="before")
    @classmethod
    def _shapes(cls, data: Any) -> Any:
        if isinstance(data, (str, list, tuple)):
            data = {"answers": data}
        if isinstance(data, dict) and len(data) == 1:
            [(key, value)] = data.items()
            if key in ("target", "answer", "golden_answers"):
                data = {"answers": value}
        if isinstance(data, dict) and isinstance(data.get("answers"), str):
            data = {**data, "answers": (data["answers"],)}
        return data


class QaOptions(VerifierOptions):
    metric: Metric = Field(default="em", description="em, token f1, or cover_em.")
    preset: Preset | None = Field(default=None, description="A paper's own reward function.")
    extract: Literal["auto", "answer_tag", "boxed", "none"] = Field(
        default="auto",
        description="auto: last <answer> tag, else last box; none: the whole response.",
    )
    response_includes_prompt: bool = Field(
        default=False, description="search_r1*: the text is prompt + response, as in the paper."
    )
    format_score: float = Field(default=0.0, description="search_r1*: a wrong tagged answer.")
    structure_format_score: float = Field(default=0.2, description="search_r1_format.")
    final_format_score: float = Field(default=0.1, description="search_r1_format.")
    retrieval_score: float = Field(default=0.0, description="search_r1_format.")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1 of the normalised strings (0 when either is empty)."""
    mine, theirs = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(mine) & Counter(theirs)).values())
    if not common:
        return 0.0
    precision, recall = common / len(mine), common / len(theirs)
    return 2 * precision * recall / (precision + recall)


def cover_em(prediction: str, gold: str) -> float:
    """1 when the normalised gold's words occur, contiguous and whole, in the prediction."""
    mine, theirs = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not theirs:
        return float(not mine)
    n = len(theirs)
    return float(any(mine[i : i + n] == theirs for i in range(len(mine) - n + 1)))


def score(prediction: str, gold: str, metric: str) -> float:
    if metric == "em":
        return float(normalize_answer(prediction) == normalize_answer(gold))
    if metric == "f1":
        return token_f1(prediction, gold)
    return cover_em(prediction, gold)


def extract(response: str, how: str) -> tuple[str | None, str | None]:
    """The answer and where it came from (`answer_tag`, `boxed`, `response`), or None."""
    if how == "none":
        return response, "response"
    if how in ("auto", "answer_tag"):
        tags = answer_tags(response)
        if tags:
            return tags[-1].strip(), "answer_tag"
    if how in ("auto", "boxed"):
        from rewardgate.verifiers.math.extract import find_boxes

        boxes = find_boxes(response)
        if boxes:
            return boxes[-1].content.strip(), "boxed"
    return None, None


def is_valid_sequence(text: str, includes_prompt: bool) -> tuple[bool, str]:
    """Search-R1's `is_valid_sequence` (qa_em_format.py), on the assistant's part."""
    content = text
    if includes_prompt:
        marker = _ASSISTANT.search(text)
        if not marker:
            return False, "Missing assistant marker"
        content = text[marker.end() :]
    for tag in ("think", "search", "information", "answer"):
        if content.count(f"<{tag}>") != content.count(f"</{tag}>"):
            return False, f"Mismatch in {tag} tags"
    state = "start"
    for part in _TAG_SPLIT.split(content):
        if not part.strip():
            continue
        if _TAG_SPLIT.fullmatch(part):
            following = _TRANSITIONS.get((state, part))
            if following is None:
                return False, f"Unexpected tag {part} in state {state}"
            state = following
        elif state not in ("in_think", "in_search", "in_information", "in_answer"):
            return False, f"Unexpected content between tags (state: {state})"
    if state != "end":
        return False, f"Incomplete sequence, ended in state {state}"
    return True, "Valid sequence format"


class QaVerifier(Verifier[QaReference, QaOptions]):
    name = "qa"
    version = "1"
    description = (
        "Short-answer QA (Search-R1, R1-Searcher): EM, token F1 or cover EM after SQuAD's "
        "normalisation, best over gold aliases; Search-R1's reward functions as presets."
    )
    Reference: ClassVar[type[BaseModel]] = QaReference
    Options: ClassVar[type[VerifierOptions]] = QaOptions
    conformance = Conformance(
        full=Case("<answer>Paris</answer>", ["Paris"]),
        zero=Case("no tags at all", "Paris"),
        invalid=Case("<answer>Paris</answer>", []),  # no gold answer
    )
    # Boxes are found by the math verifier's extractor.
    source_modules = ("rewardgate.verifiers.math",)

    def lowest_reward_for(self, options: QaOptions) -> float:
        if options.preset == "r1_searcher":
            return -2.0
        return min(0.0, options.format_score, options.final_format_score)

    def judge(self, response: str, reference: QaReference, options: QaOptions) -> Verdict:
        if options.preset is not None:
            return self._preset(response, reference, options)
        answer, source = extract(response, options.extract)
        if answer is None:
            return Verdict(0.0, details={"answer": None, "reason": "no answer found"})
        answer = answer[:MAX_ANSWER_CHARS]
        scores = [score(answer, gold, options.metric) for gold in reference.answers]
        best = max(range(len(scores)), key=scores.__getitem__)
        return Verdict(
            scores[best],
            details={
                "answer": answer[:300],
                "source": source,
                "normalized": normalize_answer(answer)[:300],
                "matched": reference.answers[best][:300],
                "metric": options.metric,
                "scores": scores,
            },
        )

    def _preset(self, response: str, reference: QaReference, options: QaOptions) -> Verdict:
        if options.preset == "r1_searcher":
            from rewardgate.verifiers.qa.r1_searcher import reward

            value, parts = reward(response, reference.answers)
            return Verdict(value, details=parts)
        tags = answer_tags(response)
        needed = 2 if options.response_includes_prompt else 1
        answer = tags[-1].strip()[:MAX_ANSWER_CHARS] if len(tags) >= needed else None
        details: dict[str, Any] = {"answer": None if answer is None else answer[:300]}
        golds = [normalize_answer(gold) for gold in reference.answers]
        correct = False
        if answer is not None:
            mine = normalize_answer(answer)
            if options.preset == "search_r1_subem":
                correct = any(gold in mine for gold in golds)
            else:
                correct = mine in golds
        details["correct"] = correct
        if options.preset != "search_r1_format":
            if answer is None:
                return Verdict(0.0, details=details)
            return Verdict(1.0 if correct else options.format_score, details=details)
        valid, why = is_valid_sequence(response, options.response_includes_prompt)
        details["valid_format"], details["format"] = valid, why
        retrieved = valid and any(
            gold in normalize_answer(block)
            for block in tag_contents(response, "information")
            for gold in golds
        )
        details["retrieval_correct"] = retrieved
        partial = options.structure_format_score + (options.retrieval_score if retrieved else 0)
        if correct:
            reward = 1.0 if valid else 1.0 - options.structure_format_score
        elif valid:
            reward = partial
        else:
            reward = 0.0 if answer is None else options.final_format_score
        return Verdict(reward, details=details)
