"""Text blocks of a rendered page, read from its DOM: text, box and colour.

Design2Code (`metrics/ocr_free_utils.py`, `get_blocks_ocr_free`) finds its blocks by
recolouring every text element, rendering twice and diffing pixels, one block per text
node of the soup (`extract_text_with_color`) with its lower-cased text, the pixel box
normalised by the screenshot's size, and the text's colour. We have the live DOM, so
the same blocks come straight from it: one block per visible text node (whitespace
collapsed, lower-cased), its box the union of the node's client rects in page
coordinates divided by the captured page's width and height, its colour the computed
`color` of its element (alpha composited on white). Text that is not drawn is no block:
nodes under `script`, `style`, `noscript`, `template`, nodes without a box, and text
whose colour or element is fully transparent. Like Design2Code's `merge_blocks_by_bbox`,
blocks with the same box are one block (their texts joined, colours averaged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["EXTRACT_JS", "MAX_BLOCKS", "MAX_TEXT_CHARS", "Block", "parse_blocks"]

# Bounds on what one page may hand the matcher: its merge search solves one assignment
# per neighbouring pair, each cubic in the blocks (two unrelated 200-block pages take
# about a second; 400 take ten). Blocks past the bound, in document order, are left out
# of both pages alike, and `details["page"]["truncated"]` says so.
MAX_BLOCKS = 200
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class Block:
    """One text block: `bbox` is (x, y, w, h) as fractions of the page; `color` RGB 0-255."""

    text: str
    bbox: tuple[float, float, float, float]
    color: tuple[float, float, float]

    @property
    def area(self) -> float:
        return self.bbox[2] * self.bbox[3]

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.bbox
        return x + w / 2, y + h / 2


# Runs in the page after `load`; returns the page's size and its raw text blocks.
# `maxBlocks` and `maxChars` bound the result; `maxWidth`/`maxHeight` cap the page.
EXTRACT_JS = """
({maxBlocks, maxChars, maxWidth, maxHeight}) => {
  const root = document.documentElement;
  const body = document.body;
  const width = Math.min(maxWidth, Math.max(window.innerWidth,
      root ? root.scrollWidth : 0, body ? body.scrollWidth : 0));
  const height = Math.min(maxHeight, Math.max(window.innerHeight,
      root ? root.scrollHeight : 0, body ? body.scrollHeight : 0));
  const blocks = [];
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TITLE", "HEAD"]);
  if (!body) return {width, height, blocks, truncated: false};
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let truncated = false;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    if (!text) continue;
    const element = node.parentElement;
    if (!element || skip.has(element.tagName) || element.closest("svg title")) continue;
    const style = getComputedStyle(element);
    if (style.visibility !== "visible" || Number(style.opacity) === 0) continue;
    range.selectNodeContents(node);
    let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    for (const r of range.getClientRects()) {
      if (r.width <= 0 || r.height <= 0) continue;
      left = Math.min(left, r.left + window.scrollX);
      top = Math.min(top, r.top + window.scrollY);
      right = Math.max(right, r.right + window.scrollX);
      bottom = Math.max(bottom, r.bottom + window.scrollY);
    }
    left = Math.max(left, 0); top = Math.max(top, 0);
    right = Math.min(right, width); bottom = Math.min(bottom, height);
    if (!(right > left && bottom > top)) continue;
    if (blocks.length >= maxBlocks) { truncated = true; break; }
    blocks.push({
      text: text.slice(0, maxChars),
      box: [left, top, right - left, bottom - top],
      color: style.color,
    });
  }
  return {width, height, blocks, truncated};
}
"""


def parse_blocks(raw: list[dict[str, Any]], width: float, height: float) -> list[Block]:
    """Blocks from `EXTRACT_JS`'s output: boxes normalised, colours parsed, same boxes merged."""
    merged: dict[tuple[float, float, float, float], Block] = {}
    for item in raw:
        color = parse_css_color(str(item.get("color", "")))
        if color is None:
            continue  # fully transparent text draws nothing
        x, y, w, h = (float(v) for v in item["box"])
        bbox = (x / width, y / height, w / width, h / height)
        text = str(item["text"]).lower()
        if bbox in merged:
            # Design2Code's merge_blocks_by_bbox: texts joined, colours averaged.
            old = merged[bbox]
            mean = tuple((a + b) / 2 for a, b in zip(old.color, color, strict=True))
            merged[bbox] = Block(f"{old.text} {text}", bbox, (mean[0], mean[1], mean[2]))
        else:
            merged[bbox] = Block(text, bbox, color)
    return list(merged.values())


def parse_css_color(value: str) -> tuple[float, float, float] | None:
    """A computed CSS colour (`rgb(...)`, `rgba(...)`, `color(srgb ...)`) as RGB 0-255
    on white; None when fully transparent or unreadable."""
    text = value.strip().lower()
    numbers: list[float] = []
    scale = 1.0
    if text.startswith(("rgb(", "rgba(")):
        inner = text[text.index("(") + 1 : text.rindex(")")]
    elif text.startswith("color(srgb"):
        inner = text[len("color(srgb") : text.rindex(")")]
        scale = 255.0
    else:
        return None
    try:
        numbers = [float(p) for p in inner.replace(",", " ").replace("/", " ").split()]
    except ValueError:
        return None
    if len(numbers) not in (3, 4) or not all(map(math.isfinite, numbers)):
        return None
    alpha = numbers[3] if len(numbers) == 4 else 1.0
    if alpha <= 0:
        return None
    alpha = min(alpha, 1.0)
    r, g, b = (min(255.0, max(0.0, c * scale)) * alpha + 255.0 * (1 - alpha) for c in numbers[:3])
    return (r, g, b)
