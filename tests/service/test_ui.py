"""`/ui` over the real app (in-process): the recent-results ring and its bounds, auth by
cookie, filters, escaping, the "try it" form, and the live numbers."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from rewardgate.service.ring import RecentResults
from rewardgate.service.routes.ui import CSP
from rewardgate.verifiers.models import RewardResult
from tests.service.test_engine import echo

KEY = "k" * 16
HOSTILE = (
    "<script>window.pwned=1</script><svg onload=\"fetch('http://203.0.113.9/x')\"></svg>"
    "<img src=http://203.0.113.9/y.png><link rel=stylesheet href=http://203.0.113.9/z.css>"
)


def _score(client, items, **headers):  # type: ignore[no-untyped-def]
    response = client.post("/v1/rewards", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_ring_keeps_both_bounds_and_cuts_an_item_larger_than_the_budget() -> None:
    ring = RecentResults(max_items=50, max_bytes=20_000)
    result = RewardResult(verifier="echo", reward=1.0, status="ok")
    for n in range(2000):
        ring.add({"response": "x" * (n % 700)}, result)
        assert len(ring) <= 50
        assert ring.bytes <= 20_000
    assert ring.items()[0].seq == 2000  # newest first, numbered in finishing order
    assert ring.get(1) is None  # evicted
    ring.add({"response": "y" * 1_000_000}, result)
    kept = ring.items()[0]
    assert kept.request["response"].endswith("[1000000 chars, cut]")
    assert ring.bytes <= 20_000


def test_ring_is_bounded_under_load_through_the_api(make_client) -> None:
    client = make_client(workers=2, recent_items=40, recent_max_bytes=32 * 1024)
    for batch in range(15):
        _score(client, [echo("z" * 3000, id=f"{batch}-{i}") for i in range(40)])
        ring = client.app.state.recent
        assert len(ring) <= 40
        assert ring.bytes <= 32 * 1024
    assert len(ring) >= 5  # it does keep items: ~3 KB each fits about ten
    page = client.get("/ui")
    assert page.status_code == 200
    assert "14-39" in page.text  # the last item scored is listed


def test_off_by_default_keeps_nothing(make_client) -> None:
    client = make_client()
    _score(client, [echo("secret answer 1234")])
    assert client.app.state.recent is None
    page = client.get("/ui")
    assert page.status_code == 200
    assert "recent-off" in page.text
    assert "secret answer 1234" not in page.text
    assert client.get("/ui/item/1").status_code == 404
    assert client.get("/ui/api/stats").json()["recent"] is None


def test_keys_guard_the_page_and_the_login_cookie_opens_only_ui(make_client) -> None:
    client = make_client(api_keys=KEY, recent_items=10)
    _score(client, [echo("42", id="seen")], Authorization=f"Bearer {KEY}")
    for path in ("/ui", "/ui/item/1", "/ui/api/stats", "/ui/try"):
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 303, path
        assert refused.headers["location"] == "/ui/login"
    assert client.post("/ui/try", data={"verifier": "echo"}).status_code == 401
    login = client.get("/ui/login")
    assert login.status_code == 200 and "type=password" in login.text

    wrong = client.post("/ui/login", data={"key": "x" * 16}, follow_redirects=False)
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    right = client.post("/ui/login", data={"key": KEY}, follow_redirects=False)
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert KEY not in cookie  # a digest of the key, never the key
    assert "seen" in client.get("/ui").text  # the client now carries the cookie
    # The cookie opens /ui only: the API still wants the bearer header.
    assert client.post("/v1/rewards", json={"items": [echo("42")]}).status_code == 401
    assert client.get("/metrics").status_code == 401
    # A bearer header works for /ui as for the rest (scripts, curl).
    client.cookies.clear()
    assert client.get("/ui", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_filters_counts_and_item_page(make_client) -> None:
    client = make_client(recent_items=100)
    _score(client, [echo("42", id="good"), echo("41", id="bad"), {"verifier": "echo"}])
    everything = client.get("/ui").text
    assert everything.count("class=item>") == 3
    assert re.search(r"<td>echo</td><td>3</td><td>2</td><td>1</td>", everything)  # counts
    assert "<svg class=hist" in everything
    ok_only = client.get("/ui", params={"status": "ok"}).text
    assert ok_only.count("class=item>") == 2 and "good" in ok_only and "bad" in ok_only
    high = client.get("/ui", params={"status": "ok", "min": "0.5"}).text
    assert high.count("class=item>") == 1 and "good" in high
    low = client.get("/ui", params={"max": "0.5", "status": "ok"}).text
    assert low.count("class=item>") == 1 and ">bad<" in low
    invalid = client.get("/ui", params={"status": "invalid"}).text
    assert invalid.count("class=item>") == 1
    seq = re.search(
        r"href='/ui/item/(\d+)'>\d+</a></td><td>echo</td><td class='status ok'>"
        r"ok</td><td class=reward>1</td>",
        everything,
    )
    assert seq is not None
    item = client.get(f"/ui/item/{seq.group(1)}")
    assert item.status_code == 200
    assert "request" in item.text and "evidence" in item.text and "good" in item.text


def test_hostile_text_is_escaped_and_the_csp_is_strict(make_client) -> None:
    client = make_client(recent_items=10)
    _score(client, [echo(HOSTILE, answer=HOSTILE, id=HOSTILE)])
    for path in ("/ui", "/ui/item/1"):
        page = client.get(path)
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "<script>window" not in page.text
        assert "<svg onload" not in page.text
        assert "<img src=http" not in page.text
        # The outside address appears only inside escaped text, never in a tag.
        assert not re.search(r"<[^>]*203\.0\.113\.9", page.text)
    item = client.get("/ui/item/1").text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in item
    assert "script-src 'self'" in CSP and "default-src 'none'" in CSP
    assert "unsafe-inline" not in CSP


def test_try_it_scores_with_the_engine_and_refuses_cross_site_posts(make_client) -> None:
    client = make_client()
    form = {"verifier": "echo", "response": "42", "reference": '{"answer": "42"}', "options": "{}"}
    page = client.post("/ui/try", data=form)
    assert page.status_code == 200
    assert "status <b class='status ok'>ok</b>" in page.text
    assert "reward <b class=reward>1</b>" in page.text
    bad = client.post("/ui/try", data={**form, "reference": "not json, a plain string"})
    assert "status <b class='status invalid'>invalid</b>" in bad.text
    unknown = client.post("/ui/try", data={**form, "verifier": "nope"})
    assert "status <b class='status invalid'>invalid</b>" in unknown.text
    elsewhere = client.post("/ui/try", data=form, headers={"Origin": "https://evil.example"})
    assert elsewhere.status_code == 403
    fetched = client.post("/ui/try", data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403


def test_live_numbers_are_those_of_metrics(make_client) -> None:
    client = make_client()
    _score(client, [echo("42"), echo("41"), {"verifier": "echo"}])
    stats = client.get("/ui/api/stats").json()
    exported: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "rewardgate_items_total":
                exported[(sample.labels["verifier"], sample.labels["status"])] = sample.value
    mine = {(v, s): n for v, by in stats["items"].items() for s, n in by.items()}
    assert mine == exported
    assert stats["items_total"] == 3
    assert stats["inflight"] == 0 and stats["waiting"] == 0
    assert stats["latency_s"]["p50"] is not None
    assert client.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/static/../settings.py").status_code == 404


def test_render_evidence_shows_scores_and_only_the_verifiers_png_renders() -> None:
    from rewardgate.service.ui.evidence import evidence

    png = "data:image/png;base64,iVBORw0KGgo="
    other = "data:image/png;base64,AAAAmodel"
    svg = "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"
    result = {
        "verifier": "svg",
        "reward": 0.62,
        "status": "ok",
        "details": {
            "ssim": 0.8,
            "parts": {"iou": 0.5, "label": "x"},
            "images": {"difference": png, "candidate": png, "target": png, "odd": svg},
            "svg": other,  # a PNG URI the model wrote is text, not a render
        },
    }
    html = evidence("svg", result, {"response": "<svg onload=alert(1)>"})
    assert "<td>ssim</td><td>0.8</td>" in html and "<td>parts.iou</td><td>0.5</td>" in html
    assert html.count("<img ") == 3 and html.count(f"src='{png}'") == 3
    order = [html.index(f"alt='{name}'") for name in ("target", "candidate", "difference")]
    assert order == sorted(order)
    assert "src='data:image/svg" not in html and f"src='{other}'" not in html
    assert html.count(png) == 3  # the details' JSON shows sizes, not the data again
    cut = {**result["details"], "images": {"target": png[:-2] + "… [9000 chars, cut]"}}
    assert "<img " not in evidence("svg", {**result, "details": cut})


def test_render_evidence_says_why_images_are_missing() -> None:
    from rewardgate.service.ui.evidence import evidence

    note = "images dropped: 9000 bytes at 0.125 of their size, over evidence_max_bytes (100)"
    result = {"reward": 0.5, "status": "ok", "details": {"images_note": note}}
    html = evidence("chart", result)
    assert "<img " not in html and "class=images-note" in html and "evidence_max_bytes" in html
