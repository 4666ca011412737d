"""Computes `values.json`: cadrille's Chamfer distance on the pairs in `pairs.json`.

Run with the CAD runtime's Python and trimesh (not in the CAD runtime), from the
repository root:

    pip install --no-deps --target /tmp/trimesh trimesh
    PYTHONPATH=/usr/local/lib/rewardgate/cad/lib/python3.11/site-packages:/tmp/trimesh \\
        python3 tests/verifiers/cadrille_reference/compute.py

Each pair is a (response, reference) of parts in tests/data/cad: `name`, `folder/name`,
or `name*factor` (its first dimension scaled, as `cad_support.changed_dimension` does).
Both are meshed by cadrille's `compound_to_mesh` and normalised as its `run_cd_single`
normalises a prediction; the Chamfer distance x 1000 is measured over `DRAWS` draws of
cadrille's unseeded sampling (numpy's global generator seeded by the draw's index, so
the file is reproducible) and stored as mean, standard deviation, min and max.
"""

import ast
import json
import re
import sys
from pathlib import Path

import cadquery as cq  # noqa: F401  (the parts' scripts import it)
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from evaluate import compound_to_mesh, compute_chamfer_distance, normalise  # noqa: E402

DATA = HERE.parent.parent / "data" / "cad"
DRAWS = 20
N_POINTS = 8192
DIMENSIONS = re.compile(r"^(?P<names>[A-Z0-9_, ]+) = (?P<values>.+)$", re.MULTILINE)


def script(spec: str) -> str:
    name, _, factor = spec.partition("*")
    text = (DATA / f"{name}.py").read_text(encoding="utf-8")
    if factor:
        match = DIMENSIONS.search(text)
        values = list(ast.literal_eval(match["values"]))
        values[0] *= float(factor)
        line = f"{match['names']} = {', '.join(map(repr, values))}"
        text = text[: match.start()] + line + text[match.end() :]
    return text


def mesh(spec: str):
    scope: dict = {}
    exec(script(spec), scope)
    shape = scope.get("result", scope.get("r"))
    return normalise(compound_to_mesh(shape.val()))


def main() -> None:
    pairs = json.loads((HERE / "pairs.json").read_text())
    out = []
    for response, reference in pairs:
        pred, gt = mesh(response), mesh(reference)
        values = []
        for draw in range(DRAWS):
            np.random.seed(draw)
            values.append(1000.0 * compute_chamfer_distance(gt, pred, N_POINTS))
        row = {
            "response": response,
            "reference": reference,
            "chamfer_x1000": {
                "mean": float(np.mean(values)),
                "std": float(np.std(values)),
                "min": float(np.min(values)),
                "max": float(np.max(values)),
            },
        }
        print(row, flush=True)
        out.append(row)
    (HERE / "values.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
