"""`/ui`: a server-rendered page to see why a reward is what it is.

Recent items (kept only when `recent_items` is set), filtered by verifier, status and
reward range, with counts and a reward histogram per verifier; one item's request and
result side by side with its evidence; a "try it" form scored by the same engine, with
the same limits, as POST /v1/rewards; live metrics read from the same collectors as
/metrics. With API keys set, a login form trades a key for an HttpOnly, SameSite=Strict
cookie that AuthMiddleware accepts under /ui only.

Model output is hostile: every text is escaped, nothing a model wrote is inlined as
markup, and each answer carries a Content-Security-Policy that allows only this
server's own script, style and images (plus the PNG data URIs verifiers render), so
an injected tag would neither run nor fetch anything.
"""

from __future__ import annotations

import hmac
import math
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

import orjson
from fastapi import APIRouter, Request
from prometheus_client import Gauge
from starlette.responses import RedirectResponse, Response

from rewardgate.service.engine import Engine
from rewardgate.service.metrics import Metrics
from rewardgate.service.middleware import UI_COOKIE, ui_token
from rewardgate.service.ring import RecentItem, RecentResults
from rewardgate.service.settings import Settings
from rewardgate.service.ui.evidence import evidence
from rewardgate.service.ui.markup import Markup, esc, json_block, page, table
from rewardgate.service.ui.plots import histogram

__all__ = ["CSP", "router", "stats"]

router = APIRouter(prefix="/ui", include_in_schema=False)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STATIC = {"ui.css": "text/css", "ui.js": "text/javascript"}
_LIST_LIMIT = 500
_STATUSES = ("ok", "invalid", "error", "timeout")


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status_code=status, media_type="text/html", headers=_HEADERS)


def _head() -> Markup:
    return Markup(
        "<link rel=stylesheet href='/ui/static/ui.css'>"
        "<script src='/ui/static/ui.js' defer></script>"
    )


def _nav() -> Markup:
    return Markup(
        "<header><h1>rewardgate</h1><a href='/ui'>recent</a><a href='/ui/try'>try it</a>"
        "<a href='/metrics'>metrics</a></header>"
    )


def _recent(request: Request) -> RecentResults | None:
    ring: RecentResults | None = getattr(request.app.state, "recent", None)
    return ring


# ---- live metrics: the same collectors /metrics renders ----


def stats(metrics: Metrics) -> dict[str, Any]:
    """Totals, latency percentiles (from the histogram's buckets), in-flight and queue."""
    by: dict[str, dict[str, float]] = {}
    for family in metrics.items.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                v, s = sample.labels["verifier"], sample.labels["status"]
                by.setdefault(v, {})[s] = sample.value
    buckets: dict[float, float] = {}
    for family in metrics.item_seconds.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return {
        "items_total": int(sum(sum(d.values()) for d in by.values())),
        "items": by,
        "latency_s": {
            name: _bucket_quantile(buckets, q)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        },
        "inflight": _gauge(metrics.inflight),
        "waiting": _gauge(metrics.waiting),
    }


def _gauge(gauge: Gauge) -> int:
    return int(sum(s.value for family in gauge.collect() for s in family.samples))


def _bucket_quantile(buckets: dict[float, float], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket holding the rank."""
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] == 0:
        return None
    rank = q * buckets[edges[-1]]
    low, below = 0.0, 0.0
    for edge in edges:
        count = buckets[edge]
        if count >= rank:
            if math.isinf(edge):
                return low
            inside = count - below
            return low + (edge - low) * ((rank - below) / inside if inside else 0.0)
        low, below = edge, count
    return low


@router.get("/api/stats")
async def api_stats(request: Request) -> Response:
    body = stats(request.app.state.metrics)
    ring = _recent(request)
    body["recent"] = None if ring is None else {"items": len(ring), "bytes": ring.bytes}
    return Response(orjson.dumps(body), media_type="application/json", headers=_HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in _STATIC:
        return Response("not found", status_code=404, headers=_HEADERS)
    data = resources.files("rewardgate.service.ui").joinpath("static", name).read_bytes()
    return Response(data, media_type=_STATIC[name], headers=_HEADERS)


# ---- the list ----


def _filters(request: Request) -> tuple[str, str, float | None, float | None]:
    q = request.query_params

    def number(name: str) -> float | None:
        try:
            value = float(q.get(name, ""))
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    return q.get("verifier", ""), q.get("status", ""), number("min"), number("max")


def _matches(
    item: RecentItem, verifier: str, status: str, lo: float | None, hi: float | None
) -> bool:
    return (
        (not verifier or item.verifier == verifier)
        and (not status or item.status == status)
        and (lo is None or item.reward >= lo)
        and (hi is None or item.reward <= hi)
    )


def _live() -> Markup:
    cells = "".join(
        f"<span>{label} <b data-k={key}>…</b></span>"
        for key, label in (
            ("rate", "rate"),
            ("p50", "p50"),
            ("p90", "p90"),
            ("p99", "p99"),
            ("inflight", "in flight"),
            ("waiting", "queued"),
            ("total", "items"),
        )
    )
    return Markup(f"<p id=live data-state=loading>{cells}</p>")


@router.get("")
async def recent_page(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    ring = _recent(request)
    verifier, status, lo, hi = _filters(request)
    parts: list[str] = [_nav(), _live()]
    if ring is None:
        parts.append(
            "<p class=off id=recent-off>Recent items are not kept: start the server with "
            "<code>recent_items</code> (REWARDGATE_RECENT_ITEMS) above 0 to see them here.</p>"
        )
        return _html(page("rewardgate", Markup("".join(parts)), head=_head()))
    everything = ring.items()
    chosen = [i for i in everything if _matches(i, verifier, status, lo, hi)]
    names = sorted({i.verifier for i in everything} | set(engine.registry.names()))
    options = "".join(
        f"<option value='{esc(n)}'{' selected' if n == verifier else ''}>{esc(n)}</option>"
        for n in names
    )
    statuses = "".join(
        f"<option{' selected' if s == status else ''}>{s}</option>" for s in _STATUSES
    )
    parts.append(
        "<form class=filters method=get action='/ui'>"
        "<label>verifier<select name=verifier><option value=''>any</option>"
        f"{options}</select></label>"
        f"<label>status<select name=status><option value=''>any</option>{statuses}</select></label>"
        f"<label>reward ≥<input name=min size=5 value='{esc('' if lo is None else lo)}'></label>"
        f"<label>reward ≤<input name=max size=5 value='{esc('' if hi is None else hi)}'></label>"
        "<button type=submit>filter</button><a href='/ui'>clear</a></form>"
    )
    parts.append(_counts(chosen))
    rows = "".join(
        f"<tr class=item><td><a href='/ui/item/{i.seq}'>{i.seq}</a></td><td>{esc(i.verifier)}</td>"
        f"<td class='status {esc(i.status)}'>{esc(i.status)}</td>"
        f"<td class=reward>{i.reward:.4g}</td>"
        f"<td>{float(i.result.get('elapsed_ms', 0.0)):.1f}</td>"
        f"<td>{esc(i.result.get('id') or '')}</td></tr>"
        for i in chosen[:_LIST_LIMIT]
    )
    parts.append(
        f"<p id=shown>{len(chosen)} of {len(everything)} kept items ({ring.bytes} bytes)</p>"
        "<table id=items><thead><tr><th>#</th><th>verifier</th><th>status</th><th>reward</th>"
        f"<th>ms</th><th>id</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _html(page("rewardgate: recent", Markup("".join(parts)), head=_head()))


def _counts(items: list[RecentItem]) -> Markup:
    by: dict[str, list[RecentItem]] = {}
    for item in items:
        by.setdefault(item.verifier, []).append(item)
    rows = [
        (name, len(group), *(sum(1 for i in group if i.status == s) for s in _STATUSES))
        for name, group in sorted(by.items())
    ]
    hists = "".join(
        f"<figure><figcaption>{esc(name)}</figcaption>"
        f"{histogram([i.reward for i in group if i.status == 'ok'], f'{name} rewards')}</figure>"
        for name, group in sorted(by.items())
    )
    return Markup(
        table(("verifier", "items", *_STATUSES), rows, "counts") + f"<div class=hists>{hists}</div>"
    )


# ---- one item ----


def _item_page(
    title: str, request_json: Any, result: dict[str, Any], after: Markup | None = None
) -> Response:
    verifier = str(result.get("verifier", ""))
    body = Markup(
        _nav() + f"<h2>{esc(title)}</h2><div class=side>"
        f"<div><h3>request</h3>{_request_view(request_json)}</div>"
        f"<div><h3>result</h3>{evidence(verifier, result, request_json)}"
        f"{json_block(result)}</div></div>"
        f"{after or ''}"
    )
    return _html(page(title, body, head=_head()))


def _request_view(raw: Any) -> Markup:
    if not isinstance(raw, dict):
        return json_block(raw)
    rest = {k: v for k, v in raw.items() if k != "response"}
    return Markup(
        f"<h4>response</h4><pre class=response>{esc(raw.get('response', ''))}</pre>"
        f"<h4>reference, options</h4>{json_block(rest)}"
    )


@router.get("/item/{seq}")
async def item_page(request: Request, seq: int) -> Response:
    ring = _recent(request)
    item = None if ring is None else ring.get(seq)
    if item is None:
        return _html(page("not found", Markup(_nav() + "<p>No such item (any more).</p>")), 404)
    return _item_page(f"item {seq}", item.request, item.result)


# ---- try it ----


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts: with no keys set, any web page could otherwise make
    its visitor's browser run code here (a form post needs no CORS preflight)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # every current browser sends it
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:  # not a browser (curl, a script): nothing to forge for it
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _try_form(engine: Engine, values: dict[str, str]) -> Markup:
    chosen = values.get("verifier", "math")
    images = not values or bool(values.get("images"))  # on in a fresh form
    options = "".join(
        f"<option{' selected' if n == chosen else ''}>{esc(n)}</option>"
        for n in engine.registry.names()
    )
    return Markup(
        "<form id=try method=post action='/ui/try'>"
        f"<label>verifier<select name=verifier>{options}</select></label>"
        "<label>response"
        f"<textarea name=response>{esc(values.get('response', ''))}</textarea></label>"
        "<label>reference (JSON, or plain text)"
        f"<textarea name=reference>{esc(values.get('reference', ''))}</textarea></label>"
        "<label>options (JSON)"
        f"<textarea name=options>{esc(values.get('options', '{}'))}</textarea></label>"
        f"<label><input type=checkbox name=images value=1{' checked' if images else ''}>"
        " evidence images (svg, chart, web, cad: the renders, drawn by the verifier)</label>"
        "<button type=submit>score</button></form>"
    )


def _with_images(engine: Engine, item: dict[str, Any]) -> None:
    """Ask for evidence images where the verifier has the option and the options did not
    say otherwise (any other verifier would call the key unknown)."""
    options = item.get("options")
    if not isinstance(options, dict) or "evidence" in options:
        return
    try:
        fields = type(engine.registry.get(str(item["verifier"]))).Options.model_fields
    except Exception:  # an unknown verifier: the engine answers it `invalid`
        return
    if "evidence" in fields:
        item["options"] = {**options, "evidence": "images"}


@router.get("/try")
async def try_page(request: Request) -> Response:
    body = Markup(_nav() + "<h2>try it</h2>" + _try_form(request.app.state.engine, {}))
    return _html(page("rewardgate: try it", body, head=_head()))


@router.post("/try")
async def try_post(request: Request) -> Response:
    if not _same_origin(request):
        return _html(page("refused", Markup("<p>cross-site form posts are refused</p>")), 403)
    engine: Engine = request.app.state.engine
    values = await _form(request)
    item: dict[str, Any] = {
        "verifier": values.get("verifier", ""),
        "response": values.get("response", ""),
    }
    reference = values.get("reference", "")
    if reference.strip():
        try:
            item["reference"] = orjson.loads(reference)
        except orjson.JSONDecodeError:
            item["reference"] = reference
    try:
        item["options"] = orjson.loads(values.get("options") or "{}")
    except orjson.JSONDecodeError:
        item["options"] = values.get("options")  # the engine answers it `invalid`
    if values.get("images"):
        _with_images(engine, item)
    [result] = await engine.score([item])
    again = Markup("<h2>again</h2>" + _try_form(engine, values))
    return _item_page("try it: result", item, result.model_dump(mode="json"), again)


# ---- login ----


def _login_page(message: str = "", status: int = 200) -> Response:
    body = Markup(
        "<header><h1>rewardgate</h1></header>"
        + (f"<p class=error>{esc(message)}</p>" if message else "")
        + "<form id=login method=post action='/ui/login'><label>API key "
        "<input type=password name=key autocomplete=current-password></label>"
        "<button type=submit>log in</button></form>"
    )
    return _html(
        page(
            "rewardgate: log in",
            body,
            head=Markup("<link rel=stylesheet href='/ui/static/ui.css'>"),
        ),
        status,
    )


@router.get("/login")
async def login_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return RedirectResponse("/ui", 303, headers=_HEADERS)
    return _login_page()


@router.post("/login")
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not _same_origin(request):
        return _login_page("cross-site form posts are refused", 403)
    key = (await _form(request)).get("key", "").encode()
    if not any(hmac.compare_digest(key, k.encode()) for k in settings.api_keys):
        return _login_page("that is not one of this server's API keys", 401)
    response = RedirectResponse("/ui", 303, headers=_HEADERS)
    response.set_cookie(
        UI_COOKIE,
        ui_token(key).decode(),
        httponly=True,
        samesite="strict",
        path="/ui",
        secure=request.url.scheme == "https",
    )
    return response


def filter_link(**query: str) -> str:
    """A link to the list with these filters (tests and the report link items by it)."""
    return "/ui?" + urlencode(query)
