"""A database's digest (part of each verdict's cache key) is computed once per file version,
however many hook threads ask for it at the same moment."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.sql import targets


def test_a_new_database_is_hashed_once_by_concurrent_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "shop.sqlite"
    db.write_bytes(b"SQLite format 3\x00" + b"x" * (4 << 20))
    calls = 0
    sha256 = hashlib.sha256
    gate = threading.Barrier(8)

    def counting_sha256(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return sha256(*args)

    monkeypatch.setattr(targets.hashlib, "sha256", counting_sha256)
    results: list[str] = []

    def ask() -> None:
        gate.wait()
        results.append(targets._digest(db))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert results[0] == sha256(db.read_bytes()).hexdigest()
    assert calls == 1
    db.write_bytes(db.read_bytes() + b"y")  # a new version is hashed again
    assert targets._digest(db) != results[0] and calls == 2
