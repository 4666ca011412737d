"""Text blocks as Design2Code finds them: recoloured text tags, diffed screenshots.

Design2Code (github NoviScl/Design2Code, `metrics/ocr_free_utils.py`,
`get_blocks_ocr_free`) does not read boxes from the DOM. It rewrites the page twice
(`process_html`): every element's background made transparent, and each element of a
fixed list of text tags (`TEXT_TAGS`, in document order) given its own colour from a
pool (`ColorPool`; the second copy shifts every colour by 50) and opacity 1, both
`!important`. Pixels whose colour moved by 50 (each channel within 8) between the two
screenshots are text glyphs (`find_different_pixels`). Each text node of the body
(`extract_text_with_color`, comments excluded, whitespace stripped) takes the colour
of its nearest element whose inline style names a colour (after the rewrite: its
nearest text-tag ancestor), so text in inline markup that is not on the list
(`strong`, `em`, `i`, `code`...) takes its parent's colour. A block is the tight box of
that colour's glyph pixels (within 4 per channel, on the first copy, among the moved
pixels), normalised by the screenshot's size, its text lower-cased and its colour the
mean of those pixels in the original screenshot; nodes sharing a colour share that box,
and `merge_blocks_by_bbox` then joins them into one block (texts joined by a space,
colours averaged in turn).

Here the page is rendered once and recoloured in place (`RECOLOUR_JS`, the same style
rules set through the DOM), so scripts are not run again as Design2Code's three
separate renders run them; the rest, from the three screenshots on, is the code above
carried over. A page whose source has no `<body>` tag has no blocks (BeautifulSoup's
`soup.body` is None there).
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.web.blocks import MAX_BLOCKS, MAX_TEXT_CHARS, Block

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["OFFSET", "RECOLOUR_JS", "d2c_blocks", "has_body"]

OFFSET = 50  # the second copy's colour shift (`process_html(..., offset=50)`)
SIMILAR = 8  # `similar`: a channel moved by OFFSET within this much
IN_RANGE = 4  # the colour mask's half-width (`color - 4`, `color + 4`, uint8)
TEXT_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "a", "b", "li", "table",
    "td", "th", "button", "footer", "header", "figcaption",
)  # fmt: skip
_BODY = re.compile(r"<body[\s>/]", re.IGNORECASE)

# Runs in the page: applies `process_html`'s rewrite with the given colour offset. With
# `tree` it also returns what `extract_text_with_color` needs: every element's original
# `style` attribute and pool colour, and each body text node with its ancestors' ids.
RECOLOUR_JS = """
({offset, tags, tree, maxNodes, maxChars}) => {
  const values = [];
  for (let v = 10; v <= 250; v += 16) values.push(v);
  const pool = [];
  for (const r of values) for (const g of values) for (const b of values)
    pool.push([(r + offset) % 256, (g + offset) % 256, (b + offset) % 256]);
  const hex = (c) => "#" + c.map((v) => v.toString(16).padStart(2, "0").toUpperCase()).join("");
  const textTags = new Set(tags);
  const all = Array.from(document.querySelectorAll("*"));
  if (!window.__d2cStyles) {
    window.__d2cStyles = new Map(all.map((el) => [el, el.getAttribute("style")]));
  }
  const elements = [];
  const ids = new Map();
  for (const el of all) {
    el.style.setProperty("background-color", "rgba(255, 255, 255, 0.0)", "important");
  }
  for (const el of all) {
    let colour = null;
    if (textTags.has(el.localName) && pool.length) {
      colour = hex(pool.pop());
      el.style.setProperty("color", colour, "important");
      el.style.setProperty("opacity", "1.0", "important");
    }
    ids.set(el, elements.length);
    elements.push([window.__d2cStyles.get(el) ?? null, colour]);
  }
  if (!tree) return null;
  const nodes = [];
  const body = document.body;
  if (body) {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node && nodes.length < maxNodes; node = walker.nextNode()) {
      if (!node.data.trim()) continue;
      const path = [];
      for (let el = node.parentElement; el && el !== body.parentElement; el = el.parentElement) {
        path.push(ids.has(el) ? ids.get(el) : -1);
      }
      nodes.push([node.data.slice(0, maxChars), path]);
    }
  }
  return {elements, nodes};
}
"""


def has_body(html: str) -> bool:
    """Whether BeautifulSoup would find a `<body>` (Design2Code reads nothing without)."""
    return _BODY.search(html) is not None


def _declared_colour(style: str | None) -> str | None:
    """`extract_text_with_color.get_color` on an element's (original) style attribute."""
    if style is None:
        return None
    pieces = [s for s in style.split(";") if "color" in s and "background-color" not in s]
    if not pieces:
        return None
    parts = pieces[-1].split(":")
    if len(parts) < 2:
        return None
    color = parts[1].strip().replace(" !important", "")
    if not color:
        return None
    if color[0] == "#":
        return color
    from PIL import ImageColor

    try:
        if color.startswith("rgb"):
            rgb = tuple(map(int, color[4:-1].split(",")))
        else:
            rgb = ImageColor.getrgb(color)
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    except (ValueError, IndexError):
        return None


def text_colours(tree: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, colour) of each body text node, as `extract_text_with_color` pairs them.

    After the rewrite a text tag's style names its pool colour last; any other element
    keeps what its own style said.
    """
    elements = tree["elements"]
    found = []
    for text, path in tree["nodes"]:
        stripped = str(text).strip()
        if not stripped:
            continue
        colour = "#000000"
        for index in path:  # nearest ancestor first
            if not 0 <= index < len(elements):
                continue
            style, pool = elements[index]
            declared = pool if pool is not None else _declared_colour(style)
            if declared is not None:
                colour = declared
                break
        found.append((stripped, colour))
    return found


def _rgb(png: bytes) -> NDArray[np.uint8]:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _hex_rgb(colour: str) -> tuple[int, int, int] | None:
    """`hex_to_bgr`'s parse (reversed back to RGB); None where Design2Code skips it."""
    digits = colour.lstrip("#")
    try:
        r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return None
    return r, g, b


def d2c_blocks(original: bytes, first: bytes, second: bytes, tree: dict[str, Any]) -> list[Block]:
    """Design2Code's blocks from the original screenshot and the two recoloured ones."""
    import numpy as np

    image0, image1, image2 = _rgb(original), _rgb(first), _rgb(second)
    if image1.shape != image2.shape or image0.shape != image1.shape:
        return []  # `find_different_pixels`: images of different sizes give no pixels
    shifted = (image1.astype(np.int16) + OFFSET) % 256
    moved = np.all(np.abs(shifted - image2.astype(np.int16)) <= SIMILAR, axis=2)
    if not moved.any():
        return []
    height, width = moved.shape
    blocks: list[Block] = []
    for text, colour in text_colours(tree):
        rgb = _hex_rgb(colour)
        if rgb is None:
            continue
        target = np.array(rgb, dtype=np.int16)
        lower, upper = (target - IN_RANGE) % 256, (target + IN_RANGE) % 256  # uint8 wrap
        mask = np.all((image1 >= lower) & (image1 <= upper), axis=2) & moved
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            continue
        top, left = int(rows.min()), int(cols.min())
        bottom, right = int(rows.max()), int(cols.max())
        mean = image0[rows, cols].mean(axis=0).astype(int)
        bbox = (
            left / width,
            top / height,
            (right - left + 1) / width,
            (bottom - top + 1) / height,
        )
        colour_of = (float(mean[0]), float(mean[1]), float(mean[2]))
        blocks.append(Block(text.lower()[:MAX_TEXT_CHARS], bbox, colour_of))
    return _merge_by_bbox(blocks)[:MAX_BLOCKS]


def _merge_by_bbox(blocks: list[Block]) -> list[Block]:
    """`merge_blocks_by_bbox`: blocks with the same box joined, in first-seen order."""
    merged: dict[tuple[float, float, float, float], Block] = {}
    for block in blocks:
        kept = merged.get(block.bbox)
        if kept is None:
            merged[block.bbox] = block
            continue
        r, g, b = ((a + c) / 2 for a, c in zip(kept.color, block.color, strict=True))
        merged[block.bbox] = Block(f"{kept.text} {block.text}", kept.bbox, (r, g, b))
    return list(merged.values())
