"""TRL's real `GRPOTrainer`, a few CPU steps, scoring with rewardgate's reward functions.

The model is a one-layer Llama built from a config and the tokenizer a character-level
one made here, so nothing is downloaded. The trainer generates, calls the reward
functions as it does in training (a sync one directly, an async one on its own event
loop), logs each function's rewards and trains on them. A callback reads what TRL
logged: each completion and its reward per function, and the per-step means; the test
then scores those completions with a client of its own and checks they agree. A
service that cannot be reached stops training with the client's error, never a 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rewardgate.clients import LocalClient, Retry, RewardClient, RewardgateError
from rewardgate.clients.connect import URL_ENV, close_shared
from rewardgate.clients.trl import async_reward_func, reward_func
from tests.conftest import free_port, serving

USES_RESOURCES = ()
pytestmark = pytest.mark.slow

CHARS = list("0123456789+= ")
SPECIALS = ["<pad>", "<eos>", "<unk>"]
# The sync function: fuzzy similarity to the solution; the async one: DAPO's overlong
# penalty in characters, so random completions get rewards that differ.
FUZZY = {"operation": "fuzzy"}
OVERLONG = {"mode": "dapo", "unit": "chars", "max_len": 6, "buffer": 5}
SOLUTIONS = {"1+1=": "2", "2+3=": "5", "4+4=": "8", "9+0=": "9"}


def tiny_tokenizer() -> Any:
    """A character-level fast tokenizer made in memory (left padding, as GRPO needs)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS + CHARS)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        padding_side="left",
    )


def tiny_model() -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(SPECIALS) + len(CHARS),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config)


def train(tmp_path: Path, reward_funcs: list[Any], steps: int = 2) -> list[dict[str, Any]]:
    """Train `steps` GRPO steps; what TRL logged at each step (see `Recorder`)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class Recorder(TrainerCallback):
        """At each log: the logged metrics and TRL's own table of the step's completions
        and their rewards per function (`trainer._logs`, what `log_completions` prints)."""

        trainer: Any = None
        steps: list[dict[str, Any]] = []

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if logs and any(key.startswith("rewards/") for key in logs):
                table = self.trainer._logs
                self.steps.append(
                    {
                        "metrics": dict(logs),
                        "prompts": list(table["prompt"]),
                        "completions": list(table["completion"]),
                        "rewards": {name: list(v) for name, v in table["rewards"].items()},
                    }
                )

    dataset = Dataset.from_dict({"prompt": list(SOLUTIONS), "solution": list(SOLUTIONS.values())})
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=6,
        max_steps=steps,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        seed=0,
        disable_tqdm=True,
    )
    recorder = Recorder()
    recorder.steps = []
    trainer = GRPOTrainer(
        model=tiny_model(),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=tiny_tokenizer(),
        callbacks=[recorder],
    )
    recorder.trainer = trainer
    trainer.train()
    return recorder.steps


@pytest.fixture(params=["in-process", "server"])
def where(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """The service URL the reward functions use (`None`: in-process)."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv("REWARDGATE_CONFIG", raising=False)
    monkeypatch.setenv("REWARDGATE_WORKERS", "1")
    monkeypatch.setenv("REWARDGATE_ASSET_DIR", str(tmp_path / "assets"))
    try:
        if request.param == "server":
            with serving(tmp_path, workers=2) as server:
                yield server.url
        else:
            yield None
    finally:
        close_shared()


def test_grpo_trainer_logs_the_rewards_rewardgate_gives(where: str | None, tmp_path: Path) -> None:
    funcs = [
        reward_func("string", options=FUZZY, name="fuzzy", url=where),
        async_reward_func("length", options=OVERLONG, name="overlong", url=where),
    ]
    steps = train(tmp_path, funcs)
    assert len(steps) == 2
    direct = RewardClient(where) if where else LocalClient()
    try:
        for step in steps:
            completions = step["completions"]
            assert len(completions) == 4 and all(isinstance(c, str) for c in completions)
            solutions = [SOLUTIONS[prompt] for prompt in step["prompts"]]
            for name, verifier, options in (
                ("fuzzy", "string", FUZZY),
                ("overlong", "length", OVERLONG),
            ):
                logged = step["rewards"][name]
                scored = [
                    r.reward
                    for r in direct.score_batch(
                        [
                            {
                                "verifier": verifier,
                                "response": c,
                                "reference": reference,
                                "options": options,
                            }
                            for c, reference in zip(completions, solutions, strict=True)
                        ]
                    )
                ]
                # TRL keeps rewards as float32.
                assert logged == [float(np.float32(r)) for r in scored], (name, completions)
                mean = step["metrics"][f"rewards/{name}/mean"]
                assert mean == pytest.approx(float(np.mean(scored)), rel=1e-5)
        overlong = [r for step in steps for r in step["rewards"]["overlong"]]
        assert len(set(overlong)) > 1  # rewards that differ, not one constant
    finally:
        direct.close()


def test_an_unreachable_service_stops_training_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    funcs = [reward_func("string", options=FUZZY, name="fuzzy", url=url, retry=Retry(attempts=2))]
    try:
        with pytest.raises(RewardgateError):
            train(tmp_path, funcs, steps=1)
    finally:
        close_shared()
