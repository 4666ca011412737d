"""Optional learned metrics (DreamSim, LPIPS, CLIP) loaded from weights on this server.

None ships and none is downloaded: the server's `image_perceptual` setting names, per
metric, a local `path` to the weights and optionally a `factory` (`module:function`)
that builds the metric from that path. Without a factory the built-in loaders below
are used, which need the metric's own package installed (`dreamsim`, `lpips`,
`open_clip_torch`, with torch). A request whose weights name a metric the server has
not configured is `invalid`; a configured one that fails to load is the server's
`error`.

A metric is a callable `(pred, target) -> distance` on uint8 RGB images; the reward
term follows its paper: DreamSim `1 - 2d` (RLRF's DreamSim reward), LPIPS `1 - d`,
CLIP `1 - d` where `d = 1 - cosine similarity` (so the term is the similarity), and
`1 - d` for any other name. `<name>_canny` terms apply the metric to Canny edge maps,
as RLRF does with DreamSim.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardgate.verifiers.errors import InvalidRequest, VerifierError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "BUILTIN_FACTORIES",
    "PerceptualMetric",
    "PerceptualSpec",
    "base_name",
    "load_metric",
    "term_reward",
]

PerceptualMetric = Callable[["NDArray[np.uint8]", "NDArray[np.uint8]"], float]

BUILTIN_FACTORIES = {
    "dreamsim": "rewardgate.verifiers.image.perceptual:load_dreamsim",
    "lpips": "rewardgate.verifiers.image.perceptual:load_lpips",
    "clip": "rewardgate.verifiers.image.perceptual:load_clip",
}


@dataclass(frozen=True)
class PerceptualSpec:
    """One configured metric: where its weights are and what builds it."""

    name: str
    path: Path
    factory: str | None = None

    @classmethod
    def parse(cls, name: str, raw: Any) -> PerceptualSpec:
        """From the setting's value: a path, or `{"path": ..., "factory": ...}`."""
        if isinstance(raw, (str, Path)):
            return cls(name, Path(raw))
        if isinstance(raw, dict) and "path" in raw and set(raw) <= {"path", "factory"}:
            return cls(name, Path(raw["path"]), raw.get("factory"))
        raise VerifierError(f"image_perceptual.{name}: expected a path or {{path, factory}}")


def base_name(term: str) -> str:
    """The metric a term uses: `dreamsim_canny` uses `dreamsim`."""
    return term.removesuffix("_canny")


def term_reward(term: str, distance: float) -> float:
    """The reward of a perceptual distance, by the metric's paper (see the module doc)."""
    if base_name(term) == "dreamsim":
        return 1.0 - 2.0 * distance
    return 1.0 - distance


def resolve(term: str, configured: dict[str, Any]) -> PerceptualSpec:
    name = base_name(term)
    if name not in configured:
        available = ", ".join(sorted(configured)) or "none"
        raise InvalidRequest(
            f"options.weights: {term!r} needs the perceptual metric {name!r}, which this "
            f"server has not configured (image_perceptual: {available})"
        )
    return PerceptualSpec.parse(name, configured[name])


def load_metric(spec: PerceptualSpec) -> PerceptualMetric:
    """The metric, built once per process (weights are large; workers keep them)."""
    return _load(spec.name, str(spec.path), spec.factory or BUILTIN_FACTORIES.get(spec.name))


@cache
def _load(name: str, path: str, factory: str | None) -> PerceptualMetric:
    if factory is None:
        raise VerifierError(f"perceptual metric {name!r} has no built-in loader; set a factory")
    if not Path(path).exists():
        raise VerifierError(f"weights of perceptual metric {name!r} not found: {path}")
    module_name, _, attr = factory.partition(":")
    try:
        build = getattr(importlib.import_module(module_name), attr)
        metric: PerceptualMetric = build(Path(path))
    except VerifierError:
        raise
    except Exception as exc:
        raise VerifierError(
            f"perceptual metric {name!r} failed to load from {path}: {type(exc).__name__}: {exc}"
        ) from exc
    return metric


def _torch_pair(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> tuple[Any, Any]:
    import torch

    def tensor(image: NDArray[np.uint8]) -> Any:
        return torch.from_numpy(image).permute(2, 0, 1).float().div(255.0).unsqueeze(0)

    return tensor(pred), tensor(target)


def load_dreamsim(path: Path) -> PerceptualMetric:  # pragma: no cover - needs weights
    """DreamSim from a cache folder holding its checkpoints (`dreamsim(cache_dir=path)`)."""
    import torch
    from dreamsim import dreamsim
    from PIL import Image

    model, preprocess = dreamsim(pretrained=True, cache_dir=str(path), device="cpu")
    model.eval()

    def distance(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
        with torch.no_grad():
            a = preprocess(Image.fromarray(pred))
            b = preprocess(Image.fromarray(target))
            return float(model(a, b))

    return distance


def load_lpips(path: Path) -> PerceptualMetric:  # pragma: no cover - needs weights
    """LPIPS (AlexNet) from a folder used as TORCH_HOME: the backbone's checkpoint under
    `hub/checkpoints/` and LPIPS's linear layers as `lpips_alex.pth`."""
    import lpips
    import torch

    torch.hub.set_dir(str(path / "hub"))
    model = lpips.LPIPS(net="alex", pretrained=True, model_path=str(path / "lpips_alex.pth"))
    model.eval()

    def distance(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
        a, b = _torch_pair(pred, target)
        with torch.no_grad():
            return float(model(a * 2 - 1, b * 2 - 1))

    return distance


def load_clip(path: Path) -> PerceptualMetric:  # pragma: no cover - needs weights
    """OpenCLIP ViT-B-32 from a local checkpoint file; distance is 1 - cosine similarity."""
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=str(path))
    model.eval()

    def distance(pred: NDArray[np.uint8], target: NDArray[np.uint8]) -> float:
        with torch.no_grad():
            batch = torch.stack([preprocess(Image.fromarray(x)) for x in (pred, target)])
            features = model.encode_image(batch)
            features = features / features.norm(dim=-1, keepdim=True)
            return 1.0 - float(features[0] @ features[1])

    return distance
