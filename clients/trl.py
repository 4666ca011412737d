"""TRL reward functions: `reward_func(verifier)` for `GRPOTrainer(reward_funcs=[...])`.

    from rewardgate.clients.trl import reward_func
    trainer = GRPOTrainer(..., reward_funcs=[reward_func("math")])

TRL calls a reward function as `f(prompts=, completions=, completion_ids=, **columns)`,
where `columns` are the dataset's other columns, one value per completion, plus
`trainer_state`, `log_extra` and `log_metric`. The reference of each completion is the
column `reference_field` (`"solution"`, as TRL's own accuracy reward reads); the
options are `options`, or the per-row column `options_field`. Completions are plain
strings or conversations (a list of messages), whose last assistant message is scored.

TRL awaits a coroutine function (`inspect.iscoroutinefunction`) on its own event loop,
side by side with other async reward functions: `async_reward_func` makes one, which
pickles, as TRL's async trainer requires. That trainer runs its rollout worker in a
daemonic process, which may not start the in-process engine's worker processes: there,
without a URL, the engine runs in a helper process the function starts and stops
(`rewardgate.clients.helper_service`), with the same settings and per-item deadlines.
TRL logs each reward under the function's `__name__`, here `<verifier>_reward` unless
`name=` is given. A non-ok result (no verdict) gives the fallback reward, or `None`
with `abstain=True`, which TRL leaves out of that completion's sum of rewards.

Items are scored at `url` or `$REWARDGATE_URL`, else in-process; other keywords are
the client's (`api_key=`, `timeout=`, `batch_size=`, ... or `settings=` in-process).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from rewardgate.clients.base import make_item
from rewardgate.clients.connect import Scorer, Urls, shared_client
from rewardgate.clients.rows import plain, row_options

__all__ = ["AsyncRewardFunc", "RewardFunc", "async_reward_func", "completion_text", "reward_func"]

Rewards = list[float | None]


def completion_text(completion: Any) -> str:
    """The text a verifier judges: a plain completion as is; of a conversation, the
    last assistant message (the last message when none has a role), its text parts
    joined when its content is a list of parts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    messages = [m for m in completion if isinstance(m, Mapping)]
    if not messages:
        return ""
    replies = [m for m in messages if m.get("role") == "assistant"] or messages
    return _content_text(replies[-1].get("content"))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [p.get("text", "") if isinstance(p, Mapping) else str(p) for p in content]
    return "".join(part for part in parts if isinstance(part, str))


class RewardFunc:
    """A picklable TRL reward function (TRL's async trainer ships reward functions to a
    spawned process): it holds only its configuration, and each process scores with its
    own shared client, unless `client=` names one."""

    def __init__(
        self,
        verifier: str,
        reference_field: str = "solution",
        *,
        options: Mapping[str, Any] | None = None,
        options_field: str | None = None,
        abstain: bool = False,
        fallback_reward: float | None = None,
        name: str | None = None,
        url: Urls = None,
        client: Scorer | None = None,
        **client_kwargs: Any,
    ) -> None:
        self.verifier = verifier
        self.reference_field = reference_field
        self.options = dict(options or {})
        self.options_field = options_field
        self.abstain = abstain
        self.fallback_reward = fallback_reward
        self.url = url
        self.client = client
        self.client_kwargs = client_kwargs
        self.__name__ = self.__qualname__ = name or f"{verifier}_reward"

    def items(self, completions: Sequence[Any], columns: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rewardgate items for a batch of completions and the dataset's columns."""
        references = self._column(self.reference_field, columns, len(completions))
        per_row = (
            self._column(self.options_field, columns, len(completions))
            if self.options_field
            else [None] * len(completions)
        )
        items = []
        for completion, reference, extra in zip(completions, references, per_row, strict=True):
            text = completion_text(completion)
            item = make_item(self.verifier, text, plain(reference), None, self.fallback_reward, {})
            options = row_options(self.options, extra)
            if options:
                item["options"] = options
            items.append(item)
        return items

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        **columns: Any,
    ) -> Rewards:
        if completions is None:
            raise TypeError(f"{self.__name__} needs completions=")
        items = self.items(completions, columns)
        if not items:
            return []
        client = (
            self.client
            if self.client is not None
            else shared_client(self.url, **self.client_kwargs)
        )
        return [r.reward if (r.ok or not self.abstain) else None for r in client.score_batch(items)]

    def _column(self, field: str, columns: Mapping[str, Any], n: int) -> list[Any]:
        if field not in columns:
            shown = sorted(k for k in columns if k not in _TRAINER_KWARGS)
            raise KeyError(
                f"{self.__name__}: no dataset column {field!r} (columns: {shown}); "
                "name the reference column with reference_field="
            )
        values = list(columns[field])
        if len(values) != n:
            raise ValueError(f"column {field!r} has {len(values)} values for {n} completions")
        return values


_TRAINER_KWARGS = frozenset(
    {"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)


def reward_func(verifier: str, reference_field: str = "solution", **kwargs: Any) -> RewardFunc:
    """A TRL reward function scoring completions with `verifier` (see the module docs)."""
    return RewardFunc(verifier, reference_field, **kwargs)


def async_reward_func(
    verifier: str, reference_field: str = "solution", **kwargs: Any
) -> Callable[..., Awaitable[Rewards]]:
    """The coroutine twin of `reward_func`, for TRL's async reward functions: an
    `AsyncRewardFunc`, which pickles (TRL's async trainer refuses unpicklable reward
    functions at start) and which `inspect.iscoroutinefunction` takes for a coroutine
    function, as TRL checks."""
    return AsyncRewardFunc(RewardFunc(verifier, reference_field, **kwargs))


async def _signature(
    prompts: Sequence[Any] | None = None, completions: Sequence[Any] | None = None, **columns: Any
) -> Rewards:
    """The signature (and coroutine flag) `AsyncRewardFunc` shows to `inspect`."""
    raise NotImplementedError


class AsyncRewardFunc:
    """A picklable coroutine reward function wrapping a `RewardFunc`.

    TRL awaits a reward function when `inspect.iscoroutinefunction` says it is one, logs
    it under its `__name__` (after unwrapping `functools.partial`, so a partial would be
    logged under the wrapped function's name), and its async trainer pickles it. A
    closure cannot pickle; this object can (only its `RewardFunc` is pickled), and it
    looks like a coroutine function to `inspect` the way the standard library reads one
    (a `__code__` with the coroutine flag, `__name__`, `__defaults__`,
    `__kwdefaults__`, `__annotations__`). The batch is scored by the shared, thread-safe
    client in a worker thread, so it keeps one connection pool (or engine) whatever
    event loop TRL awaits it on.
    """

    __code__ = _signature.__code__
    __defaults__ = _signature.__defaults__
    __kwdefaults__ = _signature.__kwdefaults__
    __annotations__ = _signature.__annotations__

    def __init__(self, func: RewardFunc) -> None:
        self.func = func
        self.__name__ = self.__qualname__ = func.__name__
        self.__doc__ = f"TRL async reward function: {func.verifier} verdicts on the completions."

    async def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        **columns: Any,
    ) -> Rewards:
        return await asyncio.to_thread(self.func, prompts, completions, **columns)

    def __reduce__(self) -> tuple[Any, ...]:
        return (AsyncRewardFunc, (self.func,))
