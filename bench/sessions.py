"""Tool sessions (service/sessions.py) on bwrap: what a session costs.

- create + first call: seconds from `create` to the answer of a first trivial cell;
- per-call overhead: a trivial cell in a live session against the same program as a
  one-shot `Backend.run` (`python3 -c`), the cost sessions save per turn;
- sessions per GiB: `--hold` sessions held at once, each having run one cell, their
  processes' proportional set size (PSS, shared pages split between sharers) summed,
  and the cgroup cap that bounds each.

    .venv/bin/python bench/sessions.py [--calls 50] [--hold 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewardgate.sandbox.api import Limits  # noqa: E402
from rewardgate.sandbox.registry import get_backend  # noqa: E402
from rewardgate.service.sessions import SessionLimits, SessionManager  # noqa: E402


def pss_kb(pid: int) -> int:
    """A process's proportional set size (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--hold", type=int, default=50)
    args = parser.parse_args()
    manager = SessionManager("bwrap", max_live=args.hold + 2, limits=SessionLimits())
    try:
        firsts = []
        for _ in range(5):
            started = time.perf_counter()
            s = manager.create("python")
            manager.run(s.id, "1")
            firsts.append(time.perf_counter() - started)
            manager.delete(s.id)
        s = manager.create("python")
        per_call = []
        for _ in range(args.calls):
            started = time.perf_counter()
            manager.run(s.id, "1 + 1")
            per_call.append(time.perf_counter() - started)
        manager.delete(s.id)
        backend = get_backend("bwrap")
        one_shot = []
        for _ in range(max(5, args.calls // 5)):
            started = time.perf_counter()
            backend.run(["python3", "-c", "1 + 1"], limits=Limits(wall_s=10))
            one_shot.append(time.perf_counter() - started)
        with ThreadPoolExecutor(8) as pool:
            held = list(pool.map(lambda _: manager.create("python"), range(args.hold)))
            list(pool.map(lambda h: manager.run(h.id, "x = 1"), held))
        total_kb = sum(pss_kb(pid) for h in held for pid in h.process.pids())
        print(f"create + first call: median {statistics.median(firsts) * 1000:.0f} ms")
        print(
            f"per call: median {statistics.median(per_call) * 1000:.2f} ms in a session, "
            f"{statistics.median(one_shot) * 1000:.0f} ms as a one-shot run"
        )
        per_session_mb = total_kb / 1024 / max(1, args.hold)
        print(
            f"{args.hold} sessions held: {total_kb / 1024:.0f} MiB PSS, {per_session_mb:.1f} MiB "
            f"each, {1024 / max(per_session_mb, 0.001):.0f} per GiB "
            f"(each capped at {manager.limits.memory_mb} MB by its cgroup)"
        )
    finally:
        manager.close()


if __name__ == "__main__":
    main()
