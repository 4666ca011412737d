"""`rewardgate score --engine ray`: Ray Data on a real local cluster against the local engine.

One cluster for the module (Ray is heavy on two cores): a head on 127.0.0.2 (loopback;
127.0.0.1 would be rewritten to the external address), its dashboard on 127.0.0.2 too
(the job server `ray job submit` talks to), stopped at the end
by killing the processes it started, never `ray stop` (which stops every cluster on the
machine). Each run is the real CLI in a subprocess, the driver of its own Ray job.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.service.moto_server import moto_server

pytestmark = [pytest.mark.slow, pytest.mark.ray]

HEAD_IP = "127.0.0.2"
CLI = [sys.executable, "-m", "rewardgate.service.cli"]
RAY = str(Path(sys.executable).with_name("ray"))
# No token auth on the test clusters: `ray start` turns it on when ~/.ray/auth_token
# exists (any earlier local `ray.init()` writes one), and a driver given an explicit
# address then needs RAY_AUTH_MODE=token. Pinned, so the user's home changes nothing.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
# moto accepts any credentials; the cluster's workers read these from their environment.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def cluster_pids(temp_dir: str) -> list[int]:
    """The processes of the cluster whose session lives under `temp_dir`, and theirs."""
    tree = _children()
    roots = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    found = [pid for pid in roots if temp_dir in _cmdline(pid)]
    pids, todo = set(found), list(found)
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    return sorted(pids)


def node_pids(temp_dir: str, ip: str) -> list[int]:
    """The processes of the cluster's node at `ip` (its raylet, agents, workers)."""
    tree = _children()
    found = [
        pid
        for pid in cluster_pids(temp_dir)
        if f"node-ip-address={ip}" in _cmdline(pid) or f"node_ip_address={ip}" in _cmdline(pid)
    ]
    pids, todo = set(found), list(found)
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    return sorted(pids)


def scoring_actor_pids(temp_dir: str) -> list[int]:
    """Scoring actors (raylet's children running `Scorer`), not the workers they fork."""
    tree = _children()
    raylets = [p for p in cluster_pids(temp_dir) if "/raylet/raylet" in _cmdline(p)]
    return [
        child
        for raylet in raylets
        for child in tree.get(raylet, [])
        if "Scorer" in _cmdline(child) or "MapWorker" in _cmdline(child)
    ]


class Cluster:
    def __init__(self, address: str, temp_dir: str, dashboard: str) -> None:
        self.address = address
        self.temp_dir = temp_dir
        self.dashboard = dashboard  # the job server's URL


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    temp_dir = tempfile.mkdtemp(prefix="rgray-", dir="/tmp")  # short: socket paths
    port, dashboard_port = free_port(HEAD_IP), free_port(HEAD_IP)
    env = {**os.environ, **AWS_ENV, **RAY_ENV}
    subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address",
            HEAD_IP,
            "--port",
            str(port),
            "--include-dashboard=true",
            "--dashboard-host",
            HEAD_IP,
            "--dashboard-port",
            str(dashboard_port),
            # Ports that default to fixed numbers: another cluster on this machine (a
            # test running beside this one) must not collide with them.
            "--ray-client-server-port",
            str(free_port(HEAD_IP)),
            "--dashboard-agent-listen-port",
            str(free_port(HEAD_IP)),
            "--metrics-export-port",
            str(free_port(HEAD_IP)),
            "--temp-dir",
            temp_dir,
            # Logical CPUs: two scoring actors of one worker each plus the read tasks.
            "--num-cpus",
            "4",
            # What `--ray-resource reward=1` asks of each actor (a trainer's reward nodes).
            "--resources",
            '{"reward": 2}',
            "--disable-usage-stats",
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=180,
    )
    try:
        yield Cluster(f"{HEAD_IP}:{port}", temp_dir, f"http://{HEAD_IP}:{dashboard_port}")
    finally:
        for pid in cluster_pids(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not os.environ.get("REWARDGATE_KEEP_RAY_LOGS"):
            shutil.rmtree(temp_dir, ignore_errors=True)


# Characters JSON allows raw in a string that `str.splitlines` (Ray's read_text) also
# splits at: written unescaped (write_jsonl), a row holding one must stay one row.
LINE_BREAKERS = ("\u2028", "\u2029", "\x85")


def string_rows(n: int) -> list[dict[str, object]]:
    """Cheap verdicts of every kind: matches, misses, a similarity, an invalid row."""
    rows: list[dict[str, object]] = []
    for i in range(n):
        row: dict[str, object] = {
            "row": i,
            "response": f"answer {i % 11}",
            "reference": f"answer {i % 7}",
            "meta": {"split": "train", "tags": [i % 2], "note": LINE_BREAKERS[i % 3]},
        }
        if i % 5 == 0:
            row["options"] = {"operation": "fuzzy"}
        if i % 997 == 0:
            del row["response"]  # its own `invalid` result
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")


def comparable(row: dict[str, object]) -> dict[str, object]:
    """A row without what differs between any two runs: time taken, cache hits."""
    details = dict(row["reward_details"])  # type: ignore[call-overload]
    del details["elapsed_ms"], details["cached"]
    return {**row, "reward_details": details}


def read_jsonl(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.splitlines()]


_ALIVE_NODES = (
    "import sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
    "print(sum(1 for n in ray.nodes() if n['Alive']))"
)


def wait_for_alive_nodes(cluster: Cluster, count: int, timeout_s: float = 120) -> None:
    """Until the cluster's GCS lists `count` live nodes (a driver's own view of it)."""
    deadline = time.monotonic() + timeout_s
    seen = ""
    while time.monotonic() < deadline:
        answer = subprocess.run(
            [sys.executable, "-c", _ALIVE_NODES, cluster.address],
            capture_output=True,
            text=True,
            env={**os.environ, **RAY_ENV},
            timeout=120,
        )
        seen = answer.stdout.strip().splitlines()[-1] if answer.stdout.strip() else answer.stderr
        if seen == str(count):
            return
        time.sleep(1)
    raise AssertionError(f"the cluster never listed {count} live nodes (last: {seen[-500:]})")


def ray_args(cluster: Cluster, source: str, output: str, *extra: str) -> list[str]:
    return [
        *CLI,
        "score",
        source,
        "-o",
        output,
        "--verifier",
        "string",
        "--engine",
        "ray",
        "--ray-address",
        cluster.address,
        "--ray-workers-per-actor",
        "1",
        "--ray-actors",
        "2",
        "--quiet",
        *extra,
    ]


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("env", {**os.environ, **RAY_ENV})
    result = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=400, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, result.stderr[-3000:]
    return result  # type: ignore[no-any-return]


def wait_for_rows(path: Path, at_least: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= at_least:
            return
        assert process.poll() is None, "the run ended before the rows were written"
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {at_least} rows")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """20,000 rows and the local engine's output for them (the reference)."""
    folder = tmp_path_factory.mktemp("ray-data")
    source, local_out = folder / "in.jsonl", folder / "local.jsonl"
    write_jsonl(source, string_rows(20_000))
    run([*CLI, "score", str(source), "-o", str(local_out), "--verifier", "string", "--quiet"])
    return source, [comparable(r) for r in read_jsonl(local_out.read_bytes())]


def test_ray_output_is_the_local_engines_output(
    ray_cluster: Cluster, dataset: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    source, expected = dataset
    output = tmp_path / "ray.jsonl"
    result = run(ray_args(ray_cluster, str(source), str(output), "--ray-resource", "reward=1"))
    got = [comparable(r) for r in read_jsonl(output.read_bytes())]
    assert len(got) == len(expected) == 20_000
    assert got == expected
    statuses = {r["status"] for r in got}
    assert statuses == {"ok", "invalid"}, "both kinds of verdict went through"
    assert "scored 20000 rows" in result.stderr


def test_killed_scoring_actor_loses_nothing(
    ray_cluster: Cluster, dataset: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    source, expected = dataset
    output = tmp_path / "ray.jsonl"
    process = subprocess.Popen(
        ray_args(ray_cluster, str(source), str(output), "--chunk-size", "200"),
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_rows(output, 1, process)
        actors = scoring_actor_pids(ray_cluster.temp_dir)
        assert actors, "no scoring actor found to kill"
        os.kill(actors[0], signal.SIGKILL)
        killed_at = output.read_bytes().count(b"\n")
        _, stderr = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()[-3000:]
    assert killed_at < len(expected), "the kill must land midway"
    assert [comparable(r) for r in read_jsonl(output.read_bytes())] == expected


def test_sigkilled_driver_then_resume_gives_each_row_once_in_order(
    ray_cluster: Cluster, dataset: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    source, expected = dataset
    output = tmp_path / "ray.jsonl"
    args = ray_args(ray_cluster, str(source), str(output), "--chunk-size", "200")
    process = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)
    wait_for_rows(output, 1000, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written_before = output.read_bytes().count(b"\n")
    assert 1000 <= written_before < len(expected), "the kill must land midway"

    refused = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert refused.returncode != 0 and "--resume" in refused.stderr

    resumed = run([*args, "--resume"])
    assert f"after {written_before} rows from an earlier run" in resumed.stderr
    got = [comparable(r) for r in read_jsonl(output.read_bytes())]
    assert [r["row"] for r in got] == list(range(len(expected)))
    assert got == expected


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[str]:
    """A moto S3 server on loopback; yields the query string pyarrow's URIs need."""
    import pyarrow.fs as pafs

    with moto_server() as port:
        fs = pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        fs.create_dir("rewards")
        yield f"endpoint_override=127.0.0.1%3A{port}&scheme=http&region=us-east-1"


def test_object_store_input_and_output(
    ray_cluster: Cluster, s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow as pa
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    rows = string_rows(3000)
    local_source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), local_source)
    local_out = tmp_path / "local.jsonl"
    run([*CLI, "score", str(local_source), "-o", str(local_out), "--verifier", "string"])
    expected = [comparable(r) for r in read_jsonl(local_out.read_bytes())]

    fs, _ = pafs.FileSystem.from_uri(f"s3://rewards/in.parquet?{s3}")
    with fs.open_output_stream("rewards/in.parquet") as f:
        f.write(local_source.read_bytes())
    run(
        ray_args(ray_cluster, f"s3://rewards/in.parquet?{s3}", f"s3://rewards/scored?{s3}"),
        env={**os.environ, **AWS_ENV, **RAY_ENV},
    )
    with fs.open_input_stream("rewards/scored/manifest.json") as f:
        manifest = json.loads(f.read())
    assert manifest["rows"] == 3000 and manifest["format"] == "jsonl"
    data = b""
    first = 0
    for part in manifest["parts"]:
        assert part["first_row"] == first
        with fs.open_input_stream(f"rewards/scored/{part['path']}") as f:
            chunk = f.read()
        assert chunk.count(b"\n") == part["rows"]
        data += chunk
        first += part["rows"]
    assert [comparable(r) for r in read_jsonl(data)] == expected


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """1,000 rows and the local engine's output for them."""
    folder = tmp_path_factory.mktemp("ray-small")
    source, local_out = folder / "in.jsonl", folder / "local.jsonl"
    write_jsonl(source, string_rows(1000))
    run([*CLI, "score", str(source), "-o", str(local_out), "--verifier", "string", "--quiet"])
    return source, [comparable(r) for r in read_jsonl(local_out.read_bytes())]


def test_ray_job_submit_with_default_actor_sizes(
    ray_cluster: Cluster, small: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    """`ray job submit -- rewardgate score ...`: the job's driver finds the cluster through
    the RAY_ADDRESS the job server sets. Default sizes (one worker per actor, as many
    actors as the 4 CPUs allow) reserve every CPU of the cluster for the actors: a read
    that asked for a CPU would wait for one forever (it once did)."""
    source, expected = small
    output = tmp_path / "ray.jsonl"
    args = [*CLI, "score", str(source), "-o", str(output), "--verifier", "string"]
    job = run(
        [RAY, "job", "submit", "--address", ray_cluster.dashboard, "--", *args, "--engine", "ray"],
        env={**{k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}, **RAY_ENV},
    )
    assert "succeeded" in job.stdout + job.stderr
    assert [comparable(r) for r in read_jsonl(output.read_bytes())] == expected


def test_ray_refuses_an_actor_no_node_can_hold(ray_cluster: Cluster, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    write_jsonl(source, string_rows(10))
    args = ray_args(ray_cluster, str(source), str(tmp_path / "out.jsonl"))
    args[args.index("--ray-workers-per-actor") + 1] = "64"
    refused = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert refused.returncode != 0
    assert "the largest node of the cluster has 4" in refused.stderr


def test_local_cluster_started_when_no_address_is_given(
    small: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    """No --ray-address and no RAY_ADDRESS: the run starts a local cluster of its own
    (with this machine's CPUs) and stops it when it ends, every process of it: the
    cluster's daemons, its workers, the scoring actors and the engine workers they fork.
    They all inherit the run's environment, so a mark put there finds each of them."""
    source, expected = small
    output = tmp_path / "ray.jsonl"
    before = set(_raylets())
    mark = f"{os.getpid()}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    # A new local cluster writes a token to ~/.ray/auth_token: keep it in this test's home.
    result = run(
        [*CLI, "score", str(source), "-o", str(output), "--verifier", "string", "--engine", "ray"],
        env={**env, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0", "RG_RAY_MARK": mark},
    )
    assert "scored 1000 rows" in result.stderr
    assert [comparable(r) for r in read_jsonl(output.read_bytes())] == expected
    assert set(_raylets()) <= before, "the local cluster outlived the run"
    deadline = time.monotonic() + 30  # processes told to stop may take a moment to go
    while (left := _marked(f"RG_RAY_MARK={mark}")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, [f"{pid}: {_cmdline(pid)[:200]}" for pid in left]


def _raylets() -> list[int]:
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [pid for pid in pids if _cmdline(pid).split(" ", 1)[0].endswith("/raylet")]


def _marked(entry: str) -> list[int]:
    """Live processes whose environment holds `entry` (zombies have none left)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.encode() in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
    return found


def test_second_node_killed_midway_loses_nothing(
    ray_cluster: Cluster, dataset: tuple[Path, list[dict[str, object]]], tmp_path: Path
) -> None:
    """A node joined on 127.0.0.3 runs one of the two actors (Ray Data spreads them);
    killed mid-run, its actor restarts on the head and its batches are redone."""
    source, expected = dataset
    subprocess.run(
        [
            RAY,
            "start",
            "--address",
            ray_cluster.address,
            "--node-ip-address",
            "127.0.0.3",
            "--num-cpus",
            "2",
            "--disable-usage-stats",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, **AWS_ENV, **RAY_ENV},
        timeout=180,
    )
    # `ray start` returns before the head counts the node: a run started earlier sizes
    # and spreads its actors over the head alone (seen in CI: no actor on the node).
    wait_for_alive_nodes(ray_cluster, 2)
    output = tmp_path / "ray.jsonl"
    process = subprocess.Popen(
        ray_args(ray_cluster, str(source), str(output), "--chunk-size", "200"),
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_rows(output, 1, process)
        node = node_pids(ray_cluster.temp_dir, "127.0.0.3")
        assert any("Scorer" in _cmdline(pid) for pid in node), "no actor on the second node"
        for pid in node:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        killed_at = output.read_bytes().count(b"\n")
        _, stderr = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()[-3000:]
    assert killed_at < len(expected), "the kill must land midway"
    assert [comparable(r) for r in read_jsonl(output.read_bytes())] == expected
