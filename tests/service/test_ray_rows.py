"""The rows `--engine ray` reads (service/ray_io.py): local mode's rows, numbered.

`jsonl_block` and `parquet_blocks` are what the Ray read task runs on the file's bytes
(service/ray_read.py); here they run on their own. Their rows must be exactly the rows
`datasets.read_rows` gives local mode, for the lines Ray's own `read_text` gets wrong
too, and the count the driver takes first must be local mode's count.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardgate.service.datasets import count_rows, read_rows
from rewardgate.service.ray_io import ROW_ID, TEXT, jsonl_block, open_source, parquet_blocks

# Named like the Ray tests but needs no cluster, nor Ray installed (tests/markers.py).
USES_RESOURCES = ()

# Rows Ray's read_text splits: str.splitlines cuts at U+2028, U+2029 and U+0085, which
# JSON allows raw inside a string.
AWKWARD = [
    {"response": "line\u2028separator", "reference": "a"},
    {"response": "para\u2029graph", "reference": "b"},
    {"response": "next\x85line", "reference": "c"},
    {"response": "é ü 中", "reference": "d"},
]


def awkward_file(path: Path) -> Path:
    lines = [json.dumps(row, ensure_ascii=False).encode() for row in AWKWARD]
    # Blank lines (left out by both), a CRLF ending, no newline after the last row.
    path.write_bytes(lines[0] + b"\n\n" + lines[1] + b"\r\n   \n" + lines[2] + b"\n" + lines[3])
    return path


@pytest.mark.parametrize("skip", [0, 2, 4, 9], ids=["all", "resumed", "all done", "past"])
def test_jsonl_rows_are_local_modes_rows(tmp_path: Path, skip: int) -> None:
    path = awkward_file(tmp_path / "in.jsonl")
    table = jsonl_block(path.read_bytes(), skip)
    assert list(read_rows(path)) == AWKWARD
    assert [orjson.loads(line) for line in table[TEXT].to_pylist()] == AWKWARD[skip:]
    assert table[ROW_ID].to_pylist() == list(range(skip, 4))


def test_the_drivers_count_is_local_modes_count(tmp_path: Path) -> None:
    path = awkward_file(tmp_path / "in.jsonl")
    assert open_source(str(path)).count_rows() == count_rows(path) == 4
    big = tmp_path / "big.jsonl"  # lines across the 1 MiB chunks the count reads
    big.write_bytes(b"".join(b'{"r": "%s"}\n  \n' % (b"x" * (i % 5000)) for i in range(3000)))
    assert open_source(str(big)).count_rows() == count_rows(big) == 3000


def test_parquet_rows_are_local_modes_rows_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    rows = [{"response": f"r{i}", "reference": str(i), "n": i} for i in range(2500)]
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=700)
    table = pa.concat_tables(parquet_blocks(path.read_bytes(), 1500))  # past one batch
    assert table[ROW_ID].to_pylist() == list(range(1500, 2500))
    assert table.drop_columns([ROW_ID]).to_pylist() == list(read_rows(path, 1500))
    assert open_source(str(path)).count_rows() == 2500
