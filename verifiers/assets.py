"""Content-addressed files that requests refer to as `asset:<sha256>`.

The HTTP API writes uploads here and verifiers resolve references here, so both sides
share this one class. The name of a stored file is its SHA-256, so a file's content
is its identity and its own cache fingerprint.

A store is a local folder, optionally in front of a shared `ObjectStore` (an S3 bucket,
`rewardgate.service.asset_store_s3`): then the folder is this replica's read-through
cache, uploads go to the shared store as well, and a file missing here is fetched from
there and its SHA-256 checked before it is ever read. Verifiers build their readers
from the folder alone (`AssetStore(env.asset_dir, ...)`) and must not know the shared
store's settings, so the host attaches the shared store to the folder once
(`attach_remote`, before its workers fork) and every store opened on that folder in
this process, or in a worker forked from it, reads through it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

from rewardgate.verifiers.errors import (
    InsufficientStorage,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    VerifierError,
)

__all__ = [
    "ASSET_PREFIX",
    "AssetStore",
    "AssetWriter",
    "CorruptAsset",
    "ObjectStore",
    "attach_remote",
]

ASSET_PREFIX = "asset:"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class CorruptAsset(VerifierError):
    """An object in the shared store whose bytes do not hash to its name.

    A verdict read from it would judge against the wrong reference, so the item is
    `error`, never scored; the message names the object so an operator can remove it.
    """


class ObjectStore(Protocol):
    """A shared, content-addressed object store behind a replica's asset folder.

    Every method raises `VerifierError` (never a third-party exception) when the store
    cannot be reached, so an item that needs it is `error`, not a reward of 0.
    """

    def describe(self) -> str:
        """Where the objects live, for messages (no credentials)."""
        ...

    def size(self, sha: str) -> int | None:
        """The stored object's size, or None if there is none."""
        ...

    def download(self, sha: str, out: BinaryIO) -> None:
        """Write the object's bytes to `out`; NotFound if there is none."""
        ...

    def upload(self, sha: str, path: Path) -> None:
        """Store the file as object `sha` (the caller has checked its hash)."""
        ...

    def total_bytes(self) -> int:
        """Bytes held by all the objects, for the store's quota."""
        ...


# Folder -> shared store, for stores opened on the folder alone (the verifiers').
_REMOTES: dict[str, ObjectStore] = {}


def _key(root: Path) -> str:
    return os.path.abspath(root)


def attach_remote(root: Path, remote: ObjectStore | None) -> None:
    """Make every `AssetStore(root, ...)` opened in this process read through `remote`.

    Call it before the worker pool forks, so that workers inherit it; None detaches.
    """
    if remote is None:
        _REMOTES.pop(_key(root), None)
    else:
        _REMOTES[_key(root)] = remote


class AssetStore:
    """The asset store: a folder, and the shared store attached to it if any.

    `max_bytes` and `max_total_bytes` bound uploads only; readers may pass any value.
    """

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        max_total_bytes: int,
        remote: ObjectStore | None = None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.remote = remote if remote is not None else _REMOTES.get(_key(root))
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def check_sha(sha: str) -> str:
        if not _SHA256.match(sha):
            raise InvalidRequest(f"not a SHA-256 hex digest: {sha[:80]!r}")
        return sha

    def _path(self, sha: str) -> Path:
        return self.root / self.check_sha(sha)[:2] / sha

    def exists(self, sha: str) -> bool:
        if self._path(sha).is_file():
            return True
        return self.remote is not None and self.remote.size(sha) is not None

    def size(self, sha: str) -> int:
        """The asset's size, without fetching it into this replica's cache."""
        path = self._path(sha)
        if path.is_file():
            return path.stat().st_size
        size = self.remote.size(sha) if self.remote is not None else None
        if size is None:
            raise NotFound(f"no asset {sha}; upload it with POST /v1/assets")
        return size

    def path(self, sha: str) -> Path:
        """The local file of asset `sha`, fetched from the shared store on a miss."""
        path = self._path(sha)
        if path.is_file():
            return path
        if self.remote is None:
            raise NotFound(f"no asset {sha}; upload it with POST /v1/assets")
        self._fetch(sha, path)
        return path

    def _fetch(self, sha: str, target: Path) -> None:
        """Download into a temporary file, check its SHA-256, then rename it in place.

        Concurrent fetches of one asset each write their own temporary file; the
        renames are atomic, so a reader never sees a partial file.
        """
        assert self.remote is not None
        target.parent.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".fetch-")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                self.remote.download(sha, out)
            digest = _file_sha256(tmp)
            if digest != sha:
                raise CorruptAsset(
                    f"asset {sha} in {self.remote.describe()} is corrupt: its "
                    f"{tmp.stat().st_size} bytes hash to {digest}; delete the object and "
                    "upload the file again"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def resolve(self, ref: str) -> Path:
        """The file behind an `asset:<sha256>` reference."""
        if not ref.startswith(ASSET_PREFIX):
            raise InvalidRequest(f"not an asset reference: {ref[:80]!r}")
        return self.path(ref[len(ASSET_PREFIX) :])

    def total_bytes(self) -> int:
        """Bytes the store holds: the shared store's when attached (the quota is global)."""
        if self.remote is not None:
            return self.remote.total_bytes()
        return sum(p.stat().st_size for p in self.root.glob("*/*") if p.is_file())

    def writer(self) -> AssetWriter:
        return AssetWriter(self)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class AssetWriter:
    """Streams an upload to a temporary file, hashing as it goes; `commit` names it.

    Enforces the per-file limit while the bytes arrive, so an oversized upload is
    refused without ever being held whole in memory or on disk. With a shared store,
    `commit` uploads the file unless an object of that name and size is there already
    (one of another size is a truncated copy, replaced):
    names are content hashes, so an object is written once and concurrent uploads of
    one file write the same bytes.
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
        """Store the upload; blocking (a shared store is called), so run it off the loop."""
        self._file.close()
        sha = self._hash.hexdigest()
        store, target = self.store, self.store._path(sha)
        remote = store.remote
        # Without a shared store the folder is the store; with one, the folder is a cache.
        stored = (
            remote.size(sha) if remote is not None else (self.size if target.exists() else None)
        )
        if stored is None and store.total_bytes() + self.size > store.max_total_bytes:
            self._tmp.unlink()
            raise InsufficientStorage("the asset store is full")
        if remote is not None and stored != self.size:
            # Absent, or a truncated object under this name: the right bytes replace it.
            remote.upload(sha, self._tmp)
        if target.exists():
            self._tmp.unlink()
        else:
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
