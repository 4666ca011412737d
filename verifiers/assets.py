"""Content-addressed files that requests refer to as `asset:<sha256>`.

The HTTP API writes uploads here and verifiers resolve references here, so both sides
share this one class. The name of a stored file is its SHA-256, so a file's content
is its identity and its own cache fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from types import TracebackType

from rewardgate.verifiers.errors import (
    InsufficientStorage,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
)

__all__ = ["ASSET_PREFIX", "AssetStore", "AssetWriter"]

ASSET_PREFIX = "asset:"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class AssetStore:
    def __init__(self, root: Path, max_bytes: int, max_total_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def check_sha(sha: str) -> str:
        if not _SHA256.match(sha):
            raise InvalidRequest(f"not a SHA-256 hex digest: {sha[:80]!r}")
        return sha

    def _path(self, sha: str) -> Path:
        return self.root / self.check_sha(sha)[:2] / sha

    def exists(self, sha: str) -> bool:
        return self._path(sha).is_file()

    def path(self, sha: str) -> Path:
        path = self._path(sha)
        if not path.is_file():
            raise NotFound(f"no asset {sha}; upload it with POST /v1/assets")
        return path

    def resolve(self, ref: str) -> Path:
        """The file behind an `asset:<sha256>` reference."""
        if not ref.startswith(ASSET_PREFIX):
            raise InvalidRequest(f"not an asset reference: {ref[:80]!r}")
        return self.path(ref[len(ASSET_PREFIX) :])

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*/*") if p.is_file())

    def writer(self) -> AssetWriter:
        return AssetWriter(self)


class AssetWriter:
    """Streams an upload to a temporary file, hashing as it goes; `commit` names it.

    Enforces the per-file limit while the bytes arrive, so an oversized upload is
    refused without ever being held whole in memory or on disk.
    """

    def __init__(self, store: AssetStore) -> None:
        self.store = store
        self.size = 0
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=store.root, prefix=".upload-")
        self._file = os.fdopen(fd, "wb")
        self._tmp = Path(name)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.store.max_bytes:
            raise PayloadTooLarge(f"asset exceeds the {self.store.max_bytes}-byte limit")
        self._hash.update(chunk)
        self._file.write(chunk)

    def commit(self) -> str:
        self._file.close()
        sha = self._hash.hexdigest()
        target = self.store._path(sha)
        if target.exists():
            self._tmp.unlink()
            return sha
        if self.store.total_bytes() + self.size > self.store.max_total_bytes:
            self._tmp.unlink()
            raise InsufficientStorage("the asset store is full")
        target.parent.mkdir(exist_ok=True)
        os.replace(self._tmp, target)
        return sha

    def __enter__(self) -> AssetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._file.closed:
            self._file.close()
        if self._tmp.exists():
            self._tmp.unlink()
