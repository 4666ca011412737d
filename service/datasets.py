"""Dataset files for `rewardgate score`: JSONL and Parquet in, JSONL and Parquet out.

Output is written as it is scored, in input order, so a crash loses nothing already
written, and `--resume` continues after the last complete row:

- JSONL output is appended row by row and flushed after every chunk; on resume a
  torn last line (the crash hit mid-write) is cut off and the complete rows counted.
- Parquet cannot be appended to, so the scores go to a JSONL journal beside the
  output (`OUTPUT.partial.jsonl`), which is resumed the same way; when every row is
  scored the input table plus the score columns is written to OUTPUT at once (via a
  temporary file and a rename) and the journal removed. Input column types survive.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["ResultSink", "count_rows", "read_rows"]

SCORE_COLUMNS = ("reward", "status", "reward_details")


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise InvalidRequest(f"{path}: unknown format; use .jsonl or .parquet")


def count_rows(path: Path) -> int:
    if _format(path) == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def read_rows(path: Path, start: int = 0) -> Iterator[dict[str, Any]]:
    """Rows from `start` on, as dicts, streaming (the file is never loaded whole)."""
    if _format(path) == "parquet":
        import pyarrow.parquet as pq

        index = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            rows = batch.to_pylist()
            if index + len(rows) > start:
                yield from rows[max(0, start - index) :]
            index += len(rows)
        return
    with path.open("rb") as f:
        index = 0
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            if index >= start:
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InvalidRequest(f"{path}:{number}: not JSON: {exc}") from None
                if not isinstance(row, dict):
                    raise InvalidRequest(f"{path}:{number}: a row must be a JSON object")
                yield row
            index += 1


def _resume_jsonl(path: Path) -> int:
    """Cut a torn last line off `path` and count its complete rows."""
    if not path.exists():
        return 0
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            f.truncate(end)
    return data[:end].count(b"\n")


class ResultSink:
    """Writes scored rows in order; `done` rows were already there when it opened."""

    def __init__(self, output: Path, source: Path, resume: bool, force: bool) -> None:
        self.output = output
        self.source = source
        self.format = _format(output)
        self.journal = (
            output if self.format == "jsonl" else output.with_name(output.name + ".partial.jsonl")
        )
        if not resume and not force and (output.exists() or self.journal.exists()):
            raise InvalidRequest(f"{output} exists; pass --resume to continue it or --force")
        if force and not resume:
            for path in {output, self.journal}:
                path.unlink(missing_ok=True)
        self.done = _resume_jsonl(self.journal) if resume else 0
        self._file = self.journal.open("ab")

    def write(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Append (input row, score columns) pairs, then flush to disk."""
        for row, scores in rows:
            record = {**row, **scores} if self.format == "jsonl" else scores
            self._file.write(orjson.dumps(record, default=str) + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done += len(rows)

    def finish(self) -> None:
        """Close; for Parquet, write the final file from the input and the journal."""
        self._file.close()
        if self.format == "parquet":
            self._write_parquet()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def _write_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        scores = [orjson.loads(line) for line in self.journal.read_bytes().splitlines()]
        if _format(self.source) == "parquet":
            table = pq.read_table(self.source)
        else:
            table = pa.Table.from_pylist(list(read_rows(self.source)))
        if table.num_rows != len(scores):
            raise InvalidRequest(
                f"{self.journal} has {len(scores)} rows but the input has {table.num_rows}"
            )
        for column in SCORE_COLUMNS:
            values = [s[column] for s in scores]
            if column == "reward_details":
                values = [orjson.dumps(v).decode() for v in values]
            if column in table.column_names:
                table = table.drop_columns([column])
            table = table.append_column(column, pa.array(values))
        tmp = self.output.with_name(self.output.name + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.output)
        self.journal.unlink()
