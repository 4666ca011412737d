"""Plots as inline SVG drawn from numbers only (never from model text), for /ui and the
report: a page needs no plotting library and no network to show them."""

from __future__ import annotations

from collections.abc import Sequence

from rewardgate.service.ui.markup import Markup, esc

__all__ = ["bar_strip", "histogram", "percentile", "reward_bins"]


def reward_bins(rewards: Sequence[float], bins: int = 10) -> tuple[list[int], float, float]:
    """Counts of `rewards` in `bins` equal bins over [min(0, lo), max(1, hi)]."""
    lo = min([0.0, *rewards])
    hi = max([1.0, *rewards])
    counts = [0] * bins
    width = (hi - lo) / bins or 1.0
    for r in rewards:
        counts[min(bins - 1, int((r - lo) / width))] += 1
    return counts, lo, hi


def histogram(rewards: Sequence[float], label: str, bins: int = 10) -> Markup:
    """A bar chart of the reward distribution, with its range and count as text."""
    counts, lo, hi = reward_bins(rewards, bins)
    w, h, pad = 240, 80, 14
    top = max(counts) or 1
    bar = w / bins
    bars = "".join(
        f"<rect x='{i * bar + 1:.1f}' y='{h - c / top * h:.1f}' width='{bar - 2:.1f}' "
        f"height='{c / top * h:.1f}'><title>{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    return Markup(
        f"<svg class=hist role=img aria-label='{esc(label)}' viewBox='0 0 {w} {h + pad}' "
        f"width='{w}' height='{h + pad}' xmlns='http://www.w3.org/2000/svg'>{bars}"
        f"<text x='0' y='{h + pad - 2}' font-size='10'>{lo:g}</text>"
        f"<text x='{w}' y='{h + pad - 2}' font-size='10' text-anchor='end'>{hi:g}</text>"
        f"<text x='{w / 2}' y='{h + pad - 2}' font-size='10' text-anchor='middle'>"
        f"n={len(rewards)}</text></svg>"
    )


def bar_strip(values: Sequence[float]) -> Markup:
    """Per-step rewards as a strip of cells shaded from red (0) to green (1)."""
    cell = 16
    cells = []
    for i, v in enumerate(values):
        t = max(0.0, min(1.0, v))
        color = f"rgb({int(220 * (1 - t))},{int(180 * t)},60)"
        cells.append(
            f"<rect x='{i * cell}' y='0' width='{cell - 2}' height='{cell}' fill='{color}'>"
            f"<title>step {i}: {v:g}</title></rect>"
        )
    width = max(cell, cell * len(values))
    return Markup(
        f"<svg class=strip role=img aria-label='per-step rewards' viewBox='0 0 {width} {cell}' "
        f"width='{width}' height='{cell}' xmlns='http://www.w3.org/2000/svg'>{''.join(cells)}</svg>"
    )


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The `q` (0..1) percentile of already sorted values, nearest rank; None if empty."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[rank]
