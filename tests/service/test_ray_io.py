"""Object-store output of `score --engine ray`: ordered parts, a manifest, resume by parts.

`PartSink` writes through a pyarrow filesystem; a local folder stands in for the bucket
here (the S3 path itself runs against moto in test_ray_engine.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardgate.service.ray_engine import parse_resources
from rewardgate.service.ray_io import PartSink, is_uri, open_sink
from rewardgate.verifiers.errors import InvalidRequest

# Named like the Ray tests but needs no cluster, nor Ray installed (tests/markers.py).
USES_RESOURCES = ()


def pairs(first: int, n: int) -> list[tuple[dict[str, object], dict[str, object]]]:
    return [
        ({"row": i}, {"reward": 1.0, "status": "ok", "reward_details": {}})
        for i in range(first, first + n)
    ]


def test_parts_in_order_then_a_manifest(tmp_path: Path) -> None:
    sink = PartSink(str(tmp_path / "out"), "in.jsonl", resume=False, force=False, part_rows=3)
    sink.write(pairs(0, 7))
    sink.finish()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"] == 7 and manifest["source"] == "in.jsonl"
    assert [(p["path"], p["first_row"], p["rows"]) for p in manifest["parts"]] == [
        ("part-00000.jsonl", 0, 3),
        ("part-00001.jsonl", 3, 3),
        ("part-00002.jsonl", 6, 1),
    ]
    rows = [
        json.loads(line)["row"]
        for part in manifest["parts"]
        for line in (tmp_path / "out" / part["path"]).read_text().splitlines()
    ]
    assert rows == list(range(7))


def test_resume_continues_after_the_complete_parts(tmp_path: Path) -> None:
    prefix = str(tmp_path / "out")
    sink = PartSink(prefix, "in.jsonl", resume=False, force=False, part_rows=3)
    sink.write(pairs(0, 5))  # one part written, two rows buffered
    sink.close()  # the driver dies: the buffered rows are not in the output
    assert sink.done == 3

    with pytest.raises(InvalidRequest, match="--resume"):
        PartSink(prefix, "in.jsonl", resume=False, force=False, part_rows=3)

    resumed = PartSink(prefix, "in.jsonl", resume=True, force=False, part_rows=3)
    assert resumed.done == 3
    resumed.write(pairs(3, 4))
    resumed.finish()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"] == 7
    assert [p["first_row"] for p in manifest["parts"]] == [0, 3, 6]

    fresh = PartSink(prefix, "in.jsonl", resume=False, force=True, part_rows=3)
    assert fresh.done == 0 and not list((tmp_path / "out").iterdir())


def test_local_paths_and_uris() -> None:
    assert is_uri("s3://bucket/key") and not is_uri("data/in.jsonl")
    with pytest.raises(InvalidRequest, match="Parquet output"):
        open_sink("out.parquet", "s3://bucket/in.jsonl", resume=False, force=False)


@pytest.mark.parametrize("spec", ["reward", "=1", "reward=x", "reward=0"])
def test_bad_resource_specs_are_refused(spec: str) -> None:
    if spec == "reward":
        assert parse_resources([spec]) == {"reward": 1.0}
        return
    with pytest.raises(InvalidRequest):
        parse_resources([spec])


def test_resource_specs() -> None:
    assert parse_resources(["reward=1", "cpu_node=0.5"]) == {"reward": 1.0, "cpu_node": 0.5}
