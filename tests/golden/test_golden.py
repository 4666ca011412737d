"""Golden verdicts replayed: a verifier whose verdicts change must bump its version."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.golden.cases import CASES
from tests.golden.golden import differences, path_of, regenerate, registry

VERIFIERS = registry()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_verdicts_hold(name: str) -> None:
    recorded = json.loads(path_of(name).read_text())
    assert [entry["request"] for entry in recorded["cases"]] == CASES[name], (
        f"tests/golden/cases.py changed: regenerate {name}.json"
    )
    assert differences(name, recorded, VERIFIERS) == []


def test_every_verifier_has_golden_verdicts() -> None:
    # judge asks a remote model: its verdicts are never cached, so never stale.
    assert {name for name in VERIFIERS.names() if name != "judge"} <= set(CASES)


def _planted(name: str) -> dict[str, Any]:
    recorded = json.loads(path_of(name).read_text())
    verdict = recorded["cases"][0]["verdict"]
    verdict["reward"] = 1.0 - verdict["reward"]
    return recorded


def test_a_planted_verdict_change_fails() -> None:
    found = differences("math", _planted("math"), VERIFIERS)
    assert len(found) == 1
    assert "bump math's version" in found[0] and "tests.golden.golden math" in found[0]


def test_regenerating_a_changed_verdict_needs_a_version_bump(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import tests.golden.golden as golden

    planted = tmp_path / "math.json"
    planted.write_text(json.dumps(_planted("math")))
    monkeypatch.setattr(golden, "path_of", lambda name: planted)
    assert regenerate("math", VERIFIERS).startswith("refused")
    assert json.loads(planted.read_text()) == _planted("math")  # left as it was
    bumped = type(VERIFIERS.get("math"))
    monkeypatch.setattr(bumped, "version", "999")
    assert regenerate("math", VERIFIERS).startswith("wrote")
    assert json.loads(planted.read_text())["version"] == "999"
