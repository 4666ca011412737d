"""The web verifier on its ten pages: identity, markup-only rewrites, and one aspect
changed at a time (colours, text, positions), each lowering the matching sub-score. The
browser on the docker backend (the compose deployment's) scores as the host's does."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from rewardgate.contract.verifier import SandboxEnv
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.errors import InvalidRequest, VerifierError
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.web import WebVerifier, extract_html
from tests.verifiers.web_support import EDITS, PAGES, page, reformatted

PAGE_IDS = [p.stem for p in PAGES]
STRUCTURE = ("block", "text", "position", "color")


@pytest.fixture(scope="module")
def verifier() -> WebVerifier:
    return WebVerifier()


def score(
    verifier: WebVerifier, response: str, reference: dict[str, Any], **options: Any
) -> RewardResult:
    request = RewardRequest(verifier="web", response=response, reference=reference, options=options)
    return verifier.verify(request)


def test_the_page_set_is_complete() -> None:
    assert len(PAGES) == 10


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_page_against_itself_scores_one(any_verifier: WebVerifier, path: Path) -> None:
    verifier = any_verifier
    html = path.read_text()
    result = score(verifier, f"Here is the page:\n```html\n{html}\n```", {"target_html": html})
    assert result.status == "ok"
    assert result.reward >= 0.999
    assert result.details["reason"] == "scored"
    assert result.details["blocks"]["matched"] == result.details["blocks"]["target_blocks"] > 0
    assert all(result.details["terms"][t] == pytest.approx(1.0) for t in STRUCTURE)


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_markup_only_rewrite_scores_at_least_0999(verifier: WebVerifier, path: Path) -> None:
    html = path.read_text()
    rewritten = reformatted(html)
    assert rewritten != html
    result = score(verifier, rewritten, {"target_html": html})
    assert result.reward >= 0.999


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
def test_one_aspect_changed_lowers_its_sub_score(
    verifier: WebVerifier, path: Path, edit: str
) -> None:
    html = path.read_text()
    change, term = EDITS[edit]
    result = score(verifier, change(html), {"target_html": html})
    terms = result.details["terms"]
    assert result.status == "ok"
    assert result.reward < 0.98
    assert terms[term] < 0.95, terms
    assert terms["block"] == pytest.approx(1.0), "every block still matches its original"


@pytest.mark.parametrize("name", ["landing", "faq", "dashboard"])
def test_the_docker_browser_scores_as_the_hosts(
    verifier: WebVerifier, docker_verifier: WebVerifier, name: str
) -> None:
    """Same Chromium and fonts in the image as on the host: every edit of a page gets
    the same reward on either backend, within 0.002."""
    html = page(name)
    for change, _ in [(lambda h: h, ""), *EDITS.values()]:
        results = [
            score(v, change(html), {"target_html": html}) for v in (verifier, docker_verifier)
        ]
        assert [r.status for r in results] == ["ok", "ok"]
        assert results[1].reward == pytest.approx(results[0].reward, abs=0.002)
        assert results[1].fingerprint != results[0].fingerprint  # the image judges too


def test_docker_health_names_the_images_browser(docker_verifier: WebVerifier) -> None:
    assert docker_verifier.health() == {"playwright": "ok", "chromium": "ok"}
    missing = WebVerifier(
        VerifierEnv(
            sandbox=SandboxEnv(backend="docker"),
            verifiers={"web": {"chromium": "/usr/lib/no-such-browser"}},
        )
    )
    assert "not in the sandbox image" in missing.health()["chromium"]


def test_reward_falls_as_the_page_drifts_further(verifier: WebVerifier) -> None:
    html = page("landing")
    near = html.replace("</head>", "<style>body{position:relative;top:40px}</style></head>")
    far = html.replace("</head>", "<style>body{position:relative;top:400px}</style></head>")
    rewards = [score(verifier, h, {"target_html": html}).reward for h in (html, near, far)]
    assert rewards[0] > rewards[1] > rewards[2]


def test_missing_and_extra_text_lower_block_match(verifier: WebVerifier) -> None:
    html = page("faq")
    missing = html.replace(
        "<details><summary>Is there a loyalty scheme?</summary>"
        "<p>Every tenth order is on us.</p></details>",
        "",
    )
    extra = html.replace("</body>", "<p>Call us any day between nine and five.</p></body>")
    for changed in (missing, extra):
        assert changed != html
        result = score(verifier, changed, {"target_html": html})
        assert result.details["terms"]["block"] < 0.999
        assert result.reward < 0.999


def test_unrelated_page_scores_low(verifier: WebVerifier) -> None:
    result = score(verifier, page("recipe"), {"target_html": page("dashboard")})
    assert result.details["blocks"]["matched"] == 0
    assert all(result.details["terms"][t] == 0.0 for t in STRUCTURE)
    assert result.reward < 0.4


@pytest.mark.parametrize(
    "response",
    ["", "   \n", "```html\n\n```"],
    ids=["empty", "whitespace", "empty-fence"],
)
def test_no_html_is_the_lowest_reward(verifier: WebVerifier, response: str) -> None:
    result = score(verifier, response, {"target_html": page("landing")})
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == "no_html"


def test_time_and_random_numbers_draw_the_same_every_time(any_verifier: WebVerifier) -> None:
    verifier = any_verifier
    html = (
        "<p id='t'></p><p id='r'></p><canvas id='c' width='300' height='100'></canvas><script>"
        "document.getElementById('t').textContent = new Date().toISOString();"
        "document.getElementById('r').textContent = String(Math.random());"
        "const g = document.getElementById('c').getContext('2d');"
        "for (let i = 0; i < 30; i++) { g.fillStyle = `hsl(${Math.random() * 360}, 70%, 50%)`;"
        "g.fillRect(i * 10, 100 - Math.random() * 100, 8, 100); }</script>"
    )
    result = score(verifier, html, {"target_html": html})
    assert result.reward == pytest.approx(1.0)
    assert result.details["blocks"]["matched"] == 2


def test_oversized_page_is_refused_before_rendering(verifier: WebVerifier) -> None:
    from rewardgate.verifiers.web.judge import MAX_HTML_CHARS

    result = score(verifier, "<p>" + "x" * MAX_HTML_CHARS + "</p>", {"target_html": "<p>x</p>"})
    assert result.status == "ok"
    assert result.reward == 0.0
    assert result.details["reason"] == "too_large"
    assert len(result.details["html"]) <= 2000


def test_text_only_pages_without_any_text_agree(verifier: WebVerifier) -> None:
    drawing = "<div style='width:200px;height:120px;background:#1d3557'></div>"
    result = score(verifier, drawing, {"target_html": drawing})
    assert result.details["blocks"] == {
        "pred_blocks": 0,
        "target_blocks": 0,
        "matched": 0,
        "pairs": [],
    }
    assert result.reward == pytest.approx(1.0)


def _screenshot(html: str) -> str:
    """A target_png: the page as the verifier's own browser draws it."""
    from rewardgate.verifiers.web.browser import browser_manager

    capture = browser_manager().render(html, (1280, 720), 10.0)
    return base64.b64encode(capture.png).decode()


def test_png_target_scores_the_image_terms_only(verifier: WebVerifier) -> None:
    html = page("pricing")
    target = {"target_png": _screenshot(html)}
    same = score(verifier, html, target)
    assert same.reward >= 0.999
    assert set(same.details["terms"]) == {"ssim", "mse", "l2"}
    assert "blocks" not in same.details
    other = score(verifier, page("faq"), target)
    assert other.reward < same.reward - 0.1


def test_png_target_as_an_asset(tmp_path: Path) -> None:
    from rewardgate.verifiers.assets import AssetStore

    html = page("signup_form")
    data = base64.b64decode(_screenshot(html))
    with AssetStore(tmp_path, 1 << 30, 1 << 30).writer() as writer:
        writer.write(data)
        sha = writer.commit()
    verifier = WebVerifier(VerifierEnv(asset_dir=tmp_path))
    result = score(verifier, html, {"target_png": f"asset:{sha}"})
    assert result.reward >= 0.999


def test_custom_weights_pick_the_terms(verifier: WebVerifier) -> None:
    html = page("data_table")
    result = score(verifier, html, {"target_html": html}, weights={"text": 1.0, "l2_canny": 2.0})
    assert set(result.details["terms"]) == {"text", "l2_canny"}
    assert result.reward == pytest.approx(1.0)


def test_design2code_preset_uses_the_configured_clip(tmp_path: Path) -> None:
    """Design2Code's five equal parts, CLIP played by a local plugin metric."""
    weights = tmp_path / "clip.json"
    weights.write_text('{"channel_weights": [1, 1, 1]}')
    clip = {"path": str(weights), "factory": "tests.verifiers.image_plugin:load"}
    verifier = WebVerifier(VerifierEnv(config={"image_perceptual": {"clip": clip}}))
    html = page("dashboard")
    same = score(verifier, html, {"target_html": html}, preset="design2code")
    assert set(same.details["terms"]) == {"block", "text", "position", "color", "clip"}
    assert same.reward == pytest.approx(1.0)
    moved = score(verifier, EDITS["position"][0](html), {"target_html": html}, preset="design2code")
    assert moved.details["terms"]["clip"] < 1.0
    assert moved.reward < same.reward


@pytest.mark.parametrize(
    ("reference", "options", "message"),
    [
        ({}, {}, "exactly one of target_html and target_png"),
        ({"target_html": "<p>a</p>", "target_png": "aGk="}, {}, "exactly one"),
        ({"target_png": "not base64!"}, {}, "neither base64 nor asset"),
        ({"target_png": base64.b64encode(b"not an image").decode()}, {}, "not a readable image"),
        ({"target_html": "<p>a</p>"}, {"weights": {"text": -1.0}}, "non-negative"),
        ({"target_html": "<p>a</p>"}, {"weights": {"text": 0.0}}, "one weight must be positive"),
        ({"target_html": "<p>a</p>"}, {"weights": {"clip": 1.0}}, "has not configured"),
        ({"target_html": "<p>a</p>"}, {"preset": "design2code"}, "has not configured"),
        ({"target_png": base64.b64encode(b"x").decode()}, {"weights": {"text": 1.0}}, "no blocks"),
        ({"target_html": "<p>a</p>"}, {"viewport_width": 10}, "viewport_width"),
        ({"target_html": "<p>a</p>"}, {"colour": 1}, "Extra inputs"),
    ],
    ids=[
        "no-target",
        "two-targets",
        "png-not-base64",
        "png-not-an-image",
        "negative-weight",
        "all-zero-weights",
        "clip-not-configured",
        "design2code-needs-clip",
        "blocks-against-png",
        "tiny-viewport",
        "unknown-option",
    ],
)
def test_malformed_requests_are_invalid(
    verifier: WebVerifier, reference: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        verifier.prepare(reference, options)


def test_a_target_that_never_draws_is_invalid(verifier: WebVerifier) -> None:
    loop = "<p>x</p><script>while (true) {}</script>"
    prepared = verifier.prepare({"target_html": loop}, {"render_timeout_s": 2})
    with pytest.raises(InvalidRequest, match="render_timeout"):
        verifier.judge("<p>x</p>", prepared.reference, prepared.options)


def test_a_missing_browser_is_the_services_error_not_a_verdict(tmp_path: Path) -> None:
    env = VerifierEnv(config={"web_chromium": str(tmp_path / "no-chromium")})
    verifier = WebVerifier(env)
    assert verifier.health()["chromium"].startswith("not found")
    prepared = verifier.prepare({"target_html": "<p>a</p>"}, {})
    with pytest.raises(VerifierError, match="Chromium not found"):
        verifier.judge("<p>a</p>", prepared.reference, prepared.options)


def test_budget_leaves_room_for_two_pages(verifier: WebVerifier) -> None:
    prepared = verifier.prepare({"target_html": "<p>a</p>"}, {"render_timeout_s": 20})
    assert verifier.budget_s(prepared.reference, prepared.options, 30.0) >= 40.0
    explicit = verifier.prepare({"target_html": "<p>a</p>"}, {"timeout_s": 5})
    assert verifier.budget_s(explicit.reference, explicit.options, 30.0) == 5.0


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("```html\n<p>one</p>\n```\nthen\n```html\n<p>two</p>\n```", "<p>two</p>"),
        ("```HTML\n<p>upper</p>\n```", "<p>upper</p>"),
        ("```html\n<p>cut off", "<p>cut off"),
        (
            "Sure! <!DOCTYPE html><html><body>x</body></html> Hope it helps.",
            "<!DOCTYPE html><html><body>x</body></html>",
        ),
        ("<html><body>no end", "<html><body>no end"),
        ("<p>just a fragment</p>", "<p>just a fragment</p>"),
        ("plain words", "plain words"),
        ("```python\nprint(1)\n```", "```python\nprint(1)\n```"),
        ("", None),
        ("```html\n   \n```", None),
    ],
    ids=[
        "last-fence-wins",
        "fence-language-case",
        "unterminated-fence",
        "bare-document-in-prose",
        "bare-document-unclosed",
        "fragment",
        "plain-text-is-the-document",
        "other-language-fence",
        "empty",
        "blank-fence",
    ],
)
def test_extract_html(response: str, expected: str | None) -> None:
    assert extract_html(response) == expected
