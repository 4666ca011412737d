"""Hostile and malformed input to the patch verifier: refusals are verdicts (-1 with the
reason), malformed requests are `invalid`, and unified diffs apply as `patch` would."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardgate.testing import EngineHarness
from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.patch import PatchVerifier
from rewardgate.verifiers.patch.diffs import apply_file_patches, parse_diff
from rewardgate.verifiers.patch.edits import EditError

OLD = "def f(x):\n    return x + 1\n\n\ndef g(x):\n    return x * 2\n"
NEW = "def f(x):\n    return x - 1\n\n\ndef g(x):\n    return x * 2\n"
ORACLE = (
    "--- a/m.py\n+++ b/m.py\n@@ -1,6 +1,6 @@\n def f(x):\n-    return x + 1\n+    return x - 1\n"
    " \n \n def g(x):\n     return x * 2\n"
)
FILES = {"m.py": OLD, "tests/test_m.py": "from m import f\n"}
REFERENCE = {"files": FILES, "oracle_patch": ORACLE}


def block(path: str, search: str, replace: str) -> str:
    return (
        f"```python\n### {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"
    )


def answer(text: str) -> str:
    return f"<think>\nsee\n</think>\n<solution>\n{text}\n</solution>"


def score(
    response: str, reference: Any = None, env: VerifierEnv | None = None, **options: Any
) -> RewardResult:
    request = RewardRequest(
        verifier="patch",
        response=response,
        reference=REFERENCE if reference is None else reference,
        options=options,
    )
    return PatchVerifier(env or VerifierEnv()).verify(request)


RIGHT = answer(block("m.py", "    return x + 1", "    return x - 1"))


def test_right_edit_scores_one_with_where_it_applied() -> None:
    result = score(RIGHT)
    assert result.reward == 1.0
    assert result.details["applied"] == [{"block": 0, "path": "m.py", "line": 2, "occurrences": 1}]
    assert "-    return x + 1" in result.details["diff"]


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/etc/passwd", "absolute path"),
        ("../outside.py", "escapes the repository"),
        ("pkg/../../outside.py", "escapes the repository"),
        (".git/hooks/pre-commit", "inside .git"),
        ("_rewardgate_patch_runner.py", "reserved for the test runner"),
        ("C:/windows.py", "absolute path"),
        ("a\\..\\b.py", "backslash"),
    ],
)
def test_paths_outside_the_repository_are_refused(path: str, why: str) -> None:
    result = score(answer(block(path, "", "x = 1")))
    assert (result.status, result.reward) == ("ok", -1.0)
    assert why in result.details["reason"]


def test_unified_diff_paths_are_checked_too() -> None:
    diff = "--- a/../evil.py\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+x = 1\n"
    result = score(answer(diff), edit_format="unified_diff")
    assert result.reward == -1.0 and "escapes" in result.details["reason"]


def test_binary_patches_are_refused() -> None:
    diff = (
        "diff --git a/logo.png b/logo.png\nindex 0000..1111 100644\n"
        "GIT binary patch\nliteral 5\nMcmZ?wbhEHbHvk\n"
    )
    result = score(answer(diff), edit_format="auto")
    assert result.reward == -1.0 and "binary" in result.details["reason"]


def test_huge_responses_are_refused() -> None:
    result = score(RIGHT + " " * 2000, max_response_chars=1000)
    assert result.reward == -1.0 and "over 1000 characters" in result.details["reason"]


def test_protected_paths_are_refused_in_similarity_mode_when_asked() -> None:
    edit = answer(block("tests/test_m.py", "from m import f", "from m import f, g"))
    assert score(edit).reward == 0.0  # SWE-RL scores every path: a file the oracle lacks
    result = score(edit, protected_paths=["tests/*"])
    assert result.reward == -1.0 and "protected path" in result.details["reason"]


def stored_tar(
    tmp_path: Path, members: dict[str, bytes], links: dict[str, str], mode: str = "w"
) -> str:
    """`asset:<sha256>` of a tar of `members` (name -> bytes) and symlinks (name -> target);
    `mode` "w:gz" compresses it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            link = tarfile.TarInfo(name)
            link.type = tarfile.SYMTYPE
            link.linkname = target
            archive.addfile(link)
    store = AssetStore(tmp_path, 1 << 20, 1 << 24)
    with store.writer() as writer:
        writer.write(buffer.getvalue())
        return f"asset:{writer.commit()}"


def snapshot_tar(tmp_path: Path) -> tuple[VerifierEnv, str]:
    members = {
        "./m.py": OLD.encode(),
        "../escape.py": b"x = 1\n",
        "/abs.py": b"x = 1\n",
        "blob.bin": b"\xff\xfe\x00binary",
    }
    links = {"link.py": "/etc/passwd"}
    return VerifierEnv(asset_dir=tmp_path), stored_tar(tmp_path, members, links)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("link.py", "a link in the snapshot"),
        ("blob.bin", "a binary file"),
        ("../escape.py", "escapes the repository"),
        ("/abs.py", "absolute path"),
    ],
)
def test_tarball_members_that_are_not_plain_text_are_untouchable(
    tmp_path: Path, path: str, why: str
) -> None:
    env, repo = snapshot_tar(tmp_path)
    reference = {"repo": repo, "oracle_patch": ORACLE}
    assert score(RIGHT, reference, env).reward == 1.0  # `./m.py` is m.py
    result = score(answer(block(path, "x = 1", "x = 2")), reference, env)
    assert (result.status, result.reward) == ("ok", -1.0)
    assert why in result.details["reason"]


def test_a_unified_diff_scores_like_the_same_blocks() -> None:
    assert score(answer(ORACLE), edit_format="unified_diff").reward == 1.0
    assert score(answer(ORACLE), edit_format="auto").reward == 1.0
    # SWE-RL's own layout takes blocks only: a diff there is "no valid search blocks".
    assert score(answer(ORACLE)).details["reason"] == "No valid search blocks found"


def test_a_hunk_found_at_an_offset_applies_and_a_stale_one_does_not() -> None:
    moved = ORACLE.replace("@@ -1,6 +1,6 @@", "@@ -3,6 +3,6 @@")
    result = score(answer(moved), edit_format="unified_diff")
    assert result.reward == 1.0
    assert result.details["applied"] == [{"path": "m.py", "hunk_lines": [1]}]
    stale = ORACLE.replace(" def g(x):", " def h(x):")
    result = score(answer(stale), edit_format="unified_diff")
    assert result.reward == -1.0 and "does not apply" in result.details["reason"]


def test_malformed_diffs_are_minus_one() -> None:
    short = "--- a/m.py\n+++ b/m.py\n@@ -1,6 +1,6 @@\n def f(x):\n-    return x + 1\n"
    assert score(answer(short), edit_format="unified_diff").reward == -1.0
    missing = "--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n"
    result = score(answer(missing), edit_format="unified_diff")
    assert result.reward == -1.0 and "no such file" in result.details["reason"]
    assert score(answer("just prose"), edit_format="auto").reward == -1.0


def test_diff_reader_handles_new_deleted_renamed_and_no_newline_files() -> None:
    text = (
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n"
        "@@ -0,0 +1,2 @@\n+a = 1\n+b = 2\n\\ No newline at end of file\n"
        "diff --git a/m.py b/m.py\ndeleted file mode 100644\n--- a/m.py\n+++ /dev/null\n"
        "@@ -1,6 +0,0 @@\n" + "".join("-" + line + "\n" for line in OLD.splitlines()) + ""
        "diff --git a/tests/test_m.py b/tests/t.py\nsimilarity index 100%\n"
        "rename from tests/test_m.py\nrename to tests/t.py\n"
    )
    texts, deleted, _ = apply_file_patches(FILES, parse_diff(text))
    assert texts == {"new.py": "a = 1\nb = 2", "tests/t.py": "from m import f\n"}
    assert deleted == {"m.py", "tests/test_m.py"}
    with pytest.raises(EditError, match="binary"):
        parse_diff("Binary files a/x.png and b/x.png differ\n")


@pytest.mark.parametrize(
    ("reference", "options", "message"),
    [
        ({"oracle_patch": ORACLE}, {}, "exactly one of files"),
        ({"files": FILES, "repo": "asset:" + "0" * 64, "oracle_patch": ORACLE}, {}, "exactly one"),
        ({"repo": "snap.tar", "oracle_patch": ORACLE}, {}, "asset:<sha256>"),
        ({"files": FILES}, {}, "oracle_patch: required"),
        ({**REFERENCE, "test_command": "make test"}, {"mode": "execution"}, "test commands"),
        ({**REFERENCE, "fail_to_pass": ["--co"]}, {}, "not options"),
        (REFERENCE, {"mode": "fast"}, "options.mode"),
        (REFERENCE, {"colour": "red"}, "options.colour"),
        ({**REFERENCE, "oracle_patch": ORACLE.replace("x + 1", "x + 2")}, {}, "oracle_patch"),
        (
            {**REFERENCE, "oracle_patch": ORACLE.replace("x + 1", "x + 2")},
            {"response_format": "plain", "edit_format": "unified_diff"},
            "does not apply",
        ),
        ({"repo": "asset:" + "0" * 64, "oracle_patch": ORACLE}, {}, "asset"),
        ({**REFERENCE, "test_patch": "no diff here"}, {}, "test_patch: Value error, no file"),
    ],
    ids=[
        "no_snapshot",
        "two_snapshots",
        "repo_not_asset",
        "no_oracle",
        "unsupported_command",
        "option_as_test_id",
        "unknown_mode",
        "unknown_option",
        "oracle_does_not_apply",
        "oracle_does_not_apply_whatever_the_response",
        "asset_missing",
        "test_patch_not_a_diff",
    ],
)
def test_malformed_requests_are_invalid(
    verifier_engine: Callable[..., EngineHarness],
    tmp_path: Path,
    reference: dict[str, Any],
    options: dict[str, Any],
    message: str,
) -> None:
    engine = verifier_engine(PatchVerifier, env=VerifierEnv(asset_dir=tmp_path))
    item = {"verifier": "patch", "response": RIGHT, "reference": reference, "options": options}
    [result] = engine.score([item])
    assert result.status == "invalid", result
    assert message in (result.error or ""), result.error


def test_an_edit_that_would_multiply_a_file_is_refused_before_it_is_built() -> None:
    # An empty search matches at every newline: 7 matches x 4 MiB would be 28 MiB.
    result = score(answer(block("m.py", "", "#" * (4 << 20))), max_response_chars=8 << 20)
    assert result.reward == -1.0 and "would grow past" in result.details["reason"]


def test_a_diff_too_long_to_compare_is_refused_in_similarity_mode() -> None:
    long_edit = answer(block("m.py", "    return x + 1", "    return x - 1\n" + "#\n" * 400))
    result = score(long_edit, max_diff_chars=500)
    assert result.reward == -1.0 and "over max_diff_chars" in result.details["reason"]
    assert 0 < score(long_edit).reward < 1


def test_paths_under_a_linked_folder_are_refused(tmp_path: Path) -> None:
    repo = stored_tar(tmp_path, {"m.py": OLD.encode()}, {"lib": "/usr/lib"})
    reference = {"repo": repo, "oracle_patch": ORACLE}
    result = score(answer(block("lib/evil.py", "", "x = 1")), reference, VerifierEnv(tmp_path))
    assert result.reward == -1.0 and "inside 'lib'" in result.details["reason"]


@pytest.mark.parametrize(
    ("path", "why"),
    [("tests", "a folder in the repository"), ("m.py/x.py", "is a file"), ("a//b.py", "normal")],
)
def test_paths_that_cannot_be_in_the_tests_tree_are_refused_in_execution_mode(
    path: str, why: str
) -> None:
    result = score(answer(block(path, "", "x = 1")), mode="execution", protected_paths=[])
    assert (result.reward, result.steps) == (-1.0, None)
    assert why in result.details["reason"]
