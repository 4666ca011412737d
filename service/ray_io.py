"""Where `score --engine ray` reads and writes: local paths and object-store URIs.

Any URI pyarrow's filesystems know (`s3://bucket/key`, `gs://…`; an S3-compatible
server through `?endpoint_override=host:port&scheme=http` or `AWS_ENDPOINT_URL`) is
counted by the driver and read by Ray's read task (service/ray_read.py) on whichever
node runs it; a local path must be on a shared filesystem when the cluster has several
nodes. The rows are local mode's (`jsonl_block`, `parquet_blocks`), each with its row id.

Output to a local path is one file through `ResultSink`, exactly as in local mode. Output
to an object-store URI is a prefix holding ordered part files and a manifest:

    PREFIX/part-00000.jsonl     rows 0 .. part_rows-1, each the input row + score columns
    PREFIX/part-00001.jsonl     ...
    PREFIX/manifest.json        {"format": "jsonl", "rows": N, "source": INPUT,
                                 "columns": ["reward", "status", "reward_details"],
                                 "parts": [{"path": "part-00000.jsonl",
                                            "first_row": 0, "rows": 10000}, ...]}

An object is written whole or not at all, so a part that exists is complete: `--resume`
counts the rows of the parts in order and continues after them. The manifest is
written last; a prefix without one is an unfinished run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from rewardgate.service.datasets import SCORE_COLUMNS, ResultSink
from rewardgate.verifiers.errors import InvalidRequest

__all__ = [
    "LineSink",
    "PartSink",
    "Sink",
    "Source",
    "is_uri",
    "jsonl_block",
    "open_sink",
    "open_source",
    "parquet_blocks",
]

MANIFEST = "manifest.json"
PART_ROWS = 10_000
# The columns a read block holds beside a Parquet row's own (service/ray_read.py).
ROW_ID = "__rewardgate_row_id"
TEXT = "text"  # a JSONL row's line, as bytes
PARQUET_BATCH = 1024  # rows per batch, as datasets.read_rows reads Parquet


def is_uri(location: str) -> bool:
    """An object-store URI (`s3://…`), as opposed to a local path."""
    return "://" in location and not location.startswith("file://")


def _format(location: str) -> str:
    name = location.split("?", 1)[0].lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise InvalidRequest(f"{location}: unknown format; use .jsonl or .parquet")


def _filesystem(location: str) -> tuple[Any, str]:
    import pyarrow.fs as pafs

    if not is_uri(location):
        return pafs.LocalFileSystem(), str(Path(location.removeprefix("file://")).resolve())
    try:
        return pafs.FileSystem.from_uri(location)
    except (ValueError, OSError) as exc:
        raise InvalidRequest(f"{location}: {exc}") from None


@dataclass(frozen=True)
class Source:
    format: str
    path: str
    filesystem: Any

    def count_rows(self) -> int:
        """The input's rows, counted as `datasets.count_rows` counts them (non-blank
        lines; a Parquet file's metadata), streaming through the driver: the total the
        progress bar and the final check need, before Ray reads anything."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            with self.filesystem.open_input_file(self.path) as f:
                return int(pq.ParquetFile(f).metadata.num_rows)
        rows = 0
        tail = b""
        with self.filesystem.open_input_stream(self.path) as f:
            while chunk := f.read(1 << 20):
                *lines, tail = (tail + chunk).split(b"\n")
                rows += sum(1 for line in lines if line.strip())
        return rows + (1 if tail.strip() else 0)


def jsonl_block(data: bytes, skip: int = 0) -> Any:
    """A JSONL file's rows from `skip` on as (row id, line bytes), split and counted as
    `datasets.read_rows` splits them: at b"\\n", ASCII-blank lines left out."""
    import pyarrow as pa

    lines = [line for line in data.split(b"\n") if line.strip()][skip:]
    return pa.table(
        {
            ROW_ID: pa.array(range(skip, skip + len(lines)), pa.int64()),
            TEXT: pa.array(lines, pa.large_binary()),
        }
    )


def parquet_blocks(data: bytes, skip: int = 0) -> Iterator[Any]:
    """A Parquet file's rows from `skip` on, in `datasets.read_rows`'s batches, each with
    a row id column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = 0
    for batch in pq.ParquetFile(pa.BufferReader(data)).iter_batches(PARQUET_BATCH):
        start = max(0, skip - index)
        if start < batch.num_rows:
            table = pa.Table.from_batches([batch.slice(start)])
            ids = pa.array(range(index + start, index + batch.num_rows), pa.int64())
            yield table.append_column(ROW_ID, ids)
        index += batch.num_rows


def open_source(location: str) -> Source:
    fmt = _format(location)
    filesystem, path = _filesystem(location)
    import pyarrow.fs as pafs

    if filesystem.get_file_info(path).type != pafs.FileType.File:
        raise InvalidRequest(f"{location}: no such file")
    return Source(fmt, path, filesystem)


class Sink(Protocol):
    done: int
    # Each line holds the input row and the score columns (False: the score columns
    # alone, the journal a Parquet output is built from at the end).
    whole_rows: bool

    def write_lines(self, lines: list[bytes]) -> None: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


class LineSink(ResultSink):
    """Local mode's `ResultSink`, written with lines the scoring actors encoded.

    The actors encode each line exactly as `ResultSink.write` would (`orjson`, the same
    record, `default=str`), so the file is byte for byte the local one and the driver,
    which every row passes through, only writes.
    """

    def __init__(self, output: Path, source: Path, *, resume: bool, force: bool) -> None:
        super().__init__(output, source, resume=resume, force=force)
        self.whole_rows = self.format == "jsonl"

    def write_lines(self, lines: list[bytes]) -> None:
        """Append complete lines (each ends in a newline), then flush to disk."""
        self._file.write(b"".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done += len(lines)


def open_sink(output: str, source: str, *, resume: bool, force: bool) -> Sink:
    """A local file (`ResultSink`, as local mode writes) or an object-store prefix."""
    if is_uri(output):
        return PartSink(output, source, resume=resume, force=force)
    if _format(output) == "parquet" and is_uri(source):
        raise InvalidRequest(
            "Parquet output is built from the input table, which must then be a local "
            "file; write JSONL, or write to an object-store prefix"
        )
    return LineSink(Path(output), Path(source), resume=resume, force=force)


class PartSink:
    """Ordered JSONL part files plus a manifest under an object-store prefix."""

    whole_rows = True

    def __init__(
        self, prefix: str, source: str, *, resume: bool, force: bool, part_rows: int = PART_ROWS
    ) -> None:
        import pyarrow.fs as pafs

        self.fs, root = _filesystem(prefix)
        self.root = root.rstrip("/")
        if isinstance(self.fs, pafs.LocalFileSystem):  # object stores have no folders to make
            self.fs.create_dir(self.root, recursive=True)
        self.source = source
        self.part_rows = part_rows
        self.parts: list[dict[str, Any]] = []
        self._buffer: list[bytes] = []
        existing = sorted(
            info.base_name
            for info in self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
            if info.type == pafs.FileType.File
        )
        if existing and not resume and not force:
            raise InvalidRequest(f"{prefix} holds files; pass --resume to continue it or --force")
        if force and not resume:
            for name in existing:
                self.fs.delete_file(f"{self.root}/{name}")
            existing = []
        self.done = 0
        for index, name in enumerate(n for n in existing if n.startswith("part-")):
            if name != self._part_name(index):
                break  # a gap: what follows it is not a continuation
            with self.fs.open_input_stream(f"{self.root}/{name}") as f:
                rows = f.read().count(b"\n")
            self.parts.append({"path": name, "first_row": self.done, "rows": rows})
            self.done += rows

    @staticmethod
    def _part_name(index: int) -> str:
        return f"part-{index:05d}.jsonl"

    def write(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        self.write_lines(
            [orjson.dumps({**row, **scores}, default=str) + b"\n" for row, scores in rows]
        )

    def write_lines(self, lines: list[bytes]) -> None:
        """Buffer complete lines (each ends in a newline); each full part is written."""
        for line in lines:
            self._buffer.append(line)
            self.done += 1
            if len(self._buffer) == self.part_rows:
                self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        name = self._part_name(len(self.parts))
        with self.fs.open_output_stream(f"{self.root}/{name}") as f:
            f.write(b"".join(self._buffer))
        first = self.parts[-1]["first_row"] + self.parts[-1]["rows"] if self.parts else 0
        self.parts.append({"path": name, "first_row": first, "rows": len(self._buffer)})
        self._buffer = []

    def finish(self) -> None:
        self._flush()
        manifest = {
            "format": "jsonl",
            "rows": self.done,
            "source": self.source,
            "columns": list(SCORE_COLUMNS),
            "parts": self.parts,
        }
        with self.fs.open_output_stream(f"{self.root}/{MANIFEST}") as f:
            f.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))

    def close(self) -> None:
        """Rows still buffered are dropped: a resumed run scores them again."""
        self.done -= len(self._buffer)
        self._buffer = []
