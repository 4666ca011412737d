"""Golden verdicts: pinned results of tests/golden/cases.py, replayed by the test suite.

A verifier whose verdict on a pinned request changes fails `test_golden.py` until its
`version` is bumped and the file regenerated, so a cached verdict from the old code can
never be served as if it were the new one (the cache keys on the version, among the
rest of the fingerprint). Regenerate with

    .venv/bin/python -m tests.golden.golden [VERIFIER ...]

which refuses to rewrite verdicts that changed while the version stayed the same.
Numbers in `details` compare within `TOLERANCE` (rendering metrics vary a little
between backends and library builds); everything else must be equal.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from tests.golden.cases import CASES, DATA

HERE = Path(__file__).resolve().parent
TOLERANCE = {"svg": 0.02, "chart": 0.02, "web": 0.02, "cad": 0.02}
_SCALARS = (str, int, float, bool, type(None))


def registry() -> Any:
    """Every installed verifier, configured as the tests' server is (chinook for sql)."""
    from rewardgate.service.app import verifier_env
    from rewardgate.service.settings import Settings
    from rewardgate.verifiers.registry import Registry

    env = verifier_env(Settings(sql_db_dir=DATA / "sql"))
    return Registry.from_entry_points(env=env)


def verdict(verifiers: Any, name: str, case: dict[str, Any]) -> dict[str, Any]:
    """What is pinned of one verdict: reward, status, step labels, scalar details."""
    from rewardgate.verifiers.errors import RewardgateError
    from rewardgate.verifiers.models import RewardRequest

    request = RewardRequest(verifier=name, **case)
    try:
        result = verifiers.get(name).verify(request)
    except RewardgateError as exc:
        return {"status": exc.status, "error": exc.code}
    pinned: dict[str, Any] = {"reward": result.reward, "status": result.status}
    if result.steps is not None:
        pinned["steps"] = [step.label for step in result.steps]
    pinned["details"] = {
        key: value
        for key, value in sorted(result.details.items())
        if isinstance(value, _SCALARS)
        and not (isinstance(value, str) and len(value) > 200)  # an echoed program or SVG
        and "ms" not in key
        and "elapsed" not in key
    }
    return pinned


def path_of(name: str) -> Path:
    return HERE / f"{name}.json"


def differences(name: str, recorded: dict[str, Any], verifiers: Any) -> list[str]:
    """Each pinned case whose verdict differs now, described; [] when all agree."""
    tolerance = TOLERANCE.get(name, 1e-9)
    found = []
    current_version = verifiers.get(name).version
    for index, entry in enumerate(recorded["cases"]):
        now = verdict(verifiers, name, entry["request"])
        if not _same(entry["verdict"], now, tolerance):
            found.append(
                f"{name} case {index}: pinned {entry['verdict']} but now {now}; "
                f"bump {name}'s version (pinned {recorded['version']}, now "
                f"{current_version}) and regenerate with "
                f"`.venv/bin/python -m tests.golden.golden {name}`"
            )
    if not found and recorded["version"] != current_version:
        found.append(
            f"{name}: version {current_version} but the golden file pins {recorded['version']}"
            f"; regenerate with `.venv/bin/python -m tests.golden.golden {name}`"
        )
    return found


def _same(pinned: Any, now: Any, tolerance: float) -> bool:
    if isinstance(pinned, dict) and isinstance(now, dict):
        return pinned.keys() == now.keys() and all(
            _same(pinned[k], now[k], tolerance) for k in pinned
        )
    if isinstance(pinned, list) and isinstance(now, list):
        return len(pinned) == len(now) and all(
            _same(a, b, tolerance) for a, b in zip(pinned, now, strict=True)
        )
    numbers = (int, float)
    if isinstance(pinned, numbers) and isinstance(now, numbers):
        if isinstance(pinned, bool) or isinstance(now, bool):
            return pinned == now
        return math.isclose(pinned, now, rel_tol=0, abs_tol=tolerance)
    return bool(pinned == now)


def regenerate(name: str, verifiers: Any) -> str:
    """Rewrite `name`'s golden file; refuses when verdicts changed under the same version."""
    version = verifiers.get(name).version
    path = path_of(name)
    if path.exists():
        recorded = json.loads(path.read_text())
        changed = [d for d in differences(name, recorded, verifiers) if " case " in d]
        if (
            changed
            and recorded["version"] == version
            and len(recorded["cases"]) == len(CASES[name])
        ):
            return f"refused: {name}'s verdicts changed but its version is still {version}"
    cases = [{"request": case, "verdict": verdict(verifiers, name, case)} for case in CASES[name]]
    path.write_text(
        json.dumps({"verifier": name, "version": version, "cases": cases}, indent=1) + "\n"
    )
    return f"wrote {path.name}: {len(cases)} cases, version {version}"


def main(names: list[str]) -> int:
    verifiers = registry()
    failed = False
    for name in names or sorted(CASES):
        message = regenerate(name, verifiers)
        failed |= message.startswith("refused")
        print(message)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
