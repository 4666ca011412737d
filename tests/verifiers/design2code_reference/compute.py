"""Computes `values.json`: Design2Code's block scores on the pairs in `pairs/`.

`Design2Code/` holds Design2Code's files (github NoviScl/Design2Code at commit
7a575e4c33f417c4be5c64072b8f5798de0d0f99, MIT, LICENSE beside this file), verbatim but
for two marked places: the Chromium `screenshot_single.py` launches, and two lines of
`visual_score.py` indented so the module compiles. Its
`visual_eval_v3_multi` runs as is; CLIP is left out: `torch`, `clip` and scikit-learn
are stubbed (the CLIP model's weights cannot be downloaded here) and the CLIP term
reads 0, so only Block-Match, Text, Position and Color are kept.

Run with the repository's virtualenv (it has Playwright) and Design2Code's extra
packages, from the repository root:

    pip install --no-deps --target /tmp/d2c-deps \\
        beautifulsoup4 soupsieve opencv-python-headless colormath tqdm
    D2C_DEPS=/tmp/d2c-deps D2C_CHROMIUM=/usr/bin/chromium \\
        .venv/bin/python tests/verifiers/design2code_reference/compute.py

Each pair is `pairs/<name>.target.html` (the original page) and
`pairs/<name>.response.html` (the prediction); Design2Code writes its screenshots
beside copies of them in a temporary folder.
"""

import json
import os
import shutil
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = HERE / "pairs"


def stub_clip() -> None:
    """`visual_score` imports torch, clip and scikit-learn and loads CLIP at import."""
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=lambda: False)
    clip = types.ModuleType("clip")
    clip.load = lambda *args, **kwargs: (None, None)
    sklearn = types.ModuleType("sklearn")
    metrics = types.ModuleType("sklearn.metrics")
    pairwise = types.ModuleType("sklearn.metrics.pairwise")
    pairwise.cosine_similarity = None
    sys.modules.update(
        {
            "torch": torch,
            "clip": clip,
            "sklearn": sklearn,
            "sklearn.metrics": metrics,
            "sklearn.metrics.pairwise": pairwise,
        }
    )


def main() -> None:
    deps = os.environ.get("D2C_DEPS", "")
    work = Path(tempfile.mkdtemp(prefix="design2code-"))
    shutil.copytree(HERE / "Design2Code", work / "Design2Code")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"  # a script, not a link: a venv's python must keep its venv
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (deps, str(work)) if p)
    sys.path[:0] = [p for p in (deps, str(work)) if p]
    os.chdir(work / "Design2Code")  # `python3 metrics/screenshot_single.py` is relative
    stub_clip()
    from Design2Code.metrics import visual_score

    visual_score.calculate_clip_similarity_with_blocks = lambda *args: 0.0
    out = {}
    for target in sorted(PAIRS.glob("*.target.html")):
        name = target.name[: -len(".target.html")]
        folder = work / "pages" / name
        folder.mkdir(parents=True)
        original = folder / "original.html"
        predicted = folder / "predicted.html"
        shutil.copy(target, original)
        shutil.copy(PAIRS / f"{name}.response.html", predicted)
        [[_, _, scores]] = visual_score.visual_eval_v3_multi([[str(predicted)], str(original)])
        block, text, position, color, _clip = (float(v) for v in scores)
        out[name] = {"block": block, "text": text, "position": position, "color": color}
        print(name, {k: round(v, 4) for k, v in out[name].items()}, flush=True)
    (HERE / "values.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
