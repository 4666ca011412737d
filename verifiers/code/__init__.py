"""The `code` verifier: run the response's program against unit tests in the sandbox.

Test formats: stdio (Python, C, C++, Java, JavaScript, Rust, Go), HumanEval and MBPP
(Python, and compiled with the program in the other languages; see `native.py`),
pytest files and APPS / TACO / verl ground truth (stdio or call-based, LeetCode
`class Solution` included). The reward is the fraction of tests passed (or
all-or-nothing); `steps` has one entry per test labelled passed, wrong_answer,
time_limit, memory_limit, runtime_error or compile_error (skipped after the first
failure with `stop_on_first_failure`).

Python's function-call formats are hack-proof by design: the tests run in a trusted
harness process that talks to the program over a pipe in plain data; see `harness.py`.
Importing this package is cheap; the sandbox loads on the first judgement.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.sandbox.languages import SCRIPT_TOOLCHAINS, toolchain_health
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.code.models import CodeOptions, CodeReference
from rewardgate.verifiers.sandboxed import SANDBOX_TOOLCHAINS, backend_identity, backend_name

__all__ = ["CodeOptions", "CodeReference", "CodeVerifier"]


class CodeVerifier(Verifier[CodeReference, CodeOptions]):
    name = "code"
    version = "3"
    description = (
        "Runs the response's program against unit tests in the sandbox: stdio (Python, C, C++, "
        "Java, JavaScript, TypeScript, Rust, Go, bash, PHP, Lua, Perl, Ruby, R, Racket), "
        "HumanEval and MBPP (every language), pytest and "
        "APPS/TACO/verl formats; reward = tests passed."
    )
    Reference: ClassVar[type[BaseModel]] = CodeReference
    Options: ClassVar[type[VerifierOptions]] = CodeOptions
    conformance = Conformance(
        full=Case(
            "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            {"tests": [{"stdin": "1 2", "expected_stdout": "3"}]},
        ),
        zero=Case(
            "```python\na, b = map(int, input().split())\nprint(a - b)\n```",
            {"tests": [{"stdin": "1 2", "expected_stdout": "3"}]},
        ),
        invalid=Case("```python\nprint(3)\n```", {"tests": "none"}),
    )
    source_modules = ("rewardgate.sandbox",)
    judging_debian_packages = (*SANDBOX_TOOLCHAINS, *SCRIPT_TOOLCHAINS)

    def fingerprint_for(self, reference: CodeReference, options: CodeOptions) -> str:
        return self.fingerprint(backend_name(options, self.env))

    def default_backend(self) -> str | None:
        return backend_name(CodeOptions(), self.env)

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        """The backend's identity, and the scientific Python prefix's pinned versions (a
        program importing numpy is judged by them)."""
        from rewardgate.sandbox.python_prefix import installed

        return {**backend_identity(backend, self.env), "python_prefix": installed()}

    def prepare(self, reference: Any, options: dict[str, Any] | None) -> Prepared[Any, Any]:
        """Options that name no sandbox backend get the server's default one; `memory_mb`
        is held to the server's per-run cap (`sandboxed.capped_memory`)."""
        from rewardgate.verifiers.sandboxed import chosen_backend

        prepared = super().prepare(reference, options)
        return Prepared(prepared.reference, chosen_backend(prepared.options, self.env))

    def judge(self, response: str, reference: CodeReference, options: CodeOptions) -> Verdict:
        from rewardgate.verifiers.code.judge import judge
        from rewardgate.verifiers.sandboxed import configure_docker

        configure_docker(self.env)
        return judge(response, reference.root, options)

    def budget_s(self, reference: CodeReference, options: CodeOptions, default_s: float) -> float:
        from rewardgate.verifiers.code.judge import budget_s

        return budget_s(reference.root, options, default_s)

    def health(self) -> dict[str, str]:
        """Each backend's state: bwrap's parts, and docker's (daemon, image, a probe run);
        whether its python3 sees the scientific prefix (`python_prefix`, on docker
        `python_prefix.docker`); `toolchain.<language>` for each language's tool on the
        host."""
        from rewardgate.sandbox import python_prefix
        from rewardgate.verifiers.sandboxed import sandbox_backend

        report: dict[str, str] = {}
        for name in ("bwrap", "docker"):
            key = "python_prefix" if name == "bwrap" else f"python_prefix.{name}"
            try:
                backend = sandbox_backend(name, self.env)
                state = backend.health()
            except Exception as exc:
                report[name] = f"unavailable: {exc}"
                continue
            report.update(state)
            # What a Python run imports beyond the standard library (numpy, pandas, ...),
            # probed only in a sandbox that can run.
            ready = name == "bwrap" or all(v == "ok" or v.startswith("off") for v in state.values())
            report[key] = (
                python_prefix.health(backend)
                if ready
                else f"not tested: the {name} sandbox is not ready (see its lines)"
            )
        # Each language's interpreter or compiler on the host, for bwrap (docker's are
        # in its image): a missing one degrades that language only.
        report.update(toolchain_health())
        return report
