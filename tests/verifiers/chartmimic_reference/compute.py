"""Computes `values.json`: ChartMimic's four low-level scores on the pairs in `pairs/`.

`chart2code/` and `eval_configs/` are ChartMimic's files verbatim (github
ChartMimic/ChartMimic at commit c9e149c6a25fe9ba57974efd73f27d37569e67a7; its README
declares the code Apache-2.0, the text in LICENSE beside this file). Their evaluators
write each script with a logging prefix and run it with `python`/`python3`; the scores
are what `code4evaluation.py` keeps: TextEvaluator(use_position=False, use_axs=False),
ChartTypeEvaluator(), LayoutEvaluator() and ColorEvaluator(), each called as
`evaluator(generation_file, golden_file)`.

Run with the sandbox's interpreter (the Python and matplotlib rewardgate's chart
scripts run under) and ChartMimic's extra imports, from the repository root:

    pip install --no-deps --target /tmp/chartmimic-deps \\
        colormath squarify networkx matplotlib-venn python-dotenv \\
        "scikit-image<0.26" lazy_loader
    CHARTMIMIC_DEPS=/tmp/chartmimic-deps /usr/bin/python3 \\
        tests/verifiers/chartmimic_reference/compute.py

Each pair is `pairs/<name>.target.py` (ChartMimic's golden code) and
`pairs/<name>.response.py` (the generation); both save `chart.pdf`, rewritten here to
`<PROJECT_PATH>/<name>.pdf` as ChartMimic's evaluators expect.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = HERE / "pairs"


def main() -> None:
    deps = os.environ.get("CHARTMIMIC_DEPS", "")
    work = Path(tempfile.mkdtemp(prefix="chartmimic-"))
    for name in ("chart2code", "eval_configs"):
        (work / name).symlink_to(HERE / name)
    bin_dir = work / "bin"
    bin_dir.mkdir()
    for name in ("python", "python3"):
        (bin_dir / name).symlink_to(sys.executable)
    os.environ["PROJECT_PATH"] = str(work)
    os.environ["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (deps, str(work)) if p)
    os.environ["MPLBACKEND"] = "Agg"
    sys.path[:0] = [p for p in (deps, str(work)) if p]
    os.chdir(work)

    from chart2code.utils.evaluator.chart_type_evaluator import ChartTypeEvaluator
    from chart2code.utils.evaluator.color_evaluator import ColorEvaluator
    from chart2code.utils.evaluator.layout_evaluator import LayoutEvaluator
    from chart2code.utils.evaluator.text_evaluator import TextEvaluator

    out = {}
    for target in sorted(PAIRS.glob("*.target.py")):
        name = target.name[: -len(".target.py")]
        files = {}
        for side, source in (("gold", target), ("gen", PAIRS / f"{name}.response.py")):
            (work / side).mkdir(exist_ok=True)
            code = source.read_text().replace('"chart.pdf"', repr(f"{work}/{name}.pdf"))
            files[side] = work / side / f"{name}.py"
            files[side].write_text(code)
        row = {}
        for term, evaluator in (
            ("text", TextEvaluator(use_position=False, use_axs=False)),
            ("type", ChartTypeEvaluator()),
            ("layout", LayoutEvaluator()),
            ("color", ColorEvaluator()),
        ):
            evaluator(str(files["gen"]), str(files["gold"]))
            row[term] = {k: float(v) for k, v in evaluator.metrics.items()}
        print(name, {t: round(m["f1"], 4) for t, m in row.items()}, flush=True)
        out[name] = row
    (HERE / "values.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
