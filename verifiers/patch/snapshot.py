"""The repository snapshot: inline files or an `asset:` tarball, and which paths are safe.

A tarball is read member by member without extracting anything: regular files become
texts; symlinks, hard links, devices and files that are not UTF-8 are remembered by
name as untouchable, so an edit aimed at one is refused (a symlink could point the
sandbox's copy anywhere; a binary file cannot be edited as text). Paths are checked
before any edit: absolute paths, `..` components, and the reserved harness name are
refused as a verdict, never followed.
"""

from __future__ import annotations

import fnmatch
import posixpath
import tarfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["RESERVED", "Snapshot", "load_snapshot", "path_problem", "protected"]

# The trusted test runner's file in the sandbox's work dir (see execution.py).
RESERVED = "_rewardgate_patch_runner.py"
MAX_SNAPSHOT_FILES = 20_000
MAX_SNAPSHOT_BYTES = 256 << 20
# Snapshots read per worker process, by asset name (its content's digest, so never
# stale): the samples of one prompt share their repository, and reading a tarball is
# most of a similarity verdict's cost. Callers never mutate a snapshot.
TARBALL_CACHE = 4
CACHED_SNAPSHOT_CHARS = 32 << 20  # larger snapshots are read again each time
_TARBALLS: dict[str, Snapshot] = {}


@dataclass
class Snapshot:
    files: dict[str, str]
    untouchable: dict[str, str] = field(default_factory=dict)  # path -> why
    blobs: dict[str, bytes] = field(default_factory=dict)  # binary files, run as they are

    @cached_property
    def folders(self) -> frozenset[str]:
        return frozenset(
            posixpath.dirname(name)[:end]
            for name in (*self.files, *self.blobs)
            for end in _slashes(posixpath.dirname(name))
        )

    def under_link(self, path: str) -> str | None:
        """Why `path` may not be written, when a folder above it is an untouchable member."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            above = "/".join(parts[:depth])
            if above in self.untouchable:
                return f"{path[:200]!r} is inside {above!r}: {self.untouchable[above]}"
        return None

    def tree_conflict(self, path: str) -> str | None:
        """Why `path` cannot be a file of the work dir the tests run in, if it cannot."""
        if path != posixpath.normpath(path):
            return f"{path[:200]!r}: not a normal path (the tests' tree would be ambiguous)"
        if path in self.folders:
            return f"{path[:200]!r}: a folder in the repository"
        parts = path.split("/")
        for depth in range(1, len(parts)):
            above = "/".join(parts[:depth])
            if above in self.files or above in self.blobs:
                return f"{path[:200]!r}: {above!r} is a file"
        return None


def _slashes(folder: str) -> list[int]:
    """End offsets of each ancestor of `folder` and of itself ("a/b" -> [1, 3])."""
    if not folder:
        return []
    return [i for i, ch in enumerate(folder) if ch == "/"] + [len(folder)]


def path_problem(path: str) -> str | None:
    """Why an edit may not touch `path`, or None when it is an ordinary repository path."""
    if not path or (path != path.strip() and not path.strip()):
        return "empty path"
    if "\0" in path or "\\" in path:
        return f"{path[:200]!r}: path with a NUL or backslash"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return f"{path[:200]!r}: absolute path"
    if ".." in path.split("/"):
        return f"{path[:200]!r}: path escapes the repository"
    if posixpath.normpath(path) == RESERVED:
        return f"{path[:200]!r}: reserved for the test runner"
    if path.split("/")[0] == ".git":
        return f"{path[:200]!r}: inside .git"
    return None


def protected(path: str, patterns: tuple[str, ...]) -> str | None:
    """The first glob of `patterns` that `path` matches (the tests a patch may not edit)."""
    normal = posixpath.normpath(path)
    for pattern in patterns:
        if fnmatch.fnmatchcase(normal, pattern) or fnmatch.fnmatchcase(
            posixpath.basename(normal), pattern
        ):
            return pattern
    return None


def load_snapshot(
    files: dict[str, str] | None, repo: str | None, asset_dir: Path | None
) -> Snapshot:
    if files is not None:
        return Snapshot(dict(files))
    assert repo is not None
    if asset_dir is None:
        raise InvalidRequest(f"reference.repo: {repo!r} is an asset, but this server has none")
    if repo in _TARBALLS:
        return _TARBALLS[repo]
    snapshot = read_tarball(AssetStore(asset_dir, 1, 1).resolve(repo))
    size = sum(map(len, snapshot.files.values())) + sum(map(len, snapshot.blobs.values()))
    if size <= CACHED_SNAPSHOT_CHARS:
        if len(_TARBALLS) >= TARBALL_CACHE:
            _TARBALLS.pop(next(iter(_TARBALLS)))
        _TARBALLS[repo] = snapshot
    return snapshot


def read_tarball(path: Path) -> Snapshot:
    """Texts of the tarball's regular files; the rest named in `untouchable`."""
    snapshot = Snapshot({})
    total = 0
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = _member_name(member.name)
                if member.isdir() or not name:
                    continue
                if len(snapshot.files) + len(snapshot.untouchable) >= MAX_SNAPSHOT_FILES:
                    raise InvalidRequest(f"reference.repo: more than {MAX_SNAPSHOT_FILES} files")
                problem = path_problem(name)
                if problem is not None:
                    snapshot.untouchable[name] = problem
                elif member.issym() or member.islnk():
                    snapshot.untouchable[name] = f"{name}: a link in the snapshot"
                elif not member.isfile():
                    snapshot.untouchable[name] = f"{name}: not a regular file"
                else:
                    total += member.size
                    if total > MAX_SNAPSHOT_BYTES:
                        raise InvalidRequest("reference.repo: snapshot over 256 MiB")
                    handle = archive.extractfile(member)
                    data = handle.read() if handle is not None else b""
                    try:
                        snapshot.files[name] = data.decode("utf-8")
                    except UnicodeDecodeError:
                        snapshot.untouchable[name] = f"{name}: a binary file"
                        snapshot.blobs[name] = data
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidRequest(f"reference.repo: not a readable tar archive: {exc}") from None
    return snapshot


def _member_name(name: str) -> str:
    """Member names without a leading `./` (tar's own habit)."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")
