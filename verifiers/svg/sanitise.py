"""Checking an SVG before cairosvg sees it: safe XML, no external references, limits.

cairosvg runs no model code, but it parses hostile XML and would follow references, so
every SVG (the model's and the target) passes here first:

* XML: parsed with defusedxml; entity declarations (XXE, billion laughs) and external
  entity references are refused, not expanded. A `<!DOCTYPE svg ...>` naming no DTD or
  the W3C's SVG DTD is allowed (editors write it; it is never fetched); one naming any
  other DTD, and an `<?xml-stylesheet?>` instruction, are external references.
* References: a resource reference (`href`/`xlink:href` on any element but `<a>`, a
  CSS `url(...)` in an attribute or a `<style>`, `@import`, `xml:base`) may only be a
  `#fragment` in the document or a `data:` URI of a raster image (PNG, JPEG, GIF,
  WebP) whose header fits the pixel limit. Anything else (files, `http:`, `file:`,
  nested SVG documents as data URIs) rejects the whole SVG rather than rendering it
  without the reference: asking for the server's files is not a drawing. The render's
  URL fetcher refuses the same things again (see `render`).
* Limits: at most `max_elements` elements counting each `<use>` as the content it
  copies (so a chain of `<use>` cannot multiply into billions of draws), nesting at
  most `MAX_DEPTH` deep, and a canvas (declared width and height, and the viewBox
  extent) of at most `max_canvas_px` a side, all checked before rendering.

A failed check raises `Rejected` with a short `reason` code the verdict reports.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = [
    "MAX_DEPTH",
    "MAX_IMAGE_PIXELS",
    "MAX_SVG_BYTES",
    "RASTER_TYPES",
    "Limits",
    "Rejected",
    "SafeSvg",
    "decode_data_uri",
    "sanitise",
]

MAX_DEPTH = 100  # cairosvg draws recursively; deeper nesting would hit Python's stack
MAX_SVG_BYTES = 8 * 2**20
MAX_IMAGE_PIXELS = 4096 * 4096  # 64 MiB as RGBA
RASTER_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"})
# CSS viewport default for a replaced element without any size (300 x 150).
DEFAULT_SIZE = (300.0, 150.0)

_SVG_NS = "{http://www.w3.org/2000/svg}"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_CSS_URL_OPEN = re.compile(r"url\(\s*", re.IGNORECASE)
_CSS_URL_CLOSE = {q: re.compile(re.escape(q) + r"\s*\)") for q in ("'", '"', "")}
_CSS_IMPORT = re.compile(r"@import", re.IGNORECASE)
_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.IGNORECASE | re.DOTALL)
_NUMBER_LIST = re.compile(r"[\s,]+")
_STYLESHEET_PI = re.compile(r"<\?xml-stylesheet\b", re.IGNORECASE)
_DOCTYPE_ID = re.compile(
    r"<!DOCTYPE\s+[^\s\[>]+\s+(?:SYSTEM|PUBLIC\s+(['\"]).*?\1)\s*(['\"])(.*?)\2", re.DOTALL
)
_W3C_DTD = "http://www.w3.org/"


@dataclass(frozen=True)
class Limits:
    """What the server allows one SVG (settings `svg_max_elements`, `svg_max_canvas_px`)."""

    max_elements: int = 10_000
    max_canvas_px: float = 16_384.0

    @property
    def max_image_pixels(self) -> int:
        """Largest raster image decoded (embedded or target): the largest canvas's area, but
        at most `MAX_IMAGE_PIXELS`, since a few compressed bytes can decode to gigabytes."""
        return min(int(self.max_canvas_px) ** 2, MAX_IMAGE_PIXELS)


@dataclass(frozen=True)
class SafeSvg:
    """An SVG that passed: its bytes, intrinsic size in px and expanded element count."""

    data: bytes
    width: float
    height: float
    elements: int


class Rejected(Exception):
    """The SVG failed a check; `reason` is a code for `details`, `message` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def sanitise(text: str, limits: Limits) -> SafeSvg:
    """Parse and check `text`; raises `Rejected`."""
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) > MAX_SVG_BYTES:
        raise Rejected("too_large", f"SVG text of {len(data)} bytes exceeds {MAX_SVG_BYTES}")
    _check_prolog(text)
    root = _parse(data)
    if _local(root.tag) != "svg":
        raise Rejected("not_svg", f"the root element is <{_local(root.tag)}>, not <svg>")
    width, height = _canvas(root, limits)
    elements = _walk(root, limits)
    return SafeSvg(data, width, height, elements)


def _check_prolog(text: str) -> None:
    """No stylesheet instruction, no DTD but the W3C's (neither would be fetched; both ask to)."""
    if _STYLESHEET_PI.search(text):
        raise Rejected("external_reference", "<?xml-stylesheet?> is not allowed")
    match = _DOCTYPE_ID.search(text)
    if match and not match.group(3).strip().startswith(_W3C_DTD):
        raise Rejected("external_reference", f"DTD {match.group(3)[:80]!r} is not allowed")


def _parse(data: bytes) -> Element:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.ElementTree import fromstring

    try:
        root: Element = fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except EntitiesForbidden:
        raise Rejected("entities_forbidden", "XML entity declarations are not allowed") from None
    except ExternalReferenceForbidden:
        raise Rejected("external_reference", "external DTDs and entities are not allowed") from None
    except DefusedXmlException as exc:
        raise Rejected("unsafe_xml", f"refused XML construct: {exc}") from None
    except (ParseError, ValueError) as exc:
        raise Rejected("parse_error", f"not well-formed XML: {exc}") from None
    return root


def _local(tag: Any) -> str:
    """An element's name without its namespace; comments and PIs have no string tag."""
    if not isinstance(tag, str):
        return ""
    if tag.startswith(_SVG_NS):
        return tag[len(_SVG_NS) :]
    return tag.rsplit("}", 1)[-1]


class _Size:
    """Just what cairosvg's `node_format` reads from a surface to resolve units."""

    dpi = 96
    font_size = 16.0  # cairosvg's default, 12pt
    context_width = None
    context_height = None


def _canvas(root: Element, limits: Limits) -> tuple[float, float]:
    """The intrinsic size cairosvg will use, checked against the canvas limit."""
    from cairosvg.helpers import node_format

    viewbox = root.get("viewBox")
    if viewbox is not None:
        parts = [p for p in _NUMBER_LIST.split(viewbox.strip()) if p]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or not all(map(math.isfinite, numbers)) or min(numbers[2:]) <= 0:
            raise Rejected("bad_canvas", f"viewBox {viewbox[:80]!r} is not x y width height > 0")
        if max(numbers[2:]) > limits.max_canvas_px:
            raise Rejected(
                "canvas_too_large",
                f"viewBox {numbers[2]:g}x{numbers[3]:g} exceeds {limits.max_canvas_px:g} px",
            )
    try:
        width, height, _ = node_format(_Size(), root)
    except (ValueError, TypeError, ZeroDivisionError) as exc:
        raise Rejected("bad_canvas", f"unreadable width/height: {exc}") from None
    if not (math.isfinite(width) and math.isfinite(height)) or width < 0 or height < 0:
        raise Rejected("bad_canvas", f"canvas {width}x{height} is not a size")
    if max(width, height) > limits.max_canvas_px:
        raise Rejected(
            "canvas_too_large",
            f"canvas {width:g}x{height:g} exceeds {limits.max_canvas_px:g} px a side",
        )
    if not width and not height:
        return DEFAULT_SIZE
    if not width or not height:
        # One side given, the other unknown (a percentage with no viewBox): CSS default.
        return (width or DEFAULT_SIZE[0], height or DEFAULT_SIZE[1])
    return float(width), float(height)


def _walk(root: Element, limits: Limits) -> int:
    """Check every element's references and count the drawing's expanded size."""
    ids: dict[str, Element] = {}
    stack: list[tuple[Element, int]] = [(root, 1)]
    count = 0
    while stack:
        element, depth = stack.pop()
        count += 1
        if count > limits.max_elements:
            raise Rejected("too_many_elements", f"more than {limits.max_elements} elements")
        if depth > MAX_DEPTH:
            raise Rejected("too_deep", f"elements nested more than {MAX_DEPTH} deep")
        _check_element(element, limits)
        element_id = element.get("id")
        if element_id is not None:
            ids.setdefault(element_id, element)
        stack.extend((child, depth + 1) for child in element)
    return _expanded_count(root, ids, limits)


def _check_element(element: Element, limits: Limits) -> None:
    name = _local(element.tag)
    if element.get(_XML_BASE) is not None:
        raise Rejected("external_reference", "xml:base is not allowed")
    for key, value in element.attrib.items():
        if _local(key) == "href" and name != "a":
            _check_reference(value, limits)
        elif "url(" in value.lower():
            _check_css(value, limits)
    if name == "style" and element.text:
        _check_css(element.text, limits)


def _check_css(css: str, limits: Limits) -> None:
    if _CSS_IMPORT.search(css):
        raise Rejected("external_reference", "CSS @import is not allowed")
    for reference in css_urls(css):
        _check_reference(reference, limits)


def css_urls(css: str) -> list[str]:
    """What `re.finditer(r"url\\(\\s*(['\"]?)(.*?)\1\\s*\\)", css, re.I | re.S)` reads as
    group 2, in one pass: that regex is quadratic on many unclosed `url('` (100 KB of
    them took 100 s). The closing found for each quote is reused while it lies ahead,
    and one not found is not looked for again."""
    found: list[str] = []
    ahead: dict[str, re.Match[str] | None] = {}
    pos = 0
    while (opening := _CSS_URL_OPEN.search(css, pos)) is not None:
        start = opening.end()
        quote = css[start] if start < len(css) and css[start] in "'\"" else ""
        for q in (quote, "") if quote else ("",):
            body = start + len(q)
            if q not in ahead or ((known := ahead[q]) is not None and known.start() < body):
                ahead[q] = _CSS_URL_CLOSE[q].search(css, body)
            closing = ahead[q]
            if closing is not None:
                found.append(css[body : closing.start()])
                pos = closing.end()
                break
        else:
            pos = opening.start() + 1
    return found


def _check_reference(value: str, limits: Limits) -> None:
    ref = value.strip()
    if ref.startswith("#") or ref == "":
        return
    if ref[:5].lower() == "data:":
        decode_data_uri(ref, limits)
        return
    raise Rejected("external_reference", f"reference to {ref[:80]!r} is not allowed")


def decode_data_uri(uri: str, limits: Limits) -> bytes:
    """The raster image a `data:` URI holds; raises `Rejected` for anything else.

    The image's header must name a size within the pixel limit (a few compressed bytes
    can claim a gigapixel image).
    """
    from PIL import Image, UnidentifiedImageError

    match = _DATA_URI.fullmatch(uri.strip())
    if not match:
        raise Rejected("bad_data_uri", "malformed data: URI")
    mediatype = match.group(1).strip().lower()
    if mediatype not in RASTER_TYPES:
        raise Rejected("external_reference", f"data: URI of type {mediatype or 'text/plain'!r}")
    payload = match.group(3)
    try:
        if ";base64" in match.group(2).lower():
            data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
        else:
            data = unquote_to_bytes(payload)
        with Image.open(io.BytesIO(data)) as image:
            pixels = image.width * image.height
            kind = image.format
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
        raise Rejected("bad_data_uri", f"data: URI is not a readable image: {exc}") from None
    except Image.DecompressionBombError as exc:
        raise Rejected("image_too_large", str(exc)) from None
    if kind not in {"PNG", "JPEG", "GIF", "WEBP"}:
        raise Rejected("bad_data_uri", f"data: URI holds a {kind} image")
    if pixels > limits.max_image_pixels:
        raise Rejected("image_too_large", f"embedded image of {pixels} pixels")
    return data


def _expanded_count(root: Element, ids: dict[str, Element], limits: Limits) -> int:
    """Elements drawn, each `<use>` counting the subtree it copies; cycles are refused.

    Iterative post-order with memoised `<use>` targets, so neither a deep tree nor a
    long `<use>` chain recurses in Python.
    """
    memo: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        element, done = stack.pop()
        key = id(element)
        if done:
            visiting.discard(key)
            total = 1 + sum(memo[id(child)] for child in element)
            target = _use_target(element, ids)
            if target is not None:
                total += memo[id(target)]
            if total > limits.max_elements:
                raise Rejected(
                    "too_many_elements",
                    f"more than {limits.max_elements} elements once <use> copies are counted",
                )
            memo[key] = total
            continue
        if key in memo:
            continue
        if key in visiting:
            raise Rejected("use_cycle", "a <use> refers to itself or an ancestor")
        visiting.add(key)
        stack.append((element, True))
        target = _use_target(element, ids)
        if target is not None and id(target) not in memo:
            stack.append((target, False))
        stack.extend((child, False) for child in element if id(child) not in memo)
    return memo[id(root)]


def _use_target(element: Element, ids: dict[str, Element]) -> Element | None:
    if _local(element.tag) != "use":
        return None
    for key, value in element.attrib.items():
        if _local(key) == "href" and value.strip().startswith("#"):
            return ids.get(value.strip()[1:])
    return None
