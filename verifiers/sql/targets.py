"""From a reference's database name to a `Target`: engine, location, fingerprint.

Names never carry a path or a URL from the request to the engine: a file name is
looked up under the server's `[verifiers.sql] db_dir` (and must stay inside it),
`asset:<sha256>` in the asset store, `pg:<name>` among the PostgreSQL connections the server names.
The fingerprint is the file's SHA-256 (computed once per file version, keyed by its
inode, size, modification and change times; for files over `HASH_LIMIT`, the inode,
size and modification time themselves), so a cached verdict never outlives a changed
database.

A file's `Target` is remembered with the `stat` it was made from: naming the file
again costs one `stat` call while that is unchanged. The gateway resolves each item's
databases twice (prepare, fingerprints) and a worker twice more (prepare, judge); path
parsing, the access check and the digest lookup were a sixth of a Chinook item's cost
(bench/sql_throughput.py). Anything that could change the outcome (content, a
replaced file, permissions, type) changes the `stat`, so the slow path runs again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path, PurePosixPath

from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.sql.engines import EngineName, Target
from rewardgate.verifiers.sql.models import SqlSettings

__all__ = ["PG_PREFIX", "resolve"]

PG_PREFIX = "pg:"
SUFFIXES: dict[str, EngineName] = {
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
    ".duckdb": "duckdb",
}
# Larger files are fingerprinted by inode, size and modification time instead of content,
# so the first request naming a multi-gigabyte database does not stall the gateway.
HASH_LIMIT = 256 * 2**20
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at offset 8 of a DuckDB file

# A file version: path, device, inode, size, modification and change times. A copy
# that keeps size and mtime (`cp -p`, `rsync -t`) is a new inode or a new ctime.
_Version = tuple[str, int, int, int, int, int]
_digests: dict[_Version, str] = {}
# One lock per file version being hashed: the gateway's hook threads resolve a request's
# items together, and a new database named by all of them is hashed once, not per thread.
_hashing: dict[_Version, threading.Lock] = {}
_digest_lock = threading.Lock()

# Resolved files: (db_dir, name) -> (the stat it was resolved with, its Target).
_StatKey = tuple[int, int, int, int, int, int, int, int]
_resolved: dict[tuple[Path, str], tuple[_StatKey, Target]] = {}
_RESOLVED_MAX = 4096


def _version(path: Path, stat: os.stat_result) -> _Version:
    return (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _stat_key(stat: os.stat_result) -> _StatKey:
    """Everything of a `stat` that `_named_file`'s outcome depends on: the file's type and
    permissions (`is_file`, `os.access`), owner, and its version (the digest)."""
    return (
        stat.st_mode,
        stat.st_uid,
        stat.st_gid,
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )


def _digest(path: Path) -> str:
    stat = path.stat()
    key = _version(path, stat)
    if stat.st_size > HASH_LIMIT:
        return f"stat:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
    with _digest_lock:
        known = _digests.get(key)
        if known is not None:
            return known
        lock = _hashing.setdefault(key, threading.Lock())
    with lock:
        with _digest_lock:
            known = _digests.get(key)
        if known is None:
            sha = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(2**20), b""):
                    sha.update(block)
            known = sha.hexdigest()
            with _digest_lock:
                _digests[key] = known
                _hashing.pop(key, None)
    return known


def _sniff(path: Path) -> EngineName | None:
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head[8:12] == _DUCKDB_MAGIC:
        return "duckdb"
    return None


def _readable(path: Path, name: str) -> None:
    if not path.is_file():
        raise InvalidRequest(f"reference: no database {name!r}")
    if not os.access(path, os.R_OK):
        raise InvalidRequest(f"reference: database {name!r} is unreadable")


@lru_cache(maxsize=4096)
def _inside(root: Path, name: str) -> Path:
    """`name` resolved under `root`; refused if it is absolute or leads outside."""
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or "\\" in name or ":" in name:
        raise InvalidRequest(
            f"reference: database name {name!r} must be relative to the db_dir setting"
        )
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise InvalidRequest(f"reference: database {name!r} is outside the db_dir setting")
    return path


def _named_file(name: str, root: Path | None) -> Target:
    if not root:
        raise InvalidRequest(
            f"reference: database {name!r} names a file, but this server has no "
            "[verifiers.sql] db_dir"
        )
    known = _resolved.get((root, name))
    if known is not None:
        try:
            stat = os.stat(known[1].location)
        except OSError:
            stat = None
        if stat is not None and _stat_key(stat) == known[0]:
            return known[1]
    # The stat is taken before the checks and the digest: a file that changes while
    # they run is remembered under its older stat, so the next call checks it again.
    try:
        before: _StatKey | None = _stat_key(os.stat(_inside(Path(root), name)))
    except OSError:
        before = None
    target = _named_file_checked(name, root)
    if before is not None:
        if len(_resolved) >= _RESOLVED_MAX:
            _resolved.clear()  # a bound, not an LRU: servers name far fewer files
        _resolved[(root, name)] = (before, target)
    return target


def _named_file_checked(name: str, root: Path) -> Target:
    """`name` under `root`, every check made: inside, a known suffix, a readable file."""
    path = _inside(Path(root), name)
    engine = SUFFIXES.get(path.suffix.lower())
    if engine is None:
        raise InvalidRequest(
            f"reference: database {name!r} must end in {', '.join(SUFFIXES)} to name its engine"
        )
    _readable(path, name)
    return Target(engine, str(path), name, f"{name}:{_digest(path)}")


def _asset(name: str, asset_dir: Path | None) -> Target:
    if asset_dir is None:
        raise InvalidRequest(f"reference: {name!r} is an asset, but this server has no asset store")
    path = AssetStore(asset_dir, 1, 1).resolve(name)
    _readable(path, name)
    engine = _sniff(path)
    if engine is None:
        raise InvalidRequest(f"reference: asset {name!r} is neither a SQLite nor a DuckDB file")
    return Target(engine, str(path), name, name)


def _postgres(name: str, connections: Mapping[str, str]) -> Target:
    key = name[len(PG_PREFIX) :]
    if key not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise InvalidRequest(
            f"reference: no PostgreSQL connection {key!r} in the server's "
            f"[verifiers.sql] postgres (known: {known})"
        )
    return Target("postgres", connections[key], name, name)


def resolve(name: str, env: VerifierEnv, settings: SqlSettings) -> Target:
    """The database a reference names: `pg:<name>` (settings' `postgres`), an asset (the
    env's asset store) or a file under the settings' `db_dir`."""
    if name.startswith(PG_PREFIX):
        return _postgres(name, settings.postgres)
    if name.startswith(ASSET_PREFIX):
        return _asset(name, env.asset_dir)
    return _named_file(name, settings.db_dir)
