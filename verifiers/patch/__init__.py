"""The `patch` verifier: SWE-RL's patch-similarity reward and an execution reward.

The response holds code edits, SWE-RL's search/replace blocks (or, on request, a
unified diff); the reference holds the files before the change (inline `files`, or a
`repo` tarball asset) and the gold change (`oracle_patch`, a unified diff, or
`oracle_files`, the new texts as SWE-RL's data gives them).

- `mode: similarity` (the default) is SWE-RL's reward: -1 when the response's layout
  is wrong or an edit does not apply, else the mean over the changed files of
  `difflib.SequenceMatcher` between the produced and the oracle change, both as
  normalised diffs (`similarity.py`). Checked value for value against SWE-RL's code.
- `mode: execution` applies the edits and runs the repository's tests in the sandbox
  (`execution.py`): FAIL_TO_PASS and PASS_TO_PASS steps, reward 1 when all pass.

Edits that reach outside the repository (absolute paths, `..`, the `.git` folder),
touch a link, a binary file or a protected test path, or that come as a binary or
oversized patch are refused with reward -1 and the reason in `details`.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.patch.diffs import apply_file_patches, looks_like_diff, parse_diff
from rewardgate.verifiers.patch.edits import (
    EditError,
    apply_search_replace,
    grouped,
    parse_blocks,
    split_response,
)
from rewardgate.verifiers.patch.models import DEFAULT_TEST_PATTERNS, PatchOptions, PatchReference
from rewardgate.verifiers.patch.similarity import normalized_patch, similarity
from rewardgate.verifiers.patch.snapshot import Snapshot, load_snapshot, path_problem, protected
from rewardgate.verifiers.sandboxed import SANDBOX_TOOLCHAINS, backend_identity, backend_name

__all__ = ["PatchOptions", "PatchReference", "PatchVerifier"]

DIFF_CAP = 20_000  # characters of the produced diff kept in details
ORACLE_CACHE = 256  # gold diffs kept per worker process (see `oracle_patch`)
_ORACLE_PATCHES: dict[str, dict[str, str]] = {}


class Edited:
    """The response's edits applied: new texts, deleted paths and where each applied."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.applied: list[dict[str, object]] = []
        self.form = ""


_OLD = "def half(x):\n    return x / 2\n"
_EDIT = (
    "<think>\nhalve with floor division\n</think>\n<solution>\n```python\n### m.py\n"
    "<<<<<<< SEARCH\n    return x / 2\n=======\n    return x // 2\n>>>>>>> REPLACE\n"
    "```\n</solution>"
)
_GOLD = {"files": {"m.py": _OLD}, "oracle_files": {"m.py": _OLD.replace("/", "//")}}


class PatchVerifier(Verifier[PatchReference, PatchOptions]):
    name = "patch"
    version = "1"
    description = (
        "Code edits against a repository snapshot: SWE-RL's patch similarity (search/replace "
        "blocks or unified diffs; -1 when they do not parse or apply), or the repository's "
        "tests run in the sandbox (FAIL_TO_PASS / PASS_TO_PASS)."
    )
    Reference: ClassVar[type[BaseModel]] = PatchReference
    Options: ClassVar[type[VerifierOptions]] = PatchOptions
    lowest_reward = -1.0
    conformance = Conformance(
        full=Case(_EDIT, _GOLD),
        zero=Case(_EDIT.replace("x / 2\n=", "x / 3\n="), _GOLD),  # search text not in m.py
        invalid=Case(_EDIT, {"oracle_files": _GOLD["oracle_files"]}),  # no snapshot
        zero_reward=-1.0,
    )
    source_modules = ("rewardgate.sandbox",)
    judging_debian_packages = SANDBOX_TOOLCHAINS

    def prepare(self, reference: Any, options: dict[str, Any] | None) -> Prepared[Any, Any]:
        """Similarity needs an oracle; execution gets the server's sandbox backend."""
        from rewardgate.verifiers.sandboxed import chosen_backend

        prepared = super().prepare(reference, options)
        ref, opts = prepared.reference, prepared.options
        if opts.mode == "similarity" and ref.oracle_patch is None and ref.oracle_files is None:
            raise InvalidRequest("reference.oracle_patch: required in similarity mode")
        if opts.mode == "execution":
            opts = chosen_backend(opts, self.env)
        return Prepared(ref, opts)

    def fingerprint_for(self, reference: PatchReference, options: PatchOptions) -> str:
        if options.mode != "execution":
            return self.fingerprint(None)
        return self.fingerprint(backend_name(options, self.env))

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        return backend_identity(backend, self.env)

    def budget_s(self, reference: PatchReference, options: PatchOptions, default_s: float) -> float:
        if options.timeout_s or options.mode != "execution":
            return options.timeout_s or default_s
        from rewardgate.verifiers.patch.execution import STARTUP_S, test_plan

        runs = len(test_plan(reference))
        return max(default_s, runs * (options.time_limit_s + STARTUP_S + 2) + 10)

    def judge(self, response: str, reference: PatchReference, options: PatchOptions) -> Verdict:
        snapshot = load_snapshot(reference.files, reference.repo, self.env.asset_dir)
        # The gold change first: an oracle that does not apply is the request's fault
        # (`invalid`) whatever the response is.
        oracle = self.oracle_patch(reference, snapshot) if options.mode == "similarity" else {}
        details: dict[str, Any] = {"mode": options.mode}
        try:
            edited = self.edits(response, snapshot, options)
        except EditError as exc:
            details["reason"] = str(exc)
            return Verdict(-1.0, details=details)
        new_texts = {**edited.texts, **{path: "" for path in edited.deleted}}
        produced = normalized_patch(snapshot.files, new_texts)
        details.update(format=edited.form, applied=edited.applied)
        size = sum(len(diff) for diff in produced.values())
        if options.mode == "similarity" and size > options.max_diff_chars:
            details["reason"] = f"refused: the diff has {size} characters, over max_diff_chars"
            return Verdict(-1.0, details=details)
        details["diff"] = _capped(
            "\n".join(f"--- a/{path}\n+++ b/{path}\n{diff}" for path, diff in produced.items())
        )
        if options.mode == "execution":
            return self._execute(snapshot, edited, reference, options, details)
        reward, files = similarity(produced, oracle)
        details.update(similarity=reward, files=files)
        return Verdict(reward, details=details)

    def oracle_patch(self, reference: PatchReference, snapshot: Snapshot) -> dict[str, str]:
        """The gold change's normalised diffs, memoised: the samples of one prompt (a GRPO
        group) share their reference, and the diff of a large file is most of the work."""
        oracle = self.oracle(reference, snapshot)
        key = hashlib.sha256()
        for path in sorted(oracle):
            for text in (path, snapshot.files.get(path, ""), oracle[path]):
                key.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
        digest = key.hexdigest()
        if digest not in _ORACLE_PATCHES:
            if len(_ORACLE_PATCHES) >= ORACLE_CACHE:
                _ORACLE_PATCHES.pop(next(iter(_ORACLE_PATCHES)))
            _ORACLE_PATCHES[digest] = normalized_patch(snapshot.files, oracle)
        return _ORACLE_PATCHES[digest]

    def oracle(self, reference: PatchReference, snapshot: Snapshot) -> dict[str, str]:
        """Path -> text after the gold change; an oracle that does not apply is invalid."""
        if reference.oracle_files is not None:
            return dict(reference.oracle_files)
        try:
            patches = parse_diff(reference.oracle_patch or "")
            texts, deleted, _ = apply_file_patches(snapshot.files, patches)
        except EditError as exc:
            raise InvalidRequest(f"reference.oracle_patch: {exc}") from None
        return {**texts, **{path: "" for path in deleted}}

    def edits(self, response: str, snapshot: Snapshot, options: PatchOptions) -> Edited:
        """The response's edits, checked and applied; `EditError` says why not."""
        if len(response) > options.max_response_chars:
            raise EditError(f"response over {options.max_response_chars} characters")
        text = response
        if options.response_format == "swe_rl":
            _, text = split_response(response)
        edited = Edited()
        blocks = parse_blocks(text) if options.edit_format != "unified_diff" else []
        if blocks:
            by_path = grouped(blocks)
            for path in by_path:
                self.check_path(path, snapshot, options)
            for path, edits in by_path.items():
                new, applied = apply_search_replace(snapshot.files.get(path, ""), edits)
                edited.texts[path] = new
                edited.applied += applied
            edited.form = "search_replace"
            return edited
        if options.edit_format == "search_replace" or not looks_like_diff(text):
            raise EditError(
                "No valid search blocks found"
                if options.edit_format == "search_replace"
                else "no search/replace blocks or unified diff found"
            )
        patches = parse_diff(text)
        if not patches:
            raise EditError("no file patch found in the diff")
        for patch in patches:
            for path in (patch.old_path, patch.new_path):
                if path is not None:
                    self.check_path(path, snapshot, options)
        edited.texts, edited.deleted, edited.applied = apply_file_patches(snapshot.files, patches)
        edited.form = "unified_diff"
        return edited

    def check_path(self, path: str, snapshot: Snapshot, options: PatchOptions) -> None:
        problem = path_problem(path) or snapshot.untouchable.get(path) or snapshot.under_link(path)
        if problem is None and options.mode == "execution":
            problem = snapshot.tree_conflict(path)
        if problem is not None:
            raise EditError(f"refused: {problem}")
        patterns = options.protected_paths
        if patterns is None:
            patterns = DEFAULT_TEST_PATTERNS if options.mode == "execution" else ()
        pattern = protected(path, patterns)
        if pattern is not None:
            raise EditError(f"refused: {path[:200]!r} is a protected path ({pattern})")

    def _execute(
        self,
        snapshot: Snapshot,
        edited: Edited,
        reference: PatchReference,
        options: PatchOptions,
        details: dict[str, Any],
    ) -> Verdict:
        from rewardgate.verifiers.patch.execution import run_tests
        from rewardgate.verifiers.sandboxed import configure_docker

        configure_docker(self.env)
        texts = {**snapshot.files, **edited.texts}
        for path in edited.deleted:
            texts.pop(path, None)
        if reference.test_patch is not None:
            try:
                added, removed, _ = apply_file_patches(texts, parse_diff(reference.test_patch))
            except EditError as exc:
                raise InvalidRequest(f"reference.test_patch: {exc}") from None
            texts.update(added)
            for path in removed:
                texts.pop(path, None)
        tree: dict[str, str | bytes] = {**snapshot.blobs, **texts}
        steps = run_tests(tree, reference, options, self.env)
        passed = sum(step.reward for step in steps)
        details["passed"] = int(passed)
        details["tests"] = len(steps)
        if options.reward == "fraction":
            return Verdict(passed / len(steps), steps=steps, details=details)
        return Verdict(float(passed == len(steps)), steps=steps, details=details)


def _capped(text: str) -> str:
    if len(text) <= DIFF_CAP:
        return text
    return text[:DIFF_CAP] + f"\n... ({len(text) - DIFF_CAP} more characters)"
