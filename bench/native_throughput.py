"""Function tests in C++, Java, JavaScript, Rust, Go, TypeScript, bash, PHP, Lua, Perl,
Ruby, R, Racket, C#, D, Scala and Kotlin through the code verifier vs. MultiPL-E's own
way of running them, unsandboxed, in one run.

Items are MultiPL-E-shaped (prompt, completion, tests: HumanEval/0 in each language,
from tests/verifiers/test_code_functions.py and tests/data/multipl_e/), `--variants`
distinct completions per
language (a comment apart), so every item compiles: the compile cache never hits, as
in RL where each response is new. The baseline does what MultiPL-E's evaluator does:
prompt + completion + tests written to a temporary directory, compiled with the same
compiler and flags as rewardgate's sandbox toolchain (`go test` for Go, with the
user's warm build cache, which a sandbox cannot share), run, passed on exit status 0;
a thread pool of `--workers`. rewardgate runs the same items through
the engine on each backend: the build in a sandbox of its own, the run in another,
plus the nonce and per-test isolation.

Prints seconds for each and the ratio (rewardgate / baseline). Compiling dominates
both sides, so the ratio shows what the sandboxes add to it.

    .venv/bin/python bench/native_throughput.py [--workers 2] [--variants 6]
        [--backends bwrap,docker] [--languages cpp,lua,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.code_throughput import score_timed  # noqa: E402
from rewardgate.sandbox.languages import LUAUNIT, NODE_DECLARATIONS  # noqa: E402
from tests.verifiers.test_code_functions import MULTIPL_E  # noqa: E402

SCRIPTED_DATA = ROOT / "tests" / "data" / "multipl_e"
TSC = "tsc --target es2022 --lib es2022 --module commonjs"

# MultiPL-E's build and run per language (the sandbox toolchain's compilers and flags).
BASELINE: dict[str, tuple[str, list[str]]] = {
    "cpp": ("main.cpp", ["sh", "-c", "g++ -O2 -std=gnu++17 -o prog main.cpp && ./prog"]),
    "java": ("Problem.java", ["sh", "-c", "javac -d cls Problem.java && java -ea -cp cls Problem"]),
    "nodejs": ("main.js", ["node", "main.js"]),
    "rust": ("main.rs", ["sh", "-c", "rustc --edition 2021 -O -o prog main.rs && ./prog"]),
    "go": ("main_test.go", ["go", "test", "main_test.go"]),
    "typescript": ("main.ts", ["sh", "-c", f"{TSC} main.ts node.d.ts && node main.js"]),
    "bash": ("main.sh", ["bash", "main.sh"]),
    "php": ("main.php", ["php", "main.php"]),
    "lua": ("main.lua", ["lua5.4", "main.lua"]),
    "perl": ("main.pl", ["perl", "main.pl"]),
    "ruby": ("main.rb", ["ruby", "main.rb"]),
    "r": ("main.R", ["Rscript", "--vanilla", "main.R"]),
    "racket": ("main.rkt", ["racket", "main.rkt"]),
    "csharp": ("main.cs", ["sh", "-c", "mcs -d:DEBUG -optimize+ -out:prog main.cs && mono prog"]),
    "d": ("main.d", ["sh", "-c", "gdc -O2 -o prog main.d && ./prog"]),
    "scala": (
        "main.scala",
        ["sh", "-c", "mkdir -p cls && scalac -d cls main.scala && scala -cp cls Problem"],
    ),
    "kotlin": (
        "main.kt",
        ["sh", "-c", "kotlinc main.kt -include-runtime -d prog.jar && java -jar prog.jar"],
    ),
}
# What MultiPL-E's images have beside the program (luaunit; Node's types for tsc).
SUPPORT = {"lua": {"luaunit.lua": LUAUNIT}, "typescript": {"node.d.ts": NODE_DECLARATIONS}}
COMMENT = {"bash": "#", "perl": "#", "ruby": "#", "r": "#", "lua": "--", "racket": ";;"}


def multipl_e(language: str) -> dict[str, str]:
    """HumanEval/0 in `language` with its right completion."""
    if language in MULTIPL_E:
        return dict(MULTIPL_E[language])
    first = json.loads((SCRIPTED_DATA / f"{language}.json").read_text())["items"][0]
    return {"prompt": first["prompt"], "completion": first["right"], "tests": first["tests"]}


def items(variants: int, tag: str, languages: list[str]) -> list[dict[str, Any]]:
    """`variants` completions per language, `tag` making them new to every side."""
    out = []
    for language in languages:
        item = multipl_e(language)
        comment = COMMENT.get(language, "//")
        for n in range(variants):
            completion = f"    {comment} {tag} variant {n}\n{item['completion']}"
            out.append({"language": language, **item, "completion": completion})
    return out


def check(item: dict[str, Any]) -> bool:
    source, command = BASELINE[item["language"]]
    with tempfile.TemporaryDirectory() as tmp:
        text = item["prompt"] + item["completion"] + "\n" + item["tests"]
        Path(tmp, source).write_text(text, encoding="utf-8")
        for name, support in SUPPORT.get(item["language"], {}).items():
            Path(tmp, name).write_text(support, encoding="utf-8")
        env = {**os.environ, "GO111MODULE": "off"}  # the user's own (warm) build cache
        done = subprocess.run(command, cwd=tmp, capture_output=True, timeout=60, env=env)
    return done.returncode == 0


def run_baseline(batch: list[dict[str, Any]], workers: int) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        passed = list(pool.map(check, batch))
    return time.perf_counter() - start, passed


def run_rewardgate(
    batch: list[dict[str, Any]], workers: int, backend: str
) -> tuple[float, list[float]]:
    requests = [
        {
            "verifier": "code",
            "response": item["completion"],
            "reference": {
                "language": item["language"],
                "prompt": item["prompt"],
                "test_code": item["tests"],
            },
            "options": {"backend": backend},
        }
        for item in batch
    ]
    return score_timed(requests, workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--variants", type=int, default=6)
    parser.add_argument("--backends", default="bwrap,docker", help="comma-separated")
    parser.add_argument("--languages", default=",".join(BASELINE), help="comma-separated")
    args = parser.parse_args()
    languages = args.languages.split(",")
    run = os.urandom(4).hex()  # new to the compile cache, whatever ran before
    batch = items(args.variants, f"baseline {run}", languages)
    print(
        f"{len(batch)} items ({', '.join(languages)} x {args.variants} completions, each "
        f"compiled or run); {args.workers} workers, {os.cpu_count()} cores"
    )
    base_s, passed = run_baseline(batch, args.workers)
    print(f"unsandboxed MultiPL-E style {base_s:6.2f} s ({sum(passed)}/{len(batch)} passed)")
    for backend in args.backends.split(","):
        ours_s, rewards = run_rewardgate(
            items(args.variants, f"{backend} {run}", languages), args.workers, backend
        )
        print(
            f"  rewardgate {backend:6} {ours_s:6.2f} s "
            f"({sum(r == 1.0 for r in rewards)}/{len(batch)} scored 1.0); "
            f"ratio {ours_s / base_s:.2f}x"
        )


if __name__ == "__main__":
    main()
