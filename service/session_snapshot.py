"""A snapshot of a live session's files, read through its kernel, and its changes to a
base repository as a unified diff (for `service/session_rewards.py`).

The kernel is the agent's own interpreter, so what it answers is untrusted: it chooses
nothing the agent could not have written into its files anyway, and the reading is
bounded (MAX_FILES, MAX_BYTES, READ_BYTES a file, BATCH_FILES a call, the session's call
timeout). A file that grew past the bounds between the listing and the read is left
out and named, never read whole.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from rewardgate.service.sessions import READ_BYTES, READ_PER_CALL, SessionManager

__all__ = [
    "SKIPPED_DIRS",
    "Snapshot",
    "read_snapshot",
    "session_diff",
    "text_of",
    "unchanged_diff",
]

MAX_FILES = 5000  # a patch item's session files read at most
MAX_BYTES = 64 << 20  # all of them together
BATCH_BYTES = 8 << 20  # one read call's files together, as listed
# Files a read call at most (as the manager reads them): a file may grow between the
# listing and the read, so the bytes read are counted after each call.
BATCH_FILES = READ_PER_CALL
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".ipynb_checkpoints"}
)


@dataclass
class Snapshot:
    """What was read of a session: file bytes, what was left out and why, a digest."""

    files: dict[str, bytes] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for path in sorted(self.files):
            h.update(orjson.dumps([path, hashlib.sha256(self.files[path]).hexdigest()]))
        return "sha256:" + h.hexdigest()


def read_snapshot(
    manager: SessionManager, session_id: str, owner: str | None, only: str | None = None
) -> Snapshot:
    """The session's files now (just `only` when given), within MAX_FILES / MAX_BYTES."""
    snapshot = Snapshot()
    sizes: dict[str, int] = {}
    if only is not None:
        sizes[only] = 0
    else:
        total = 0
        for entry in manager.files(session_id, owner):
            path, size = str(entry.get("path", "")), int(entry.get("bytes", 0))
            if any(part in SKIPPED_DIRS for part in path.split("/")) or path.endswith(".pyc"):
                continue
            if size > READ_BYTES:
                snapshot.skipped[path] = f"over {READ_BYTES >> 20} MiB"
            elif len(sizes) >= MAX_FILES or total + size > MAX_BYTES:
                snapshot.skipped[path] = "past the snapshot's bounds"
            else:
                sizes[path] = size
                total += size
    batch: list[str] = []
    batch_bytes = 0
    for path, size in sizes.items():
        if batch and (len(batch) >= BATCH_FILES or batch_bytes + size > BATCH_BYTES):
            _read_into(snapshot, manager, session_id, owner, batch)
            batch, batch_bytes = [], 0
        batch.append(path)
        batch_bytes += size
    if batch:
        _read_into(snapshot, manager, session_id, owner, batch)
    return snapshot


def _read_into(
    snapshot: Snapshot,
    manager: SessionManager,
    session_id: str,
    owner: str | None,
    paths: list[str],
) -> None:
    read = sum(map(len, snapshot.files.values()))
    for path, data in manager.read(session_id, paths, owner).items():
        if data is not None and read + len(data) * 3 // 4 > MAX_BYTES:
            snapshot.skipped[path] = "past the snapshot's bounds (it grew while read)"
        elif data is None:
            snapshot.skipped[path] = (
                f"unreadable (absent, not a file, or over {READ_BYTES >> 20} MiB)"
            )
        else:
            snapshot.files[path] = base64.b64decode(data)
            read += len(snapshot.files[path])


def text_of(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _file_diff(path: str, old: str | None, new: str | None) -> str:
    """One file's unified diff (`diff -u`'s dialect, with its no-newline marker)."""
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = (new or "").splitlines(keepends=True)
    lines = difflib.unified_diff(
        old_lines,
        new_lines,
        "/dev/null" if old is None else f"a/{path}",
        "/dev/null" if new is None else f"b/{path}",
        n=3,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def session_diff(
    base: dict[str, str], snapshot: Snapshot, untouched: set[str]
) -> tuple[str, list[str]]:
    """The session's changes to `base` (path -> text) as one unified diff, and the
    changed paths.

    Files the snapshot left out, files named in `untouched` (the base's binary files
    and links) and files that are not UTF-8 text are not changes: what the tests see
    of them is the base's. A base file absent from the session is deleted.
    """
    diffs, changed = [], []
    for path in sorted(set(base) | set(snapshot.files)):
        if path in untouched or path in snapshot.skipped:
            continue
        if path not in snapshot.files:
            diffs.append(_file_diff(path, base[path], None))
            changed.append(path)
            continue
        new = text_of(snapshot.files[path])
        if new is None:
            snapshot.skipped[path] = "not UTF-8 text"
            continue
        old = base.get(path)
        if old != new:
            diffs.append(_file_diff(path, old, new))
            changed.append(path)
    return "".join(diffs), changed


def unchanged_diff(base: dict[str, str], options: Any) -> str:
    """A diff that changes nothing, so an untouched session still runs the tests on the
    base as it is (the patch verifier scores an empty response -1, a missing patch);
    empty when every text file is protected or empty."""
    from rewardgate.verifiers.patch.models import DEFAULT_TEST_PATTERNS
    from rewardgate.verifiers.patch.snapshot import protected

    patterns = options.protected_paths
    patterns = DEFAULT_TEST_PATTERNS if patterns is None else patterns
    for path in sorted(base):
        first = base[path].split("\n", 1)[0]
        if first and "\n" in base[path] and protected(path, patterns) is None:
            return f"--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,1 @@\n {first}\n"
    return ""
