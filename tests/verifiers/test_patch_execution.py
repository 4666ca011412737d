"""Execution reward: a tiny real package with unittest tests, patched and tested in the
sandbox. The sandbox's Python (the host's /usr/bin/python3 under bwrap, the image's under
docker) has no pytest, so the package's tests are unittest's; a pytest command there is
an `error` (the environment lacks it), never a reward."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.patch import PatchVerifier
from tests.verifiers.test_patch_hostile import stored_tar

IMAGE = os.environ.get("REWARDGATE_DOCKER_IMAGE", "rewardgate/sandbox:latest")
CALC = "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return a / b\n"
TESTS = """import unittest

from calc import add, divide


class TestCalc(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_divide_by_zero(self):
        with self.assertRaises(ValueError):
            divide(1, 0)
"""
REPO = {"calc/__init__.py": CALC, "tests/__init__.py": "", "tests/test_calc.py": TESTS}
F2P = "tests.test_calc.TestCalc.test_divide_by_zero"
P2P = "tests.test_calc.TestCalc.test_add"
REFERENCE: dict[str, Any] = {
    "files": REPO,
    "test_command": "python -m unittest",
    "fail_to_pass": [F2P],
    "pass_to_pass": [P2P],
}


def block(path: str, search: str, replace: str) -> str:
    return (
        f"```python\n### {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"
    )


def answer(*blocks: str) -> str:
    return "<think>\nfix divide\n</think>\n<solution>\n" + "\n".join(blocks) + "\n</solution>"


RIGHT = answer(
    block(
        "calc/__init__.py",
        "def divide(a, b):\n    return a / b",
        "def divide(a, b):\n    if b == 0:\n"
        "        raise ValueError('b is zero')\n    return a / b",
    )
)
WRONG = answer(block("calc/__init__.py", "    return a + b", "    return a + b + 0"))
BREAKS_ADD = answer(
    block(
        "calc/__init__.py",
        "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return a / b",
        "def add(a, b):\n    return a - b\n\n\ndef divide(a, b):\n"
        "    if b == 0:\n        raise ValueError('b is zero')\n    return a / b",
    )
)
EXITS_EARLY = answer(
    block("calc/__init__.py", "def add(a, b):", "import os\nos._exit(0)\n\ndef add(a, b):")
)
SYS_EXIT = answer(
    block("calc/__init__.py", "def add(a, b):", "import sys\nsys.exit(0)\n\ndef add(a, b):")
)
DELETES_TESTS = (
    "<think>\nno tests, no failures\n</think>\n<solution>\n```diff\n"
    "--- a/tests/test_calc.py\n+++ /dev/null\n@@ -1,12 +0,0 @@\n"
    + "".join("-" + line + "\n" for line in TESTS.splitlines())
    + "```\n</solution>"
)


def score(
    response: str,
    reference: dict[str, Any] | None = None,
    env: VerifierEnv | None = None,
    **options: Any,
) -> RewardResult:
    request = RewardRequest(
        verifier="patch",
        response=response,
        reference=reference or REFERENCE,
        options={"mode": "execution", "edit_format": "auto", "time_limit_s": 20, **options},
    )
    return PatchVerifier(env or VerifierEnv()).verify(request)


def outcomes(result: RewardResult) -> list[tuple[str | None, str]]:
    return [(step.label, step.details["outcome"]) for step in result.steps or []]


def test_the_right_patch_passes_every_test() -> None:
    result = score(RIGHT)
    assert (result.status, result.reward) == ("ok", 1.0), result
    assert outcomes(result) == [("FAIL_TO_PASS", "passed"), ("PASS_TO_PASS", "passed")]


def test_a_wrong_patch_fails_the_fail_to_pass_test() -> None:
    result = score(WRONG)
    assert (result.status, result.reward) == ("ok", 0.0), result
    assert outcomes(result) == [("FAIL_TO_PASS", "failed"), ("PASS_TO_PASS", "passed")]


def test_a_patch_that_breaks_a_passing_test_is_not_resolved_fraction_counts_it() -> None:
    assert score(BREAKS_ADD).reward == 0.0
    result = score(BREAKS_ADD, reward="fraction")
    assert result.reward == 0.5
    assert outcomes(result) == [("FAIL_TO_PASS", "passed"), ("PASS_TO_PASS", "failed")]


@pytest.mark.parametrize("response", [EXITS_EARLY, SYS_EXIT], ids=["os_exit", "sys_exit"])
def test_exiting_the_test_process_early_does_not_pass(response: str) -> None:
    result = score(response)
    assert (result.status, result.reward) == ("ok", 0.0), result
    assert all(step.reward == 0.0 for step in result.steps or [])


def test_a_patch_deleting_the_tests_is_refused() -> None:
    result = score(DELETES_TESTS)
    assert (result.status, result.reward) == ("ok", -1.0), result
    assert "protected path" in result.details["reason"]


def test_deleted_tests_do_not_pass_even_unprotected() -> None:
    result = score(DELETES_TESTS, protected_paths=[])
    assert (result.status, result.reward) == ("ok", 0.0), result
    assert result.details["format"] == "unified_diff"
    assert outcomes(result) == [("FAIL_TO_PASS", "failed"), ("PASS_TO_PASS", "failed")]


def test_without_named_tests_the_whole_suite_is_one_step() -> None:
    reference = {"files": REPO, "test_command": "python -m unittest discover -s tests -t ."}
    assert outcomes(score(RIGHT, reference)) == [("TESTS", "passed")]
    assert outcomes(score(WRONG, reference)) == [("TESTS", "failed")]


def test_an_unappliable_patch_is_minus_one_without_running() -> None:
    result = score(answer(block("calc/__init__.py", "def nothing():", "def something():")))
    assert (result.reward, result.steps) == (-1.0, None)


def test_a_pytest_command_runs_the_tests_with_pytest() -> None:
    """The sandbox's Python has Debian's pytest (the code verifier's `pytest` language):
    test ids are then pytest's node ids."""
    reference = {
        **REFERENCE,
        "test_command": "python -m pytest",
        "fail_to_pass": ["tests/test_calc.py::TestCalc::test_divide_by_zero"],
        "pass_to_pass": ["tests/test_calc.py::TestCalc::test_add"],
    }
    assert outcomes(score(RIGHT, reference)) == [
        ("FAIL_TO_PASS", "passed"),
        ("PASS_TO_PASS", "passed"),
    ]
    assert score(RIGHT, {**reference, "test_command": "pytest"}).reward == 1.0
    wrong = score(WRONG, reference)
    assert wrong.reward == 0.0
    assert outcomes(wrong)[0] == ("FAIL_TO_PASS", "failed")


def test_a_snapshot_tarball_runs_and_its_symlinks_are_untouchable(tmp_path: Path) -> None:
    members = {name: text.encode() for name, text in REPO.items()}
    repo = stored_tar(tmp_path, members, {"calc/evil.py": "/etc/passwd"}, mode="w:gz")
    env = VerifierEnv(asset_dir=tmp_path)
    reference = {**REFERENCE, "repo": repo}
    reference.pop("files")
    assert score(RIGHT, reference, env).reward == 1.0
    through_link = answer(block("calc/evil.py", "", "x = 1"))
    result = score(through_link, reference, env)
    assert result.reward == -1.0
    assert "a link in the snapshot" in result.details["reason"]


def test_the_right_patch_passes_on_docker() -> None:
    env = VerifierEnv(config={"docker_sandbox": {"image": IMAGE}})
    result = score(RIGHT, env=env, backend="docker")
    assert (result.status, result.reward) == ("ok", 1.0), result
    assert outcomes(score(WRONG, env=env, backend="docker"))[0] == ("FAIL_TO_PASS", "failed")


def test_the_tests_can_come_as_a_test_patch_applied_after_the_edits() -> None:
    # SWE-bench's layout: the snapshot lacks the new test; the test patch adds it.
    without = TESTS.replace(
        "\n    def test_divide_by_zero(self):\n"
        "        with self.assertRaises(ValueError):\n            divide(1, 0)\n",
        "",
    )
    test_patch = (
        "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -6,3 +6,7 @@\n"
        " class TestCalc(unittest.TestCase):\n     def test_add(self):\n"
        "         self.assertEqual(add(2, 3), 5)\n+\n+    def test_divide_by_zero(self):\n"
        "+        with self.assertRaises(ValueError):\n+            divide(1, 0)\n"
    )
    reference = {**REFERENCE, "files": {**REPO, "tests/test_calc.py": without}}
    reference["test_patch"] = test_patch
    assert outcomes(score(RIGHT, reference)) == [
        ("FAIL_TO_PASS", "passed"),
        ("PASS_TO_PASS", "passed"),
    ]
    assert outcomes(score(WRONG, reference))[0] == ("FAIL_TO_PASS", "failed")
    stale = {**reference, "test_patch": test_patch.replace("add(2, 3), 5", "add(1, 1), 2")}
    with pytest.raises(InvalidRequest, match=r"reference\.test_patch"):
        score(RIGHT, stale)


FAKE_UNITTEST = """class _Result:
    testsRun = 1
    skipped = []

    def wasSuccessful(self):
        return True


class TestCase:
    pass


class TestLoader:
    def loadTestsFromName(self, name):
        return None


class TextTestRunner:
    def __init__(self, **kwargs):
        pass

    def run(self, suite):
        return _Result()
"""


def test_a_patch_shadowing_the_test_framework_is_not_the_judge() -> None:
    # A `unittest.py` at the root that reports success for anything: the runner imports
    # the real one before the repository is on the path, so the tests run as they are.
    fake = answer(block("unittest.py", "", FAKE_UNITTEST))
    result = score(fake)
    assert outcomes(result) == [("FAIL_TO_PASS", "failed"), ("PASS_TO_PASS", "passed")]
