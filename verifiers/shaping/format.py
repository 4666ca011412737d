"""The `format` verifier: does the response have the required structure?

Three modes:

- `tags` (default): the response is exactly the given tags in order, e.g.
  `<think>...</think><answer>...</answer>`, each once, nothing but whitespace around
  them; `newlines: true` asks for open-r1's layout (`<think>\\n...\\n</think>\\n<answer>
  \\n...\\n</answer>`). Reward 1 or 0; `details` names the first thing wrong.
- `tag_count`: open-r1's `tag_count_reward`, partial credit: each of the 2n markers
  (`<think>\\n`, `\\n</think>\\n`, `\\n<answer>\\n`, `\\n</answer>` for two tags) that
  occurs exactly once earns 1/(2n).
- `regex` (implied by giving a `pattern`): `pattern` must match the whole response
  (`match: full`), its start (`prefix`, Python's `re.match`, as open-r1's format reward
  uses) or anywhere (`search`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import NoReference, Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["FormatOptions", "FormatVerifier"]

_FLAGS = {"IGNORECASE": re.IGNORECASE, "MULTILINE": re.MULTILINE, "DOTALL": re.DOTALL}
_TAG_NAME = r"^[A-Za-z_][\w.:-]*$"


class FormatOptions(VerifierOptions):
    mode: Literal["tags", "tag_count", "regex"] = Field(
        default="tags", description="What is checked: tag structure, tag counts or a regex."
    )
    tags: tuple[str, ...] = Field(
        default=("think", "answer"),
        min_length=1,
        description="Tag names, in the order they must appear (modes tags, tag_count).",
    )
    newlines: bool = Field(
        default=False,
        description="tags: require open-r1's newline layout inside and between the tags.",
    )
    allow_empty: bool = Field(
        default=True, description="tags: accept a tag with nothing (or only spaces) inside."
    )
    pattern: str | None = Field(default=None, description="regex: the pattern to match.")
    match: Literal["full", "prefix", "search"] = Field(
        default="full", description="regex: whole response, its start, or anywhere."
    )
    flags: tuple[Literal["IGNORECASE", "MULTILINE", "DOTALL"], ...] = Field(
        default=("DOTALL",), description="regex: Python re flags."
    )

    @model_validator(mode="before")
    @classmethod
    def _regex_when_a_pattern_is_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and "pattern" in data and "mode" not in data:
            return {**data, "mode": "regex"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> FormatOptions:
        if (self.mode == "regex") != (self.pattern is not None):
            raise ValueError("`pattern` is given exactly when mode is regex")
        for tag in self.tags:
            if not re.match(_TAG_NAME, tag):
                raise ValueError(f"not a tag name: {tag!r}")
        return self


@lru_cache(maxsize=256)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


class FormatVerifier(Verifier[NoReference, FormatOptions]):
    name = "format"
    version = "1"
    description = (
        "Response structure: tags in order (<think>...</think><answer>...</answer>), "
        "open-r1's tag-count partial credit, or a regex."
    )
    Options: ClassVar[type[VerifierOptions]] = FormatOptions
    conformance = Conformance(
        full=Case("<think>x</think> y", None, {"pattern": "^<think>.*</think> y$"}),
        zero=Case("y", None, {"pattern": "^<think>.*</think>"}),
        invalid=Case("y", None, {"pattern": "("}),  # not a regex
    )

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[NoReference, FormatOptions]:
        prepared: Prepared[NoReference, FormatOptions] = super().prepare(reference, options)
        opts = prepared.options
        if opts.pattern is not None:
            try:
                _compile(opts.pattern, _flags(opts))
            except re.error as exc:
                raise InvalidRequest(f"options.pattern: not a regex: {exc}") from None
        return prepared

    def judge(self, response: str, reference: BaseModel, options: FormatOptions) -> Verdict:
        if options.mode == "tag_count":
            return tag_count(response, options.tags)
        if options.mode == "regex":
            assert options.pattern is not None
            regex = _compile(options.pattern, _flags(options))
            found = {"full": regex.fullmatch, "prefix": regex.match, "search": regex.search}[
                options.match
            ](response)
            return Verdict(float(found is not None), details={"matched": found is not None})
        return tag_structure(response, options)


def _flags(options: FormatOptions) -> int:
    flags = 0
    for name in options.flags:
        flags |= _FLAGS[name]
    return flags


def tag_count(response: str, tags: tuple[str, ...]) -> Verdict:
    """open-r1's tag_count_reward, generalised from (think, answer) to any tags."""
    markers = []
    for i, tag in enumerate(tags):
        markers.append(f"<{tag}>\n" if i == 0 else f"\n<{tag}>\n")
        markers.append(f"\n</{tag}>" if i == len(tags) - 1 else f"\n</{tag}>\n")
    counts = {marker: response.count(marker) for marker in markers}
    reward = sum(1 for count in counts.values() if count == 1) / len(markers)
    return Verdict(reward, details={"counts": counts})


def tag_structure(response: str, options: FormatOptions) -> Verdict:
    """1 when the response is exactly the tags in order, else 0 with the reason."""
    for tag in options.tags:
        opens, closes = response.count(f"<{tag}>"), response.count(f"</{tag}>")
        if (opens, closes) != (1, 1):
            return Verdict(
                0.0, details={"reason": f"<{tag}> opens {opens} and closes {closes} times"}
            )
    if options.newlines:
        body = r"\n(.*?)\n"
        between = r"\n"
    else:
        body = r"(.*?)"
        between = r"\s*"
    pattern = between.join(rf"<{re.escape(tag)}>{body}</{re.escape(tag)}>" for tag in options.tags)
    found = re.fullmatch(rf"\s*{pattern}\s*" if not options.newlines else pattern, response, re.S)
    if found is None:
        return Verdict(0.0, details={"reason": "tags out of order or text outside them"})
    if not options.allow_empty:
        for tag, content in zip(options.tags, found.groups(), strict=True):
            if not content.strip():
                return Verdict(0.0, details={"reason": f"<{tag}> is empty"})
    return Verdict(1.0, details={"reason": "ok"})
