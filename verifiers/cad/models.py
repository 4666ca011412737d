"""The `cad` verifier's reference and options, and its reward presets.

Presets carry over the papers' rewards:

- `cadrille` (Kolodiazhnyi et al., "cadrille: Multi-modal CAD Reconstruction with
  Online Reinforcement Learning", arXiv 2505.22914, the RL fine-tuning reward):
  10 x IoU for a valid solid, -10 for invalid code.
- `cad_recode` (Rukhovich et al., CAD-Recode, arXiv 2412.14042, `evaluate.py`): the
  evaluation protocol as a reward: IoU of the unit-cube-normalised shapes, 0 when the
  code yields no valid solid (the papers count it in the invalidity ratio), Chamfer
  distance on 8192 points reported beside it.

Both papers' presets measure the Chamfer distance by their code's protocol
(`chamfer_protocol="papers"`: absolute tessellation tolerance, the two surfaces sampled
independently); checked against cadrille's `evaluate.py` in
tests/verifiers/cadrille_reference/.
- `chamfer`: exp(-k * CD) on the same normalised Chamfer distance, for a dense signal
  where IoU is flat (thin parts). With the default k = 100, CD x 1000 = 1 pays 0.905,
  CD x 1000 = 6.9 pays 0.5; two samplings of one surface give CD x 1000 of about 0.1-0.3.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rewardgate.verifiers.assets import ASSET_PREFIX
from rewardgate.verifiers.evidence_images import EvidenceOptions

__all__ = [
    "MAX_REFERENCE_BYTES",
    "PRESETS",
    "CadOptions",
    "CadReference",
    "Expected",
    "Tolerances",
]

MAX_REFERENCE_BYTES = 32 << 20
MAX_SCRIPT_CHARS = 200_000
Metric = Literal["iou", "chamfer", "params"]

PRESETS: dict[str, dict[str, Any]] = {
    "cadrille": {
        "metric": "iou",
        "scale": 10.0,
        "invalid_reward": -10.0,
        "samples": 8192,
        "chamfer_protocol": "papers",
    },
    "cad_recode": {
        "metric": "iou",
        "normalize": True,
        "samples": 8192,
        "invalid_reward": 0.0,
        "chamfer_protocol": "papers",
    },
    "chamfer": {"metric": "chamfer"},
}


class Expected(BaseModel):
    """Parametric checks on the candidate's solid; each must hold within `tolerances`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    volume: float | None = Field(None, gt=0)
    area: float | None = Field(None, gt=0)
    bbox: tuple[float, float, float] | None = Field(
        None, description="Extents [dx, dy, dz] of the axis-aligned bounding box."
    )
    solids: int | None = Field(None, ge=0)
    faces: int | None = Field(None, ge=0)
    edges: int | None = Field(None, ge=0)
    vertices: int | None = Field(None, ge=0)

    @field_validator("bbox")
    @classmethod
    def _non_negative(cls, bbox: tuple[float, float, float] | None) -> Any:
        if bbox is not None and min(bbox) < 0:
            raise ValueError("bbox extents must be >= 0")
        return bbox


class CadReference(BaseModel):
    """One geometry to compare with (`reference_code`, `_step` or `_stl`) and/or `expected`.

    `reference_step` / `reference_stl` are base64 or `asset:<sha256>` (see POST
    /v1/assets); `reference_code` is executed in the sandbox like a response and its
    shape cached by the code's hash.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reference_code: str | None = Field(None, min_length=1, max_length=MAX_SCRIPT_CHARS)
    reference_step: str | None = Field(None, min_length=1)
    reference_stl: str | None = Field(None, min_length=1)
    expected: Expected | None = None

    @field_validator("reference_step", "reference_stl")
    @classmethod
    def _base64_or_asset(cls, value: str | None) -> str | None:
        if value is None or value.startswith(ASSET_PREFIX):
            return value
        if len(value) > MAX_REFERENCE_BYTES * 4 // 3 + 4:
            raise ValueError(f"over {MAX_REFERENCE_BYTES} bytes; upload it as an asset")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("neither base64 nor asset:<sha256>") from None
        return value

    @model_validator(mode="after")
    def _one_geometry(self) -> CadReference:
        given = [
            n for n in ("reference_code", "reference_step", "reference_stl") if getattr(self, n)
        ]
        if len(given) > 1:
            raise ValueError(f"give one reference geometry, not {' and '.join(given)}")
        if not given and self.expected is None:
            raise ValueError(
                "needs reference_code, reference_step or reference_stl, and/or expected"
            )
        return self

    @property
    def geometry(self) -> tuple[str, str] | None:
        """(format, value) of the reference geometry: code, step or stl."""
        for fmt in ("code", "step", "stl"):
            value = getattr(self, f"reference_{fmt}")
            if value:
                return fmt, value
        return None


class Tolerances(BaseModel):
    """Relative tolerances of the parametric checks (topology counts match exactly)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    volume: float = Field(default=0.01, ge=0)
    area: float = Field(default=0.01, ge=0)
    bbox: float = Field(default=0.01, ge=0)


class CadOptions(EvidenceOptions):
    """How a CadQuery response is run and scored.

    `reward = scale * score` for a valid solid, `invalid_reward` otherwise, where
    `score` in [0, 1] is `metric`: one of iou, chamfer (exp(-chamfer_k * CD)) and params
    (the fraction of `expected` checks passed), or a weighted mean of several
    (`{"iou": 0.8, "params": 0.2}`). The default metric is iou where the reference has
    a geometry, else params. `preset` fills the fields it names that the request leaves
    unset (see the module docstring).
    """

    preset: Literal["cadrille", "cad_recode", "chamfer"] | None = None
    metric: Metric | dict[Metric, float] | None = None
    normalize: bool = Field(
        True,
        description="Centre and scale each shape into the unit cube first (CAD-Recode); "
        "off: absolute position and size count.",
    )
    samples: int = Field(8192, ge=64, le=100_000, description="Surface points per shape (CD).")
    seed: int = Field(0, ge=0, description="Seed of the surface and Monte-Carlo sampling.")
    chamfer_protocol: Literal["paired", "papers"] = Field(
        "paired",
        description="papers: cadrille's evaluate.py (absolute tessellation tolerance 0.001, "
        "the two surfaces sampled independently; identical shapes score the sampling floor, "
        "CD x 1000 ~0.1-0.3); paired: tolerance relative to the shape's size and one seed "
        "for both sides (identical shapes score 0; lower noise, not the papers' number).",
    )
    chamfer_k: float = Field(100.0, gt=0, description="k of the chamfer metric exp(-k * CD).")
    scale: float = Field(1.0, gt=0, description="Reward of a perfect score.")
    invalid_reward: float = Field(0.0, description="Reward when there is no valid solid.")
    tolerances: Tolerances = Tolerances()
    time_limit_s: float = Field(60.0, gt=0, le=600, description="Wall limit of the script.")
    memory_mb: int = Field(2048, ge=256, le=16384, description="Memory of the script.")
    backend: str = Field(
        "bwrap",
        description="Sandbox backend (bwrap or docker); unset: the server's sandbox_backend "
        "setting (bwrap unless configured).",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            return {**PRESETS[data["preset"]], **data}
        return data

    @field_validator("metric")
    @classmethod
    def _weights(cls, metric: Any) -> Any:
        if isinstance(metric, dict) and (
            not metric or min(metric.values()) < 0 or sum(metric.values()) <= 0
        ):
            raise ValueError("weights must be >= 0 with a positive sum")
        return metric

    def weights(self, has_geometry: bool) -> dict[str, float]:
        """The metric as normalised weights."""
        metric = self.metric or ("iou" if has_geometry else "params")
        raw = {metric: 1.0} if isinstance(metric, str) else dict(metric)
        total = sum(raw.values())
        return {name: w / total for name, w in raw.items() if w > 0}
