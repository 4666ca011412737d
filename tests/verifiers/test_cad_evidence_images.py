"""The cad verifier's evidence images: fixed views of both parts, drawn in the sandbox.

The runner draws the meshes it tessellated for the metrics (iso, top, front) only when
asked; the reward and the rest of `details` are those of the request without images.
Runs CadQuery in the bwrap sandbox (the `cad` tests' runtime).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from rewardgate.verifiers.evidence_images import PNG_PREFIX
from rewardgate.verifiers.models import RewardRequest, RewardResult
from tests.verifiers.cad_support import VERIFIER

HOLED = "import cadquery as cq\nresult = cq.Workplane('XY').box(20, 10, 6).faces('>Z').hole(4)\n"
PLAIN = "import cadquery as cq\nresult = cq.Workplane('XY').box(20, 10, 6)\n"


def decode(uri: str) -> np.ndarray:
    assert uri.startswith(PNG_PREFIX)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :]))) as image:
        return np.asarray(image.convert("L"))


def score(evidence: str) -> RewardResult:
    request = RewardRequest(
        verifier="cad",
        response=f"```python\n{PLAIN}```",
        reference={"reference_code": HOLED},
        options={"evidence": evidence, "backend": "bwrap"},
    )
    return VERIFIER.verify(request)


def test_both_parts_are_drawn_from_three_views_and_the_verdict_is_unchanged() -> None:
    plain, shown = score("none"), score("images")
    assert plain.status == shown.status == "ok", (plain.error, shown.error)
    assert shown.reward == plain.reward < 1
    kept: dict[str, Any] = {k: v for k, v in shown.details.items() if k not in ("images", "views")}
    assert kept == plain.details and shown.steps == plain.steps
    assert shown.details["views"] == ["iso", "top", "front"]
    reference, candidate = (decode(shown.details["images"][n]) for n in ("reference", "candidate"))
    assert reference.shape == candidate.shape == (160, 480)
    for image in (reference, candidate):
        for view in range(3):  # each view shows a part on white
            panel = image[:, view * 160 : (view + 1) * 160]
            assert panel.min() < 200 and panel[0, 0] == 255
    # Looking down, the hole goes through the reference and not through the candidate.
    assert reference[80, 240] == 255 and candidate[80, 240] < 255
    assert not VERIFIER.cacheable_for(*_prepared({"evidence": "images", "backend": "bwrap"}))
    assert VERIFIER.cacheable_for(*_prepared({"backend": "bwrap"}))


def _prepared(options: dict[str, Any]) -> tuple[Any, Any]:
    prepared = VERIFIER.prepare({"reference_code": HOLED}, options)
    return prepared.reference, prepared.options
