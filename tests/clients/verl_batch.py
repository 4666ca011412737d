"""The batch verl's reward-loop tests score: math and echo rows, right and wrong.

Responses use only characters of the tests' character-level tokenizer
(`tests.clients.test_trl_trainer.CHARS`), so decoding verl's token ids gives them back.
"""

from __future__ import annotations

from typing import Any

ROWS: list[dict[str, Any]] = [
    {"prompt": "1+1=", "response": "2", "data_source": "openai/gsm8k", "ground_truth": "2"},
    {"prompt": "2+3=", "response": "6", "data_source": "openai/gsm8k", "ground_truth": "5"},
    {"prompt": "4+4=", "response": "8", "data_source": "aime2024", "ground_truth": "8"},
    {"prompt": "9+0=", "response": "9 = 9", "data_source": "math", "ground_truth": "9"},
    {"prompt": "3+3=", "response": "42", "data_source": "echo", "ground_truth": {"answer": "42"}},
    {"prompt": "3+4=", "response": "41", "data_source": "echo", "ground_truth": {"answer": "42"}},
    {"prompt": "5+5=", "response": "10", "data_source": "lighteval/MATH", "ground_truth": "10"},
    {"prompt": "6+6=", "response": "", "data_source": "openai/gsm8k", "ground_truth": "12"},
]
