"""What evidence images cost: ms per item with and without `evidence: "images"`.

In-process `verify` of the svg verifier on the simple-icons (each icon against a
recoloured copy of itself, 512x512 canvas) and of the web verifier on the ten test
pages (each against its texts edited, 1280x720 viewport, 512 canvas), the two modes
interleaved round by round on the same items after one warm-up pass (targets cached,
browser started), so both see the same machine. Prints the median wall ms per item of
each mode, the extra ms and the ratio, the same in this process's CPU ms (the browser's
own processes excluded: what the images add is all in this process, and CPU time is
less swayed by a busy host), and the mean bytes of PNG data per item.

    .venv/bin/python bench/evidence_images.py [--rounds 3] [--svg-items 40] [--web-items 10]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "tests" / "data" / "svg" / "simple-icons"
PAGES = ROOT / "tests" / "data" / "web"


def svg_items(n: int) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for path in sorted(ICONS.glob("*.svg"))[:n]:
        target = path.read_text()
        response = target.replace("<path ", '<path fill="#c03030" ', 1)
        items.append((response, {"target_svg": target}))
    return items


def web_items(n: int) -> list[tuple[str, dict[str, Any]]]:
    items = []
    for path in sorted(PAGES.glob("*.html"))[:n]:
        target = path.read_text()
        edited = re.sub(r">([^<>]{4,})<", lambda m: ">" + m.group(1)[::-1] + "<", target)
        items.append((f"```html\n{edited}\n```", {"target_html": target}))
    return items


def timed(
    verifier: Any, name: str, items: list[tuple[str, dict[str, Any]]], images: bool
) -> tuple[float, float, float]:
    """(wall ms, CPU ms, PNG bytes) per item of one pass over `items`."""
    from rewardgate.verifiers.models import RewardRequest

    options = {"evidence": "images"} if images else {}
    start, cpu, size = time.perf_counter(), time.process_time(), 0
    for response, reference in items:
        request = RewardRequest(
            verifier=name, response=response, reference=reference, options=options
        )
        result = verifier.verify(request)
        assert result.status == "ok", result.error
        size += sum(len(uri) for uri in result.details.get("images", {}).values())
    n = len(items)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall * 1000 / n, cpu * 1000 / n, size / n


def measure(verifier: Any, name: str, items: list[tuple[str, dict[str, Any]]], rounds: int) -> str:
    timed(verifier, name, items, True)  # warm: libraries, targets, the browser
    runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for index in range(rounds):  # the order alternates, so neither mode always goes first
        for images in (False, True) if index % 2 == 0 else (True, False):
            runs[images].append(timed(verifier, name, items, images))
    (wall_a, cpu_a), (wall_b, cpu_b) = (
        (statistics.median(r[0] for r in runs[m]), statistics.median(r[1] for r in runs[m]))
        for m in (False, True)
    )
    size = statistics.fmean(r[2] for r in runs[True])
    return (
        f"| {name} | {len(items)} | {wall_a:.1f} | {wall_b:.1f} | {wall_b - wall_a:+.1f} "
        f"| {wall_b / wall_a:.2f}x | {cpu_a:.1f} | {cpu_b:.1f} | {cpu_b - cpu_a:+.1f} "
        f"| {size / 1000:.0f} kB |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--svg-items", type=int, default=40)
    parser.add_argument("--web-items", type=int, default=10)
    args = parser.parse_args(argv)
    from rewardgate.verifiers.svg import SvgVerifier
    from rewardgate.verifiers.web import WebVerifier

    print(
        "| verifier | items | wall ms without | wall ms with images | extra | ratio "
        "| CPU ms without | CPU ms with | extra CPU ms | PNG data/item |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    if args.svg_items:
        print(measure(SvgVerifier(), "svg", svg_items(args.svg_items), args.rounds), flush=True)
    if args.web_items:
        print(measure(WebVerifier(), "web", web_items(args.web_items), args.rounds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
