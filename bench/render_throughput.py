"""SVG rewards vs. a bare cairosvg + scikit-image loop, on the simple-icons, in one run.

Workload: GRPO-shaped, each of the 40 icons (tests/data/svg) is a target with a group
of `--group` distinct responses: the icon shifted, recoloured, rewritten, fenced in
prose. Prints items/s for

1. bare: `cairosvg.svg2png` of response and target at 512x512 on white, decoded with
   PIL, then scikit-image SSIM and MSE (StarVector's metrics), the cheapest honest
   checker; and the same with each target rendered once (as a careful user would);
2. verifier: `SvgVerifier.verify` in this process, `default` preset (extraction,
   sanitising, render, SSIM + MSE + normalised L2);
3. engine: the service's engine with `--workers` worker processes, batches of one
   group, result cache off (what a trainer gets from `rewardgate serve`, minus HTTP);

and the ratios of (2) and (3) to the bare loops. The verifier computes one metric
more than the bare loop (normalised L2) and checks every SVG before rendering.

    .venv/bin/python bench/render_throughput.py [--group 8] [--workers 2]
    .venv/bin/python bench/render_throughput.py --chart   # chart rewards: see chart_main
    .venv/bin/python bench/render_throughput.py --web     # web rewards: see web_main
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rewardgate.testing import start_engine  # noqa: E402
from rewardgate.verifiers.base import Verifier  # noqa: E402
from rewardgate.verifiers.models import RewardRequest  # noqa: E402
from rewardgate.verifiers.svg import SvgVerifier  # noqa: E402
from tests.verifiers.svg_support import ICONS, path_data, wrap  # noqa: E402

COLOURS = ["#000", "#222", "#c00", "#0a0", "#00c", "#555"]


def workload(group: int) -> list[tuple[str, str]]:
    """(target, response) pairs, `group` distinct responses per icon."""
    items = []
    for path in ICONS:
        target = path.read_text()
        d = path_data(target)
        for k in range(group):
            dx = 0.05 * k
            body = f'<path transform="translate({dx:.2f} 0)" fill="{COLOURS[k % 6]}" d="{d}"/>'
            response = wrap(body)
            if k % 2:
                response = f"Attempt {k}:\n```svg\n{response}\n```"
            items.append((target, response))
    return items


def _raster(svg: str) -> object:
    import cairosvg
    import numpy as np
    from PIL import Image

    png = cairosvg.svg2png(
        bytestring=svg.encode(), output_width=512, output_height=512, background_color="white"
    )
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _score(pred: object, target: object) -> float:
    import numpy as np
    from skimage.metrics import structural_similarity

    a = np.asarray(pred, dtype=np.float64) / 255
    b = np.asarray(target, dtype=np.float64) / 255
    mse = float(np.mean((a - b) ** 2))
    ssim = structural_similarity(pred, target, win_size=11, channel_axis=-1, data_range=255)
    return (float(ssim) + 1 - mse) / 2


def bare(work: list[tuple[str, str]], cache_targets: bool) -> float:
    from rewardgate.verifiers.svg import extract_svg

    targets: dict[str, object] = {}
    start = time.perf_counter()
    for target, response in work:
        svg = extract_svg(response) or ""
        if cache_targets:
            if target not in targets:
                targets[target] = _raster(target)
            target_image = targets[target]
        else:
            target_image = _raster(target)
        _score(_raster(svg), target_image)
    return len(work) / (time.perf_counter() - start)


def items(name: str, key: str, work: list[tuple[str, str]]) -> list[dict[str, object]]:
    """The engine's request items for (target, response) pairs; `key` names the target."""
    return [{"verifier": name, "response": r, "reference": {key: t}} for t, r in work]


def verifier_rate(checker: Verifier, key: str, work: list[tuple[str, str]]) -> float:
    """Items/s of `checker.verify` in this process (warmed up and one item run first)."""
    requests = [RewardRequest.model_validate(item) for item in items(checker.name, key, work)]
    checker.warmup()
    checker.verify(requests[0])
    start = time.perf_counter()
    for request in requests:
        result = checker.verify(request)
        assert result.details["reason"] == "scored", result.details
    return len(work) / (time.perf_counter() - start)


def engine_rate(
    cls: type[Verifier],
    key: str,
    work: list[tuple[str, str]],
    group: int,
    workers: int,
    warm: list[dict[str, object]],
) -> float:
    """Items/s through the engine, one batch per group, result cache off; `warm` is
    scored first so every worker has started what it keeps (sandbox, browser)."""
    harness = start_engine(cls, workers=workers, cache=None)
    try:
        batches = [items(cls.name, key, work[i : i + group]) for i in range(0, len(work), group)]
        harness.score(warm)
        start = time.perf_counter()
        for batch in batches:
            results = harness.score(batch)
            assert all(r.status == "ok" for r in results), results
        return len(work) / (time.perf_counter() - start)
    finally:
        harness.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chart", action="store_true", help="chart rewards (see chart_main)")
    parser.add_argument("--web", action="store_true", help="web rewards (see web_main)")
    args = parser.parse_args()
    if args.chart:
        chart_main(args.group, args.workers)
        return
    if args.web:
        web_main(args.group, args.workers)
        return
    work = workload(args.group)
    base = bare(work, cache_targets=False)
    base_cached = bare(work, cache_targets=True)
    inproc = verifier_rate(SvgVerifier(), "target_svg", work)
    # One item first: the workers import their libraries.
    warm = items("svg", "target_svg", work[:1])
    pooled = engine_rate(SvgVerifier, "target_svg", work, args.group, args.workers, warm)
    print(f"items: {len(work)} ({len(ICONS)} icons x {args.group}), 512x512, preset default")
    print(f"bare cairosvg + skimage          : {base:7.1f} items/s")
    print(f"bare, each target rendered once  : {base_cached:7.1f} items/s")
    for label, rate in (
        ("SvgVerifier.verify in-process", inproc),
        (f"engine, {args.workers} workers, no cache", pooled),
    ):
        print(
            f"{label:<33}: {rate:7.1f} items/s  ratio {rate / base:.2f} "
            f"(vs cached-target bare {rate / base_cached:.2f})"
        )


# --- chart: `--chart` -----------------------------------------------------------------

CHART_DATA = ROOT / "tests" / "data" / "chart"
# The cheapest honest chart loop: one Debian python3 process (no sandbox) executes each
# script, saves its current figure as PNG at 100 dpi and closes it. Reads JSON
# [[name, code], ...] on stdin, writes name.png files into argv[1].
BARE_CHART_LOOP = """
import io, json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
out = sys.argv[1]
for name, code in json.load(sys.stdin):
    plt.savefig = plt.show = lambda *a, **k: None
    exec(compile(code, name, "exec"), {"__name__": "__main__"})
    fig = plt.gcf()
    fig.canvas.print_figure(f"{out}/{name}.png", dpi=100)
    plt.close("all")
"""


def chart_workload(group: int) -> list[tuple[str, str]]:
    """(target, response) pairs: each of the ten test charts with `group` responses,
    the k-th retitled (k = 0 is the target itself), every other one fenced in prose."""
    items = []
    for path in sorted(CHART_DATA.glob("*.py")):
        target = path.read_text()
        for k in range(group):
            response = target.replace('set_title("', f'set_title("v{k} ', 1) if k else target
            if k % 2:
                response = f"Attempt {k}:\n```python\n{response}\n```"
            items.append((target, response))
    return items


def chart_bare(work: list[tuple[str, str]]) -> float:
    """Bare matplotlib renders every response (targets once), then SSIM and 1 - MSE on
    the 512x512 canvases, as the verifier's `pixels` term compares them."""
    import json
    import subprocess
    import tempfile

    from PIL import Image

    from rewardgate.verifiers.chart import extract_script
    from rewardgate.verifiers.image.raster import image_to_canvas

    start = time.perf_counter()
    jobs: list[tuple[str, str]] = []
    targets: dict[str, str] = {}
    for index, (target, response) in enumerate(work):
        if target not in targets:
            targets[target] = f"t{len(targets)}"
            jobs.append((targets[target], target))
        jobs.append((f"r{index}", extract_script(response) or ""))
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["/usr/bin/python3", "-c", BARE_CHART_LOOP, folder],
            input=json.dumps(jobs),
            text=True,
            check=True,
        )
        canvases = {
            name: image_to_canvas(Image.open(f"{folder}/{name}.png"), 512) for name, _ in jobs
        }
    for index, (target, _) in enumerate(work):
        _score(canvases[f"r{index}"], canvases[targets[target]])
    return len(work) / (time.perf_counter() - start)


def chart_main(group: int, workers: int) -> None:
    """Chart rewards vs. a bare matplotlib loop, in one run.

    1. bare: one Debian python3 process executes every response script (each target
       once) with Agg and saves the figure as PNG, then SSIM and 1 - MSE on the
       512x512 canvases in this process: no isolation, no structure;
    2. verifier: `ChartVerifier.verify` in this process: a sandbox run per response
       (warm: matplotlib preloaded), ChartMimic's four structural scores and the
       default pixel mix (SSIM, 1 - MSE, normalised L2);
    3. engine: the service's engine with `workers` worker processes, no result cache.
    """
    work = chart_workload(group)
    base = chart_bare(work)
    from rewardgate.verifiers.chart import ChartVerifier

    inproc = verifier_rate(ChartVerifier(), "target_code", work)
    # One item per worker first: each starts its sandbox's matplotlib.
    warm = items("chart", "target_code", work[:workers])
    pooled = engine_rate(ChartVerifier, "target_code", work, group, workers, warm)
    print(f"items: {len(work)} (10 charts x {group}), 512x512 canvas, 100 dpi")
    print(f"bare matplotlib + skimage        : {base:7.2f} items/s")
    for label, rate in (
        ("ChartVerifier.verify in-process", inproc),
        (f"engine, {workers} workers, no cache", pooled),
    ):
        print(f"{label:<33}: {rate:7.2f} items/s  ratio {rate / base:.2f}")


# --- web: `--web` ---------------------------------------------------------------------


def web_workload(group: int) -> list[tuple[str, str]]:
    """(target, response) pairs: each of the ten test pages with `group` responses, the
    k-th with one aspect changed in turn (k = 0 is the target itself), every other one
    fenced in prose."""
    from tests.verifiers.web_support import EDITS, PAGES

    edits = [change for change, _ in EDITS.values()]
    items = []
    for path in PAGES:
        target = path.read_text()
        for k in range(group):
            response = edits[(k - 1) % len(edits)](target) if k else target
            if k % 2:
                response = f"Attempt {k}:\n```html\n{response}\n```"
            items.append((target, response))
    return items


@contextmanager
def web_bare_scorer() -> Iterator[Callable[[str, str], None]]:
    """Bare Playwright: one unjailed Chromium, a new page per response (each target
    once), `set_content` and a full-page screenshot, then SSIM and 1 - MSE on the
    512x512 canvases: no containment, no DOM blocks."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from rewardgate.verifiers.image.raster import image_to_canvas
    from rewardgate.verifiers.web import extract_html
    from rewardgate.verifiers.web.containment import find_chromium

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), args=["--no-sandbox", "--disable-gpu"]
        )

        def shot(html: str) -> object:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_content(html, wait_until="load")
            png = page.screenshot(full_page=True)
            page.close()
            return image_to_canvas(Image.open(io.BytesIO(png)), 512)

        targets: dict[str, object] = {}

        def score(target: str, response: str) -> None:
            if target not in targets:
                targets[target] = shot(target)
            _score(shot(extract_html(response) or ""), targets[target])

        shot("<p>warm</p>")
        yield score
        browser.close()


def web_verifier_scorer() -> Callable[[str, str], None]:
    """`WebVerifier.verify` in this process (its browser started)."""
    from rewardgate.verifiers.web import WebVerifier

    checker = WebVerifier()
    checker.warmup()

    def score(target: str, response: str) -> None:
        request = RewardRequest(
            verifier="web", response=response, reference={"target_html": target}
        )
        result = checker.verify(request)
        assert result.details["reason"] == "scored", result.details

    score("<p>w</p>", "<p>warm</p>")
    return score


def web_interleaved(work: list[tuple[str, str]], group: int) -> tuple[float, float]:
    """Items/s of the bare loop and of the verifier, run group by group in turn (each
    going first on every other group), so both see the same load on a shared machine."""
    spent = {"bare": 0.0, "verifier": 0.0}
    with web_bare_scorer() as bare:
        scorers = {"bare": bare, "verifier": web_verifier_scorer()}
        for n, i in enumerate(range(0, len(work), group)):
            order = ["bare", "verifier"] if n % 2 == 0 else ["verifier", "bare"]
            for name in order:
                start = time.perf_counter()
                for target, response in work[i : i + group]:
                    scorers[name](target, response)
                spent[name] += time.perf_counter() - start
    return len(work) / spent["bare"], len(work) / spent["verifier"]


def web_main(group: int, workers: int) -> None:
    """Web rewards vs. a bare Playwright screenshot loop, in one run.

    1. bare: one unjailed Chromium, a page per response, full-page screenshot, SSIM and
       1 - MSE on 512x512 canvases (`web_bare_scorer`), interleaved with (2) group by
       group (`web_interleaved`);
    2. verifier: `WebVerifier.verify` in this process: the jailed browser, a fresh
       context per page, DOM blocks and Design2Code's four block scores, the default
       pixel mix (SSIM, 1 - MSE, normalised L2), targets cached;
    3. engine: the service's engine with `workers` worker processes (a browser each),
       no result cache.
    """
    work = web_workload(group)
    base, inproc = web_interleaved(work, group)
    from rewardgate.verifiers.web import WebVerifier

    # Two items per worker first: each starts its browser.
    warm = items("web", "target_html", [("<p>w</p>", "<p>warm</p>")] * (2 * workers))
    pooled = engine_rate(WebVerifier, "target_html", work, group, workers, warm)
    print(f"items: {len(work)} (10 pages x {group}), viewport 1280x720, 512x512 canvas")
    print(f"bare Playwright + skimage        : {base:7.2f} items/s")
    for label, rate in (
        ("WebVerifier.verify in-process", inproc),
        (f"engine, {workers} workers, no cache", pooled),
    ):
        print(f"{label:<33}: {rate:7.2f} items/s  ratio {rate / base:.2f}")


if __name__ == "__main__":
    main()
