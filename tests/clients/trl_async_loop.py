"""TRL's async GRPO rollout worker with its generation left out, for test_trl_async.py.

`AsyncRolloutWorker` (trl.experimental.async_grpo) checks that its reward functions
pickle, spawns its child with `daemon=True`, builds the rollout loop there and runs it;
the loop generates with a vLLM server and scores each group of completions with the
reward functions (`_score_group`). `ScoreOnce` keeps all of that but the generation: its
loop scores the groups it is given through TRL's own `_score_group` and pushes the
samples to the trainer's queue, as the real loop does. Importing this module imports
TRL (and torch): only tests that run TRL import it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from trl.experimental.async_grpo import async_rollout_worker as trl_worker
from trl.experimental.async_grpo.async_rollout_worker import (
    AsyncRolloutWorker,
    RolloutGroup,
    TrainingSequence,
    _AsyncRolloutLoop,
)

__all__ = ["ScoringWorker", "group"]


def group(completions: list[str], **columns: list[Any]) -> RolloutGroup:
    """A group of completions of one prompt, as the generation loop hands it on (TRL's
    async worker generates conversations: each completion is an assistant message)."""
    n = len(completions)
    return RolloutGroup(
        prompts=[[{"role": "user", "content": "p"}] for _ in completions],
        reward_kwargs=columns,
        completions=[[{"role": "assistant", "content": text}] for text in completions],
        completions_ids=[[3] for _ in completions],
        completions_sequences=[
            [
                TrainingSequence(
                    input_ids=[2, 3],
                    completion_mask=[0, 1],
                    old_log_probs=[0.0, 0.0],
                    rollout_id=str(k),
                )
            ]
            for k in range(n)
        ],
        tool_call_counts=[0] * n,
        tool_failure_counts=[0] * n,
        model_version=0,
        group_id=0,
        env_rewards=[None] * n,
        rollout_rewards=[None] * n,
    )


class ScoreOnce(_AsyncRolloutLoop):
    """The rollout loop in TRL's child process; it scores `groups` instead of generating."""

    def __init__(self, *, groups: list[RolloutGroup], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.groups = groups

    async def _run_loops(self, stop_event: asyncio.Event) -> None:
        for scored in self.groups:
            for sample in await self._score_group(scored):
                self.rollout_buffer.put(sample)
        await stop_event.wait()


def _available(min_version: str | None = None) -> bool:
    return True


class ScoringWorker(AsyncRolloutWorker):
    """TRL's worker (pickling check, daemonic spawn, readiness, stop) around `ScoreOnce`."""

    _loop_cls = ScoreOnce

    def __init__(self, **kwargs: Any) -> None:
        from accelerate.state import PartialState

        PartialState()  # the trainer's Accelerator has made it; TRL's logging needs it
        # The loop wants to parse tool calls of a known chat template; there are none here.
        kwargs["processing_class"].response_template = {
            "type": "object",
            "properties": {"role": {"const": "assistant"}, "content": {"type": "string"}},
        }
        available = trl_worker.is_vllm_available
        trl_worker.is_vllm_available = _available  # no generation here: vLLM is not used
        try:
            super().__init__(**kwargs)
        finally:
            trl_worker.is_vllm_available = available

    def samples(self, count: int, timeout_s: float) -> list[Any]:
        """The first `count` samples the child pushed; raises TRL's error if it failed."""
        import queue
        import time

        out: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < count:
            try:
                out.append(self.rollout_buffer.get(timeout=1.0))
            except queue.Empty:
                self.check_health(stale_after_s=float("inf"))
                if time.monotonic() > deadline:
                    raise
        return out

    def close(self) -> None:
        """`stop()`, except after a failure: the dead child's stop watcher never wakes,
        and multiprocessing's `Event.set` would wait for it for ever."""
        process = self._process
        if process is not None and self._failed_event.is_set():
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join()
            self._process = None
        self.stop()
