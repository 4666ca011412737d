"""Hostile SVGs are contained: nothing fetched, no file read, limits before rendering.

A listener on 127.0.0.1 counts every connection; files hold a secret (and, for
`<use>`, the exact target drawing, so following the reference would pay). Every hostile
response must be an `ok` verdict with the preset's lowest reward, the listener must see
nothing, the secret must appear nowhere in the result, and the service must stay
healthy. A hostile *target* is a malformed request: `invalid`.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest
from rewardgate.verifiers.svg import SvgVerifier
from tests.listener import Listener
from tests.verifiers.svg_support import icon, path_data

SECRET = "s3cr3t-9f2c41d7"
NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
TARGET = icon("okx")


@dataclass(frozen=True)
class Secrets:
    folder: Path
    text: Path
    svg: Path
    png: Path


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    folder = tmp_path_factory.mktemp("secrets")
    text = folder / "secret.txt"
    text.write_text(SECRET)
    svg = folder / "secret.svg"
    svg.write_text(
        f'<svg {NS}><g id="a"><title>{SECRET}</title><path d="{path_data(TARGET)}"/></g></svg>'
    )
    png = folder / "secret.png"
    png.write_bytes(_png(24, 24))
    return Secrets(folder, text, svg, png)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the pixel data is only as long as cheap)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\0" + b"\0" * width for _ in range(min(height, 24))) if width <= 24 else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def svg(body: str, attrs: str = 'viewBox="0 0 24 24"', prolog: str = "") -> str:
    return f"```svg\n{prolog}<svg {NS} {attrs}>{body}</svg>\n```"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def network_cases(port: int) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    nested = f'<svg {NS}><image href="{url}/nested.png" width="9" height="9"/></svg>'
    return {
        "image-http": svg(f'<image href="{url}/a.png" width="24" height="24"/>'),
        "image-xlink-http": svg(f'<image xlink:href="{url}/a.png" width="24" height="24"/>'),
        "image-scheme-relative": svg(
            f'<image href="//127.0.0.1:{port}/a.png" width="9" height="9"/>'
        ),
        "use-http": svg(f'<use href="{url}/a.svg#x"/>'),
        "fill-url-http": svg(f'<rect width="24" height="24" fill="url({url}/g.svg#g)"/>'),
        "style-attr-url": svg(f'<rect width="9" height="9" style="fill:url(\'{url}/g.svg#g\')"/>'),
        "style-import-url": svg(
            f"<style>@import url({url}/a.css);</style><rect width='9' height='9'/>"
        ),
        "style-import-string": svg(f'<style>@import "{url}/a.css";</style>'),
        "font-face": svg(f"<style>@font-face{{font-family:x;src:url({url}/f.woff)}}</style>"),
        "feimage": svg(
            f'<filter id="f"><feImage href="{url}/a.png"/></filter>'
            '<rect width="9" height="9" filter="url(#f)"/>'
        ),
        "pattern-href": svg(
            f'<pattern id="p" href="{url}/p.svg#p"/><rect width="9" height="9" fill="url(#p)"/>'
        ),
        "xml-base": svg(
            f'<g xml:base="{url}/"><use href="#x"/><rect id="x" width="1" height="1"/></g>'
        ),
        "stylesheet-pi": svg(
            "<rect width='9' height='9'/>", prolog=f'<?xml-stylesheet href="{url}/a.css"?>'
        ),
        "external-dtd": svg(
            "<rect width='9' height='9'/>", prolog=f'<!DOCTYPE svg SYSTEM "{url}/x.dtd">'
        ),
        "xxe-http": svg(
            "<text>&x;</text>", prolog=f'<!DOCTYPE svg [<!ENTITY x SYSTEM "{url}/x">]>'
        ),
        "parameter-entity": svg(
            "", prolog=f'<!DOCTYPE svg [<!ENTITY % p SYSTEM "{url}/x.dtd"> %p;]>'
        ),
        "data-svg": svg(
            f'<image href="data:image/svg+xml;base64,{_b64(nested.encode())}" '
            'width="9" height="9"/>'
        ),
        "data-text": svg(f'<image href="data:text/plain,{url}" width="9" height="9"/>'),
    }


def file_cases(secrets: Secrets) -> dict[str, str]:
    return {
        "image-file": svg(f'<image href="file://{secrets.png}" width="24" height="24"/>'),
        "use-file": svg(f'<use href="file://{secrets.svg}#a"/>'),
        "use-relative": svg('<use href="secret.svg#a"/>'),
        "use-absolute-path": svg(f'<use href="{secrets.svg}#a"/>'),
        "xxe-file": svg(
            "<text y='9'>&x;</text>",
            prolog=f'<!DOCTYPE svg [<!ENTITY x SYSTEM "file://{secrets.text}">]>',
        ),
        "xinclude": svg(
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            f'href="file://{secrets.text}" parse="text"/>'
        ),
        "css-file": svg(f"<style>@import url(file://{secrets.folder}/a.css);</style>"),
        "fence-less-xxe": (
            f'Here: <?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://{secrets.text}">]>'
            f"<svg {NS}><text>&x;</text></svg>"
        ),
    }


LAUGHS = "".join(
    f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
)

RESOURCE_CASES = {
    "billion-laughs": (
        svg("<text>&lol9;</text>", prolog=f'<!DOCTYPE svg [<!ENTITY lol0 "lol">{LAUGHS}]>'),
        "entities_forbidden",
    ),
    "quadratic-blowup": (
        svg(
            "<text>" + "&a;" * 1000 + "</text>",
            prolog=f'<!DOCTYPE svg [<!ENTITY a "{"x" * 10000}">]>',
        ),
        "entities_forbidden",
    ),
    "canvas-100000": (
        svg("<rect width='9' height='9'/>", 'width="100000" height="100000"'),
        "canvas_too_large",
    ),
    "viewbox-100000": (
        svg("<rect width='9' height='9'/>", 'viewBox="0 0 100000 100000"'),
        "canvas_too_large",
    ),
    "canvas-in-inches": (svg("", 'width="1000in" height="1in"'), "canvas_too_large"),
    "use-bomb": (
        svg(
            '<g id="l0"><rect width="1" height="1"/></g>'
            + "".join(
                f'<g id="l{i}">' + f'<use href="#l{i - 1}"/>' * 10 + "</g>" for i in range(1, 10)
            )
        ),
        "too_many_elements",
    ),
    "use-cycle": (
        svg('<g id="a"><g><use href="#b"/></g></g><g id="b"><use href="#a"/></g>'),
        "use_cycle",
    ),
    "many-elements": (svg("<rect width='1' height='1'/>" * 20_000), "too_many_elements"),
    "deep-nesting": (svg("<g>" * 2000 + "</g>" * 2000), "too_deep"),
    "gigapixel-data-png": (
        svg(
            f'<image href="data:image/png;base64,{_b64(_png(100_000, 100_000))}" '
            'width="9" height="9"/>'
        ),
        "image_too_large",
    ),
}


@pytest.fixture(scope="module")
def verifier() -> SvgVerifier:
    return SvgVerifier()


def judge(verifier: SvgVerifier, response: str, preset: str = "default") -> Any:
    request = RewardRequest(
        verifier="svg",
        response=response,
        reference={"target_svg": TARGET},
        options={"preset": preset},
    )
    return verifier.verify(request)


@pytest.mark.parametrize("preset", ["default", "rlrf"])
def test_network_references_fetch_nothing(
    verifier: SvgVerifier, listener: Listener, preset: str
) -> None:
    lowest = {"default": 0.0, "rlrf": -1.0}[preset]
    for name, response in network_cases(listener.port).items():
        result = judge(verifier, response, preset)
        assert (result.status, result.reward) == ("ok", lowest), (name, result.details)
        assert result.details["reason"] != "scored", name
    assert listener.connections == []


def test_file_references_read_nothing(
    verifier: SvgVerifier, secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(secrets.folder)  # where the relative reference points
    for name, response in file_cases(secrets).items():
        result = judge(verifier, response)
        assert (result.status, result.reward) == ("ok", 0.0), (name, result.details)
        assert SECRET not in result.model_dump_json(), name


@pytest.mark.parametrize("name", sorted(RESOURCE_CASES))
def test_resource_attacks_are_refused_before_rendering(verifier: SvgVerifier, name: str) -> None:
    response, reason = RESOURCE_CASES[name]
    result = judge(verifier, response, "rlrf")
    assert (result.status, result.reward) == ("ok", -1.0)
    assert result.details["reason"] == reason


def test_the_fetcher_refuses_what_the_sanitiser_would(tmp_path: Path) -> None:
    """Defence in depth: even if a reference got past `sanitise`, the render fetches nothing."""
    from rewardgate.verifiers.svg.render import RefusedFetch, fetcher
    from rewardgate.verifiers.svg.sanitise import Limits

    fetch = fetcher(Limits())
    (tmp_path / "a.png").write_bytes(_png(4, 4))
    for url in (
        f"file://{tmp_path}/a.png",
        "http://127.0.0.1:9/a.png",
        "data:image/svg+xml,<svg/>",
    ):
        with pytest.raises(RefusedFetch):
            fetch(url, "image/*")
    assert fetch(f"data:image/png;base64,{_b64(_png(4, 4))}", "image/*").startswith(b"\x89PNG")


def test_embedded_raster_images_render(verifier: SvgVerifier) -> None:
    image = f'<image href="data:image/png;base64,{_b64(_png(4, 4))}" width="24" height="24"/>'
    result = judge(verifier, svg(image))
    assert result.details["reason"] == "scored"


@pytest.mark.parametrize(
    "target",
    [
        '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><use href="http://127.0.0.1:9/a.svg#x"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"/>',
    ],
    ids=["xxe", "external-use", "huge-canvas"],
)
def test_hostile_target_is_invalid(verifier: SvgVerifier, target: str) -> None:
    with pytest.raises(InvalidRequest, match="target_svg"):
        verifier.prepare({"target_svg": target}, {})


def test_service_stays_healthy(
    make_client: Callable[..., Any], listener: Listener, secrets: Secrets
) -> None:
    client = make_client(installed=True, workers=1)
    hostile = [
        *network_cases(listener.port).values(),
        *file_cases(secrets).values(),
        *(response for response, _ in RESOURCE_CASES.values()),
    ]
    items = [
        {"verifier": "svg", "response": r, "reference": {"target_svg": TARGET}} for r in hostile
    ]
    response = client.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["status"], r["reward"]) for r in results] == [("ok", 0.0)] * len(items)
    assert SECRET not in response.text
    assert listener.connections == []
    assert client.get("/healthz").status_code == 200
    fine = {"verifier": "svg", "response": TARGET, "reference": {"target_svg": TARGET}}
    [result] = client.post("/v1/rewards", json={"items": [fine]}).json()["results"]
    assert result["status"] == "ok" and result["reward"] == pytest.approx(1.0, abs=1e-6)
    bad_target = {**fine, "reference": {"target_svg": hostile[0].strip("`\nsvg")}}
    [result] = client.post("/v1/rewards", json={"items": [bad_target]}).json()["results"]
    assert result["status"] == "invalid"


def test_embedded_image_decoding_is_bounded(verifier: SvgVerifier) -> None:
    """Within the canvas limit but past 4096 x 4096 pixels: refused before decoding."""
    data = _b64(_png(5000, 5000))
    response = svg(f'<image href="data:image/png;base64,{data}" width="9" height="9"/>')
    result = judge(verifier, response)
    assert (result.reward, result.details["reason"]) == (0.0, "image_too_large")
