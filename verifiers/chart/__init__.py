"""The `chart` verifier: run the model's matplotlib script and compare its chart.

The response's last ```python block runs in the sandbox (`runner`: a child process,
Agg backend, fixed dpi and default figure size, seeded RNGs, the figure saved by the
harness, not the script) with matplotlib instrumented as ChartMimic instruments it
(`instrument`). The chart is scored against the target's (its code, run the same
way and cached, or an image): the shared image metrics for pixels and ChartMimic's
text, layout, chart-type and colour scores (`metrics`), mixed by weights (`models`).
Whatever the script does is a verdict; importing this package is cheap (matplotlib
only ever loads inside the sandbox; numpy, scikit-image and scipy on first use).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.chart.extract import extract_script
from rewardgate.verifiers.chart.models import TERMS, ChartOptions, ChartReference
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import EvidenceSettings, wants_images
from rewardgate.verifiers.sandboxed import SANDBOX_TOOLCHAINS, backend_identity, backend_name

__all__ = ["ChartOptions", "ChartReference", "ChartSettings", "ChartVerifier", "extract_script"]

MARGIN_S = 10.0
# Debian's python3-matplotlib, which the sandbox's /usr/bin/python3 imports.
SANDBOX_MATPLOTLIB = "/usr/lib/python3/dist-packages/matplotlib/__init__.py"


class ChartSettings(EvidenceSettings):
    """This server's `chart` settings (`[verifiers.chart]`): the evidence images' cap."""


_CONFORMANCE_CHART = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 1])\n"


class ChartVerifier(Verifier[ChartReference, ChartOptions]):
    name = "chart"
    version = "1"
    description = (
        "Matplotlib script vs a target chart (code or image): sandboxed Agg render scored "
        "by pixel metrics and ChartMimic's text, layout, chart-type and colour F1."
    )
    Reference: ClassVar[type[BaseModel]] = ChartReference
    Options: ClassVar[type[VerifierOptions]] = ChartOptions
    conformance = Conformance(
        full=Case(f"```python\n{_CONFORMANCE_CHART}```", {"target_code": _CONFORMANCE_CHART}),
        zero=Case("no code here", {"target_code": _CONFORMANCE_CHART}),
        invalid=Case("no code here", {}),  # no target
    )
    source_modules = ("rewardgate.verifiers.image", "rewardgate.sandbox")
    judging_packages = ("numpy", "pillow", "scikit-image", "scipy")
    # The chart script runs on the sandbox's python3 and Debian's matplotlib.
    judging_debian_packages = (*SANDBOX_TOOLCHAINS, "python3-matplotlib", "fonts-dejavu-core")

    def fingerprint_for(self, reference: ChartReference, options: ChartOptions) -> str:
        return self.fingerprint(backend_name(options, self.env))

    def default_backend(self) -> str | None:
        return backend_name(ChartOptions(), self.env)

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        return backend_identity(backend, self.env)

    lowest_reward = 0.0
    Settings = ChartSettings
    settings: ChartSettings

    def cacheable_for(self, reference: ChartReference, options: ChartOptions) -> bool:
        """Verdicts with evidence images are not cached (see `evidence_images`)."""
        return not wants_images(options)

    def prepare(
        self, reference: Any, options: dict[str, Any] | None
    ) -> Prepared[ChartReference, ChartOptions]:
        """Validate; an image target cannot weigh structure; its header must be an image's.
        Options that name no sandbox backend get the server's default one."""
        from rewardgate.verifiers.chart.targets import check_png
        from rewardgate.verifiers.sandboxed import chosen_backend

        prepared = super().prepare(reference, options)
        ref, opts = prepared.reference, chosen_backend(prepared.options, self.env)
        if ref.target_png is not None:
            if "pixels" not in opts.active_weights():
                structural = [t for t in TERMS if t != "pixels"]
                raise InvalidRequest(
                    f"options.weights: {', '.join(structural)} need reference.target_code; "
                    "with target_png weigh pixels"
                )
            check_png(ref.target_png, self.env.asset_dir)
        return Prepared(ref, opts)

    def judge(self, response: str, reference: ChartReference, options: ChartOptions) -> Verdict:
        from rewardgate.verifiers.chart.judge import judge
        from rewardgate.verifiers.sandboxed import configure_docker

        configure_docker(self.env)
        return judge(
            response, reference, options, self.env.asset_dir, self.settings.evidence_max_bytes
        )

    def budget_s(self, reference: ChartReference, options: ChartOptions, default_s: float) -> float:
        if options.timeout_s:
            return options.timeout_s
        from rewardgate.verifiers.chart.run import sandbox_s

        runs = 2 if reference.target_code else 1  # the target's own run, uncached
        return max(default_s, runs * sandbox_s(options) + MARGIN_S)

    def warmup(self) -> None:
        """Load numpy, scikit-image and scipy (the metrics) before workers fork."""
        from rewardgate.verifiers.chart.metrics import color_f1
        from rewardgate.verifiers.image.compare import compare

        color_f1([("bar", "#336699")], [("bar", "#993366")])
        import numpy as np

        blank = np.full((32, 32, 3), 255, dtype=np.uint8)
        compare(blank, blank)

    def health(self) -> dict[str, str]:
        """Matplotlib for the sandbox's python3, and the server's default backend."""
        report = {
            "sandbox_matplotlib": "ok"
            if Path(SANDBOX_MATPLOTLIB).exists()
            else "missing: apt-get install python3-matplotlib (the sandbox runs /usr/bin/python3)"
        }
        from rewardgate.verifiers.sandboxed import backend_name, sandbox_backend

        name = backend_name(ChartOptions(), self.env)  # what a request naming none runs on
        try:
            report.update(sandbox_backend(name, self.env).health())
        except Exception as exc:
            report[name] = f"unavailable: {exc}"
        return report
