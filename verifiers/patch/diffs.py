"""Unified diffs: read them (git's and diff -u's dialects) and apply them to file texts.

Used for the reference's `oracle_patch` and for responses written as diffs. A hunk
applies where its old lines match exactly: at the line its header names, else at the
nearest offset after the previous hunk (as `patch` does with no fuzz). Anything else,
and binary patches, is an `EditError`: the response scores -1 (the oracle's is the
request's fault and the verifier reports it `invalid`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rewardgate.verifiers.patch.edits import EditError

__all__ = ["FilePatch", "Hunk", "apply_file_patches", "looks_like_diff", "parse_diff"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_EOL = "\\ No newline at end of file"
DEV_NULL = "/dev/null"


@dataclass
class Hunk:
    old_start: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    old_no_eol: bool = False
    new_no_eol: bool = False


@dataclass
class FilePatch:
    """One file's change; `old_path` / `new_path` is None for a created / deleted file."""

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def looks_like_diff(text: str) -> bool:
    return bool(re.search(r"^--- .*\n\+\+\+ .*\n@@ ", text, re.MULTILINE)) or (
        "diff --git " in text
    )


def _strip_name(raw: str) -> str:
    name = raw.split("\t", 1)[0].rstrip("\r")
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return name


def _pair(old: str, new: str) -> tuple[str | None, str | None]:
    """Paths without git's a/ and b/ prefixes; None for /dev/null."""
    strip_a = old == DEV_NULL or old.startswith("a/")
    strip_b = new == DEV_NULL or new.startswith("b/")
    if strip_a and strip_b:
        old = old[2:] if old.startswith("a/") else old
        new = new[2:] if new.startswith("b/") else new
    return (None if old == DEV_NULL else old), (None if new == DEV_NULL else new)


def parse_diff(text: str) -> list[FilePatch]:
    """The file patches of `text`, ignoring prose and fences around them."""
    lines = text.split("\n")
    patches: list[FilePatch] = []
    rename: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("GIT binary patch") or (
            line.startswith("Binary files ") and line.rstrip("\r").endswith(" differ")
        ):
            raise EditError("binary patches are not supported")
        if line.startswith("diff --git "):
            rename = {}
        elif line.startswith(("rename from ", "rename to ")):
            key, _, name = line.partition(" ")[2].partition(" ")
            rename[key] = _strip_name(name)
            if "from" in rename and "to" in rename and not _next_is_header(lines, i + 1):
                patches.append(FilePatch(rename["from"], rename["to"]))
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            old, new = _pair(_strip_name(line[4:]), _strip_name(lines[i + 1][4:]))
            patch = FilePatch(old, new)
            i += 2
            while i < len(lines) and (header := _HUNK.match(lines[i])):
                hunk, i = _read_hunk(lines, i, header)
                patch.hunks.append(hunk)
            if not patch.hunks:
                raise EditError(f"no hunks for {patch.path}")
            patches.append(patch)
            continue
        i += 1
    return patches


def _next_is_header(lines: list[str], i: int) -> bool:
    return i < len(lines) and lines[i].startswith("--- ")


def _read_hunk(lines: list[str], i: int, header: re.Match[str]) -> tuple[Hunk, int]:
    old_left = int(header[2]) if header[2] is not None else 1
    new_left = int(header[4]) if header[4] is not None else 1
    hunk = Hunk(old_start=int(header[1]))
    i += 1
    last = ""
    while i < len(lines) and (old_left > 0 or new_left > 0):
        line = lines[i]
        if line.startswith("\\"):
            _mark_no_eol(hunk, last)
            i += 1
            continue
        kind, body = (line[:1], line[1:]) if line else (" ", "")
        if kind == " " and old_left > 0 and new_left > 0:
            hunk.old.append(body)
            hunk.new.append(body)
            old_left, new_left = old_left - 1, new_left - 1
        elif kind == "-" and old_left > 0:
            hunk.old.append(body)
            old_left -= 1
        elif kind == "+" and new_left > 0:
            hunk.new.append(body)
            new_left -= 1
        else:
            raise EditError(f"malformed hunk line {line[:80]!r}")
        last = kind
        i += 1
    if old_left or new_left:
        raise EditError("hunk ends before its line counts")
    if i < len(lines) and lines[i].startswith("\\"):
        _mark_no_eol(hunk, last)
        i += 1
    return hunk, i


def _mark_no_eol(hunk: Hunk, kind: str) -> None:
    if kind in (" ", "-"):
        hunk.old_no_eol = True
    if kind in (" ", "+"):
        hunk.new_no_eol = True


def _lines(text: str) -> tuple[list[str], bool]:
    if text == "":
        return [], True
    parts = text.split("\n")
    if parts[-1] == "":
        return parts[:-1], True
    return parts, False


def _apply_one(text: str, patch: FilePatch) -> tuple[str, list[int]]:
    """The patched text and the 1-based line where each hunk applied."""
    lines, eol = _lines(text)
    floor = 0
    where = []
    for number, hunk in enumerate(patch.hunks):
        want = hunk.old_start - 1 if hunk.old else hunk.old_start
        at = _find(lines, hunk.old, max(want, floor), floor)
        if at is None:
            raise EditError(f"hunk {number + 1} of {patch.path} does not apply")
        where.append(at + 1)
        reaches_end = at + len(hunk.old) == len(lines)
        lines[at : at + len(hunk.old)] = hunk.new
        floor = at + len(hunk.new)
        if reaches_end:
            eol = not hunk.new_no_eol
    return "\n".join(lines) + ("\n" if eol and lines else ""), where


def _find(lines: list[str], old: list[str], want: int, floor: int) -> int | None:
    size = len(old)
    for offset in range(len(lines) + 1):
        for at in (want - offset, want + offset) if offset else (want,):
            if floor <= at <= len(lines) - size and lines[at : at + size] == old:
                return at
        if want - offset < floor and want + offset > len(lines) - size:
            return None
    return None


def apply_file_patches(
    files: dict[str, str], patches: list[FilePatch]
) -> tuple[dict[str, str], set[str], list[dict[str, object]]]:
    """(new texts of the touched paths, deleted paths, where each hunk applied).

    `files` is path -> text of the snapshot; a patch of a path it lacks is an error
    unless it creates the file. A path patched twice sees the first patch's result.
    """
    current: dict[str, str | None] = {}
    applied: list[dict[str, object]] = []
    for patch in patches:
        if patch.old_path is None:
            old = ""
        else:
            known = current.get(patch.old_path, files.get(patch.old_path))
            if known is None:
                raise EditError(f"{patch.old_path}: no such file in the repository")
            old = known
        new, where = _apply_one(old, patch) if patch.hunks else (old, [])
        applied.append({"path": patch.path, "hunk_lines": where})
        if patch.old_path is not None and patch.old_path != patch.new_path:
            current[patch.old_path] = None
        if patch.new_path is not None:
            current[patch.new_path] = new
    texts = {path: text for path, text in current.items() if text is not None}
    deleted = {path for path, text in current.items() if text is None}
    return texts, deleted, applied
