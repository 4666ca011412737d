"""Trusted test runner, run in the sandbox as `python3 -I _rewardgate_patch_runner.py`.

Reads one job from stdin: the framework (unittest or pytest), its arguments, at most
one test id and the per-request nonce. It runs the tests in-process and prints the
nonce on a line of its own only when the framework itself reports at least one test
run and none failed, errored or was skipped in its place. A patch that exits the
process early, deletes or renames the tests, or makes collection fail never prints
it, so it cannot pass whatever its exit status.

This file runs under the sandbox's own Python: standard library only.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from typing import Any

MISSING = 97  # the framework is not installed in the sandbox (a setup problem)
_DJANGO_STYLE = re.compile(r"^(\w+) \(([\w.]+)\)")


def _unittest(args: list[str], test: str | None) -> tuple[bool, int]:
    import unittest

    loader = unittest.TestLoader()
    if test is not None:
        match = _DJANGO_STYLE.match(test)
        name = f"{match[2]}.{match[1]}" if match else test
        suite = loader.loadTestsFromName(name)
    elif args and args[0] != "discover" and not args[0].startswith("-"):
        suite = loader.loadTestsFromNames([a for a in args if not a.startswith("-")])
    else:
        options: dict[str, str | None] = {"-s": ".", "-p": "test*.py", "-t": None}
        rest = list(args[1:] if args and args[0] == "discover" else args)
        positional = []
        while rest:
            item = rest.pop(0)
            if item in options and rest:
                options[item] = rest.pop(0)
            elif not item.startswith("-"):
                positional.append(item)
        for key, value in zip(("-s", "-p", "-t"), positional, strict=False):
            options[key] = value
        suite = loader.discover(options["-s"] or ".", options["-p"] or "test*.py", options["-t"])
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    ran = result.testsRun - len(result.skipped)
    return result.wasSuccessful() and ran > 0 and not (test and result.skipped), ran


def _pytest(args: list[str], test: str | None) -> tuple[bool, int]:
    import pytest  # type: ignore[import-not-found, unused-ignore]  # imported before

    counts = {"passed": 0, "failed": 0, "skipped": 0}

    class Collector:
        def pytest_runtest_logreport(self, report: Any) -> None:
            if report.failed:
                counts["failed"] += 1
            elif report.skipped:
                counts["skipped"] += 1
            elif report.when == "call" and report.passed:
                counts["passed"] += 1

        def pytest_collectreport(self, report: Any) -> None:
            if report.failed:
                counts["failed"] += 1

    argv = [a for a in args if a.startswith("-")] if test is not None else list(args)
    argv += [test] if test is not None else []
    argv += ["-p", "no:cacheprovider", "-q"]
    code = pytest.main(argv, plugins=[Collector()])
    ok = code == 0 and counts["passed"] > 0 and not counts["failed"]
    return ok and not (test and counts["skipped"]), counts["passed"]


def _import_frameworks(framework: str) -> None:
    """Import the test framework from the sandbox's Python before the repository is on
    the path: a patch adding `unittest.py` (or `pytest/`) must not become the judge."""
    here = os.path.realpath(os.getcwd())
    sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != here]
    names = ["unittest", "pytest", "_pytest"] if framework == "pytest" else ["unittest"]
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            sys.stderr.write(f"rewardgate: {name} is not installed in the sandbox's Python\n")
            os._exit(MISSING)
        where = os.path.realpath(getattr(module, "__file__", None) or "/")
        if where == here or where.startswith(here + os.sep):
            sys.stderr.write(f"rewardgate: {name} was imported from the repository\n")
            os._exit(1)


def main() -> None:
    job = json.loads(sys.stdin.read())
    nonce = job.pop("nonce")
    _import_frameworks(job["framework"])
    sys.path.insert(0, os.getcwd())
    run = _pytest if job["framework"] == "pytest" else _unittest
    ok, ran = run(job["args"], job.get("test"))
    sys.stdout.flush()
    sys.stderr.write(f"\nrewardgate: {ran} test(s) ran; {'passed' if ok else 'failed'}\n")
    if ok:
        sys.stdout.write("\n" + nonce + "\n")
        sys.stdout.flush()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
