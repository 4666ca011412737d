"""Evidence images (`evidence: "images"`): the renders the verifier compared, as PNGs.

The images are the verifier's own rasters (decoded, they equal what it scored), they
never change the reward or the rest of `details`, they stay under the size cap (halved,
then dropped, with a note), and they are off by default. The helper's heat-map and
outlines are checked on pixels; svg in-process and chart in the real bwrap sandbox.
Through the real engine and its cache: a verdict with images is never cached, and a
cached one without images never answers a request for them. Web (Chromium) is in
test_evidence_images_web.py.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rewardgate.service.cache import MemoryCache
from rewardgate.testing import start_engine
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.cad.evidence import attach_views
from rewardgate.verifiers.chart import ChartVerifier
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import (
    MATCHED,
    PNG_PREFIX,
    UNMATCHED,
    attach_images,
    difference_map,
    outlined,
)
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.svg import SvgVerifier
from rewardgate.verifiers.svg.render import render
from rewardgate.verifiers.svg.sanitise import Limits, sanitise

TARGET = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    '<rect width="6" height="6" fill="red"/></svg>'
)
MOVED = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    '<rect x="3" y="3" width="6" height="6" fill="red"/></svg>'
)
# Scripts and handlers are the model's: the verifier's raster shows none of them run.
HOSTILE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">'
    '<script>alert(2)</script><rect width="6" height="6" fill="red" onclick="alert(3)"/></svg>'
)
CHART = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b', 'c'], [3, 1, 2])\n"
CHART_MOVED = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b', 'c'], [1, 3, 2], color='red')\n"


def decode(uri: str) -> np.ndarray:
    assert uri.startswith(PNG_PREFIX)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :]))) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def svg_result(response: str, options: dict[str, Any], **settings: Any) -> RewardResult:
    env = VerifierEnv(verifiers={"svg": settings}) if settings else None
    request = RewardRequest(
        verifier="svg", response=response, reference={"target_svg": TARGET}, options=options
    )
    return SvgVerifier(env).verify(request)


def without_images(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in ("images", "images_note")}


def test_the_heat_map_is_red_where_rasters_differ_and_plain_where_they_agree() -> None:
    target = np.full((40, 40, 3), 255, dtype=np.uint8)
    target[:20] = (0, 0, 0)
    candidate = target.copy()
    candidate[30:, 30:] = (0, 0, 255)
    heat = difference_map(candidate, target).astype(int)
    assert tuple(heat[35, 35]) == (255, 0, 0)  # the largest difference: red
    same = heat[:20, :20]
    assert (same[..., 0] == same[..., 1]).all() and (same[..., 1] == same[..., 2]).all()
    assert heat[5, 5, 0] < heat[25, 5, 0]  # the target faintly drawn: dark stays darker
    agree = difference_map(target, target).astype(int)
    assert (agree[..., 0] == agree[..., 2]).all()  # nothing red where nothing differs
    with pytest.raises(ValueError, match="shapes"):
        difference_map(target, target[:10])


def test_outlines_land_on_the_fitted_page_in_their_colours() -> None:
    canvas = np.full((100, 100, 3), 255, dtype=np.uint8)
    # A page twice as wide as tall sits in rows 25..75 of the square canvas.
    drawn = outlined(
        canvas, (200, 100), [((0.0, 0.0, 0.5, 0.5), True), ((0.5, 0.5, 0.5, 0.5), False)]
    )
    assert tuple(drawn[25, 10]) == MATCHED  # top edge of the first box, at the page's top
    assert tuple(drawn[74, 90]) == UNMATCHED  # bottom edge of the second
    assert tuple(drawn[10, 10]) == (255, 255, 255)  # the padding above the page is untouched
    assert (canvas == 255).all()  # the verifier's canvas is not drawn on


def test_images_fit_the_cap_whole_halved_or_not_at_all() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)  # does not compress
    details: dict[str, Any] = {}
    attach_images(details, {"candidate": noise}, 10_000_000)
    assert (decode(details["images"]["candidate"]) == noise).all()  # lossless, full size
    assert "images_note" not in details

    halved: dict[str, Any] = {}
    attach_images(halved, {"candidate": noise}, 120_000)
    assert decode(halved["images"]["candidate"]).shape == (128, 128, 3)
    assert sum(map(len, halved["images"].values())) <= 120_000
    assert "downscaled to 0.5" in halved["images_note"]

    dropped: dict[str, Any] = {}
    attach_images(dropped, {"candidate": noise}, 1000)
    assert "images" not in dropped and dropped["images_note"].startswith("images dropped")
    off: dict[str, Any] = {}
    attach_images(off, {"candidate": noise}, 0)
    assert "images" not in off and "evidence_max_bytes is 0" in off["images_note"]


def test_svg_images_are_the_rasters_the_verifier_compared() -> None:
    plain = svg_result(MOVED, {"size": 64})
    shown = svg_result(MOVED, {"size": 64, "evidence": "images"})
    assert plain.status == shown.status == "ok"
    assert "images" not in plain.details  # off by default
    assert shown.reward == plain.reward and 0 < shown.reward < 1
    assert without_images(shown.details) == plain.details
    images = {name: decode(uri) for name, uri in shown.details["images"].items()}
    assert set(images) == {"target", "candidate", "difference"}
    limits = Limits(max_elements=10_000, max_canvas_px=16_384.0)
    assert (images["candidate"] == render(sanitise(MOVED, limits), 64, limits)).all()
    assert (images["target"] == render(sanitise(TARGET, limits), 64, limits)).all()
    red = (images["difference"][..., 0] == 255) & (images["difference"][..., 1] < 80)
    assert red[5, 5] and red[50, 50] and not red[30, 30]  # differ at the corners only


def test_a_hostile_svg_is_only_ever_a_raster() -> None:
    result = svg_result(HOSTILE, {"size": 64, "evidence": "images"})
    assert result.status == "ok" and result.reward > 0.99
    assert all(uri.startswith(PNG_PREFIX) for uri in result.details["images"].values())
    assert all("alert" not in uri for uri in result.details["images"].values())


def test_no_drawing_has_no_images_and_the_same_verdict() -> None:
    plain = svg_result("no svg here", {})
    shown = svg_result("no svg here", {"evidence": "images"})
    assert shown.reward == plain.reward and shown.details == plain.details == {"reason": "no_svg"}


def test_the_servers_cap_downscales_then_drops() -> None:
    whole = svg_result(MOVED, {"size": 256, "evidence": "images"})
    size = sum(map(len, whole.details["images"].values()))
    halved = svg_result(MOVED, {"size": 256, "evidence": "images"}, evidence_max_bytes=size - 1)
    assert "downscaled" in halved.details["images_note"]
    assert decode(halved.details["images"]["target"]).shape[0] < 256
    dropped = svg_result(MOVED, {"size": 256, "evidence": "images"}, evidence_max_bytes=100)
    assert "images" not in dropped.details and "dropped" in dropped.details["images_note"]
    assert halved.reward == dropped.reward == svg_result(MOVED, {"size": 256}).reward


@pytest.mark.parametrize("value", ["pictures", True, 1])
def test_an_unknown_evidence_value_is_invalid(value: Any) -> None:
    with pytest.raises(InvalidRequest, match=r"options\.evidence"):
        svg_result(MOVED, {"evidence": value})


def test_chart_images_come_from_the_sandboxed_renders() -> None:
    reference = {"target_code": CHART}
    response = f"```python\n{CHART_MOVED}```"
    options: dict[str, Any] = {"backend": "bwrap", "size": 128}
    verifier = ChartVerifier()

    def score(opts: dict[str, Any]) -> RewardResult:
        request = RewardRequest(
            verifier="chart", response=response, reference=reference, options=opts
        )
        return verifier.verify(request)

    plain, shown = score(options), score({**options, "evidence": "images"})
    assert plain.status == shown.status == "ok", (plain.error, shown.error)
    assert shown.reward == plain.reward < 1
    assert without_images(shown.details)["terms"] == plain.details["terms"]
    images = {name: decode(uri) for name, uri in shown.details["images"].items()}
    assert {name: image.shape for name, image in images.items()} == dict.fromkeys(
        ("target", "candidate", "difference"), (128, 128, 3)
    )
    assert not (images["target"] == images["candidate"]).all()
    heat = images["difference"]
    assert ((heat[..., 0] > 200) & (heat[..., 2] < 100)).any()  # red where the bars moved
    asked = verifier.prepare(reference, {"evidence": "images"})
    assert not verifier.cacheable_for(asked.reference, asked.options)
    plain_prepared = verifier.prepare(reference, {})
    assert verifier.cacheable_for(plain_prepared.reference, plain_prepared.options)


def test_the_cache_keeps_verdicts_with_images_apart() -> None:
    cache = MemoryCache(100)
    harness = start_engine(SvgVerifier, cache=cache)
    item = {"verifier": "svg", "response": MOVED, "reference": {"target_svg": TARGET}}
    asked = {**item, "options": {"evidence": "images"}}
    try:
        [first] = harness.score([item])
        [hit] = harness.score([item])
        assert (first.cached, hit.cached) == (False, True) and "images" not in hit.details
        [shown] = harness.score([asked])  # the cached verdict has none: judged anew
        assert not shown.cached and set(shown.details["images"]) == {
            "target",
            "candidate",
            "difference",
        }
        assert shown.reward == hit.reward
        [again] = harness.score([asked])
        assert not again.cached and "images" in again.details
        assert len(cache) == 1  # only the verdict without images was stored
    finally:
        harness.close()


def test_cad_views_become_pngs_only_when_well_formed() -> None:
    grey = bytes(range(240)) * 2  # a 2 x 240 strip of grey levels
    views = {"height": 2, "width": 240, "views": ["iso", "top", "front"]}
    good = {
        **views,
        "reference": base64.b64encode(grey).decode(),
        "candidate": base64.b64encode(grey).decode(),
    }
    details: dict[str, Any] = {}
    attach_views(details, {"views": good}, 1_000_000)
    assert decode(details["images"]["reference"])[1, 7].tolist() == [7, 7, 7]
    assert details["views"] == ["iso", "top", "front"]
    short = {**good, "candidate": base64.b64encode(grey[:-1]).decode()}
    huge = {**good, "height": 10**6}
    for report in ({"views": short}, {"views": huge}, {"views": {**good, "reference": "%%"}}):
        bad: dict[str, Any] = {}
        attach_views(bad, report, 1_000_000)
        assert "images" not in bad and bad["images_note"].startswith("no views"), report
    failed: dict[str, Any] = {}
    attach_views(failed, {"views_error": "MemoryError: "}, 1_000_000)
    assert failed == {"images_note": "no views: MemoryError: "}
