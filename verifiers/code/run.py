"""Running a trusted script (runner.py or harness.py) in the sandbox, and the time it gets.

The script reports on the sandbox's fd-3 channel, one JSON line per event; its first
line proves it started, so a sandbox that cannot run it raises `SandboxError` instead
of scoring the program 0.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

from rewardgate.sandbox.api import ExecResult, Limits, Mount, PythonEntry
from rewardgate.sandbox.languages import COMPILE_LIMITS
from rewardgate.verifiers.code.models import (
    AppsReference,
    Checker,
    CodeOptions,
    MbppReference,
    PytestReference,
    StdioReference,
)
from rewardgate.verifiers.errors import RewardgateError, SandboxError, VerifierError

__all__ = ["count_tests", "ended_label", "execute", "sandbox_s", "select_tests", "toolchain"]

HERE = Path(__file__).resolve().parent
COMPILE_S = COMPILE_LIMITS.wall_s + 5  # the toolchain's own compile sandbox
PER_TEST_OVERHEAD_S = 1.0
# The harness's own memory (Python, the test code) on top of the program's limit.
HARNESS_MB = 512


@functools.cache
def _entry(script: str) -> PythonEntry:
    """The trusted script with the files it loads beside it (the backend may preload it)."""
    names = [script]
    if script == "harness.py":
        names += ["harness_formats.py", "harness_child.py"]
    return PythonEntry(script, {name: (HERE / name).read_text(encoding="utf-8") for name in names})


def _cases(node: ast.FunctionDef) -> int:
    """How many tests a function makes: the product of its literal parametrize lists."""
    count = 1
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and len(decorator.args) >= 2:
            values = decorator.args[1]
            if isinstance(values, (ast.List, ast.Tuple)):
                count *= max(len(values.elts), 1)
    return count


@functools.lru_cache(maxsize=256)
def _count_pytest(source: str) -> int:
    """Memoised on the text: `budget_s` asks it on the gateway for every item, a GRPO
    group repeats one test file, and `ast.parse` holds the GIL however it is threaded."""
    count = 0
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            count += _cases(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            count += sum(
                _cases(n)
                for n in node.body
                if isinstance(n, ast.FunctionDef) and n.name.startswith("test")
            )
    return max(count, 1)


def count_tests(ref: Any) -> int:
    if isinstance(ref, StdioReference):
        return len(ref.tests)
    if isinstance(ref, AppsReference):
        return len(ref.inputs)
    if isinstance(ref, MbppReference):
        return len(ref.asserts)
    if isinstance(ref, PytestReference):
        return _count_pytest(ref.test_file)
    return 1


def sandbox_s(ref: Any, options: CodeOptions) -> tuple[float, float]:
    """Seconds for the test run and for the checker run."""
    n = min(count_tests(ref), options.max_tests or 1 << 30)
    per_test = options.time_limit_s + PER_TEST_OVERHEAD_S
    # Python programs of the function formats are imported once before the tests.
    run = n * per_test + (options.time_limit_s + 5 if ref.language == "python" else 0)
    check = n * per_test + 5 if isinstance(options.compare, Checker) else 0.0
    return run + 5, check


@functools.cache
def toolchain(backend: str) -> Any:
    """This process's C / C++ builder on `backend`, with the shared compile cache."""
    from rewardgate.sandbox import Toolchain

    return Toolchain(_backend(backend))


def _backend(name: str) -> Any:
    try:
        from rewardgate.sandbox import get_backend

        return get_backend(name)
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox backend {name!r} unavailable: {exc}") from exc


def execute(
    options: CodeOptions,
    script: str,
    files: dict[str, str],
    job: dict[str, Any],
    wall_s: float,
    output_bytes: int = 1 << 20,
    file_bytes: int = 0,
    mounts: tuple[Mount, ...] = (),
    open_files: int = Limits.open_files,
) -> tuple[ExecResult, list[dict[str, Any]]]:
    """Run `script` with `job` on stdin; its channel lines. `file_bytes`: largest file it
    writes; `open_files`: what the program's runtime needs (R: 256)."""
    limits = Limits(
        wall_s=wall_s,
        cpu_s=wall_s,
        memory_mb=options.memory_mb + HARNESS_MB,
        file_size_mb=max(16, (file_bytes >> 20) + 2),
        output_bytes=output_bytes,
        open_files=open_files,
    )
    backend = _backend(options.backend)
    try:
        if mounts:  # a program the host built: only a cold sandbox mounts host paths
            files = {**files, **_entry(script).files}
            argv = _entry(script).cold_argv
            result = backend.run(argv, files, json.dumps(job), limits, mounts=mounts, channel=True)
        else:
            result = backend.run_python(
                _entry(script), files, json.dumps(job), limits, channel=True
            )
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox run failed: {type(exc).__name__}: {exc}") from exc
    lines = []
    for raw in (result.channel or b"").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            break  # a line cut by the sandbox's kill; nothing after it is whole
    if not lines or not ({"harness", "runner"} & lines[0].keys()):
        tail = result.stderr[-500:].decode("utf-8", "replace")
        raise SandboxError(f"the {script} never started (exit {result.exit_code}): {tail}")
    broken = next((line["internal_error"] for line in lines if "internal_error" in line), None)
    if broken is not None:
        raise VerifierError(f"the {script} failed: {str(broken)[-500:]}")
    return result, lines


def ended_label(result: ExecResult) -> tuple[str, str]:
    if result.timed_out:
        return "time_limit", "the sandbox's wall limit ended the run"
    if result.oom_killed:
        return "memory_limit", "the sandbox ran out of memory"
    return "runtime_error", "the test never reported (the harness was killed)"


def select_tests(n: int, keys: list[int], max_tests: int | None) -> list[int]:
    """Indices of the tests to run: all, or the `max_tests` longest inputs, in order."""
    if max_tests is None or n <= max_tests:
        return list(range(n))
    return sorted(sorted(range(n), key=lambda i: -keys[i])[:max_tests])
