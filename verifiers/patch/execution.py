"""Execution reward: the patched snapshot's tests, run in the sandbox one test a run.

The patch is applied on the host to the snapshot's texts (pure string work, nothing
written to disk), and the patched tree is the sandbox's work dir; the trusted runner
(`runner.py`) runs one named test per fresh sandbox, under the code verifier's limits
and nonce rule: a step passes only when the run exits 0 *and* prints this request's
nonce, which the runner prints after the framework reports the test passed. Each
named test is a step labelled as SWE-bench labels them, FAIL_TO_PASS or PASS_TO_PASS;
with no test named, the whole command is one step labelled TESTS.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import RewardgateError, SandboxError
from rewardgate.verifiers.models import StepReward
from rewardgate.verifiers.patch.models import PatchOptions, PatchReference, test_command
from rewardgate.verifiers.patch.snapshot import RESERVED

__all__ = ["DEFAULT_COMMAND", "run_tests", "test_plan"]

DEFAULT_COMMAND = "python -m unittest"
RUNNER = Path(__file__).with_name("runner.py")
MISSING = 97  # runner.py's exit status when the framework is not installed
STARTUP_S = 5.0  # a fresh sandbox and an interpreter, beyond the test's own time


def test_plan(reference: PatchReference) -> list[tuple[str, str | None]]:
    """(label, test id) of each step, FAIL_TO_PASS first."""
    plan: list[tuple[str, str | None]] = [("FAIL_TO_PASS", t) for t in reference.fail_to_pass]
    plan += [("PASS_TO_PASS", t) for t in reference.pass_to_pass]
    return plan or [("TESTS", None)]


def run_tests(
    tree: dict[str, str | bytes],
    reference: PatchReference,
    options: PatchOptions,
    env: VerifierEnv,
) -> list[StepReward]:
    """One step per planned test; raises `SandboxError` when the sandbox cannot run."""
    from rewardgate.sandbox.api import Limits, PythonEntry
    from rewardgate.verifiers.sandboxed import sandbox_backend

    command = test_command(reference.test_command or DEFAULT_COMMAND)
    entry = PythonEntry(RESERVED, {RESERVED: RUNNER.read_text(encoding="utf-8")})
    limits = Limits(
        wall_s=options.time_limit_s + STARTUP_S,
        cpu_s=options.time_limit_s + STARTUP_S,
        memory_mb=options.memory_mb,
        processes=128,
        open_files=256,
        file_size_mb=64,
    )
    try:
        backend = sandbox_backend(options.backend, env)
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox backend {options.backend!r} unavailable: {exc}") from exc
    steps = []
    for index, (label, test) in enumerate(test_plan(reference)):
        nonce = secrets.token_hex(16)
        job = {"framework": command.framework, "args": list(command.args), "test": test}
        job["nonce"] = nonce
        try:
            result = backend.run_python(entry, tree, json.dumps(job), limits)
        except RewardgateError:
            raise
        except Exception as exc:
            raise SandboxError(f"sandbox run failed: {type(exc).__name__}: {exc}") from exc
        stdout = result.stdout.decode("utf-8", "replace")
        stderr = result.stderr.decode("utf-8", "replace")
        if result.exit_code == MISSING and "is not installed in the sandbox's" in stderr:
            raise SandboxError(
                f"{command.framework} is not installed in the {options.backend} sandbox's Python"
            )
        passed = result.exit_code == 0 and nonce in stdout.splitlines()
        details: dict[str, Any] = {
            "test": test,
            "outcome": _outcome(passed, result.exit_code, result.timed_out, result.oom_killed),
            "exit_code": result.exit_code,
            "stderr": stderr[-2000:],
        }
        steps.append(StepReward(index=index, reward=float(passed), label=label, details=details))
    return steps


def _outcome(passed: bool, exit_code: int, timed_out: bool, oom: bool) -> str:
    if passed:
        return "passed"
    if timed_out:
        return "time_limit"
    if oom:
        return "memory_limit"
    if exit_code == 0:
        return "no_nonce"  # exited 0 without the runner's report: it ended the run early
    return "failed"
