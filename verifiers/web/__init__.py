"""The `web` verifier: render the model's HTML and compare it with the target page.

Rendering is Debian's Chromium driven by Playwright, jailed where no network exists
(`containment`), one warm browser per worker and a fresh context per page (`browser`).
Scoring is Design2Code's block-level metrics on text blocks read from the DOM
(`blocks`, `matching`, `scores`) plus the shared image metrics on the screenshots,
mixed under a preset or custom weights (`presets`). Whatever the page does (nothing,
loop forever, crash the renderer, navigate away) is a verdict with reward 0. Importing
this package is cheap: Playwright, numpy, scipy and scikit-image load on first use.
"""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.web.extract import extract_html
from rewardgate.verifiers.web.models import WebOptions, WebReference

__all__ = ["WebOptions", "WebReference", "WebVerifier", "extract_html"]

# Imported by `warmup`: Playwright's client and what the metrics run on.
_WARM_MODULES = (
    "playwright.sync_api",
    "rapidfuzz.process",
    "scipy.optimize",
    "skimage.color",
    "skimage.metrics",
)
# Launching the browser and slack around the two page loads of a cold item.
_BUDGET_SLACK_S = 15.0


class WebVerifier(Verifier[WebReference, WebOptions]):
    name = "web"
    version = "1"
    description = (
        "HTML page vs a target page (HTML or screenshot): rendered by a jailed, network-less "
        "Chromium; Design2Code's Block-Match, Text, Position and Color on DOM text blocks, "
        "plus SSIM/MSE/normalised L2 (or CLIP) on the screenshots."
    )
    Reference: ClassVar[type[BaseModel]] = WebReference
    Options: ClassVar[type[VerifierOptions]] = WebOptions
    source_modules = ("rewardgate.verifiers.image", "rewardgate.sandbox")
    judging_packages = ("playwright", "rapidfuzz", "numpy", "pillow", "scikit-image", "scipy")
    judging_debian_packages = ("chromium", "fonts-dejavu-core", "bubblewrap")
    lowest_reward = 0.0

    @property
    def chromium(self) -> str | None:
        """The server's Chromium binary (setting `web_chromium`); None: Debian's."""
        configured = self.env.config.get("web_chromium")
        return str(configured) if configured else None

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[WebReference, WebOptions]:
        """Validate, check every weighted term and a screenshot target's header."""
        from rewardgate.verifiers.image.targets import check_image
        from rewardgate.verifiers.web.judge import (
            MAX_TARGET_PIXELS,
            check_weights,
            target_png_bytes,
        )

        prepared = super().prepare(reference, options)
        ref, opts = prepared.reference, prepared.options
        check_weights(opts, ref.target_html is not None, self._perceptual_config())
        if ref.target_png is not None:
            check_image(target_png_bytes(ref, self.env.asset_dir), MAX_TARGET_PIXELS)
        return prepared

    def budget_s(self, reference: WebReference, options: WebOptions, default_s: float) -> float:
        """Room for a cold browser and two page loads at their limit, whatever the default."""
        if options.timeout_s:
            return options.timeout_s
        return max(default_s, 2 * options.render_timeout_s + _BUDGET_SLACK_S)

    def judge(self, response: str, reference: WebReference, options: WebOptions) -> Verdict:
        from rewardgate.verifiers.web.judge import judge

        return judge(
            response,
            reference,
            options,
            self.env.asset_dir,
            self.chromium,
            self._perceptual_config(),
        )

    def warmup(self) -> None:
        """Import the metric libraries before workers fork; no browser starts here
        (Playwright's thread and driver would not survive the fork)."""
        for module in _WARM_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                return  # `health` reports it; items answer `error` until installed

    def health(self) -> dict[str, str]:
        from rewardgate.verifiers.web.containment import find_chromium

        report = {}
        if importlib.util.find_spec("playwright") is None:
            report["playwright"] = 'not installed: pip install "rewardgate[render]"'
        else:
            report["playwright"] = "ok"
        found = find_chromium(self.chromium)
        report["chromium"] = "ok" if found else "not found: apt-get install chromium"
        report["bwrap"] = "ok" if shutil.which("bwrap") else "not found: apt-get install bubblewrap"
        return report

    def _perceptual_config(self) -> dict[str, Any]:
        return dict(self.env.config.get("image_perceptual") or {})
