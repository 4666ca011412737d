"""The input of `score --engine ray` as Ray Data reads it: local mode's rows, numbered.

Ray's own readers do not give local mode's rows. `read_text` splits with
`str.splitlines`, which also cuts a row at a U+2028, U+2029 or U+0085 that JSON allows
raw inside a string (the run then stops on a row that is "not JSON" where local mode
scores it), and drops lines that are blank by Unicode's rule; `read_json` re-types the
rows through one Arrow schema. `RowsDatasource` reads the way `datasets.read_rows`
does: JSONL split at b"\\n", ASCII-blank lines skipped, each line kept as its bytes
(the actor parses it with orjson, as local mode does); Parquet in the same 1,024-row
batches.

It also numbers the rows and leaves out the first `skip` (a resumed run). One input
file is one read task, so the numbers are the rows' places in the file: no zip with a
range and no repartition pass is needed before scoring (Ray Data splits the task's
output into the blocks asked for with `override_num_blocks`).

Ray is imported at module level: this module is imported only when a run starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from ray.data.datasource import FileBasedDatasource

from rewardgate.service.ray_io import jsonl_block, parquet_blocks

__all__ = ["RowsDatasource"]


class RowsDatasource(FileBasedDatasource):
    """One JSONL or Parquet file as blocks of (row id, row); the first `skip` rows left out."""

    def __init__(self, path: str, *, fmt: str, filesystem: Any, skip: int = 0) -> None:
        super().__init__(path, filesystem=filesystem)
        self.fmt = fmt
        self.skip = skip

    def _read_stream(self, f: Any, path: str) -> Iterator[pa.Table]:
        if self.fmt == "jsonl":
            yield jsonl_block(f.readall(), self.skip)
        else:
            yield from parquet_blocks(f.readall(), self.skip)
