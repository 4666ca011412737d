"""The patch verifier's reference and options (outside users rely on the names: never rename)."""

from __future__ import annotations

import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rewardgate.verifiers.base import VerifierOptions

__all__ = ["DEFAULT_TEST_PATTERNS", "PatchOptions", "PatchReference", "TestCommand", "test_command"]

MAX_FILES_CHARS = 64 << 20
# What a patch may not edit in execution mode unless options say otherwise: the
# repository's tests and pytest's configuration of them.
DEFAULT_TEST_PATTERNS = (
    "test_*.py",
    "*_test.py",
    "tests/*",
    "test/*",
    "testing/*",
    "*/tests/*",
    "*/test/*",
    "conftest.py",
)


class TestCommand(BaseModel):
    """A test command the trusted runner drives: its framework and its arguments."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(frozen=True)

    framework: Literal["unittest", "pytest"]
    args: tuple[str, ...] = ()


def test_command(command: str) -> TestCommand:
    """`python -m unittest ...`, `python -m pytest ...` or `pytest ...`; else ValueError.

    Only frameworks the runner drives in-process can be held to the nonce rule: a pass
    is the framework's own report of tests that ran and passed, never an exit status.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"not a command line: {exc}") from None
    if argv[:1] in (["python"], ["python3"]) and argv[1:2] == ["-m"] and len(argv) > 2:
        argv = argv[2:]
    if argv[:1] == ["unittest"]:
        return TestCommand(framework="unittest", args=tuple(argv[1:]))
    if argv[:1] in (["pytest"], ["py.test"]):
        return TestCommand(framework="pytest", args=tuple(argv[1:]))
    raise ValueError(
        "supported test commands: `python -m unittest [args]`, `python -m pytest [args]`"
    )


class PatchReference(BaseModel):
    """The snapshot (inline `files` or a `repo` tarball asset), the oracle, the tests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: dict[str, str] | None = Field(
        default=None, description="path -> text of the files before the change."
    )
    repo: str | None = Field(
        default=None, description="asset:<sha256> of a tar (optionally compressed) snapshot."
    )
    oracle_patch: str | None = Field(
        default=None, description="The gold change as a unified diff against the snapshot."
    )
    oracle_files: dict[str, str] | None = Field(
        default=None,
        description="The gold change as path -> new text (SWE-RL's oracle_new_content).",
    )
    test_command: str | None = Field(
        default=None,
        description="execution: `python -m unittest [args]` (default) or `python -m pytest`.",
    )
    test_patch: str | None = Field(
        default=None,
        description="execution: a unified diff adding the tests, applied after the "
        "response's edits (SWE-bench's test_patch).",
    )
    fail_to_pass: tuple[str, ...] = Field(
        default=(), description="execution: tests the change must make pass."
    )
    pass_to_pass: tuple[str, ...] = Field(
        default=(), description="execution: tests that must keep passing."
    )

    @field_validator("repo")
    @classmethod
    def _asset(cls, value: str | None) -> str | None:
        if value is not None:
            from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore

            if not value.startswith(ASSET_PREFIX):
                raise ValueError("must be asset:<sha256> (upload the tarball to /v1/assets)")
            AssetStore.check_sha(value[len(ASSET_PREFIX) :])
        return value

    @field_validator("test_command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None:
            test_command(value)
        return value

    @field_validator("test_patch")
    @classmethod
    def _test_patch(cls, value: str | None) -> str | None:
        if value is not None:
            from rewardgate.verifiers.patch.diffs import parse_diff
            from rewardgate.verifiers.patch.edits import EditError

            try:
                if not parse_diff(value):
                    raise ValueError("no file patch in it")
            except EditError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("fail_to_pass", "pass_to_pass")
    @classmethod
    def _ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not test.strip() or test.startswith("-") for test in value):
            raise ValueError("test ids must be non-empty and not options")
        return value

    @model_validator(mode="after")
    def _one_snapshot(self) -> PatchReference:
        if (self.files is None) == (self.repo is None):
            raise ValueError("give exactly one of files (inline) and repo (asset tarball)")
        if self.oracle_patch is not None and self.oracle_files is not None:
            raise ValueError("give at most one of oracle_patch and oracle_files")
        for name in (self.files or {}, self.oracle_files or {}):
            if sum(len(text) for text in name.values()) > MAX_FILES_CHARS:
                raise ValueError(f"inline files over {MAX_FILES_CHARS} characters")
        return self


class PatchOptions(VerifierOptions):
    mode: Literal["similarity", "execution"] = Field(
        default="similarity",
        description="similarity: SWE-RL's patch similarity; execution: run the tests.",
    )
    response_format: Literal["swe_rl", "plain"] = Field(
        default="swe_rl",
        description="swe_rl: <think>..</think><solution>..</solution> once each, as "
        "SWE-RL requires; plain: the whole response holds the edits.",
    )
    edit_format: Literal["search_replace", "unified_diff", "auto"] = Field(
        default="search_replace",
        description="search_replace (SWE-RL's blocks), unified_diff, or auto (blocks, "
        "else a diff).",
    )
    protected_paths: tuple[str, ...] | None = Field(
        default=None,
        description="Globs a patch may not edit; default: the tests in execution mode, "
        "none in similarity mode (SWE-RL scores every path).",
    )
    max_response_chars: int = Field(
        default=1_000_000, ge=1, description="A longer response is refused (reward -1)."
    )
    max_diff_chars: int = Field(
        default=30_000,
        ge=1,
        description="A produced diff longer than this is refused (reward -1): difflib's "
        "ratio costs about the product of the two diffs' lengths.",
    )
    time_limit_s: float = Field(default=30.0, gt=0, le=600, description="Wall time per test.")
    memory_mb: int = Field(default=1024, ge=64, le=16384, description="Memory per test run.")
    reward: Literal["resolved", "fraction"] = Field(
        default="resolved",
        description="execution: resolved (1 when every named test passes, else 0) or "
        "the fraction of tests passed.",
    )
    backend: str = Field(default="bwrap", description="Sandbox backend (execution mode).")
