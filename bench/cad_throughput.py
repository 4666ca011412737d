"""CAD rewards through warm sandboxed workers vs. CadQuery + the metric in one process.

Workload: each reference part of tests/data/cad with a group of four responses (the
part itself, 10 % longer, 10 % shorter, moved and scaled), as a GRPO batch would send
them. Prints items/s for

1. direct: in one process of the CAD runtime's python, no sandbox, no limits: `exec`
   the script, take `result`, then the same metric code the verifier runs
   (`geometry.py`: BRepCheck and properties, tessellation, IoU by the exact boolean,
   8192-point Chamfer distance); each reference built once, as the verifier caches it;
2. engine: the service's engine with `--workers` worker processes on each of `--backends`:
   bwrap (each run a fresh bwrap sandbox forked from a zygote that preloaded CadQuery)
   or docker (each run forked from such a zygote in a pooled container of the sandbox
   image, which carries the CAD runtime); one batch per part, result cache off (what a
   trainer gets from `rewardgate serve`, minus HTTP);

and the ratio of (2) to (1): the price of isolation, limits and the process per run.
Direct and engine run interleaved, round by round (`--rounds`), each round from cold
caches (a new direct process, a new engine: each reference is built again); the table
gives the median of the rounds. Where this process may make a cgroup (root, cgroup v1
cpuacct) it also prints CPU seconds per item: this process, its children and their bwrap
sandboxes; on docker, plus every docker container's (the host's docker cgroup: other
containers' work counts too).

    .venv/bin/python bench/cad_throughput.py [--workers 2] [--rounds 3] [--backends bwrap,docker]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GEOMETRY_DIR = ROOT / "verifiers" / "cad"
MOVED = "\nresult = result.val().scale(2.5).translate(cq.Vector(30, -12, 7))\n"


def workload() -> list[tuple[str, str]]:
    """(reference script, response script) pairs, four responses per part."""
    sys.path.insert(0, str(ROOT))
    from tests.verifiers.cad_support import PARTS, changed_dimension, part

    items = []
    for name in PARTS:
        reference = part(name)
        for response in (
            reference,
            changed_dimension(reference, 1.1),
            changed_dimension(reference, 0.9),
            reference + MOVED,
        ):
            items.append((reference, response))
    return items


def _direct_main() -> None:
    """Run in the CAD runtime's python: score the workload on stdin, print items/s."""
    sys.path.insert(0, str(GEOMETRY_DIR))
    import cadquery as cq
    import geometry  # type: ignore[import-not-found]

    def measured(script: str) -> dict[str, Any]:
        namespace: dict[str, Any] = {}
        exec(compile(script, "script.py", "exec"), namespace)
        obj = namespace["result"]
        shape = (obj.val() if isinstance(obj, cq.Workplane) else obj).wrapped
        props = geometry.properties(shape)
        return {
            "shape": shape,
            "props": props,
            "mesh": geometry.tessellate(shape, max(props["bbox"])),
        }

    work = json.load(sys.stdin)
    references: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    for reference, response in work:
        if reference not in references:
            references[reference] = measured(reference)
        cand = measured(response)
        geometry.compare(cand, references[reference], True, 8192, 0)
    print(len(work) / (time.perf_counter() - start))


def direct(work: list[tuple[str, str]], python: Path) -> float:
    done = subprocess.run(
        [str(python), __file__, "--direct"],
        input=json.dumps(work),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def engine(
    work: list[tuple[str, str]], workers: int, group: int, backend: str, image: str
) -> float:
    from rewardgate.testing import start_engine
    from rewardgate.verifiers.base import VerifierEnv
    from rewardgate.verifiers.cad import CadVerifier

    config = {"sandbox_backend": backend, "docker_sandbox": {"image": image}}
    harness = start_engine(CadVerifier, env=VerifierEnv(config=config), workers=workers, cache=None)
    try:
        batches = [
            [
                {
                    "verifier": "cad",
                    "response": f"```python\n{response}\n```",
                    "reference": {"reference_code": reference},
                }
                for reference, response in work[i : i + group]
            ]
            for i in range(0, len(work), group)
        ]
        # Each worker's zygote (and, on docker, its container) imports CadQuery once,
        # before the clock starts.
        harness.score([batches[0][0]] * workers)
        start = time.perf_counter()
        for batch in batches:
            results = harness.score(batch)
            assert all(r.status == "ok" and r.reward > 0 for r in results), results
        return len(work) / (time.perf_counter() - start)
    finally:
        harness.close()


DOCKER_CPU = Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage")


def cpu_meter(backend: str) -> Callable[[], float] | None:
    """CPU seconds used so far by this process and what it starts (and docker's)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from code_throughput import cpu_meter as meter

    own: Callable[[], float] | None = meter()
    if own is None or backend != "docker":
        return own
    if not DOCKER_CPU.exists():
        return None
    return lambda: own() + int(DOCKER_CPU.read_text()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--backends", default="bwrap", help="comma-separated: bwrap,docker")
    parser.add_argument("--image", default="rewardgate/sandbox:latest", help="docker's image")
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--cad-python", type=Path, default=Path("/usr/local/lib/rewardgate/cad/bin/python")
    )
    args = parser.parse_args()
    if args.direct:
        _direct_main()
        return
    sys.path.insert(0, str(ROOT))
    work = workload()
    backends = args.backends.split(",")
    print(f"items: {len(work)} ({len(work) // 4} references x 4 responses), 8192 points, IoU")
    print(f"{args.workers} warm workers, {args.rounds} interleaved rounds (medians)")
    meters = {backend: cpu_meter(backend) for backend in backends}
    runs: list[dict[str, tuple[float, float]]] = []
    for round_ in range(args.rounds):
        run: dict[str, tuple[float, float]] = {}
        for side in ("direct", *backends):
            cpu = meters[backends[0] if side == "direct" else side]
            used = cpu() if cpu else 0.0
            if side == "direct":
                rate = direct(work, args.cad_python)
            else:
                rate = engine(work, args.workers, 4, side, args.image)
            run[side] = (rate, ((cpu() if cpu else 0.0) - used) / len(work))
        runs.append(run)
        line = ", ".join(f"{side} {rate:5.2f}/s" for side, (rate, _) in run.items())
        print(f"  round {round_ + 1}: {line}")
    base_rate = median(r["direct"][0] for r in runs)
    base_cpu = median(r["direct"][1] for r in runs)
    for side in ("direct", *backends):
        rate = median(r[side][0] for r in runs)
        label = "direct CadQuery + metric, one process" if side == "direct" else f"engine, {side}"
        line = f"{label:<38}: {rate:6.2f} items/s"
        if side != "direct":
            line += f"  ratio {rate / base_rate:.2f}"
        if meters[side if side != "direct" else backends[0]]:
            used = median(r[side][1] for r in runs)
            line += f"  | cpu {used * 1000:6.0f} ms/item"
            if side != "direct":
                line += f" ({used / base_cpu:.2f}x direct's)"
        print(line)


if __name__ == "__main__":
    main()
