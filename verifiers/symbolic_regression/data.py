"""The data points of a symbolic-regression reference: inline columns, or an uploaded CSV
or Parquet file (told apart by Parquet's `PAR1` magic bytes; assets have no file name).

Columns are named variables plus the target column (`y` by default). Names are
lower-cased, as the expression reader lower-cases symbols, so `X1` in the data is `x1`
in an answer. Every value must be a finite number and every column the same length;
anything else is a malformed reference (`InvalidRequest`), not a verdict. A Parquet
file is held to the same rules and limits; its row and column counts and its column
types (numbers only) are read from the footer before any column is, so a file built to
expand in memory is refused unread.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from rewardgate.verifiers.assets import ASSET_PREFIX, AssetStore
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["MAX_COLUMNS", "MAX_DATA_BYTES", "MAX_ROWS", "Columns", "load", "resolve"]

MAX_ROWS = 100_000
MAX_COLUMNS = 32
MAX_DATA_BYTES = 64 * 1024 * 1024  # the file, CSV or Parquet
MAX_CSV_BYTES = MAX_DATA_BYTES  # the older name
PARQUET_MAGIC = b"PAR1"
Columns = dict[str, list[float]]


def resolve(data: str, asset_dir: Path | None) -> Path:
    """The CSV or Parquet file an `asset:<sha256>` reference names."""
    if not data.startswith(ASSET_PREFIX):
        raise InvalidRequest(
            "reference.data: columns, or a CSV or Parquet file uploaded as asset:<sha256>"
        )
    if asset_dir is None:
        raise InvalidRequest("reference.data: an asset, but this server has no asset store")
    return AssetStore(asset_dir, 1, 1).resolve(data)


def load(data: dict[str, Any] | str, asset_dir: Path | None, target: str) -> Columns:
    """The columns, checked: same lengths, finite numbers, the target column present."""
    raw: dict[str, Any]
    if isinstance(data, str):
        path = resolve(data, asset_dir)
        if path.stat().st_size > MAX_DATA_BYTES:
            raise InvalidRequest(f"reference.data: file over {MAX_DATA_BYTES} bytes")
        with path.open("rb") as file:
            parquet = file.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC
        if parquet:
            raw = _parquet(path)
        else:
            raw = _csv(path.read_text(encoding="utf-8", errors="replace"))
    else:
        raw = data
    columns: Columns = {}
    for name, values in raw.items():
        key = str(name).strip().lower()
        if key in columns:
            raise InvalidRequest(f"reference.data: column {key!r} twice (names are case-blind)")
        if not isinstance(values, (list, tuple)):
            raise InvalidRequest(f"reference.data.{key}: a list of numbers")
        columns[key] = [_number(key, v) for v in values]
    if target not in columns:
        raise InvalidRequest(f"reference.data: no target column {target!r}")
    if len(columns) > MAX_COLUMNS:
        raise InvalidRequest(f"reference.data: more than {MAX_COLUMNS} columns")
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise InvalidRequest("reference.data: columns differ in length")
    [rows] = lengths
    if not 1 <= rows <= MAX_ROWS:
        raise InvalidRequest(f"reference.data: 1 to {MAX_ROWS} points")
    return columns


def _number(column: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidRequest(f"reference.data.{column}: {value!r} is not a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"reference.data.{column}: {str(value)[:40]!r} is not a number"
        ) from None
    if not math.isfinite(number):
        raise InvalidRequest(f"reference.data.{column}: values must be finite")
    return number


def _csv(text: str) -> dict[str, list[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidRequest("reference.data: empty CSV") from None
    columns: dict[str, list[str]] = {name: [] for name in header}
    if len(columns) != len(header):
        raise InvalidRequest("reference.data: CSV header repeats a name")
    for line, row in enumerate(reader, 2):
        if not row:
            continue
        if len(row) != len(header):
            raise InvalidRequest(f"reference.data: CSV line {line} has {len(row)} fields")
        for name, value in zip(header, row, strict=True):
            columns[name].append(value)
        if line > MAX_ROWS + 1:
            raise InvalidRequest(f"reference.data: more than {MAX_ROWS} points")
    return columns


def _parquet(path: Path) -> dict[str, list[Any]]:
    """The columns of a Parquet file, its footer checked against the limits first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        meta = file.metadata
        names = list(file.schema_arrow.names)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidRequest(f"reference.data: unreadable Parquet file ({exc})") from None
    if meta.num_columns > MAX_COLUMNS:
        raise InvalidRequest(f"reference.data: more than {MAX_COLUMNS} columns")
    if meta.num_rows > MAX_ROWS:
        raise InvalidRequest(f"reference.data: more than {MAX_ROWS} points")
    if len(set(names)) != len(names):
        raise InvalidRequest("reference.data: Parquet file repeats a column name")
    # Numbers only, checked on the schema before reading: with the row and column limits
    # this bounds what reading can allocate (strings or lists could be any size).
    for field in file.schema_arrow:
        kind = field.type
        if not (
            pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
        ):
            raise InvalidRequest(
                f"reference.data.{field.name.lower()}: a {kind} column, not numbers"
            )
    try:
        table = file.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidRequest(f"reference.data: unreadable Parquet file ({exc})") from None
    columns: dict[str, list[Any]] = {}
    for name, column in zip(names, table.columns, strict=True):
        if pa.types.is_decimal(column.type):
            try:
                column = column.cast(pa.float64())
            except pa.ArrowException as exc:
                raise InvalidRequest(f"reference.data.{name.lower()}: {exc}") from None
        columns[name] = column.to_pylist()  # a null is None, refused as not a number
    return columns
