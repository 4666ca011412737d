"""`POST /get_reward`: OpenRLHF's remote reward-model protocol.

OpenRLHF (`--remote_rm_url http://host:8000/get_reward`) posts
`{"query": [...], "prompts": [...], "labels": [...]}`, where each query is the prompt
and the response decoded together (special tokens kept), and reads back
`{"rewards": [...], "scores": [...], "extra_logs": {...}}`, one value per query.

- The response scored is the query after its prompt; a query that does not contain
  its prompt is scored whole. End-of-turn special tokens at its end (`<|im_end|>`,
  `</s>`, ...) are dropped: the tokenizer decoded them, the model did not write them.
- A label is the item's reference. A label string holding a JSON object is decoded
  first, so any verifier's structured reference (code tests, ...) fits OpenRLHF's
  label column; any other label, such as math's gold answer `"\\frac{1}{2}"` (or
  `"[1, 2]"`), is the reference as given.
- The verifier is `?verifier=`, else the setting `get_reward_verifier` (`math`).
- `rewards` and `scores` are the rewards; an item without a verdict (a malformed label,
  a checker that broke) gets its fallback reward, since OpenRLHF needs a number.
  `extra_logs.verified` is 1.0 per item with a verdict and 0.0 per item without, so a
  trainer's logs show when the checker, not the model, decided a reward.
- A label holding NaN or an infinity (which Python's JSON encoders write) is no
  reference: its item is `invalid` (verified 0.0), the others are scored.
- The body must be `application/json` (415 otherwise), like every JSON endpoint's.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.responses import Response

from rewardgate.service.engine import Engine
from rewardgate.service.settings import Settings
from rewardgate.verifiers.base import describe_validation_error
from rewardgate.verifiers.errors import InvalidRequest, PayloadTooLarge
from rewardgate.verifiers.models import RewardResult

__all__ = ["reference_of", "response_of", "router"]

router = APIRouter()

# Chat templates' end markers as tokenizers decode them: <|im_end|>, <|eot_id|>,
# <|endoftext|>, DeepSeek's end-of-sentence token (its bars are U+FF5C), Llama 2's </s>,
# Gemma's <end_of_turn>.
_END_TOKENS = re.compile(
    "(?:\\s*(?:<[|\uff5c][^<>\\s]{1,40}[|\uff5c]>|</s>|<eos>|<end_of_turn>))+\\s*\\Z"
)


class GetRewardBody(BaseModel):
    """OpenRLHF's request; `prompts` and `labels` may be left out."""

    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[str | None] | None = None
    labels: list[Any] | None = None


def response_of(query: str, prompt: str | None) -> str:
    """The model's response: what follows the prompt in the query, end tokens dropped."""
    start = query.find(prompt) if prompt else -1
    response = query[start + len(prompt) :] if prompt and start >= 0 else query
    return _END_TOKENS.sub("", response)


def reference_of(label: Any) -> Any:
    """The reference a label stands for: a JSON object decoded, anything else as given."""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            decoded = json.loads(label)
        except ValueError:
            return label
        if isinstance(decoded, dict):
            return decoded
    return label


def _body(raw: bytes, settings: Settings) -> GetRewardBody:
    try:
        body = GetRewardBody.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidRequest(
            'body must be {"query": [...], "prompts": [...], "labels": [...]}: '
            + describe_validation_error("", exc)
        ) from None
    n = len(body.query)
    for name in ("prompts", "labels"):
        values = getattr(body, name)
        if values is not None and len(values) != n:
            raise InvalidRequest(f"{len(values)} {name} for {n} queries: one each")
    if n > settings.max_items_per_request:
        raise PayloadTooLarge(f"{n} queries; at most {settings.max_items_per_request} per request")
    return body


def _bad_label(label: Any) -> str | None:
    """Why a label cannot be a reference: a NaN or infinite number anywhere in it.

    JSON has no such numbers, but Python's encoders write `NaN` and `Infinity`, and
    both the body parser and a label's own JSON text accept them; a gold answer of NaN
    would compare as a real answer.
    """
    stack = [reference_of(label)]
    while stack:
        value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return f"label is not a finite number: {value}"
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def _invalid(engine: Engine, name: str, why: str) -> RewardResult:
    """The item's `invalid` result, with its verifier's lowest reward as any other
    item without a verdict gets."""
    verifier = engine.registry.get(name) if name in engine.registry else None
    return RewardResult(
        verifier=name,
        version=verifier.version if verifier is not None else None,
        reward=verifier.lowest_reward if verifier is not None else 0.0,
        status="invalid",
        error=why,
    )


@router.post(
    "/get_reward",
    summary="OpenRLHF's remote reward model: {query, prompts, labels} -> {rewards, scores}",
)
async def get_reward(
    request: Request,
    verifier: str | None = Query(None, description="Verifier name; the server's setting if unset."),
) -> Response:
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    body = _body(await request.body(), settings)
    n = len(body.query)
    prompts = body.prompts or [None] * n
    labels = body.labels or [None] * n
    name = verifier or settings.get_reward_verifier
    items = [
        {"verifier": name, "response": response_of(query, prompt), "reference": reference_of(label)}
        for query, prompt, label in zip(body.query, prompts, labels, strict=True)
    ]
    refused = {i: why for i, label in enumerate(labels) if (why := _bad_label(label))}
    kept = [item for i, item in enumerate(items) if i not in refused]
    scored = iter(await engine.score(kept) if kept else [])
    results = [
        _invalid(engine, name, why) if (why := refused.get(i)) else next(scored) for i in range(n)
    ]
    rewards = [r.reward for r in results]
    answer = {
        "rewards": rewards,
        "scores": rewards,
        "extra_logs": {"verified": [1.0 if r.ok else 0.0 for r in results]},
    }
    return Response(orjson.dumps(answer), media_type="application/json")
