"""verl's reward function: `compute_score_async` for verl's reward loop.

    custom_reward_function.path=pkg://rewardgate.clients.verl
    custom_reward_function.name=compute_score_async   # compute_score: the sync twin

verl (0.8 and 0.9 tested) scores rollouts in its reward loop: the `naive`, `dapo`,
`gdpo` and `rate_limited` managers await `compute_score_async(data_source=,
solution_str=, ground_truth=, extra_info=)` once per response, all of a step's
responses at once. Those concurrent per-item calls are coalesced
(`rewardgate.clients.coalesce`): the items awaited together within a few milliseconds
go to rewardgate as one request, each caller getting its own result or its own error,
so the per-item path costs about what one batch request costs. `coalesce=False` sends
each alone. The sync `compute_score` (one item, or a batch given the plural keywords
`data_sources=, solution_strs=, ground_truths=, extra_infos=`, as the legacy `batch`
manager passes them) sends one request per call: the `remote` manager calls it one item
at a time per Ray actor, so there the number of actors is the number of requests in
flight. The legacy `prime` manager calls the function positionally in a process pool
and reads `float(result[0])` from anything not a number: name `compute_score_float`,
which returns the score alone. Keywords in `custom_reward_function.reward_kwargs`
arrive here too: `url`, `sources`, `fallback_reward`. Items are scored at `url` or
`$REWARDGATE_URL`, else in-process.

Which verifier judges an item: `extra_info["verifier"]` if set, else `data_source`
looked up in `sources` (exact names first, then glob patterns such as `"aime*"`), then
in `DEFAULT_SOURCES` (verl's built-in math and code data sources); a data source found
in neither is taken as a verifier name, so `data_source="math"` is the math verifier.
`extra_info["options"]` are the verifier's options.

Each answer is a dict of the same keys for every item, because verl gathers each key
across the batch into one array and averages the numeric ones for validation metrics:
`score` (the reward; the fallback reward when there was no verdict), `status`,
`verifier`, `error` ("" when ok) and `details` (the verdict's evidence as a JSON
string, which verl logs and skips in its means).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from rewardgate.clients.base import make_item
from rewardgate.clients.coalesce import DEFAULT_LINGER_S, DEFAULT_MAX_BATCH, coalescer_for
from rewardgate.clients.connect import Scorer, Urls, shared_client
from rewardgate.clients.rows import plain, row_options
from rewardgate.verifiers.models import RewardResult

__all__ = [
    "DEFAULT_SOURCES",
    "compute_score",
    "compute_score_async",
    "compute_score_float",
    "to_item",
    "to_score",
    "verifier_for",
]

DEFAULT_SOURCES: Mapping[str, str] = {
    # verl.utils.reward_score.default_compute_score's math data sources
    "openai/gsm8k": "math",
    "lighteval/MATH": "math",
    "DigitalLearningGmbH/MATH-lighteval": "math",
    "HuggingFaceH4/MATH-500": "math",
    "math_dapo": "math",
    "math_dapo_reasoning": "math",
    "aime*": "math",
    "numina_*": "math",
    "hiyouga/geometry3k": "math",
    # ... and its code data sources, whose ground truth is APPS-style tests
    "codecontests": "code",
    "apps": "code",
    "codeforces": "code",
    "taco": "code",
    "primeintellect": "code",
}

_PATTERN_CHARS = frozenset("*?[")


def verifier_for(data_source: str, sources: Mapping[str, str] | None = None) -> str:
    """The verifier for a data source: `sources` first, then `DEFAULT_SOURCES`."""
    tables = [sources or {}, DEFAULT_SOURCES]
    for table in tables:
        if data_source in table:
            return table[data_source]
    for table in tables:
        for pattern, verifier in table.items():
            if _PATTERN_CHARS & set(pattern) and fnmatchcase(data_source, pattern):
                return verifier
    return data_source


def to_item(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    *,
    sources: Mapping[str, str] | None = None,
    fallback_reward: float | None = None,
) -> dict[str, Any]:
    """The rewardgate item for one of verl's responses (numpy values made plain)."""
    extra = plain(extra_info) if isinstance(extra_info, Mapping) else {}
    verifier = extra.get("verifier") or verifier_for(str(data_source), sources)
    reference = plain(ground_truth)
    if verifier == "code":
        reference = _apps_reference(reference)
    item = make_item(str(verifier), str(solution_str), reference, None, fallback_reward, {})
    options = row_options({}, extra.get("options"))
    if options:
        item["options"] = options
    return item


def to_score(result: RewardResult) -> dict[str, Any]:
    """verl's answer for one result (see the module's docstring for the keys)."""
    return {
        "score": float(result.reward),
        "status": result.status,
        "verifier": result.verifier,
        "error": result.error or "",
        "details": json.dumps(result.details, default=str, sort_keys=True),
    }


def compute_score(
    data_source: str | None = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    data_sources: Sequence[str] | None = None,
    solution_strs: Sequence[str] | None = None,
    ground_truths: Sequence[Any] | None = None,
    extra_infos: Sequence[Any] | None = None,
    url: Urls = None,
    sources: Mapping[str, str] | None = None,
    fallback_reward: float | None = None,
    client: Scorer | None = None,
    **verl_kwargs: Any,
) -> dict[str, Any] | list[dict[str, Any]]:
    """Score one response (a dict) or, given the plural keywords, a batch (a list).

    `verl_kwargs` takes what else verl passes (`reward_router_address`, ...), unused.
    A service that cannot be reached raises after the client's retries: that is no
    verdict on any response, and no reward is made up for it.
    """
    if solution_strs is None:
        if data_source is None or solution_str is None:
            raise TypeError("compute_score needs data_source and solution_str")
        one = ([data_source], [solution_str], [ground_truth], [extra_info])
        [score] = _score_all(*one, url, sources, fallback_reward, client)
        return score
    n = len(solution_strs)
    if data_sources is None or len(data_sources) != n:
        raise ValueError("data_sources and solution_strs must be given with the same length")
    truths = [None] * n if ground_truths is None else list(ground_truths)
    extras = [None] * n if extra_infos is None else list(extra_infos)
    if len(truths) != n or len(extras) != n:
        raise ValueError("ground_truths and extra_infos must match solution_strs in length")
    return _score_all(
        list(data_sources),
        list(solution_strs),
        truths,
        extras,
        url,
        sources,
        fallback_reward,
        client,
    )


async def compute_score_async(
    data_source: str | None = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    url: Urls = None,
    sources: Mapping[str, str] | None = None,
    fallback_reward: float | None = None,
    client: Scorer | None = None,
    coalesce: bool = True,
    linger_s: float = DEFAULT_LINGER_S,
    max_batch: int = DEFAULT_MAX_BATCH,
    **verl_kwargs: Any,
) -> dict[str, Any] | list[dict[str, Any]]:
    """`compute_score` for verl's reward loop: one item, coalesced with the items
    awaited alongside it on this event loop into batched requests (see the module).

    The plural keywords, or `coalesce=False`, score as `compute_score` does, in a worker
    thread. An error of the request that carried this item (the service unreachable
    past the client's retries) is raised here, never turned into a reward.
    """
    if not coalesce or "solution_strs" in verl_kwargs:
        return await asyncio.to_thread(
            compute_score,
            data_source,
            solution_str,
            ground_truth,
            extra_info,
            url=url,
            sources=sources,
            fallback_reward=fallback_reward,
            client=client,
            **verl_kwargs,
        )
    if data_source is None or solution_str is None:
        raise TypeError("compute_score_async needs data_source and solution_str")
    item = to_item(
        data_source, solution_str, ground_truth, extra_info, sources=sources,
        fallback_reward=fallback_reward,
    )  # fmt: skip
    scorer = client if client is not None else shared_client(url)
    result = await coalescer_for(scorer, linger_s=linger_s, max_batch=max_batch).score(item)
    return to_score(result)


def compute_score_float(
    data_source: str,
    solution_str: str,
    ground_truth: Any = None,
    extra_info: Any = None,
    **kwargs: Any,
) -> float:
    """The score alone, for callers that want a number: verl's legacy `prime` manager
    calls its function positionally, `(data_source, solution_str, ground_truth,
    extra_info)`, and reads `float(result[0])` from anything else."""
    answer = compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)
    assert isinstance(answer, dict)
    return float(answer["score"])


def _score_all(
    data_sources: list[Any],
    solution_strs: list[Any],
    ground_truths: list[Any],
    extra_infos: list[Any],
    url: Urls,
    sources: Mapping[str, str] | None,
    fallback_reward: float | None,
    client: Scorer | None,
) -> list[dict[str, Any]]:
    items = [
        to_item(ds, text, truth, extra, sources=sources, fallback_reward=fallback_reward)
        for ds, text, truth, extra in zip(
            data_sources, solution_strs, ground_truths, extra_infos, strict=True
        )
    ]
    scorer = client if client is not None else shared_client(url)
    # One request for the batch (up to the server's limit), as verl's batch manager means.
    results = scorer.score_batch(items, batch_size=len(items))
    return [to_score(result) for result in results]


def _apps_reference(reference: Any) -> Any:
    """verl's code ground truth (`{"inputs", "outputs", "fn_name"?}`, often a JSON
    string) as the code verifier's APPS reference: only the keys that format reads, and
    an empty `fn_name` meaning stdio. Anything else goes as given, to be judged there."""
    data = reference
    if isinstance(reference, str):
        try:
            data = json.loads(reference)
        except ValueError:
            return reference
    if not (isinstance(data, dict) and "inputs" in data and "outputs" in data):
        return reference
    apps = {"inputs": data["inputs"], "outputs": data["outputs"]}
    for key in ("fn_name", "language"):
        if data.get(key):
            apps[key] = data[key]
    return apps
