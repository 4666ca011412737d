"""`/ui` and the report in a real browser (Playwright driving Debian's Chromium).

The page loads and its live metrics fill in, filters work, items of math, code,
compose, SQL, SVG, chart, web and CAD show their evidence, screenshots are not blank,
the login form guards a server with keys, a hostile response runs nothing and fetches
nothing, and no request ever leaves the server (every request the browser makes is
recorded and checked).
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.report import write_report
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from rewardgate.verifiers.web.containment import find_chromium
from tests.conftest import free_port
from tests.service.probes import PROBES
from tests.service.test_cli import write_input
from tests.service.test_engine import echo
from tests.service.test_report import scored_rows

pytestmark = pytest.mark.chromium

KEY = "browser-key-0123456789"
OUTSIDE = "203.0.113.9"
HOSTILE = (
    "<script>window.pwned=1</script>"
    f"<svg onload=\"window.pwned=2;fetch('http://{OUTSIDE}/svg')\"></svg>"
    f"<img src=http://{OUTSIDE}/img.png onerror='window.pwned=3'>"
    f"<link rel=stylesheet href=http://{OUTSIDE}/x.css><iframe src=http://{OUTSIDE}/f></iframe>"
)
SVG_TARGET = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    '<rect width="6" height="6" fill="navy"/></svg>'
)
# Drawable, so the verifier renders it: its handlers and script must run nowhere.
HOSTILE_SVG = (
    f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="window.pwned=5;'
    f"fetch('http://{OUTSIDE}/svg-onload')\"><script>window.pwned=6</script>"
    '<rect x="3" y="3" width="6" height="6" fill="navy" onclick="window.pwned=7"/></svg>'
)
WEB_TARGET = (
    "<html><body><h1>Report</h1><p>Revenue grew everywhere.</p><p>Target only.</p></body></html>"
)
WEB_PAGE = (
    "<html><body><h1>Report</h1><p>Revenue grew everywhere.</p><p>Model only.</p></body></html>"
)
IMAGES = {"evidence": "images", "size": 128}
CODE = "```python\na, b = map(int, input().split())\nprint(a - b)\n```"
ITEMS: list[dict[str, Any]] = [
    {"verifier": "math", "response": "\\boxed{\\frac{1}{2}}", "reference": "0.5", "id": "m1"},
    {"verifier": "math", "response": "The answer is 41.", "reference": "42", "id": "m0"},
    {
        "verifier": "code",
        "response": CODE,
        "reference": {
            "tests": [
                {"stdin": "3 3", "expected_stdout": "0"},
                {"stdin": "1 2", "expected_stdout": "3"},
            ]
        },
        "options": {"backend": "bwrap"},
        "id": "c1",
    },
    {
        "verifier": "compose",
        "response": "<think>ok</think> \\boxed{4}",
        "reference": "4",
        "options": {
            "children": [
                {"name": "answer", "verifier": "math", "weight": 0.9},
                {
                    "name": "form",
                    "verifier": "format",
                    "weight": 0.1,
                    "options": {"pattern": "^<think>.*</think>"},
                },
            ]
        },
        "id": "t1",
    },
    echo(HOSTILE, answer=HOSTILE, id="hostile"),
    {
        "verifier": "svg",
        "response": HOSTILE_SVG,
        "reference": {"target_svg": SVG_TARGET},
        "options": IMAGES,
        "id": "s1",
    },
    {
        "verifier": "web",
        "response": f"```html\n{WEB_PAGE}\n```",
        "reference": {"target_html": WEB_TARGET},
        "options": IMAGES,
        "id": "w1",
    },
    {"verifier": "echo", "response": "no reference", "id": "bad"},
]


@contextlib.contextmanager
def _serve(folder: Path, **overrides: Any) -> Iterator[str]:
    """The real app with every installed verifier plus the probes, over TCP."""
    settings = Settings(workers=2, asset_dir=folder / "assets", **overrides)
    app = create_app(settings, Registry.from_entry_points(PROBES, env=verifier_env(settings)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=find_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _serve(tmp_path_factory.mktemp("ui"), recent_items=200) as url:
        results = httpx.post(f"{url}/v1/rewards", json={"items": ITEMS}, timeout=300).json()
        by_id = {r["id"]: r for r in results["results"]}
        assert all(by_id[i]["status"] == "ok" for i in ("m1", "c1", "s1", "w1")), by_id
        yield url


class Recorder:
    """Every URL a page asks for, and every dialog and console error it raises."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def outside(self, base: str) -> list[str]:
        return [u for u in self.urls if not (u.startswith(base + "/") or u.startswith("data:"))]


def _not_blank(png: bytes) -> None:
    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    assert high - low > 100, "the screenshot is one flat colour"
    assert len(set(image.resize((64, 64)).tobytes())) > 5


def _seq_of(page: Page, base: str, item_id: str) -> str:
    page.goto(f"{base}/ui")
    row = page.locator("tr.item", has_text=item_id).first
    href = row.locator("a").get_attribute("href")
    assert href is not None
    return href


def test_list_loads_filters_work_and_nothing_leaves_the_server(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(f"{base}/ui")
    assert page.locator("tr.item").count() == len(ITEMS)
    page.wait_for_selector("#live[data-state=live]")
    assert page.locator("#live [data-k=total]").inner_text() == str(len(ITEMS))
    assert page.locator("svg.hist").count() >= 4  # math, code, compose, echo
    _not_blank(page.screenshot(full_page=True))

    page.select_option("select[name=verifier]", "math")
    page.click("form.filters button")
    assert page.locator("tr.item").count() == 2
    page.fill("input[name=min]", "0.5")
    page.click("form.filters button")
    assert page.locator("tr.item").count() == 1
    assert "m1" in page.locator("tr.item").inner_text()
    page.goto(f"{base}/ui?status=invalid")
    assert page.locator("tr.item").count() == 1
    assert "bad" in page.locator("tr.item").inner_text()
    assert seen.outside(base) == []
    page.close()


def test_each_verifier_shows_its_evidence(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(base + _seq_of(page, base, "m1"))
    math = page.locator("section.evidence.math")
    assert "extracted" in math.inner_text() and "equivalent" in math.inner_text()

    page.goto(base + _seq_of(page, base, "c1"))
    code = page.locator("section.evidence.code")
    assert code.locator("table.tests tbody tr").count() == 2
    assert "wrong_answer" in code.inner_text()
    assert "1 2" in code.locator("table.kv").last.inner_text()  # the failing test's input
    assert code.locator(".diff .del").filter(has_text="-3").count() == 1
    assert code.locator(".diff .add").filter(has_text="+-1").count() == 1
    assert code.locator("svg.strip rect").count() == 2
    _not_blank(page.screenshot(full_page=True))

    page.goto(base + _seq_of(page, base, "t1"))
    tree = page.locator("section.evidence.compose ul.tree > li")
    assert tree.count() == 2
    assert "answer" in tree.nth(0).inner_text() and "weight 0.9" in tree.nth(0).inner_text()
    assert "form" in tree.nth(1).inner_text()
    assert seen.outside(base) == []
    page.close()


def test_a_hostile_response_runs_nothing_and_fetches_nothing(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    href = _seq_of(page, base, "hostile")
    page.goto(base + href)
    page.wait_for_timeout(500)  # room for an onload or a fetch to happen, if one could
    assert page.evaluate("window.pwned") is None
    assert "<script>window.pwned=1</script>" in page.locator("pre.response").inner_text()
    assert page.locator("iframe, img[src^=http], link[href^=http]").count() == 0
    assert seen.dialogs == []
    assert not [u for u in seen.urls if OUTSIDE in u]
    assert seen.outside(base) == []
    # The list too, where the hostile id is shown.
    page.goto(f"{base}/ui")
    assert page.evaluate("window.pwned") is None
    assert seen.outside(base) == []
    page.close()


def _loaded_images(page: Page, selector: str) -> list[int]:
    """The natural widths of the images `selector` finds (0: it did not decode)."""
    return list(page.eval_on_selector_all(selector, "els => els.map(e => e.naturalWidth)"))


def test_renders_show_as_images_and_a_hostile_svg_runs_nothing(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(base + _seq_of(page, base, "s1"))
    page.wait_for_timeout(500)  # room for an onload or a fetch to happen, if one could
    renders = "section.evidence.svg .renders img"
    assert [i.get_attribute("alt") for i in page.locator(renders).all()] == [
        "target",
        "candidate",
        "difference",
    ]
    assert _loaded_images(page, renders) == [128, 128, 128]
    assert all(src.startswith("data:image/png;base64,") for src in _srcs(page, renders))
    _not_blank(page.locator("figure.render.difference img").screenshot())
    assert page.evaluate("window.pwned") is None
    assert "window.pwned=6" in page.locator("pre.response").inner_text()  # shown as text
    assert page.locator("svg rect[onclick], svg[onload], script:not([src])").count() == 0
    assert seen.dialogs == [] and seen.outside(base) == []

    page.goto(base + _seq_of(page, base, "w1"))
    web = "section.evidence.web .renders img"
    assert _loaded_images(page, web) == [128, 128, 128]
    assert "green matched, red unmatched" in page.locator("section.evidence.web").inner_text()
    _not_blank(page.screenshot(full_page=True))
    assert seen.outside(base) == []
    page.close()


def _srcs(page: Page, selector: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('src'))"))


def test_try_it_in_the_browser(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(f"{base}/ui/try")
    page.select_option("select[name=verifier]", "math")
    page.fill("textarea[name=response]", "so \\boxed{7}")
    page.fill("textarea[name=reference]", '"7"')
    page.click("form#try button")
    page.wait_for_selector("section.evidence.math")
    assert page.locator("b.reward").first.inner_text() == "1"
    assert seen.outside(base) == []
    page.close()


def test_try_it_draws_the_renders_it_asks_for(browser: Browser, base: str) -> None:
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(f"{base}/ui/try")
    assert page.is_checked("input[name=images]")  # on in a fresh form
    page.select_option("select[name=verifier]", "svg")
    page.fill("textarea[name=response]", HOSTILE_SVG)
    page.fill("textarea[name=reference]", json.dumps({"target_svg": SVG_TARGET}))
    page.click("form#try button")
    page.wait_for_selector("section.evidence.svg")
    assert _loaded_images(page, "section.evidence.svg .renders img") == [512, 512, 512]
    page.uncheck("input[name=images]")
    page.click("form#try button")
    page.wait_for_selector("section.evidence.svg")
    assert page.locator("section.evidence.svg .renders img").count() == 0
    assert page.evaluate("window.pwned") is None and seen.outside(base) == []
    page.close()


def test_keys_send_the_browser_to_the_login_form(browser: Browser, tmp_path: Path) -> None:
    with _serve(tmp_path, recent_items=10, api_keys=KEY) as url:
        httpx.post(
            f"{url}/v1/rewards",
            json={"items": [echo("42", id="keyed")]},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=60,
        ).raise_for_status()
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/ui")
        assert page.url == f"{url}/ui/login"
        assert "keyed" not in page.content()
        page.fill("input[name=key]", "wrong-key-0123456789")
        page.click("form#login button")
        assert "not one of this server's API keys" in page.content()
        page.fill("input[name=key]", KEY)
        page.click("form#login button")
        page.wait_for_url(f"{url}/ui")
        assert page.locator("tr.item", has_text="keyed").count() == 1
        cookie = next(c for c in context.cookies() if c["name"] == "rewardgate_ui")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # out of scripts' reach
        context.close()


def test_the_report_opens_in_the_browser(browser: Browser, tmp_path: Path) -> None:
    source, html = tmp_path / "scored.jsonl", tmp_path / "report.html"
    write_input(source, scored_rows())
    write_report(source, html)
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(html.as_uri())
    assert page.locator("#rows").inner_text() == "82 rows"
    assert page.locator("svg.hist").count() == 2
    assert page.locator("#zero-variance").inner_text() == "10"
    assert page.evaluate("window.pwned") is None
    assert seen.dialogs == []
    _not_blank(page.screenshot(full_page=True))
    assert [u for u in seen.urls if u != html.as_uri()] == []
    page.close()


def test_the_report_shows_a_rows_renders(browser: Browser, tmp_path: Path) -> None:
    from rewardgate.verifiers.models import RewardRequest
    from rewardgate.verifiers.svg import SvgVerifier

    request = {"response": HOSTILE_SVG, "reference": {"target_svg": SVG_TARGET}, "options": IMAGES}
    result = SvgVerifier().verify(RewardRequest(verifier="svg", **request))
    row = {
        **request,
        "reward": result.reward,
        "status": result.status,
        "reward_details": {"verifier": "svg", "details": result.details, "elapsed_ms": 5.0},
    }
    source, html = tmp_path / "scored.jsonl", tmp_path / "report.html"
    write_input(source, [row])
    write_report(source, html)
    page = browser.new_page()
    seen = Recorder(page)
    page.goto(html.as_uri())
    page.wait_for_timeout(300)
    renders = "section.evidence.svg .renders img"
    assert _loaded_images(page, renders)[:3] == [128, 128, 128]
    assert page.evaluate("window.pwned") is None and seen.dialogs == []
    assert [u for u in seen.urls if u != html.as_uri() and not u.startswith("data:")] == []
    page.close()


CHART_TARGET = (Path(__file__).parents[1] / "data" / "chart" / "line.py").read_text()
CAD_BOX = "import cadquery as cq\nresult = cq.Workplane('XY').box(10, 20, 30)\n"
CHINOOK = Path(__file__).parents[1] / "data" / "sql" / "chinook.sqlite"


def test_sql_chart_and_cad_items_show_their_evidence(browser: Browser, tmp_path: Path) -> None:
    """The verifiers the shared server's items leave out: SQL (its query facts and the
    first differing row), chart and CAD (their renders, decoded, not blank)."""
    with _serve(tmp_path, recent_items=20) as url:
        sha = httpx.post(f"{url}/v1/assets", content=CHINOOK.read_bytes(), timeout=60)
        db = f"asset:{sha.json()['sha256']}"
        items = [
            {
                "verifier": "sql",
                "response": "SELECT Name FROM Artist WHERE ArtistId < 3 ORDER BY ArtistId",
                "reference": {
                    "gold_sql": "SELECT Name FROM Artist WHERE ArtistId < 4 ORDER BY ArtistId",
                    "db": db,
                },
                "id": "q1",
            },
            {
                "verifier": "chart",
                "response": f"```python\n{CHART_TARGET.replace('#FF7F0E', '#2CA02C')}\n```",
                "reference": {"target_code": CHART_TARGET},
                "options": {"evidence": "images"},
                "id": "ch1",
            },
            {
                "verifier": "cad",
                "response": f"```python\n{CAD_BOX.replace('30)', '24)')}\n```",
                "reference": {"reference_code": CAD_BOX},
                "options": {"evidence": "images"},
                "id": "cad1",
            },
        ]
        answer = httpx.post(f"{url}/v1/rewards", json={"items": items}, timeout=600).json()
        by_id = {r["id"]: r for r in answer["results"]}
        assert {i: r["status"] for i, r in by_id.items()} == dict.fromkeys(by_id, "ok"), by_id
        assert all(by_id[i]["reward"] < 1.0 for i in by_id)  # each has something to show
        page = browser.new_page()
        seen = Recorder(page)
        page.goto(url + _seq_of(page, url, "q1"))
        sql = page.locator("section.evidence.sql").inner_text()
        assert "first differing row" in sql and "order_matters" in sql
        for item_id, verifier in (("ch1", "chart"), ("cad1", "cad")):
            page.goto(url + _seq_of(page, url, item_id))
            renders = f"section.evidence.{verifier} .renders img"
            widths = _loaded_images(page, renders)
            assert len(widths) >= 2 and all(w > 0 for w in widths), (verifier, widths)
            for image in page.locator(renders).all()[:2]:
                _not_blank(image.screenshot())
        assert seen.outside(url) == [] and seen.dialogs == []
        page.close()
