"""Rendering a rubric: `{{name}}` placeholders, filled in one pass.

One pass matters: a response that contains `{{reference}}` must not pull the reference
into the prompt. Only `{{...}}` is special, never Python's `{...}` format syntax, whose
attribute access (`{x.__class__}`) would let a request read server objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["check", "placeholders", "render", "variables"]

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders(rubric: str) -> set[str]:
    return set(_PLACEHOLDER.findall(rubric))


def variables(response: str, reference: Any) -> dict[str, str]:
    """`response`, `reference` and, for an object reference, each of its keys."""
    values: dict[str, str] = {"response": response}
    if isinstance(reference, dict):
        for key, value in reference.items():
            if isinstance(key, str):
                values[key] = _text(value)
        values["reference"] = _text(reference.get("reference", reference.get("answer", reference)))
    elif reference is not None:
        values["reference"] = _text(reference)
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def check(rubric: str, reference: Any) -> None:
    """Raise `InvalidRequest` when the rubric names something the request does not give."""
    missing = placeholders(rubric) - set(variables("", reference))
    if missing:
        raise InvalidRequest(
            f"options.rubric names {', '.join('{{' + m + '}}' for m in sorted(missing))}, "
            "which neither the response nor the reference gives"
        )


def render(rubric: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], rubric)
