"""Stdio tests: one sandbox run of `runner.py` for all tests, outputs compared here.

The expected outputs never enter the sandbox; with a checker, a second run judges the
outputs the first produced.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from rewardgate.sandbox.api import ExecResult, Limits, Mount
from rewardgate.verifiers.code.compare import compare, first_difference
from rewardgate.verifiers.code.models import AppsReference, Checker, CodeOptions, StdioReference
from rewardgate.verifiers.code.run import (
    ended_label,
    execute,
    sandbox_s,
    select_tests,
    toolchain,
)

__all__ = [
    "ProgramRuns",
    "judge_stdio",
    "out_of_memory",
    "run_program",
    "skip_after_first_failure",
    "unreported",
]

# verl / APPS run stdio Python after these imports; some solutions rely on them.
APPS_PRELUDE = (
    "from typing import *\nfrom collections import *\nfrom itertools import *\n"
    "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
    "import sys, math, collections, itertools, functools, heapq, bisect, string, re\n"
    "sys.setrecursionlimit(100000)\n"
)


# How each runtime says it ran out of memory (Python and Java's ...MemoryError, C++,
# Go and Node's "out of memory", Rust's allocation failure, a JVM that cannot start;
# PHP and Perl's "Out of memory", bash's xrealloc, Lua's, R's vector allocation).
MEMORY_SIGNS = (
    "MemoryError",
    "bad_alloc",
    "out of memory",
    "memory allocation of",
    "insufficient memory for the Java Runtime",
    "Could not reserve enough space",
    "Out of memory",
    "xrealloc: cannot allocate",
    "not enough memory",
    "cannot allocate vector",
)
SIGKILL_EXIT = -9


def out_of_memory(exit_code: int, stderr: str) -> bool:
    """Whether a failed run ran out of memory: the runtime said so, or it was SIGKILLed
    (not on its time limit: only the cgroup's OOM killer sends that)."""
    return exit_code == SIGKILL_EXIT or any(sign in stderr for sign in MEMORY_SIGNS)


def _stdio_tests(ref: StdioReference | AppsReference) -> list[tuple[str, str]]:
    if isinstance(ref, StdioReference):
        return [(t.stdin, t.expected_stdout) for t in ref.tests]
    joined = ["\n".join(map(str, v)) if isinstance(v, list) else str(v) for v in ref.inputs]
    expected = ["\n".join(map(str, v)) if isinstance(v, list) else str(v) for v in ref.outputs]
    return list(zip(joined, expected, strict=True))


@dataclass
class ProgramRuns:
    """One runner.py run of a program over its tests: each test's report, by position.

    `failed` holds the outcomes of every chosen test when the program never ran (a
    compile or syntax error).
    """

    result: ExecResult | None = None
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: list[dict[str, Any]] | None = None


def run_program(
    program: str,
    language: str,
    chosen: list[int],
    stdins: list[str],
    caps: list[int],
    options: CodeOptions,
    run_s: float,
    args: list[list[str]] | None = None,
    runtime_flags: tuple[str, ...] = (),
) -> ProgramRuns:
    """Build `program` (cached) and run it once per test: stdin, and `args` after argv.

    `runtime_flags` go right after the interpreter (Java's `-ea`).
    """
    job = {
        "kind": "stdio",
        "argv": None,
        "args": args,
        "stdin": stdins,
        "caps": caps,
        "time_limit": options.time_limit_s,
        "memory_mb": options.memory_mb if _address_space_limit(language) else 0,
        "stop_on_failure": options.stop_on_first_failure,
    }
    output = min(sum(caps) * 2 + (1 << 20), 256 << 20)
    largest = max(len(stdin.encode()) + cap for stdin, cap in zip(stdins, caps, strict=True))
    files = {"solution.py": program} if language == "python" else {}
    mounts: tuple[Mount, ...] = ()
    open_files = Limits.open_files
    if language != "python":
        built = toolchain(options.backend).prepare(language, program)
        if not built.ok:
            return ProgramRuns(failed=_compile_failed(chosen, built.compile_result))
        argv = list(built.argv)
        job["argv"] = argv[:1] + list(runtime_flags) + argv[1:]
        mounts = tuple(built.mounts)
        files = {name: data.decode() for name, data in built.files.items()}  # scripts' sources
        open_files = max(open_files, built.language.open_files)
    result, lines = execute(
        options, "runner.py", files, job, run_s, output, largest, mounts, open_files
    )
    if "compile_error" in (lines[1] if len(lines) > 1 else {}):
        failed: list[dict[str, Any]] = [{"test": i, "label": "compile_error"} for i in chosen]
        failed[0]["stderr"] = str(lines[1]["compile_error"])[-1000:]  # once: the same for all
        return ProgramRuns(failed=failed)
    return ProgramRuns(result, {line["test"]: line for line in lines if "test" in line})


def unreported(
    index: int, outcomes: list[dict[str, Any]], runs: ProgramRuns, options: CodeOptions
) -> dict[str, Any]:
    """The outcome of a test the runner never reported on."""
    stopped = options.stop_on_first_failure and any(o["label"] != "passed" for o in outcomes)
    assert runs.result is not None
    label, why = ("skipped", "after the first failure") if stopped else ended_label(runs.result)
    return {"test": index, "label": label, "message": why}


def judge_stdio(
    program: str, ref: StdioReference | AppsReference, options: CodeOptions
) -> list[dict]:
    tests = _stdio_tests(ref)
    chosen = select_tests(len(tests), [len(s) for s, _ in tests], options.max_tests)
    if isinstance(ref, AppsReference) and ref.language == "python":
        program = APPS_PRELUDE + program
    mode = options.compare or ("apps" if isinstance(ref, AppsReference) else "lines")
    caps = [2 * len(tests[i][1].encode()) + (64 << 10) for i in chosen]
    run_s, check_s = sandbox_s(ref, options)
    stdins = [tests[i][0] for i in chosen]
    runs = run_program(program, ref.language, chosen, stdins, caps, options, run_s)
    if runs.failed is not None:
        return runs.failed
    outcomes: list[dict[str, Any]] = []
    to_check: list[int] = []
    for position, index in enumerate(chosen):
        report = runs.reports.get(position)
        if report is None:
            outcomes.append(unreported(index, outcomes, runs, options))
            continue
        stdout = base64.b64decode(report["stdout"]).decode("utf-8", "replace")
        stderr = report["stderr"][-500:]
        outcome: dict[str, Any] = {"test": index, "ms": report["ms"]}
        if report["timed_out"]:
            outcome.update(label="time_limit")
        elif report["exit"] != 0:
            memory = out_of_memory(report["exit"], stderr)
            outcome.update(label="memory_limit" if memory else "runtime_error", exit=report["exit"])
            outcome["stderr"] = stderr
        elif isinstance(mode, Checker):
            outcome.update(label="wrong_answer", stdout=stdout)
            to_check.append(len(outcomes))
        elif not report["truncated"] and compare(mode, stdout, tests[index][1], options.float_tol):
            outcome.update(label="passed")
        else:
            outcome.update(label="wrong_answer", diff=first_difference(stdout, tests[index][1]))
        outcomes.append(outcome)
    if options.stop_on_first_failure and not to_check:
        skip_after_first_failure(outcomes)
    if to_check and isinstance(mode, Checker):
        _run_checker(mode, [outcomes[k] for k in to_check], tests, options, check_s)
    return outcomes


def _address_space_limit(language: str) -> bool:
    from rewardgate.sandbox.languages import get_language

    return get_language(language).address_space_limit


def _compile_failed(chosen: list[int], result: ExecResult) -> list[dict[str, Any]]:
    if result.timed_out:
        message = "compilation timed out"
    elif result.oom_killed:
        message = "compilation ran out of memory"
    else:
        message = result.stderr[-1000:].decode("utf-8", "replace")
    failed: list[dict[str, Any]] = [{"test": i, "label": "compile_error"} for i in chosen]
    failed[0]["stderr"] = message  # once: every test fails for the same reason
    return failed


def skip_after_first_failure(outcomes: list[dict[str, Any]]) -> None:
    failed = False
    for outcome in outcomes:
        if failed:
            test = outcome["test"]
            outcome.clear()
            outcome.update(test=test, label="skipped", message="after the first failure")
        failed = failed or outcome["label"] != "passed"


def _run_checker(
    checker: Checker,
    outcomes: list[dict],
    tests: list[tuple[str, str]],
    options: CodeOptions,
    wall_s: float,
) -> None:
    cases = [
        {"input": tests[o["test"]][0], "expected": tests[o["test"]][1], "actual": o.pop("stdout")}
        for o in outcomes
    ]
    job = {
        "kind": "check",
        "cases": cases,
        "time_limit": options.time_limit_s,
        "memory_mb": options.memory_mb,
    }
    _, lines = execute(options, "runner.py", {"checker.py": checker.checker}, job, wall_s)
    reports = {line["test"]: line for line in lines if "test" in line}
    for position, outcome in enumerate(outcomes):
        report = reports.get(position)
        if report is not None and report["exit"] == 0 and not report["timed_out"]:
            outcome["label"] = "passed"
        else:
            outcome["checker"] = (report or {}).get("stderr", "the checker did not report")[-300:]
