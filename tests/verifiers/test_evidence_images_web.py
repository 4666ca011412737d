"""The web verifier's evidence images: both screenshots, their text blocks outlined.

Green outlines are blocks that found their match on the other page, red ones missing
or invented text, drawn from the verifier's own matching; the reward and the rest of
`details` are those of the same request without images. Drives Debian's Chromium.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from rewardgate.verifiers.evidence_images import MATCHED, PNG_PREFIX, UNMATCHED
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.web import WebVerifier

TARGET = (
    "<html><body><h1>Quarterly report</h1><p>Revenue grew in every region.</p>"
    "<p>Only the target says this.</p></body></html>"
)
CANDIDATE = (
    "<html><body><h1>Quarterly report</h1><p>Revenue grew in every region.</p>"
    "<p>Something the model invented here.</p></body></html>"
)


def decode(uri: str) -> np.ndarray:
    assert uri.startswith(PNG_PREFIX)
    with Image.open(io.BytesIO(base64.b64decode(uri[len(PNG_PREFIX) :]))) as image:
        return np.asarray(image.convert("RGB"))


def has(image: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((image == np.array(colour, dtype=np.uint8)).all(axis=2).any())


def score(verifier: WebVerifier, reference: dict[str, Any], evidence: str) -> RewardResult:
    request = RewardRequest(
        verifier="web",
        response=f"```html\n{CANDIDATE}\n```",
        reference=reference,
        options={"evidence": evidence, "size": 256},
    )
    return verifier.verify(request)


def test_blocks_are_outlined_matched_green_and_unmatched_red() -> None:
    verifier = WebVerifier()
    plain = score(verifier, {"target_html": TARGET}, "none")
    shown = score(verifier, {"target_html": TARGET}, "images")
    assert plain.status == shown.status == "ok", (plain.error, shown.error)
    assert shown.reward == plain.reward < 1
    assert {k: v for k, v in shown.details.items() if k != "images"} == plain.details
    images = {name: decode(uri) for name, uri in shown.details["images"].items()}
    assert {name: image.shape for name, image in images.items()} == dict.fromkeys(
        ("target", "candidate", "difference"), (256, 256, 3)
    )
    for side in ("target", "candidate"):  # two matched blocks and one unmatched each
        assert has(images[side], MATCHED) and has(images[side], UNMATCHED), side
    heat = images["difference"]
    assert ((heat[..., 0] > 200) & (heat[..., 2] < 120)).any()  # where the texts differ
    assert not has(heat, MATCHED)  # the heat-map is of the plain screenshots


def test_a_screenshot_target_shows_the_renders_without_outlines() -> None:
    verifier = WebVerifier()
    png = base64.b64decode(
        score(verifier, {"target_html": TARGET}, "images").details["images"]["target"][
            len(PNG_PREFIX) :
        ]
    )
    shown = score(verifier, {"target_png": base64.b64encode(png).decode()}, "images")
    assert shown.status == "ok", shown.error
    images = {name: decode(uri) for name, uri in shown.details["images"].items()}
    assert set(images) == {"target", "candidate", "difference"}
    assert not has(images["candidate"], MATCHED) and not has(images["candidate"], UNMATCHED)
