"""The patch verifier's similarity reward against values SWE-RL's own code computed.

`patch_reference/cases.json` holds inputs and the rewards `calculate_search_replace_reward`
(facebookresearch/swe-rl) returned for them; see its README for the command. Each case
is scored here twice: with the oracle as the unified diff a real tool wrote
(`oracle_patch`, so the diff reader is part of the check) and as new texts
(`oracle_files`, SWE-RL's own input).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardgate.testing import EngineHarness
from rewardgate.verifiers.models import RewardRequest
from rewardgate.verifiers.patch import PatchVerifier

DATA = json.loads((Path(__file__).parent / "patch_reference" / "cases.json").read_text("utf-8"))
CASES = DATA["cases"]
CONTEXT = DATA["code_context"]


def score(response: str, reference: dict[str, Any], **options: Any) -> Any:
    request = RewardRequest(
        verifier="patch", response=response, reference=reference, options=options
    )
    return PatchVerifier().verify(request)


def test_there_are_at_least_thirty_reference_cases() -> None:
    assert len(CASES) >= 30
    assert {c["swe_rl_reward"] for c in CASES} >= {-1.0, 0.0, 1.0}
    assert any(0 < c["swe_rl_reward"] < 1 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("oracle", ["oracle_patch", "oracle_files"])
def test_equals_swe_rl(case: dict[str, Any], oracle: str) -> None:
    given = case["oracle_patch"] if oracle == "oracle_patch" else case["oracle_new_content"]
    result = score(case["output"], {"files": CONTEXT, oracle: given})
    assert result.status == "ok", result.error
    # Bit for bit (SWE-RL gave these same values under PYTHONHASHSEED 0 to 5).
    assert result.reward == case["swe_rl_reward"], result.details
    if case["swe_rl_error"] is not None:
        assert result.details["reason"] == case["swe_rl_error"][:200] or result.details[
            "reason"
        ].startswith(case["swe_rl_error"][:40])


def test_declared_conformance_cases_hold_through_the_engine(
    verifier_engine: Callable[..., EngineHarness],
) -> None:
    declared = PatchVerifier.conformance
    assert declared is not None
    engine = verifier_engine(PatchVerifier)
    full, zero, invalid = engine.score(
        [declared.full.item("patch"), declared.zero.item("patch"), declared.invalid.item("patch")]
    )
    assert (full.status, full.reward) == ("ok", declared.full_reward), full
    assert (zero.status, zero.reward) == ("ok", declared.zero_reward), zero
    assert invalid.status == "invalid", invalid
