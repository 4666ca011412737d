"""The `cad` verifier: run a CadQuery script in the sandbox and score its solid.

The response's last ```python block runs in the sandbox (its result is `result`, `r`
or what it passes to `show_object`); the shape is checked (BRepCheck), measured and
compared with the reference the way CAD-Recode and cadrille evaluate: IoU of the
solids and Chamfer distance on 8192 surface points after normalising both into the
unit cube, plus parametric checks (`expected`). See `models` for the presets and
`runner` for how the script is contained. Importing this package is cheap: CadQuery
only ever loads inside the sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, Field

from rewardgate.contract.conformance import Case, Conformance
from rewardgate.verifiers.base import Prepared, Verdict, Verifier, VerifierOptions
from rewardgate.verifiers.cad.models import CadOptions, CadReference, Expected, Tolerances
from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.evidence_images import EvidenceSettings, wants_images
from rewardgate.verifiers.sandboxed import SANDBOX_TOOLCHAINS, backend_identity, backend_name

__all__ = ["CadOptions", "CadReference", "CadSettings", "CadVerifier", "Expected", "Tolerances"]

MARGIN_S = 10.0


class CadSettings(EvidenceSettings):
    """Where this server's CAD runtime lives (`[verifiers.cad]`)."""

    legacy_keys = ("runtime",)

    runtime: Path | None = Field(
        None,
        description="Prefix of the CAD runtime (CadQuery for the sandbox's python3, from "
        "scripts/install-cad.sh), mounted read-only into CAD sandboxes; unset: "
        "/usr/local/lib/rewardgate/cad.",
    )


_CONFORMANCE_BOX = "import cadquery as cq\nresult = cq.Workplane('XY').box(10, 10, 10)\n"


class CadVerifier(Verifier[CadReference, CadOptions]):
    name = "cad"
    version = "1"
    description = (
        "Runs a CadQuery script in the sandbox and scores its solid against a reference "
        "(CadQuery code, STEP or STL): IoU, Chamfer distance (CAD-Recode protocol), "
        "parametric checks; presets for cadrille's and CAD-Recode's rewards."
    )
    Reference: ClassVar[type[BaseModel]] = CadReference
    Options: ClassVar[type[VerifierOptions]] = CadOptions
    conformance = Conformance(
        full=Case(f"```python\n{_CONFORMANCE_BOX}```", {"reference_code": _CONFORMANCE_BOX}),
        zero=Case("no code here", {"reference_code": _CONFORMANCE_BOX}),
        invalid=Case("no code here", {}),  # no reference
    )
    source_modules = ("rewardgate.sandbox",)
    judging_packages = ("numpy", "scipy")
    judging_debian_packages = SANDBOX_TOOLCHAINS
    Settings = CadSettings
    settings: CadSettings

    def fingerprint_for(self, reference: CadReference, options: CadOptions) -> str:
        return self.fingerprint(backend_name(options, self.env))

    def default_backend(self) -> str | None:
        return backend_name(CadOptions(), self.env)

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        """The docker image, and the CAD runtime's install stamp (its package versions)."""
        stamp = self.runtime / ".rewardgate-installed"
        try:
            runtime = stamp.read_text()
        except OSError as exc:
            runtime = f"unreadable: {type(exc).__name__}"
        return {**backend_identity(backend, self.env), "cad_runtime": runtime}

    @property
    def runtime(self) -> Path:
        """The CAD runtime's prefix (`[verifiers.cad] runtime`), seen read-only by sandboxes."""
        from rewardgate.verifiers.cad.run import DEFAULT_RUNTIME

        return self.settings.runtime or DEFAULT_RUNTIME

    def prepare(
        self, reference: object, options: dict[str, object] | None
    ) -> Prepared[CadReference, CadOptions]:
        """Validate; options that name no sandbox backend get the server's default one."""
        from rewardgate.verifiers.sandboxed import chosen_backend

        prepared = super().prepare(reference, options)
        ref, opts = prepared.reference, chosen_backend(prepared.options, self.env)
        weights = opts.weights(ref.geometry is not None)
        if ref.geometry is None and {"iou", "chamfer"} & weights.keys():
            raise InvalidRequest("options.metric: iou and chamfer need a reference geometry")
        if ref.expected is None and "params" in weights:
            raise InvalidRequest("options.metric: params needs reference.expected")
        return Prepared(ref, opts)

    def warmup(self) -> None:
        """Before the workers fork: let them share reference builds (`run.share_builds`)."""
        from rewardgate.verifiers.cad.run import share_builds

        share_builds()

    def judge(self, response: str, reference: CadReference, options: CadOptions) -> Verdict:
        from rewardgate.verifiers.cad.judge import judge
        from rewardgate.verifiers.sandboxed import sandbox_backend

        backend = sandbox_backend(options.backend, self.env)
        return judge(
            response,
            reference,
            options,
            self.runtime,
            self.env.asset_dir,
            backend,
            self.settings.evidence_max_bytes,
        )

    def cacheable_for(self, reference: CadReference, options: CadOptions) -> bool:
        """Verdicts with evidence images are not cached (see `evidence_images`)."""
        return not wants_images(options)

    def budget_s(self, reference: CadReference, options: CadOptions, default_s: float) -> float:
        if options.timeout_s:
            return options.timeout_s
        from rewardgate.verifiers.cad.run import sandbox_s

        builds = 2 if reference.reference_code else 1  # the reference's own run, uncached
        return max(default_s, builds * sandbox_s(options) + MARGIN_S)

    def lowest_reward_for(self, options: CadOptions) -> float:
        return min(options.invalid_reward, 0.0)

    def health(self) -> dict[str, str]:
        """The server's default backend (what a request naming none runs on) and the CAD
        runtime it sees: the host prefix on bwrap, the sandbox image's on docker."""
        from rewardgate.verifiers.cad.run import runtime_health
        from rewardgate.verifiers.sandboxed import backend_name, sandbox_backend

        name = backend_name(CadOptions(), self.env)
        report: dict[str, str] = {}
        try:
            backend = sandbox_backend(name, self.env)
            report.update(backend.health())
        except Exception as exc:
            report[name] = f"unavailable: {exc}"
            return {"cad_runtime": runtime_health(self.runtime), **report}
        return {"cad_runtime": runtime_health(self.runtime, backend), **report}
