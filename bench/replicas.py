"""N gateway replicas behind the shipped nginx.conf vs. one gateway, same total workers.

Workload: distinct math items (chain-of-thought text with a boxed final, right or
wrong; new ones every round and deployment, so no verdict cache helps either side;
a warm-up batch first, not counted), sent by the public `RewardClient` with the same
batch size and concurrency to:

1. one `rewardgate serve` with `--workers W`;
2. `--replicas N` `rewardgate serve` processes with W / N workers each, behind nginx
   running deploy/nginx/nginx.conf (only its upstreams and port rewritten, as in
   tests/service/test_replicas.py).

The two alternate within each round (the order flips every round) so that a machine
busy with something else slows both alike. Prints, per round and summed, items/s (wall
time of the client's calls) and CPU-seconds (every process of the deployment: the
gateways, their forked workers and nginx, read from /proc before and after), then the
ratios replicas / one gateway.

    .venv/bin/python bench/replicas.py [--items 2000] [--rounds 3] [--replicas 2] [--workers 4]

On one machine the replicas share its cores, so the ratio shows what nginx and the
extra gateway processes cost (or gain, where one gateway's event loop is the limit);
across machines each replica brings its own cores. No Redis: with distinct items there
is nothing to share.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import cluster_cpu_s  # noqa: E402
from rewardgate.clients import RewardClient  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.service.test_replicas import nginx_conf  # noqa: E402

BIN = Path(sys.executable).parent


def items(n: int, tag: str) -> list[dict[str, object]]:
    return [
        {
            "verifier": "math",
            "id": f"{tag}-{i}",
            "response": f"[{tag}] Step {i}: we compute $\\frac{{{i}}}{{{i % 7 + 1}}}$, "
            f"so \\boxed{{{i % 9}}}",
            "reference": str(i % 3),
        }
        for i in range(n)
    ]


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready:\n{log.read_text()[-3000:]}")


class Deployment:
    """Processes started for one side of the comparison, stopped together."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.url = ""

    def start(self, args: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = self.folder / f"{name}.log"
        self.processes.append(
            subprocess.Popen(
                args,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        )

    def gateway(self, workers: int, name: str) -> str:
        port = free_port()
        env = {
            "REWARDGATE_PORT": str(port),
            "REWARDGATE_WORKERS": str(workers),
            "REWARDGATE_LOG_LEVEL": "warning",
        }
        # The folder on the command line marks the gateway and its forked workers as
        # this deployment's (bench/scale.py's cluster_cpu_s finds them by it).
        assets = self.folder / name / "assets"
        self.start([str(BIN / "rewardgate"), "serve", "--asset-dir", str(assets)], name, env)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, self.processes[-1], self.folder / f"{name}.log")
        return url

    def cpu_s(self) -> float:
        """CPU-seconds of every process whose command line names this folder, and theirs."""
        return cluster_cpu_s(f"{self.folder}/")

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def one_gateway(folder: Path, workers: int) -> Iterator[Deployment]:
    deployment = Deployment(folder)
    try:
        deployment.url = deployment.gateway(workers, "single")
        yield deployment
    finally:
        deployment.stop()


@contextlib.contextmanager
def replicas_behind_nginx(folder: Path, n: int, workers: int) -> Iterator[Deployment]:
    nginx = shutil.which("nginx")
    assert nginx is not None, "nginx is installed by setup (scripts/debian-packages.txt)"
    deployment = Deployment(folder)
    try:
        urls = [deployment.gateway(max(1, workers // n), f"replica{i}") for i in range(n)]
        port = free_port()
        (folder / "nginx").mkdir()
        conf = nginx_conf(folder / "nginx", port, [u.removeprefix("http://") for u in urls])
        deployment.start(
            [nginx, "-p", str(folder / "nginx"), "-c", str(conf), "-g", "daemon off;"], "nginx"
        )
        deployment.url = f"http://127.0.0.1:{port}"
        wait_ready(deployment.url, deployment.processes[-1], folder / "nginx.log")
        yield deployment
    finally:
        deployment.stop()


def measure(
    deployment: Deployment, batch: list[dict[str, object]], batch_size: int, concurrency: int
) -> tuple[float, float]:
    """(items/s, CPU-seconds) of scoring `batch` through the deployment's URL."""
    with RewardClient(
        deployment.url, batch_size=batch_size, concurrency=concurrency, timeout=600
    ) as client:
        cpu0, t0 = deployment.cpu_s(), time.perf_counter()
        results = client.score_batch(batch)
        wall, cpu = time.perf_counter() - t0, deployment.cpu_s() - cpu0
    bad = [r for r in results if r.status != "ok"]
    assert not bad, f"{len(bad)} items not ok, e.g. {bad[0].error}"
    return len(batch) / wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="per round and deployment")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="in all")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(
        f"{args.items} math items a round, {args.rounds} rounds; one gateway with "
        f"{args.workers} workers vs {args.replicas} replicas with "
        f"{max(1, args.workers // args.replicas)} each behind nginx; "
        f"{os.cpu_count()} cores; batch {args.batch_size}, concurrency {args.concurrency}"
    )
    totals = {"one": [0.0, 0.0], "replicas": [0.0, 0.0]}  # wall-seconds, CPU-seconds
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        folder = Path(tmp)
        (folder / "one").mkdir()
        (folder / "lb").mkdir()
        with (
            one_gateway(folder / "one", args.workers) as one,
            replicas_behind_nginx(folder / "lb", args.replicas, args.workers) as lb,
        ):
            # Each worker's first items pay for imports and caches: not measured.
            for name, deployment in (("one", one), ("replicas", lb)):
                warm = items(max(args.workers * 8, args.batch_size), f"warm-{name}")
                measure(deployment, warm, args.batch_size, args.concurrency)
            for round_ in range(1, args.rounds + 1):
                order = [("one", one), ("replicas", lb)]
                if round_ % 2 == 0:
                    order.reverse()
                line = []
                for name, deployment in order:
                    batch = items(args.items, f"r{round_}-{name}")
                    rate, cpu = measure(deployment, batch, args.batch_size, args.concurrency)
                    totals[name][0] += args.items / rate
                    totals[name][1] += cpu
                    line.append(f"{name} {rate:8.1f} items/s {cpu:7.2f} CPU-s")
                print(f"round {round_}: " + " | ".join(sorted(line)))
    n = args.items * args.rounds
    (one_wall, one_cpu), (lb_wall, lb_cpu) = totals["one"], totals["replicas"]
    print(
        f"all rounds: one {n / one_wall:8.1f} items/s {one_cpu:7.2f} CPU-s | "
        f"replicas {n / lb_wall:8.1f} items/s {lb_cpu:7.2f} CPU-s"
    )
    print(
        f"ratio replicas/one: items/s {one_wall / lb_wall:.2f}x, "
        f"CPU-seconds {lb_cpu / max(one_cpu, 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()
