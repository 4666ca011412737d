"""Where `score --engine ray` reads and writes: local paths and object-store URIs.

Any URI pyarrow's filesystems know (`s3://bucket/key`, `gs://…`; an S3-compatible
server through `?endpoint_override=host:port&scheme=http` or `AWS_ENDPOINT_URL`) is
read by Ray's readers on whichever node runs them; a local path must be on a shared
filesystem when the cluster has several nodes.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from rewardgate.service.datasets import SCORE_COLUMNS, ResultSink
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["PartSink", "Sink", "Source", "is_uri", "open_sink", "open_source"]

MANIFEST = "manifest.json"
PART_ROWS = 10_000


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


def open_source(location: str) -> Source:
    fmt = _format(location)
    filesystem, path = _filesystem(location)
    import pyarrow.fs as pafs

    if filesystem.get_file_info(path).type != pafs.FileType.File:
        raise InvalidRequest(f"{location}: no such file")
    return Source(fmt, path, filesystem)


class Sink(Protocol):
    done: int

    def write(self, rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


def open_sink(output: str, source: str, *, resume: bool, force: bool) -> Sink:
    """A local file (`ResultSink`, as local mode writes) or an object-store prefix."""
    if is_uri(output):
        return PartSink(output, source, resume=resume, force=force)
    if _format(output) == "parquet" and is_uri(source):
        raise InvalidRequest(
            "Parquet output is built from the input table, which must then be a local "
            "file; write JSONL, or write to an object-store prefix"
        )
    return ResultSink(Path(output), Path(source), resume=resume, force=force)


class PartSink:
    """Ordered JSONL part files plus a manifest under an object-store prefix."""

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
        for row, scores in rows:
            self._buffer.append(orjson.dumps({**row, **scores}, default=str) + b"\n")
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
