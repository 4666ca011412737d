"""SWE-RL's similarity: per-file normalised diffs compared with difflib, then averaged.

Both patches are rewritten the same way before comparing, so two edits that change a
file identically score 1 whatever their original form: each touched file's diff is
regenerated from its old and new text by `difflib.unified_diff` on `splitlines()`
(3 lines of context, no `---`/`+++` header). A file's score is
`SequenceMatcher(None, pred, oracle, autojunk=False).ratio()`, 0 when only one side
changed it; the reward is the mean over the files either side changed, 1 when neither
changed any.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

__all__ = ["FileSimilarity", "normalized_diff", "normalized_patch", "similarity"]

FileSimilarity = dict[str, object]


def normalized_diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile="old", tofile="new", lineterm="", n=3
    )
    body = list(lines)[2:]
    return "\n".join(body)


def normalized_patch(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Path -> normalised diff for the paths of `new` whose text changed."""
    patch: dict[str, str] = {}
    for path, text in new.items():
        diff = normalized_diff(old.get(path, ""), text)
        if diff:
            patch[path] = diff
    return patch


def similarity(
    pred: Mapping[str, str], oracle: Mapping[str, str]
) -> tuple[float, list[FileSimilarity]]:
    """The mean per-file ratio and each file's parts, files in sorted order.

    SWE-RL sums over a set of paths, whose order (and so the last bit of a sum of three
    or more ratios) follows Python's string hashing; sorted order is this one's.
    """
    files: list[FileSimilarity] = []
    ratios: list[float] = []
    for path in sorted(set(pred) | set(oracle)):
        mine, theirs = pred.get(path, ""), oracle.get(path, "")
        ratio = 0.0
        if mine and theirs:
            ratio = difflib.SequenceMatcher(None, mine, theirs, autojunk=False).ratio()
        ratios.append(ratio)
        files.append({"path": path, "similarity": ratio, "in_oracle": bool(theirs)})
    if not files:
        return 1.0, files
    return sum(ratios) / len(ratios), files
