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
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.evidence_images import EvidenceSettings, wants_images
from rewardgate.verifiers.web.extract import extract_html
from rewardgate.verifiers.web.models import WebOptions, WebReference

__all__ = ["WebOptions", "WebReference", "WebSettings", "WebVerifier", "extract_html"]


class WebSettings(EvidenceSettings):
    """The browser this server's `web` verifier drives (`[verifiers.web]`)."""

    legacy_keys = ("chromium",)

    chromium: Path | None = Field(
        None,
        description="Chromium binary the `web` verifier drives (jailed, no network); "
        "unset: Debian's /usr/lib/chromium/chromium.",
    )


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


_CONFORMANCE_PAGE = "<html><body><h1>Title</h1><p>Hello <b>world</b></p></body></html>"


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
    conformance = Conformance(
        full=Case(f"```html\n{_CONFORMANCE_PAGE}```", {"target_html": _CONFORMANCE_PAGE}),
        zero=Case("```html\n```", {"target_html": _CONFORMANCE_PAGE}),  # nothing to render
        invalid=Case("no page here", {}),  # no target
    )
    source_modules = ("rewardgate.verifiers.image", "rewardgate.sandbox")
    judging_packages = ("playwright", "rapidfuzz", "numpy", "pillow", "scikit-image", "scipy")
    judging_debian_packages = ("chromium", "fonts-dejavu-core", "bubblewrap")
    Settings = WebSettings
    settings: WebSettings
    lowest_reward = 0.0

    @property
    def chromium(self) -> str | None:
        """The server's Chromium binary (`[verifiers.web] chromium`); None: Debian's."""
        configured = self.settings.chromium
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

    def default_backend(self) -> str:
        """Where the browser runs: the server's `sandbox_backend` (bwrap unless set)."""
        return self.env.sandbox.backend or "bwrap"

    def fingerprint_for(self, reference: WebReference, options: WebOptions) -> str:
        return self.fingerprint(self.default_backend())

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        """On docker, the sandbox image (its Chromium and fonts) judges too."""
        from rewardgate.verifiers.sandboxed import backend_identity

        return backend_identity(backend, self.env)

    def judge(self, response: str, reference: WebReference, options: WebOptions) -> Verdict:
        from rewardgate.verifiers.sandboxed import configure_docker
        from rewardgate.verifiers.web.containment import using_backend
        from rewardgate.verifiers.web.judge import judge

        backend = self.default_backend()
        if backend == "docker":
            configure_docker(self.env)  # the server's image
        with using_backend(backend):
            return judge(
                response,
                reference,
                options,
                self.env.asset_dir,
                self.chromium,
                self._perceptual_config(),
                self.settings.evidence_max_bytes,
            )

    def cacheable_for(self, reference: WebReference, options: WebOptions) -> bool:
        """Verdicts with evidence images are not cached (see `evidence_images`)."""
        return not wants_images(options)

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
            report["playwright"] = self._driver_runs()
        backend = self.default_backend()
        found = find_chromium(self.chromium, backend)
        if backend == "docker":
            report["chromium"] = self._image_chromium(found or "")
            return report
        report["chromium"] = "ok" if found else "not found: apt-get install chromium"
        report["bwrap"] = "ok" if shutil.which("bwrap") else "not found: apt-get install bubblewrap"
        return report

    def _driver_runs(self) -> str:
        """Whether Playwright's driver (a node binary in its wheel) starts here: an image
        missing one of its libraries fails every page, so readiness says so."""
        if self.__dict__.get("_driver_ok"):
            return "ok"
        import subprocess

        try:
            from playwright._impl._driver import compute_driver_executable

            node = compute_driver_executable()[0]
            ran = subprocess.run([node, "--version"], capture_output=True, timeout=30)
        except (ImportError, OSError, subprocess.TimeoutExpired, IndexError, TypeError) as exc:
            return f"its driver cannot start: {exc}"
        if ran.returncode != 0:
            said = ran.stderr.decode(errors="replace").strip().splitlines()
            return f"its driver cannot start: {said[-1] if said else ran.returncode}"
        self.__dict__["_driver_ok"] = True
        return "ok"

    def _image_chromium(self, path: str) -> str:
        """Whether the docker sandbox image has the browser (asked once per process)."""
        from rewardgate.verifiers.errors import RewardgateError
        from rewardgate.verifiers.sandboxed import sandbox_backend

        known: dict[str, str] = self.__dict__.setdefault("_image_chromium_checked", {})
        if path not in known:
            try:
                backend = sandbox_backend("docker", self.env)
                docker = backend.health()
                bad = {k: v for k, v in docker.items() if v != "ok"}
                if bad:
                    return "; ".join(f"{k}: {v}" for k, v in bad.items())
                ran = backend.run(["test", "-x", path])
            except RewardgateError as exc:
                return f"cannot ask the docker sandbox: {exc}"
            known[path] = (
                "ok"
                if ran.exit_code == 0
                else f"{path} not in the sandbox image: rebuild it (scripts/docker-images.sh)"
            )
        return known[path]

    def _perceptual_config(self) -> dict[str, Any]:
        return dict(self.env.image_perceptual)
