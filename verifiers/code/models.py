"""The code verifier's references (one per test format) and options.

A reference is recognised by its keys, so datasets keep their own shape: `tests` is
stdio, `test_code` + `entry_point` is HumanEval, `asserts` is MBPP, `test_file` is
pytest, and `inputs` + `outputs` (+ `fn_name`) is APPS / TACO / verl's ground truth,
which may also arrive as the JSON string verl stores.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    StringConstraints,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rewardgate.verifiers.base import VerifierOptions

__all__ = [
    "AppsReference",
    "Checker",
    "CodeOptions",
    "CodeReference",
    "HumanEvalReference",
    "Language",
    "MbppReference",
    "PytestReference",
    "StdioReference",
    "StdioTest",
]

# SandboxFusion's ids (and `c`); the aliases are the usual names of each.
Language = Literal[
    "python", "c", "cpp", "java", "nodejs", "rust", "go",
    "bash", "php", "lua", "perl", "ruby", "r", "typescript", "racket",
    "csharp", "d", "d_ut", "scala", "kotlin", "kotlin_script", "verilog", "pytest",
    "go_test", "junit", "jest",
]  # fmt: skip
# Languages with stdio tests only: their function formats are refused up front.
STDIO_ONLY = frozenset({"d_ut", "kotlin_script", "pytest", "go_test", "junit", "jest"})
# test_code only: `asserts` would need the response's class or object named (C#'s and
# Scala's MultiPL-E suites), or are no Verilog (whose tests are a testbench module).
NO_ASSERTS = frozenset({"csharp", "scala", "verilog"})


def _function_tests(language: str) -> None:
    if language in STDIO_ONLY:
        raise ValueError(
            f"language {language!r} runs stdio tests only (no function tests for it yet)"
        )


Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    language: Language = Field(
        default="python",
        description=(
            "python (default), c, cpp, java, nodejs, rust, go, bash, php, lua, perl, ruby, "
            "r, typescript, racket, csharp, d, d_ut, scala, kotlin, kotlin_script, verilog, "
            "pytest, go_test, junit or jest (or an alias: js, ts, rb, sh, cs, kts, ...). d_ut, "
            "kotlin_script and the four test runners run stdio tests only."
        ),
    )

    @field_validator("language", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        # The one table of ids and aliases (sandbox/languages.py), shared with /run_code.
        from rewardgate.sandbox.languages import canonical_language
        from rewardgate.verifiers.errors import InvalidRequest

        if isinstance(value, str):
            try:
                return canonical_language(value)
            except InvalidRequest as exc:
                raise ValueError(exc.message) from None
        return value


def _compiles(source: str) -> str:
    """Refuse test code that is not Python, in the gateway, before it costs a sandbox."""
    try:
        compile(source, "<reference>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"not valid Python: {exc}") from None
    return source


PythonSource = Annotated[str, AfterValidator(_compiles)]


class _PythonOnly(_Base):
    @field_validator("language")
    @classmethod
    def _python(cls, value: str) -> str:
        if value != "python":
            raise ValueError("this test format runs Python only")
        return value


class StdioTest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    stdin: str = ""
    expected_stdout: str


class StdioReference(_Base):
    """Programs read stdin and write stdout; each test is one run."""

    tests: list[StdioTest] = Field(min_length=1)


class HumanEvalReference(_Base):
    """HumanEval: `test_code` is one test.

    Python: `check(candidate)` in `test_code` tests `entry_point`; `prompt`, when given,
    is trusted: helpers it defines (HumanEval/32's `poly`) run in the harness, so a
    response that redefines them cannot change what the test checks. Other languages
    (MultiPL-E, HumanEval-X): `test_code` is a test program in the language, with its
    own `main`, compiled with the response; it passes when it runs to its end. With a
    `prompt` (MultiPL-E's prompt, HumanEval-X's declaration) the three are one text, as
    those benchmarks run them: prompt + response + test_code, the prompt left out when
    the response repeats its last line (the signature) itself.
    """

    test_code: NonEmpty
    entry_point: Identifier | None = Field(default=None, validate_default=True)
    prompt: str | None = None

    @field_validator("test_code")
    @classmethod
    def _test_program(cls, value: str, info: ValidationInfo) -> str:
        language = info.data.get("language", "python")
        if language == "python":
            return _compiles(value)
        _function_tests(language)
        from rewardgate.verifiers.code.native import check_test_program

        check_test_program(language, value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("language", "python") == "python":
            return _compiles(value)
        return value

    @field_validator("entry_point")
    @classmethod
    def _entry_point(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("language", "python") == "python":
            raise ValueError("required for Python")
        return value


class MbppReference(_Base):
    """MBPP: each assert is one test; `setup_code` runs before them (and before the program).

    Other languages: each entry is statements in the language (`assert(f(1) == 2);`,
    `assert_eq!(f(1), 2);`, Java's `assert` runs enabled) run alone as one test in a
    `main` compiled with the response; `setup_code` is declarations placed after the
    response (Java: members of the test class; Go and Java imports are merged).
    """

    asserts: list[NonEmpty] = Field(min_length=1)
    setup_code: str = ""

    @field_validator("asserts", "setup_code")
    @classmethod
    def _python(cls, value: Any, info: ValidationInfo) -> Any:
        language = info.data.get("language", "python")
        if language == "python":
            for source in value if isinstance(value, list) else [value]:
                _compiles(source)
        _function_tests(language)
        if language in NO_ASSERTS and info.field_name == "asserts":
            raise ValueError(f"language {language!r} takes test_code (a test program), not asserts")
        return value


class PytestReference(_PythonOnly):
    """A pytest file: each `test_*` function (and parametrized case) is one test.

    The file imports the program as `module` (`from solution import f`).
    """

    test_file: Annotated[NonEmpty, AfterValidator(_compiles)]
    module: Identifier = "solution"


class AppsReference(_Base):
    """APPS / TACO / verl ground truth: stdio when `fn_name` is absent, else a call.

    Call inputs are argument lists, or strings of one JSON value per line (verl's prime
    data); outputs are the return value, often wrapped in a one-element list (APPS).
    """

    inputs: list[Any] = Field(min_length=1)
    outputs: list[Any] = Field(min_length=1)
    fn_name: Identifier | None = None

    @model_validator(mode="after")
    def _same_length(self) -> AppsReference:
        if len(self.inputs) != len(self.outputs):
            raise ValueError(
                f"inputs and outputs differ in length ({len(self.inputs)} vs {len(self.outputs)})"
            )
        if self.fn_name and self.language != "python":
            raise ValueError("fn_name (a function call) needs language python")
        return self


_FORMAT_KEYS = (
    ("stdio", "tests"),
    ("humaneval", "test_code"),
    ("mbpp", "asserts"),
    ("pytest", "test_file"),
    ("apps", "inputs"),
)


def _format_of(data: Any) -> str | None:
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if not isinstance(data, dict):
        return None
    for tag, key in _FORMAT_KEYS:
        if key in data:
            return tag
    return None


TestFormat = Annotated[
    Annotated[StdioReference, Tag("stdio")]
    | Annotated[HumanEvalReference, Tag("humaneval")]
    | Annotated[MbppReference, Tag("mbpp")]
    | Annotated[PytestReference, Tag("pytest")]
    | Annotated[AppsReference, Tag("apps")],
    Discriminator(
        _format_of,
        custom_error_type="unknown_format",
        custom_error_message=(
            "a code reference needs one of: tests (stdio), test_code + entry_point "
            "(HumanEval), asserts (MBPP), test_file (pytest), inputs + outputs (APPS)"
        ),
    ),
]


class CodeReference(RootModel[TestFormat]):
    """One of the test formats; a JSON string (verl's `ground_truth`) is decoded first."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _json_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            try:
                return json.loads(data)
            except ValueError:
                raise ValueError("a string reference must be JSON") from None
        return data


class Checker(BaseModel):
    """A Python program run in the sandbox per test: `checker.py INPUT EXPECTED ACTUAL`.

    The three files are also in its work dir as input.txt, expected.txt, actual.txt;
    exit status 0 means the test passed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    checker: Annotated[NonEmpty, AfterValidator(_compiles)]


CompareMode = Literal["exact", "lines", "tokens", "apps"]


class CodeOptions(VerifierOptions):
    """How tests run and how a test's outcome becomes the reward."""

    mode: Literal["fraction", "all_or_nothing"] = Field(
        default="fraction",
        description="fraction: passed / tests; all_or_nothing: 1 only when every test passes.",
    )
    time_limit_s: float = Field(default=5.0, gt=0, le=60, description="Wall time per test.")
    memory_mb: int = Field(default=512, ge=16, le=16384, description="Memory per test run.")
    max_tests: int | None = Field(
        default=None,
        ge=1,
        description="Run at most this many tests, those with the longest inputs (DeepCoder).",
    )
    stop_on_first_failure: bool = Field(
        default=False, description="Skip the tests after the first failure (they score 0)."
    )
    compare: CompareMode | Checker | None = Field(
        default=None,
        description=(
            "stdio output comparison: exact; lines (strip trailing whitespace per line and "
            "trailing blank lines); tokens (whitespace tokens, numbers within float_tol); "
            "apps (verl / APPS leniency); or {checker: python source}. Default: lines, and "
            "apps for the APPS format."
        ),
    )
    float_tol: float = Field(
        default=1e-6, ge=0, description="Absolute and relative tolerance for numbers (tokens)."
    )
    backend: str = Field(default="bwrap", description="Sandbox backend.")
