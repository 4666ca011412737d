"""verl's own reward loop over a real `DataProto` batch, scoring with rewardgate.

Run by tests/clients/test_verl_managers.py in a subprocess whose path starts with one
verl release (tests/clients/verl_envs.py installs them apart from the venv, since
verl's declared dependencies conflict with it):

    python -m tests.clients.verl_reward_loop_run URL MANAGER[,MANAGER...] TOKENIZER_DIR

It builds verl's `RewardLoopWorker` from a config as verl's trainer does (the
tokenizer loaded from a folder, the reward manager by its registered name, the custom
reward function `pkg://rewardgate.clients.verl:compute_score_async` with `url` in its
`reward_kwargs`), scores one batch with the worker's `compute_score_batch` (one
`run_single` per response, all awaited together) for each manager named, and prints
a JSON line: verl's version and, per manager, each response's `reward_score` and
`reward_extra_info` (less its `details`).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import numpy as np

from tests.clients.verl_batch import ROWS

PROMPT_LEN = 4
RESPONSE_LEN = 12


def batch(tokenizer: Any) -> Any:
    """A DataProto as verl's rollout leaves it: left-padded prompts, right-padded
    responses, the attention mask over both, and the non-tensor columns."""
    import torch
    from verl import DataProto

    pad = tokenizer.pad_token_id
    prompts, responses, masks = [], [], []
    for row in ROWS:
        prompt = tokenizer(row["prompt"], add_special_tokens=False).input_ids[-PROMPT_LEN:]
        response = tokenizer(row["response"], add_special_tokens=False).input_ids[:RESPONSE_LEN]
        prompts.append([pad] * (PROMPT_LEN - len(prompt)) + prompt)
        responses.append(response + [pad] * (RESPONSE_LEN - len(response)))
        masks.append(
            [0] * (PROMPT_LEN - len(prompt))
            + [1] * len(prompt)
            + [1] * len(response)
            + [0] * (RESPONSE_LEN - len(response))
        )
    prompt_ids, response_ids = torch.tensor(prompts), torch.tensor(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": prompt_ids,
            "responses": response_ids,
            "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
            "attention_mask": torch.tensor(masks),
        },
        non_tensors={
            "data_source": np.array([row["data_source"] for row in ROWS], dtype=object),
            "reward_model": np.array(
                [{"ground_truth": row["ground_truth"]} for row in ROWS], dtype=object
            ),
            "extra_info": np.array([{"index": k} for k in range(len(ROWS))], dtype=object),
        },
    )


def config(url: str, manager: str, tokenizer_dir: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "actor_rollout_ref": {"model": {"path": tokenizer_dir, "tokenizer_path": None}},
            "trainer": {"experiment_name": "rewardgate"},
            "reward": {
                "reward_manager": {"source": "register", "name": manager},
                "reward_model": {"enable": False},
                "custom_reward_function": {
                    "path": "pkg://rewardgate.clients.verl",
                    "name": "compute_score_async",
                    "reward_kwargs": {"url": url},
                },
                "reward_kwargs": {"overlong_buffer_cfg": None, "max_resp_len": RESPONSE_LEN},
                "timeout": 300.0,
            },
        }
    )


async def score(url: str, manager: str, tokenizer_dir: str) -> dict[str, Any]:
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    worker = RewardLoopWorker(config(url, manager, tokenizer_dir))
    outputs = await worker.compute_score_batch(batch(worker.input_tokenizer))
    return {
        "scores": [float(o["reward_score"]) for o in outputs],
        "extra": [
            {k: v for k, v in o["reward_extra_info"].items() if k != "details"} for o in outputs
        ],
    }


async def main(url: str, managers: str, tokenizer_dir: str) -> dict[str, Any]:
    import verl

    out: dict[str, Any] = {"verl": verl.__version__}
    for manager in managers.split(","):
        out[manager] = await score(url, manager, tokenizer_dir)
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))))
