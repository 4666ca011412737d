"""Why a reward is what it is, drawn per verifier from a result's `details` and `steps`.

Every verifier's evidence is data the verifier already returns; this module only
chooses what to put first: math's extracted answer, gold reading and rule; code's
per-test table with the failing test's input, expected and actual output as a line
diff; SQL's query, row counts and first differing row; compose's tree of children with
their weights and rewards; any verifier's per-step rewards as a strip. Images are shown
only where a verifier rendered PNGs itself (`details["images"]`, PNG data URIs, from
the option `evidence: "images"`): target and candidate side by side and their
difference map, web's with the matched (green) and unmatched (red) text blocks
outlined. Model-written SVG or HTML is shown as escaped text, never inlined, and a PNG
data URI anywhere else in details (the model could have written it) is not drawn.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from rewardgate.service.ui.markup import Markup, esc, json_block, table
from rewardgate.service.ui.plots import bar_strip

__all__ = ["evidence"]

_PNG = "data:image/png;base64,"
# A whole base64 payload: a data URI cut short (the recent-items ring cuts long strings
# of an item over its byte budget) would show as a broken image.
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MAX_IMAGES = 8
_ORDER = {"target": 0, "reference": 0, "candidate": 1, "difference": 2}
_CAPTIONS = {
    "target": "target",
    "candidate": "candidate",
    "difference": "difference (red: where they differ)",
    "reference": "reference",
}


def evidence(verifier: str, result: dict[str, Any], request: Any = None) -> Markup:
    """The evidence section of one result; `request` (when known) supplies test inputs."""
    details = result.get("details") or {}
    steps = result.get("steps") or []
    parts: list[str] = [
        f"<p class=verdict>reward <b class=reward>{esc(_num(result.get('reward')))}</b> · "
        f"status <b class='status {esc(result.get('status'))}'>{esc(result.get('status'))}</b>"
        f" · {esc(_num(result.get('elapsed_ms')))} ms</p>"
    ]
    if result.get("error"):
        parts.append(f"<p class=error>{esc(result['error'])}</p>")
    drawer = _DRAWERS.get(verifier)
    if drawer is not None and isinstance(details, dict):
        parts.append(drawer(details, steps, request))
    if steps:
        parts.append(_steps(steps))
    if isinstance(details, dict):
        parts.append(_images(details, verifier))
    shown = _without_images(details) if isinstance(details, dict) else details
    parts.append("<details><summary>all details</summary>" + json_block(shown) + "</details>")
    return Markup(f"<section class='evidence {esc(verifier)}'>{''.join(parts)}</section>")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"


def _pairs(details: dict[str, Any], keys: tuple[str, ...]) -> Markup:
    rows = [(k, _short(details[k])) for k in keys if k in details]
    return table(("", "value"), rows, "kv") if rows else Markup("")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 2000 else text[:2000] + "…"


def _math(details: dict[str, Any], steps: list[Any], request: Any) -> Markup:
    keys = ("extracted", "answer_source", "gold_reading", "rule", "letters")
    return Markup("<h3>answer</h3>" + _pairs(details, keys))


def _code(details: dict[str, Any], steps: list[Any], request: Any) -> Markup:
    head = _pairs(details, ("language", "format", "passed", "tests", "error"))
    rows = [
        (
            s.get("index"),
            s.get("label"),
            _num(s.get("reward")),
            _num((s.get("details") or {}).get("ms")),
        )
        for s in steps
    ]
    tests = table(("test", "outcome", "reward", "ms"), rows, "tests") if rows else Markup("")
    failing = next(
        (s for s in steps if s.get("label") != "passed" and isinstance(s.get("details"), dict)),
        None,
    )
    diff = Markup("")
    if failing is not None:
        d = failing["details"]
        # The verifier reports the first differing line under `diff`; older results and
        # other runners put expected/actual (and the input) beside it.
        shown = {**d, **(d["diff"] if isinstance(d.get("diff"), dict) else {})}
        stdin = _test_input(request, shown.get("test", failing.get("index")))
        if stdin is not None and "input" not in shown:
            shown["input"] = stdin
        diff = Markup(
            f"<h3>first failing test ({esc(failing.get('index'))}: "
            f"{esc(failing.get('label'))})</h3>"
            + _pairs(shown, ("input", "line"))
            + _diff(shown.get("expected"), shown.get("actual"))
        )
    return Markup("<h3>tests</h3>" + head + tests + diff)


def _test_input(request: Any, test: Any) -> str | None:
    """The stdin of test number `test` in a code request's reference, if it has one."""
    reference = request.get("reference") if isinstance(request, dict) else None
    tests = reference.get("tests") if isinstance(reference, dict) else None
    if isinstance(tests, list) and isinstance(test, int) and 0 <= test < len(tests):
        case = tests[test]
        if isinstance(case, dict) and isinstance(case.get("stdin"), str):
            return str(case["stdin"])
    return None


def _diff(expected: Any, actual: Any) -> Markup:
    if expected is None and actual is None:
        return Markup("")
    lines = difflib.unified_diff(
        str(expected or "").splitlines(),
        str(actual or "").splitlines(),
        "expected",
        "actual",
        lineterm="",
    )
    out = []
    for line in lines:
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
        out.append(f"<span class={cls}>{esc(line)}</span>")
    return Markup("<pre class=diff>" + "\n".join(out) + "</pre>")


def _sql(details: dict[str, Any], steps: list[Any], request: Any) -> Markup:
    keys = ("query", "rule", "engine", "gold_rows", "pred_rows", "order_matters", "error")
    first = details.get("first_difference")
    extra = Markup("<h3>first differing row</h3>" + json_block(first)) if first else Markup("")
    return Markup("<h3>query</h3>" + _pairs(details, keys) + extra)


def _compose(details: dict[str, Any], steps: list[Any], request: Any) -> Markup:
    items = []
    for s in steps:
        d = s.get("details") or {}
        child = d.get("details") if isinstance(d.get("details"), dict) else {}
        inner = _DRAWERS.get(str(d.get("verifier")))
        body = inner(child, d.get("steps") or [], request) if inner and child else Markup("")
        if child:
            body = Markup(body + _images(child, str(d.get("verifier"))))
        items.append(
            f"<li><b>{esc(s.get('label'))}</b> ({esc(d.get('verifier'))}, weight "
            f"{esc(d.get('weight'))}): reward <b>{esc(_num(s.get('reward')))}</b>"
            f"{' · ' + esc(d['error']) if d.get('error') else ''}"
            f"{' · gated by ' + esc(d['gated_by']) if d.get('gated_by') else ''}{body}</li>"
        )
    scores = _pairs(details, ("combine", "scores"))
    return Markup("<h3>children</h3><ul class=tree>" + "".join(items) + "</ul>" + scores)


def _steps(steps: list[Any]) -> Markup:
    rewards = [float(s.get("reward", 0.0)) for s in steps if isinstance(s, dict)]
    labels = ", ".join(str(s.get("label")) for s in steps[:40] if isinstance(s, dict))
    return Markup(f"<h3>steps</h3>{bar_strip(rewards)}<p class=labels>{esc(labels)}</p>")


def _images(details: dict[str, Any], verifier: str) -> Markup:
    """The renders a verifier returned under `details["images"]` (option `evidence:
    "images"`): PNG data URIs only, target and candidate side by side, then the rest."""
    images = details.get("images")
    note = details.get("images_note")
    found = [
        (str(name), src)
        for name, src in (images.items() if isinstance(images, dict) else ())
        if isinstance(src, str) and src.startswith(_PNG) and _BASE64.fullmatch(src, len(_PNG))
    ]
    found.sort(key=lambda pair: (_ORDER.get(pair[0], len(_ORDER)), pair[0]))
    if not found and not isinstance(note, str):
        return Markup("")
    figures = "".join(
        f"<figure class='render {esc(n)}'><img alt='{esc(n)}' src='{esc(src)}'>"
        f"<figcaption>{esc(_CAPTIONS.get(n, n))}</figcaption></figure>"
        for n, src in found[:_MAX_IMAGES]
    )
    if verifier == "web" and found:
        figures += "<p class=legend>text blocks: green matched, red unmatched</p>"
    views = details.get("views")
    if verifier == "cad" and found and isinstance(views, list):
        figures += f"<p class=legend>views: {esc(', '.join(str(v) for v in views))}</p>"
    shown = f"<p class=images-note>{esc(note)}</p>" if isinstance(note, str) else ""
    return Markup(f"<h3>renders</h3><div class=renders>{figures}</div>{shown}")


def _without_images(details: dict[str, Any]) -> dict[str, Any]:
    """`details` with each PNG replaced by its size: the renders are shown above."""
    images = details.get("images")
    if not isinstance(images, dict):
        return details
    sizes = {
        name: f"<PNG, {len(src)} bytes of base64, shown above>" if isinstance(src, str) else src
        for name, src in images.items()
    }
    return {**details, "images": sizes}


def _scores(details: dict[str, Any], steps: list[Any], request: Any) -> Markup:
    """The rendering verifiers' sub-scores (IoU, Chamfer, SSIM, block match, ...): every
    number in details, one level of nesting deep."""
    rows: list[tuple[str, str]] = []
    for key, value in details.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append((key, _num(value)))
        elif isinstance(value, dict):
            rows.extend(
                (f"{key}.{k}", _num(v))
                for k, v in value.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            )
    return (
        Markup("<h3>scores</h3>" + table(("", "value"), rows[:60], "scores"))
        if rows
        else Markup("")
    )


_DRAWERS = {
    "math": _math,
    "code": _code,
    "sql": _sql,
    "compose": _compose,
    **dict.fromkeys(("svg", "chart", "web", "cad", "image", "symbolic_regression"), _scores),
}
