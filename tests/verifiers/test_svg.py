"""The svg verifier on the 40 simple-icons: identity, rewrites, shifts, recolours, blanks."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.svg import SvgVerifier, extract_svg
from tests.verifiers.svg_support import (
    BLANK,
    ICONS,
    REWRITES,
    icon,
    recoloured,
    shifted,
    wrap,
)

ICON_IDS = [p.stem for p in ICONS]


@pytest.fixture(scope="module")
def verifier() -> SvgVerifier:
    return SvgVerifier()


def score(
    verifier: SvgVerifier, response: str, reference: dict[str, Any], **options: Any
) -> RewardResult:
    request = RewardRequest(verifier="svg", response=response, reference=reference, options=options)
    return verifier.verify(request)


def test_the_icon_set_is_complete() -> None:
    assert len(ICONS) == 40


@pytest.mark.parametrize("path", ICONS, ids=ICON_IDS)
def test_icon_against_itself_scores_one(verifier: SvgVerifier, path: Path) -> None:
    svg = path.read_text()
    result = score(verifier, f"Here it is:\n```svg\n{svg}\n```", {"target_svg": svg})
    assert result.status == "ok"
    assert result.reward == pytest.approx(1.0, abs=1e-6)
    assert result.details["reason"] == "scored"


@pytest.mark.parametrize("rewrite", sorted(REWRITES))
@pytest.mark.parametrize("path", ICONS, ids=ICON_IDS)
def test_visually_identical_rewrites_score_at_least_099(
    verifier: SvgVerifier, path: Path, rewrite: str
) -> None:
    target, rewritten = REWRITES[rewrite](path.read_text())
    assert rewritten != target
    result = score(verifier, rewritten, {"target_svg": target})
    assert result.reward >= 0.99, result.details["terms"]


@pytest.mark.parametrize("path", ICONS, ids=ICON_IDS)
def test_shifted_recoloured_and_blank_score_lower(verifier: SvgVerifier, path: Path) -> None:
    target = path.read_text()
    reference = {"target_svg": target}
    same = score(verifier, target, reference).reward
    small = score(verifier, shifted(target, 0.25), reference).reward
    large = score(verifier, shifted(target, 1.5), reference).reward
    red = score(verifier, recoloured(target, "#ff0000"), reference).reward
    grey = score(verifier, recoloured(target, "#404040"), reference).reward
    blank = score(verifier, BLANK, reference).reward
    assert same > small > large
    assert max(red, grey, blank) < same
    assert blank < small


@pytest.mark.parametrize("preset", ["rlrf", "starvector"])
@pytest.mark.parametrize("path", ICONS[::8], ids=ICON_IDS[::8])
def test_other_presets_order_the_variants_too(
    verifier: SvgVerifier, path: Path, preset: str
) -> None:
    target = path.read_text()
    reference = {"target_svg": target}
    results = [
        score(verifier, svg, reference, preset=preset).reward
        for svg in (target, shifted(target, 0.25), shifted(target, 1.5))
    ]
    blank = score(verifier, BLANK, reference, preset=preset).reward
    assert results[0] > results[1] > results[2]
    assert blank < results[0]


def test_rlrf_preset_terms_and_lowest(verifier: SvgVerifier) -> None:
    target = icon("okx")
    result = score(verifier, target, {"target_svg": target}, preset="rlrf")
    assert result.details["terms"] == {"l2": 1.0, "l2_canny": 1.0, "length": 0.75}
    assert result.details["metrics"]["length"] == {"pred": len(target), "target": len(target)}
    assert result.reward == pytest.approx(2.75 / 3)
    invalid = score(verifier, "no drawing here", {"target_svg": target}, preset="rlrf")
    assert (invalid.status, invalid.reward, invalid.details) == ("ok", -1.0, {"reason": "no_svg"})
    assert (
        verifier.lowest_reward_for(
            verifier.prepare({"target_svg": target}, {"preset": "rlrf"}).options
        )
        == -1.0
    )


def test_custom_weights_keep_the_presets_floor(verifier: SvgVerifier) -> None:
    """Sobel edges of a shifted thin drawing anti-correlate; the default floor is 0."""
    target = icon("leica")
    result = score(verifier, shifted(target, 0.5), {"target_svg": target}, weights={"l2_sobel": 1})
    assert set(result.details["terms"]) == {"l2_sobel"}
    assert result.details["terms"]["l2_sobel"] < 0
    assert result.reward == 0.0
    rlrf = score(
        verifier,
        shifted(target, 0.5),
        {"target_svg": target},
        preset="rlrf",
        weights={"l2_sobel": 1},
    )
    assert rlrf.reward == pytest.approx(result.details["terms"]["l2_sobel"])


def _png_base64(svg: str, size: tuple[int, int] = (512, 512)) -> str:
    """The SVG rendered by plain cairosvg at `size` (transparent background)."""
    import cairosvg

    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size[0], output_height=size[1])
    return base64.b64encode(png).decode()


def test_png_target(verifier: SvgVerifier) -> None:
    """A transparent PNG of the icon is composited on white like the render."""
    target = icon("rumble")
    reference = {"target_png": _png_base64(target)}
    assert score(verifier, target, reference).reward == pytest.approx(1.0, abs=1e-6)
    assert score(verifier, shifted(target, 1.5), reference).reward < 0.9


def test_wide_drawing_is_fitted_and_padded(verifier: SvgVerifier) -> None:
    """A 2:1 drawing against the same drawing as a 2:1 PNG: both padded to the square."""
    wide = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
        '<circle cx="100" cy="50" r="40"/></svg>'
    )
    result = score(verifier, wide, {"target_png": _png_base64(wide, (400, 200))}, size=256)
    assert result.reward > 0.97
    assert result.details["canvas"] == {"width": 200.0, "height": 100.0, "elements": 2}


def test_png_target_without_length_refuses_the_length_term(verifier: SvgVerifier) -> None:
    reference = {"target_png": _png_base64(icon("okx"))}
    with pytest.raises(InvalidRequest, match="target_length"):
        verifier.prepare(reference, {"preset": "rlrf"})
    result = score(verifier, icon("okx"), {**reference, "target_length": 200}, preset="rlrf")
    assert result.details["metrics"]["length"]["target"] == 200


@pytest.mark.parametrize(
    ("reference", "options", "match"),
    [
        ({}, {}, "exactly one"),
        ({"target_svg": "<svg/>", "target_png": "AAAA"}, {}, "exactly one"),
        ({"target_svg": "not xml"}, {}, "parse_error"),
        ({"target_svg": "<html/>"}, {}, "not_svg"),
        ({"target_svg": '<!DOCTYPE s [<!ENTITY a "b">]><svg>&a;</svg>'}, {}, "entities"),
        ({"target_svg": '<svg width="99999" height="9"/>'}, {}, "canvas_too_large"),
        ({"target_png": "%%% not base64"}, {}, "base64"),
        ({"target_png": base64.b64encode(b"not an image").decode()}, {}, "readable image"),
        ({"target_png": "asset:" + "0" * 64}, {}, "no asset"),
        ({"target_svg": "<svg/>"}, {"preset": "paper"}, "preset"),
        ({"target_svg": "<svg/>"}, {"size": 8}, "size"),
        ({"target_svg": "<svg/>"}, {"weights": {"ssim": -1}}, "non-negative"),
        ({"target_svg": "<svg/>"}, {"weights": {"dreamsim": 1}}, "not configured"),
        ({"target_svg": "<svg/>"}, {"weights": {"psnr": 1}}, "not configured"),
    ],
    ids=[
        "no-target",
        "two-targets",
        "svg-not-xml",
        "svg-not-svg",
        "svg-entities",
        "svg-huge",
        "png-not-base64",
        "png-not-image",
        "png-missing-asset",
        "unknown-preset",
        "tiny-size",
        "negative-weight",
        "unconfigured-perceptual",
        "unknown-term",
    ],
)
def test_malformed_requests_are_invalid(
    tmp_path: Path, reference: dict[str, Any], options: dict[str, Any], match: str
) -> None:
    verifier = SvgVerifier(VerifierEnv(asset_dir=tmp_path))
    with pytest.raises(InvalidRequest, match=match):
        verifier.prepare(reference, options)


def test_configured_perceptual_plugin_scores(tmp_path: Path) -> None:
    weights = tmp_path / "toy.json"
    weights.write_text('{"channel_weights": [1, 1, 1]}')
    config = {"toy": {"path": str(weights), "factory": "tests.verifiers.image_plugin:load"}}
    verifier = SvgVerifier(VerifierEnv(config={"image_perceptual": config}))
    target = icon("okx")
    result = score(
        verifier, shifted(target, 1), {"target_svg": target}, weights={"toy": 1, "ssim": 1}
    )
    assert set(result.details["terms"]) == {"toy", "ssim"}
    assert 0 < result.details["terms"]["toy"] < 1


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("```svg\n<svg a='1'/>\n```\nthen\n```svg\n<svg a='2'/>\n```", "<svg a='2'/>"),
        ("```xml\n<?xml version='1.0'?><svg/>\n```", "<?xml version='1.0'?><svg/>"),
        ("```svg\nno drawing\n```\n<svg b='1'></svg>", "<svg b='1'></svg>"),
        (
            "text <svg a='1'><svg><g/></svg><rect/></svg> and <svg a='2'/>",
            "<svg a='1'><svg><g/></svg><rect/></svg>",
        ),
        ("first <svg a='1'/> second <svg a='2'></svg>", "<svg a='1'/>"),
        ("<SVG viewBox='0 0 1 1'></SVG>", "<SVG viewBox='0 0 1 1'></SVG>"),
        ("no drawing", None),
        ("<svg unclosed", None),
        ("<svg><rect/>", None),
    ],
    ids=[
        "last-fence",
        "xml-fence",
        "fence-without-svg",
        "nested-first-element",
        "first-self-closing",
        "upper-case",
        "none",
        "unclosed-tag",
        "unclosed-element",
    ],
)
def test_extraction(response: str, expected: str | None) -> None:
    assert extract_svg(response) == expected


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("no drawing", "no_svg"),
        ("<svg><rect></svg>", "parse_error"),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 0 10"/>', "bad_canvas"),
        ('<svg><use href="#missing"/></svg>', "scored"),
        ('<svg viewBox="0 0 24 24"><path d="M 0 0 L zz"/></svg>', "scored"),
    ],
    ids=["none", "malformed", "zero-viewbox", "dangling-use", "bad-path-data"],
)
def test_invalid_output_is_an_ok_verdict(verifier: SvgVerifier, response: str, reason: str) -> None:
    result = score(verifier, response, {"target_svg": icon("okx")})
    assert result.status == "ok"
    assert result.details["reason"] == reason
    if reason != "scored":
        assert result.reward == 0.0


def test_through_the_engine(verifier_engine: Any) -> None:
    engine = verifier_engine(SvgVerifier, workers=1)
    target = icon("okx")
    items = [
        {"verifier": "svg", "response": target, "reference": {"target_svg": target}},
        {"verifier": "svg", "response": shifted(target, 1), "reference": {"target_svg": target}},
        {
            "verifier": "svg",
            "response": "none",
            "reference": {"target_svg": target},
            "options": {"preset": "rlrf"},
        },
        {"verifier": "svg", "response": target, "reference": {"target_svg": "<nope"}},
    ]
    results = engine.score(items)
    assert [r.status for r in results] == ["ok", "ok", "ok", "invalid"]
    assert results[0].reward == pytest.approx(1.0, abs=1e-6)
    assert 0 < results[1].reward < 1
    assert results[2].reward == -1.0
    assert results[3].reward == 0.0


@pytest.mark.parametrize("module", ["rewardgate.verifiers.svg", "rewardgate.verifiers.image"])
def test_importing_loads_no_imaging_library(module: str) -> None:
    import subprocess
    import sys

    heavy = ["numpy", "skimage", "scipy", "cairosvg", "cairocffi", "PIL", "defusedxml"]
    code = f"import sys, {module}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_server_limits_reach_the_verifier(make_client: Any) -> None:
    """`svg_max_canvas_px` and `svg_max_elements` are settings the verifier obeys."""
    client = make_client(installed=True, svg_max_canvas_px=100, svg_max_elements=3)
    target = wrap('<rect width="9" height="9"/>')
    responses = {
        "canvas_too_large": '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"/>',
        "too_many_elements": wrap('<rect width="1" height="1"/>' * 3),
        "scored": wrap('<rect width="9" height="9"/>'),
    }
    items = [
        {"verifier": "svg", "response": r, "reference": {"target_svg": target}}
        for r in responses.values()
    ]
    results = client.post("/v1/rewards", json={"items": items}).json()["results"]
    assert [r["details"]["reason"] for r in results] == list(responses)
    assert results[2]["reward"] == 1.0
