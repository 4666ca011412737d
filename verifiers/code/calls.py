"""Function-call formats: one sandbox run of `harness.py`, which holds the tests.

Only the harness's fd-3 lines count; a test it never reported failed (the program
killed it, or the sandbox's wall limit ended the run).
"""

from __future__ import annotations

import json
from typing import Any

from rewardgate.verifiers.code.models import (
    CodeOptions,
    HumanEvalReference,
    MbppReference,
    PytestReference,
)
from rewardgate.verifiers.code.run import (
    count_tests,
    ended_label,
    execute,
    sandbox_s,
    select_tests,
)

__all__ = ["judge_calls"]


def _call_job(ref: Any, options: CodeOptions) -> tuple[dict[str, Any], list[int]]:
    job: dict[str, Any] = {
        "time_limit": options.time_limit_s,
        "memory_mb": options.memory_mb,
        "stop_on_failure": options.stop_on_first_failure,
    }
    chosen = list(range(count_tests(ref)))
    if isinstance(ref, HumanEvalReference):
        job.update(
            format="humaneval",
            test_code=ref.test_code,
            entry_point=ref.entry_point,
            prompt=ref.prompt,
        )
    elif isinstance(ref, MbppReference):
        chosen = select_tests(len(ref.asserts), [len(a) for a in ref.asserts], options.max_tests)
        job.update(
            format="mbpp", asserts=[ref.asserts[i] for i in chosen], setup_code=ref.setup_code
        )
    elif isinstance(ref, PytestReference):
        job.update(format="pytest", test_file=ref.test_file, module=ref.module)
        job["max_tests"] = options.max_tests
    else:
        keys = [len(json.dumps(v)) for v in ref.inputs]
        chosen = select_tests(len(ref.inputs), keys, options.max_tests)
        job.update(
            format="apps",
            fn_name=ref.fn_name,
            prelude=True,
            inputs=[ref.inputs[i] for i in chosen],
            outputs=[ref.outputs[i] for i in chosen],
        )
    return job, chosen


def judge_calls(program: str, ref: Any, options: CodeOptions) -> list[dict]:
    job, chosen = _call_job(ref, options)
    run_s, _ = sandbox_s(ref, options)
    output = (len(chosen) + 100) * 2048  # a verdict line is under 1 KiB
    files = {"solution.py": program}
    result, lines = execute(options, "harness.py", files, job, run_s, output)
    names = next((line["tests"] for line in lines if "tests" in line), None)
    if names is not None and isinstance(ref, PytestReference):
        chosen = select_tests(len(names), [0] * len(names), options.max_tests)
    failed = next(
        (line for line in lines if {"import_failed", "collect_failed"} & line.keys()), None
    )
    if failed is not None:
        label = failed.get("import_failed", "runtime_error")
        message = failed.get("message") or failed.get("collect_failed", "")
        return [{"test": i, "label": label, "message": message[:500]} for i in chosen]
    reports = {line["test"]: line for line in lines if "test" in line}
    done = any("done" in line for line in lines)
    outcomes = []
    for position, index in enumerate(chosen):
        report = reports.get(position)
        if report is None:
            label, why = ("skipped", "after the first failure") if done else ended_label(result)
            outcomes.append({"test": index, "label": label, "message": why})
            continue
        outcome = {"test": index, "label": report["label"], "ms": report["ms"]}
        if names is not None and position < len(names):
            outcome["name"] = str(names[position])[:200]
        if report["label"] != "passed":
            outcome["message"] = report["message"]
        outcomes.append(outcome)
    return outcomes
