"""`rewardgate report`: one self-contained HTML file on a scored dataset.

It reads what `rewardgate score` wrote (JSONL or Parquet: the input rows plus
`reward`, `status`, `reward_details`), streaming, and keeps only numbers and the few
rows it shows, so 100,000 rows fit in little memory (bench/report.py times it). The
file has counts by status and verifier, reward histograms, latency percentiles, the
lowest- and highest-scoring rows with their evidence, and GRPO groups by a prompt
field: the share of groups whose rewards do not vary, which carry no learning signal.

Plots are SVG drawn from numbers; rows' text is escaped; the file's own
Content-Security-Policy allows no script and no fetch, so a hostile response in a
dataset can neither run nor phone home when the report is opened.
"""

from __future__ import annotations

import heapq
import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from rewardgate.service.datasets import read_rows
from rewardgate.service.ui.evidence import evidence
from rewardgate.service.ui.markup import Markup, esc, json_block, page, table
from rewardgate.service.ui.plots import histogram, percentile

__all__ = ["ReportData", "collect", "render", "write_report"]

REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STATUSES = ("ok", "invalid", "error", "timeout")
_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;
text-align:left;vertical-align:top;max-width:50em;overflow-wrap:anywhere}th{background:#f3f3f3}
pre{background:#f7f7f7;padding:.5em;max-height:20em;overflow:auto;white-space:pre-wrap;
overflow-wrap:anywhere}.hists{display:flex;flex-wrap:wrap;gap:1em}.hist rect{fill:#58a}
.diff .add{color:#161}.diff .del{color:#b11}.row{border-top:1px solid #ccc;margin-top:1em}
.renders img{max-width:320px}"""


@dataclass
class ReportData:
    """What the report shows, gathered in one pass over the rows."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_verifier_status: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    rewards: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lowest: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    highest: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    groups: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    group_field: str | None = None


def _details(row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("reward_details")
    if isinstance(value, str):  # Parquet keeps it as JSON text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def collect(path: Path, *, group_field: str = "prompt", top: int = 5) -> ReportData:
    """One streaming pass: counts, rewards, latencies, the `top` extremes, the groups."""
    data = ReportData(group_field=group_field)
    counter = itertools.count()
    for row in read_rows(path):
        data.rows += 1
        details = _details(row)
        verifier = str(details.get("verifier") or row.get("verifier") or "unknown")
        status = str(row.get("status", "missing"))
        data.by_status[status] += 1
        data.by_verifier_status[verifier][status] += 1
        elapsed = details.get("elapsed_ms")
        if isinstance(elapsed, (int, float)):
            data.latency_ms[verifier].append(float(elapsed))
        reward = row.get("reward")
        if status != "ok" or not isinstance(reward, (int, float)):
            continue
        reward = float(reward)
        data.rewards[verifier].append(reward)
        if group_field in row:
            key = orjson.dumps(row[group_field], default=str).decode()
            data.groups[key].append(reward)
        n = next(counter)
        # Heaps of (key, order, row): ties keep the earlier row; only `top` rows stay.
        _push(data.lowest, (-reward, -n, row), top)
        _push(data.highest, (reward, -n, row), top)
    return data


def _push(heap: list[tuple[float, int, dict[str, Any]]], entry: Any, top: int) -> None:
    if len(heap) < top:
        heapq.heappush(heap, entry)
    elif entry[:2] > heap[0][:2]:
        heapq.heapreplace(heap, entry)


def _groups(data: ReportData) -> Markup:
    if not data.groups:
        return Markup(
            f"<p id=groups>No groups: the rows have no <code>{esc(data.group_field)}</code> "
            "field (pass --group-field).</p>"
        )
    sized = [g for g in data.groups.values() if len(g) >= 2]
    flat = sum(1 for g in sized if max(g) == min(g))
    share = flat / len(sized) if sized else 0.0
    sizes = Counter(len(g) for g in data.groups.values())
    return Markup(
        f"<p id=groups>{len(data.groups)} groups by <code>{esc(data.group_field)}</code>; "
        f"<b id=zero-variance>{flat}</b> of {len(sized)} groups of 2+ rows have zero reward "
        f"variance (<b>{share:.1%}</b>): they carry no learning signal.</p>"
        + table(("group size", "groups"), sorted(sizes.items()), "sizes")
    )


def _row_section(title: str, entries: list[tuple[float, int, dict[str, Any]]]) -> str:
    # Lowest keys are -reward, highest +reward: either way this puts the extreme first,
    # and among equal rewards the earlier row.
    ordered = sorted(entries, key=lambda e: (-e[0], -e[1]))
    parts = [f"<h2>{esc(title)}</h2>"]
    for _, _, row in ordered:
        details = _details(row)
        verifier = str(details.get("verifier") or row.get("verifier") or "")
        result = {**details, "reward": row.get("reward"), "status": row.get("status")}
        shown = {k: v for k, v in row.items() if k not in ("reward", "status", "reward_details")}
        parts.append(
            f"<div class=row><h3>{esc(verifier)}: reward {esc(row.get('reward'))}</h3>"
            f"{evidence(verifier, result, row)}<details><summary>row</summary>{json_block(shown)}"
            "</details></div>"
        )
    return "".join(parts)


def render(data: ReportData, title: str) -> str:
    statuses = table(
        ("status", "rows"), sorted(data.by_status.items(), key=lambda kv: -kv[1]), "statuses"
    )
    verifiers = table(
        ("verifier", "rows", *_STATUSES, "mean reward (ok)"),
        [
            (
                name,
                sum(c.values()),
                *(c.get(s, 0) for s in _STATUSES),
                f"{statistics.fmean(data.rewards[name]):.4f}" if data.rewards[name] else "n/a",
            )
            for name, c in sorted(data.by_verifier_status.items())
        ],
        "verifiers",
    )
    hists = "".join(
        f"<figure><figcaption>{esc(name)}</figcaption>{histogram(values, name)}</figure>"
        for name, values in sorted(data.rewards.items())
    )
    latency_rows = []
    for name, values in sorted(data.latency_ms.items()):
        values.sort()
        latency_rows.append(
            (
                name,
                *(f"{percentile(values, q) or 0.0:.1f}" for q in (0.5, 0.9, 0.99)),
                f"{values[-1]:.1f}",
            )
        )
    latency = table(("verifier", "p50 ms", "p90 ms", "p99 ms", "max ms"), latency_rows, "latency")
    body = Markup(
        f"<h1>{esc(title)}</h1><p id=rows>{data.rows} rows</p>"
        f"<h2>status</h2>{statuses}<h2>verifiers</h2>{verifiers}"
        f"<h2>rewards (ok rows)</h2><div class=hists>{hists}</div>"
        f"<h2>latency</h2>{latency}<h2>groups</h2>{_groups(data)}"
        + _row_section("lowest rewards", data.lowest)
        + _row_section("highest rewards", data.highest)
    )
    head = Markup(
        f'<meta http-equiv=Content-Security-Policy content="{REPORT_CSP}"><style>{_CSS}</style>'
    )
    return page(title, body, head=head)


def write_report(
    source: Path, output: Path, *, group_field: str = "prompt", top: int = 5
) -> ReportData:
    """Read `source`, write the HTML report to `output` (via a temporary file)."""
    data = collect(source, group_field=group_field, top=top)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(render(data, f"rewardgate report: {source.name}"), encoding="utf-8")
    tmp.replace(output)
    return data
