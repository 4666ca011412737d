"""`rewardgate score` on the local engine vs. on Ray Data (`--engine ray`), in one run.

Workload: N distinct math rows (chain-of-thought text with a boxed final, right or wrong),
scored by the `math` verifier, each through the real CLI in a subprocess:

1. the local engine (`--engine local`, one worker per core);
2. Ray Data on one node: a head started on 127.0.0.2 (loopback), the default actor
   sizes (one worker per actor, as many actors as the node's CPUs allow);
3. with `--second-node`, the same after a second node joined on 127.0.0.3.

Rounds alternate the local engine and Ray (one cluster kept up for all of them) and the
median of the rounds is printed.

Prints items/s (wall time of the whole command, cluster start excluded: a long run
amortises it) and CPU-seconds (the command and every process it starts; for Ray also
every process of the cluster, idle ones included, and the actors' forked workers: each
side's processes are counted from a cgroup of its own where this runs as root on cgroup
v1, else from /proc, which misses processes that died before the command ended), and
the ratio of Ray's items/s to the local engine's.

    .venv/bin/python bench/scale.py [--rows 20000] [--long 100000] [--rounds 3] [--second-node]

`--long` (0: off) also scores a longer file each round and prints the marginal rate
between the two sizes and each side's fixed start-up, which a 20,000-row run is mostly
made of (about 5 s local, 13 s on Ray, of 10 and 17 s).

Nodes on one machine share its cores, so the second node shows the cost of crossing
nodes (its actors' blocks and lines travel between object stores) and of running twice
the workers on the same cores, not a speed-up. On a real cluster each node brings its
own cores: Ray Data starts actors there (a fixed `--ray-actors`, or by default as many
as the CPUs allow), the blocks spread over them, and items/s grows with the nodes, each
adding about one node's rate, less the fixed start-up (connecting, the read task, the
actors' engines starting) that a longer run amortises, until the driver becomes the
limit: every row passes through it, but only as an encoded line it writes (the actors
parse the rows and encode the output), and the one read task of a single input file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HEAD_IP = "127.0.0.2"
TICK = os.sysconf("SC_CLK_TCK")


def rows(n: int) -> list[dict[str, object]]:
    return [
        {
            "row": i,
            "response": f"Step {i}: we compute $\\frac{{{i}}}{{{i % 7 + 1}}}$, "
            f"so \\boxed{{{i % 9}}}",
            "reference": str(i % 3),
        }
        for i in range(n)
    ]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> tuple[int, list[str]]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), fields


def cluster_pids(temp_dir: str) -> list[int]:
    """Processes whose command line names the session folder, and their descendants."""
    tree: dict[int, list[int]] = {}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid, _ = _stat(int(entry.name))
            tree.setdefault(ppid, []).append(int(entry.name))
            if temp_dir.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    pids, todo = set(found), list(found)
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in pids:
                pids.add(child)
                todo.append(child)
    return sorted(pids)


def cluster_cpu_s(temp_dir: str) -> float:
    """CPU-seconds of the cluster's live processes and the children they reaped."""
    total = 0
    for pid in cluster_pids(temp_dir):
        with contextlib.suppress(OSError, IndexError, ValueError):
            _, fields = _stat(pid)
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


def start_cluster(temp_dir: str, cpus: int, second_node: bool) -> str:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    port = free_port(HEAD_IP)
    head = [str(BIN / "ray"), "start", "--head", "--node-ip-address", HEAD_IP]
    head += ["--port", str(port), "--include-dashboard=false", "--temp-dir", temp_dir]
    head += ["--dashboard-port", str(free_port("127.0.0.1")), "--disable-usage-stats"]
    head += ["--ray-client-server-port", str(free_port(HEAD_IP)), "--num-cpus", str(cpus)]
    subprocess.run(head, check=True, env=env, capture_output=True, timeout=180)
    address = f"{HEAD_IP}:{port}"
    if second_node:
        join_second_node(address, cpus)
    return address


def stop_cluster(temp_dir: str) -> None:
    for pid in cluster_pids(temp_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(temp_dir, ignore_errors=True)


class CpuGroups:
    """CPU of the cluster and of the commands, each from a cgroup of its own (cgroup v1
    cpuacct, root), so no process is missed: an actor's forked engine workers die with
    the job, and what dead processes used is gone from /proc. `enter(name)` moves this
    process into that group; whatever it starts from then on is counted there."""

    def __init__(self) -> None:
        from rewardgate.sandbox.cgroups import CgroupManager

        manager = CgroupManager()
        if "cpuacct" not in manager.parents():
            raise OSError(manager.problems.get("cpuacct", "no cpuacct controller"))
        self.groups = {name: manager.create() for name in ("cluster", "commands")}

    def enter(self, name: str) -> None:
        (self.groups[name].dirs["cpuacct"] / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self, name: str) -> float:
        return (self.groups[name].cpu_ns() or 0) / 1e9


def cpu_groups() -> CpuGroups | None:
    try:
        return CpuGroups()
    except OSError as exc:
        print(f"(no cgroup for CPU accounting, /proc is read instead: {exc})")
        return None


def run_score(
    args: list[str], n: int, temp_dir: str | None = None, groups: CpuGroups | None = None
) -> tuple[float, float]:
    """(items/s, CPU-seconds) of one `rewardgate score` command; with `temp_dir`, the
    cluster's CPU during it is added (with `groups`, from its cgroup)."""
    if groups is not None:
        cluster0, commands0 = groups.seconds("cluster"), groups.seconds("commands")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cluster_before = cluster_cpu_s(temp_dir) if temp_dir and groups is None else 0.0
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "rewardgate.service.cli", "score", *args, "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    if groups is not None:
        cpu = groups.seconds("commands") - commands0
        if temp_dir:
            cpu += groups.seconds("cluster") - cluster0
        return n / seconds, cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if temp_dir:
        cpu += cluster_cpu_s(temp_dir) - cluster_before
    return n / seconds, cpu


def join_second_node(address: str, cpus: int) -> None:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    node = [str(BIN / "ray"), "start", "--address", address, "--node-ip-address"]
    node += ["127.0.0.3", "--num-cpus", str(cpus), "--disable-usage-stats"]
    subprocess.run(node, check=True, env=env, capture_output=True, timeout=180)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument(
        "--long",
        type=int,
        default=100_000,
        help="also score this many rows each round (0: not); prints the marginal rate "
        "between the sizes",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--second-node", action="store_true")
    options = parser.parse_args()
    cpus = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="rgscale-"))
    sizes = [options.rows] + ([options.long] if options.long > options.rows else [])
    for size in sizes:
        source = work / f"in-{size}.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in rows(size)))
    # (setup, rows) -> [(seconds, CPU-seconds)] per round
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    temp_dir = tempfile.mkdtemp(prefix="rgsc-", dir="/tmp")
    try:
        groups = cpu_groups()
        if groups is not None:
            groups.enter("cluster")
        address = start_cluster(temp_dir, cpus, False)
        if groups is not None:
            groups.enter("commands")
        # Default actor sizes: one worker per actor, as many actors as the CPUs allow
        # (two on a 2-core node: the local engine's two workers, each with the actor's
        # engine gateway of its own).
        setups = [("ray data, one node", False)]
        if options.second_node:
            setups.append(("ray data, two nodes", True))
        for name, second in setups:
            if second:
                if groups is not None:
                    groups.enter("cluster")
                join_second_node(address, cpus)
                if groups is not None:
                    groups.enter("commands")
            # Interleaved by round: the local engine, then Ray, so a noisy spell of the
            # machine hits both; the median of the rounds is printed.
            for _ in range(options.rounds):
                for size in sizes:
                    common = [str(work / f"in-{size}.jsonl"), "--verifier", "math", "--force"]
                    local_args = [*common, "-o", str(work / "local.jsonl")]
                    ray_args = [*common, "-o", str(work / "ray.jsonl"), "--engine", "ray"]
                    ray_args += ["--ray-address", address]
                    for setup, args, cluster in (
                        ("local engine", local_args, None),
                        (name, ray_args, temp_dir),
                    ):
                        rate, cpu = run_score(args, size, cluster, groups)
                        results.setdefault((setup, size), []).append((size / rate, cpu))
    finally:
        stop_cluster(temp_dir)
        shutil.rmtree(work, ignore_errors=True)
    print(f"math rows, {cpus} cores, median of {options.rounds} rounds")
    print(f"{'setup':<22}{'rows':>8}{'items/s':>10}{'CPU-s':>10}{'vs local':>10}")
    median_s = {key: statistics.median(t for t, _ in runs) for key, runs in results.items()}
    for (name, size), runs in results.items():
        rate = size / median_s[(name, size)]
        cpu = statistics.median(c for _, c in runs)
        base = size / median_s[("local engine", size)]
        print(f"{name:<22}{size:>8}{rate:>10.1f}{cpu:>10.1f}{rate / base:>9.2f}x")
    if len(sizes) == 2:
        # The rate past the fixed start-up (a process, imports, the engine's warm-up;
        # for Ray also connecting and the actors' processes): what a long run approaches.
        short, long = sizes
        print(f"\nmarginal rate, rows {short} to {long} (median seconds of each size)")
        marginal = {
            name: (long - short) / (median_s[(name, long)] - median_s[(name, short)])
            for name, size in results
            if size == long
        }
        for name, rate in marginal.items():
            start_up = median_s[(name, short)] - short / rate
            print(
                f"{name:<22}{rate:>10.1f} items/s{rate / marginal['local engine']:>9.2f}x"
                f"   start-up {start_up:5.1f} s"
            )


if __name__ == "__main__":
    main()
