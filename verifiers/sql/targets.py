"""From a reference's database name to a `Target`: engine, location, fingerprint.

Names never carry a path or a URL from the request to the engine: a file name is
looked up under the server's `sql_db_dir` (and must stay inside it), `asset:<sha256>`
in the asset store, `pg:<name>` among the PostgreSQL connections the server names.
The fingerprint is the file's SHA-256 (computed once per file version, keyed by its
size and modification time; for files over `HASH_LIMIT`, the inode, size and
modification time themselves), so a cached verdict never outlives a changed database.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.sql.engines import EngineName, Target

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

_digests: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def _digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if stat.st_size > HASH_LIMIT:
        return f"stat:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
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
        raise InvalidRequest(f"reference: database name {name!r} must be relative to sql_db_dir")
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base):
        raise InvalidRequest(f"reference: database {name!r} is outside sql_db_dir")
    return path


def _named_file(name: str, config: dict[str, Any]) -> Target:
    root = config.get("sql_db_dir")
    if not root:
        raise InvalidRequest(
            f"reference: database {name!r} names a file, but this server has no sql_db_dir"
        )
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


def _postgres(name: str, config: dict[str, Any]) -> Target:
    connections: dict[str, str] = config.get("sql_postgres") or {}
    key = name[len(PG_PREFIX) :]
    if key not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise InvalidRequest(
            f"reference: no PostgreSQL connection {key!r} in the server config (known: {known})"
        )
    return Target("postgres", connections[key], name, name)


def resolve(name: str, env: VerifierEnv) -> Target:
    if name.startswith(PG_PREFIX):
        return _postgres(name, env.config)
    if name.startswith(ASSET_PREFIX):
        return _asset(name, env.asset_dir)
    return _named_file(name, env.config)
