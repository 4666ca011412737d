"""A named database is resolved once per file version: a change of any kind is seen.

`targets.resolve` remembers each file's `Target` with the `stat` it was made from (one
`stat` call per item instead of the path checks and the digest lookup). These tests
change the file under it in every way that matters to a verdict and check that the
next resolve sees the change.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.sql import SqlVerifier
from rewardgate.verifiers.sql.engines import Target
from rewardgate.verifiers.sql.safety import tokenize
from rewardgate.verifiers.sql.targets import resolve
from tests.verifiers.sql_support import CHINOOK, env_for


def _resolve(db_dir: Path, name: str = "shop.sqlite") -> Target:
    verifier = SqlVerifier(env_for(db_dir))
    return resolve(name, verifier.env, verifier.settings)


def _shop(db_dir: Path, rows: int) -> Path:
    path = db_dir / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    conn.commit()
    conn.close()
    return path


def test_an_unchanged_database_resolves_to_the_same_target(tmp_path: Path) -> None:
    shutil.copy(CHINOOK, tmp_path / "chinook.sqlite")
    first = _resolve(tmp_path, "chinook.sqlite")
    assert _resolve(tmp_path, "chinook.sqlite") is first


def test_new_content_of_the_same_size_and_mtime_is_a_new_fingerprint(tmp_path: Path) -> None:
    """Size and modification time restored (as `cp -p` or `rsync -t` leave them): the
    change time still moves, so the digest is computed again."""
    path = _shop(tmp_path, 3)
    before = _resolve(tmp_path)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    after = _resolve(tmp_path)
    assert after.fingerprint != before.fingerprint


def test_a_replaced_database_is_a_new_fingerprint(tmp_path: Path) -> None:
    path = _shop(tmp_path, 3)
    before = _resolve(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    replacement = _shop(other, 4)
    os.replace(replacement, path)
    assert _resolve(tmp_path).fingerprint != before.fingerprint


def test_a_removed_database_is_invalid_again(tmp_path: Path) -> None:
    path = _shop(tmp_path, 3)
    _resolve(tmp_path)
    path.unlink()
    with pytest.raises(InvalidRequest, match="no database"):
        _resolve(tmp_path)
    path.mkdir()  # a folder of that name is no database either
    with pytest.raises(InvalidRequest, match="no database"):
        _resolve(tmp_path)


def _unreadable_case(db_dir: Path) -> None:
    path = _shop(db_dir, 3)
    _resolve(db_dir)
    path.chmod(0)
    try:
        with pytest.raises(InvalidRequest, match="unreadable"):
            _resolve(db_dir)
    finally:
        path.chmod(0o644)


def test_a_database_made_unreadable_is_invalid() -> None:
    """Root reads a file whatever its mode (CI runs as root), so the case runs in a
    child that has dropped to `nobody`, in a folder of its own under /tmp."""
    if os.geteuid() != 0:
        _unreadable_case(Path(tempfile.mkdtemp()))
        return
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's outcome is its exit status
        status = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            db_dir = Path(tempfile.mkdtemp())
            try:
                _unreadable_case(db_dir)
                status = 0
            finally:
                shutil.rmtree(db_dir, ignore_errors=True)
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unreadable database was not invalid"


def test_a_changed_database_changes_the_verdict(tmp_path: Path) -> None:
    """End to end: the gold's cached result is keyed by the fingerprint, so a verdict on
    the changed file reads the new rows."""
    path = _shop(tmp_path, 3)
    verifier = SqlVerifier(env_for(tmp_path))
    reference = {"gold_sql": "SELECT COUNT(*) FROM t", "db": "shop.sqlite"}
    request = {"verifier": "sql", "response": "SELECT 3", "reference": reference}
    from rewardgate.verifiers.models import RewardRequest

    assert verifier.verify(RewardRequest.model_validate(request)).reward == 1.0
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO t VALUES (99)")
    conn.commit()
    conn.close()
    assert verifier.verify(RewardRequest.model_validate(request)).reward == 0.0


def test_a_reference_resolves_its_databases_once_per_prepare(tmp_path: Path) -> None:
    """`prepare` keeps what it resolved for the judgement that follows; a reference made
    elsewhere, or prepared again, reads each file's current version."""
    path = _shop(tmp_path, 3)
    verifier = SqlVerifier(env_for(tmp_path))
    reference = {"gold_sql": "SELECT COUNT(*) FROM t", "db": "shop.sqlite"}
    first = verifier.prepare(reference, {}).reference
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO t VALUES (99)")
    conn.commit()
    conn.close()
    again = verifier.prepare(reference, {}).reference
    assert first == again, "what was resolved is not part of the reference's value"
    assert verifier.fingerprints(first) != verifier.fingerprints(again)
    made = type(first).model_validate(reference)
    assert verifier.fingerprints(made) == verifier.fingerprints(again)


def test_text_that_is_not_utf8_is_read_with_the_bad_bytes_dropped(tmp_path: Path) -> None:
    """As Spider's evaluator decodes it: the result is read again leniently, and the
    connection decodes strictly (and fast) again afterwards."""
    path = tmp_path / "bytes.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("INSERT INTO t VALUES (CAST(x'41ff42' AS TEXT)), ('é')")
    conn.commit()
    conn.close()
    verifier = SqlVerifier(env_for(tmp_path))
    from rewardgate.verifiers.models import RewardRequest

    def score(response: str, gold: str) -> float:
        reference = {"gold_sql": gold, "db": "bytes.sqlite"}
        request = {"verifier": "sql", "response": response, "reference": reference}
        return verifier.verify(RewardRequest.model_validate(request)).reward

    assert score("SELECT x FROM t", "SELECT 'AB' UNION ALL SELECT 'é'") == 1.0
    assert score("SELECT x FROM t WHERE x = 'é'", "SELECT 'é'") == 1.0
    assert score("SELECT 'A' || x FROM t LIMIT 1", "SELECT 'AAB'") == 1.0


QUERIES = [
    "SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY 2 DESC -- note",
    "SELECT DISTINCT Name FROM Artist WHERE ArtistId IN (SELECT ArtistId FROM Album)",
    "WITH x AS (SELECT 1 AS v) SELECT v /* inline */ FROM x",
    "SELECT 'it''s', \"quoted id\", 1.5e3 FROM t",
]


@pytest.mark.parametrize("dialect", ["sqlite", "duckdb", "postgres"])
def test_tokenizers_reused_across_threads_give_sqlglots_tokens(dialect: str) -> None:
    """One tokenizer per thread and dialect, reused: tokens as `Dialect.tokenize` gives
    them, whatever other threads tokenize meanwhile."""
    from sqlglot.dialects.dialect import Dialect

    def shape(tokens: Sequence[Any]) -> list[tuple[object, ...]]:
        return [(t.token_type, t.text, t.start, t.end, t.comments) for t in tokens]

    expected = {q: shape(Dialect.get_or_raise(dialect).tokenize(q)) for q in QUERIES}
    wrong: list[str] = []
    gate = threading.Barrier(6)

    def work(offset: int) -> None:
        gate.wait()
        for i in range(200):
            query = QUERIES[(i + offset) % len(QUERIES)]
            if shape(tokenize(query, dialect)) != expected[query]:
                wrong.append(query)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
