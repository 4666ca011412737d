"""Every bench in one run, one Markdown file: the table the README shows.

Each bench runs as its own process, one after another (never two at once: they would
share the cores and distort each other), with the arguments below; its stdout — the
bench's own table of items/s and ratios against the bare library, wall and CPU — is
kept verbatim under a heading naming the command, its exit status and its wall time.
The file starts with the date, the machine (CPU model, cores, memory, kernel) and the
load average before and after, so a figure read later says where it came from.

`--quick` runs every bench at smoke sizes (a minute or two in all: checks that each
bench still runs, not a measurement). `--only NAME ...` picks benches by name.

    PYTHONPATH=. .venv/bin/python bench/all.py [-o bench/RESULTS.md] [--quick] [--only ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Bench:
    """One bench script with its measuring and its smoke-size arguments."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    what: str


BENCHES = (
    Bench(
        "overhead",
        "overhead.py",
        ("--rounds", "5", "--batches", "40"),
        ("--rounds", "1", "--batches", "2", "--batch", "64"),
        "the engine's own cost per item (trivial verifier), in-process and over HTTP",
    ),
    Bench(
        "cheap_verifiers",
        "cheap_verifiers.py",
        ("--items", "3000", "--rounds", "7"),
        ("--items", "100", "--rounds", "1"),
        "qa, preference, grounding, symbolic_regression: `judge` against the papers' code",
    ),
    Bench(
        "math",
        "math_throughput.py",
        ("--prompts", "256", "--group", "16", "--rounds", "3", "--inflight", "16"),
        ("--prompts", "8", "--group", "4"),
        "math through HTTP against math-verify called directly",
    ),
    Bench(
        "sql",
        "sql_throughput.py",
        ("--items", "4000", "--rounds", "5", "--batch", "256"),
        ("--items", "60", "--rounds", "1"),
        "SQL against a bare sqlite3 execute-and-compare loop",
    ),
    Bench(
        "code",
        "code_throughput.py",
        ("--rounds", "1", "--backends", "bwrap,docker"),
        ("--rounds", "1", "--backends", "bwrap"),
        "Python code tests in the sandbox against an unsandboxed run",
    ),
    Bench(
        "native",
        "native_throughput.py",
        ("--backends", "bwrap,docker"),
        ("--backends", "bwrap", "--variants", "1", "--languages", "cpp,go"),
        "compiled and scripted languages against the unsandboxed compile-and-run",
    ),
    Bench(
        "cad",
        "cad_throughput.py",
        ("--rounds", "3", "--backends", "bwrap,docker"),
        ("--rounds", "1", "--backends", "bwrap"),
        "CAD against CadQuery and the metric in one process",
    ),
    Bench(
        "render",
        "render_throughput.py",
        ("--group", "8"),
        ("--group", "2"),
        "SVG rendering rewards",
    ),
    Bench(
        "compose",
        "compose_overhead.py",
        ("--items", "2000"),
        ("--items", "50"),
        "composition's cost over its parts",
    ),
    Bench(
        "patch",
        "patch.py",
        ("--items", "200", "--rounds", "5"),
        ("--items", "20", "--rounds", "1"),
        "patch rewards against the bare difflib loop",
    ),
)


def machine() -> list[str]:
    """What the numbers were measured on."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"- CPU: {model}, {os.cpu_count()} logical cores; memory {memory:.1f} GiB",
        f"- System: {platform.platform()}; Python {platform.python_version()}",
    ]


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@dataclass(frozen=True)
class Ran:
    """A bench's outcome: its section of the file and its line in the index."""

    section: list[str]
    status: str
    wall_s: float

    @property
    def ok(self) -> bool:
        return self.status == "exit 0"


def run(bench: Bench, quick: bool, timeout_s: float) -> Ran:
    """The bench's section: its command, status, wall time and stdout verbatim."""
    args = bench.quick if quick else bench.full
    command = [sys.executable, str(HERE / bench.script), *args]
    shown = " ".join(["PYTHONPATH=. .venv/bin/python", f"bench/{bench.script}", *args])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
        )
        status, out, err = f"exit {done.returncode}", done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        status = f"stopped after {timeout_s:g} s"
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    wall = time.perf_counter() - started
    lines = [f"## {bench.name}", "", bench.what, "", f"`{shown}` — {status}, {wall:.0f} s", ""]
    lines += ["```", out.rstrip() or "(no output)", "```", ""]
    if status != "exit 0":
        tail = err.strip().splitlines()[-15:]
        lines += ["Its last lines on stderr:", "", "```", *tail, "```", ""]
    return Ran(lines, status, wall)


def index(chosen: list[Bench], ran: list[Ran]) -> list[str]:
    """One table of every bench of the run: what it measures, how it ended, how long it
    took (a bench not reached yet, when the file is written as the run goes, says so)."""
    lines = ["| bench | measures | outcome | seconds |", "|---|---|---|---:|"]
    for i, bench in enumerate(chosen):
        done = ran[i] if i < len(ran) else None
        outcome = done.status if done is not None else "not run yet"
        seconds = f"{done.wall_s:.0f}" if done is not None else ""
        lines.append(f"| [{bench.name}](#{bench.name}) | {bench.what} | {outcome} | {seconds} |")
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="smoke sizes: checks, not figures")
    names = [bench.name for bench in BENCHES]
    parser.add_argument("--only", nargs="+", choices=names, help="benches to run")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per bench")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["PYTHONPATH=. .venv/bin/python bench/all.py", *sys.argv[1:]])
    lines = ["# rewardgate benches", "", f"- Date: {now}", *machine()]
    lines += [f"- Command: `{command}`", f"- Load average before: {load()}", ""]
    if args.quick:
        lines += ["Smoke sizes (`--quick`): these check that each bench runs; not figures.", ""]
    ran: list[Ran] = []
    for bench in chosen:
        print(f"bench/all.py: {bench.name} ...", file=sys.stderr, flush=True)
        ran.append(run(bench, args.quick, args.timeout))
        # Written after each bench: a run cut short keeps what it measured.
        sections = [line for done in ran for line in done.section]
        after = [f"Load average after: {load()}", ""] if len(ran) == len(chosen) else []
        args.output.write_text("\n".join([*lines, *index(chosen, ran), *sections, *after]))
    failed = sum(not done.ok for done in ran)
    print(f"bench/all.py: wrote {args.output} ({failed} of {len(chosen)} failed)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
