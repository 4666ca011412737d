"""Three fixed views of a meshed solid, drawn in the sandbox for evidence images.

Shipped as text beside runner.py (it must not import rewardgate) and imported before
the script runs, like geometry.py. The analysis child calls `draw` on the meshes it has
already tessellated for the metrics, only when the job asks (`evidence: "images"`), so
the part is never re-read or re-rendered outside the sandbox and the host receives
plain grey levels. The drawing is a point-splat z-buffer with Lambert shading:
numpy only, no renderer in the runtime. Both sides share a frame (the union of their
bounds) unless the metrics normalise each, so a part too big or off-centre looks it.
"""

from __future__ import annotations

import base64

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

# View directions (towards the viewer) and the screen's up: isometric, top, front.
VIEWS = (
    ("iso", (1.0, -1.0, 1.0), (0.0, 0.0, 1.0)),
    ("top", (0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
    ("front", (0.0, -1.0, 0.0), (0.0, 0.0, 1.0)),
)
SIDE = 160
SPLATS_PER_PIXEL = 6
MARGIN = 0.08  # of each view's side, left blank around the part
# Where the light comes from, in screen terms (right, up, towards the viewer): faces
# at different angles get different greys; lit faces are lighter.
LIGHT = (0.35, 0.55, 0.76)


def _basis(towards: tuple[float, ...], up: tuple[float, ...]) -> Any:
    """Rows: screen right, screen up, towards the viewer."""
    import numpy as np

    z = np.asarray(towards, dtype=np.float64)
    z /= np.linalg.norm(z)
    x = np.cross(np.asarray(up, dtype=np.float64), z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def _splats(mesh: Any, n: int) -> tuple[Any, Any]:
    """`n` points on the surface (area-weighted) and the unit normal of each one's triangle."""
    import numpy as np

    nodes, tris = mesh
    a, b, c = (nodes[tris[:, i]] for i in range(3))
    cross = np.cross(b - a, c - a)
    areas = np.linalg.norm(cross, axis=1)
    if len(areas) == 0 or areas.sum() <= 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    rng = np.random.default_rng(0)
    pick = np.minimum(
        np.searchsorted(np.cumsum(areas), rng.random(n) * areas.sum(), side="right"),
        len(areas) - 1,
    )
    r = rng.random((n, 2))
    fold = r.sum(axis=1) > 1
    r[fold] = 1 - r[fold]
    points = a[pick] + r[:, :1] * (b[pick] - a[pick]) + r[:, 1:] * (c[pick] - a[pick])
    normals = cross[pick] / np.maximum(areas[pick], 1e-300)[:, None]
    return points, normals


def _frame(meshes: list[Any]) -> tuple[Any, float]:
    """Centre and half-size of the sphere around the meshes' bounds."""
    import numpy as np

    lo = np.min([m[0].min(axis=0) for m in meshes], axis=0)
    hi = np.max([m[0].max(axis=0) for m in meshes], axis=0)
    return (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)) / 2, 1e-12)


def _view(points: Any, normals: Any, centre: Any, radius: float, basis: Any, side: int) -> Any:
    import numpy as np

    image = np.full(side * side, 255, dtype=np.uint8)
    if len(points) == 0:
        return image.reshape(side, side)
    moved = (points - centre) @ basis.T / radius  # within the unit ball
    scale = side * (1 - 2 * MARGIN) / 2
    col = np.clip(((moved[:, 0] * scale) + side / 2).astype(np.int64), 0, side - 1)
    row = np.clip((side / 2 - (moved[:, 1] * scale)).astype(np.int64), 0, side - 1)
    pixel = row * side + col
    depth = -moved[:, 2]  # nearer the viewer: smaller
    nearest = np.full(side * side, np.inf)
    np.minimum.at(nearest, pixel, depth)
    seen = depth <= nearest[pixel]
    light = np.abs(normals[seen] @ (np.asarray(LIGHT) @ basis))
    image[pixel[seen]] = (70 + 150 * light).astype(np.uint8)
    return image.reshape(side, side)


def draw(candidate: Any, reference: Any, own_frames: bool, side: int = SIDE) -> dict[str, Any]:
    """Each mesh's views side by side (grey levels, `side` x 3 `side`), base64 of the bytes."""
    import numpy as np

    shared = _frame([candidate, reference])
    out: dict[str, Any] = {
        "height": side,
        "width": side * len(VIEWS),
        "views": [v[0] for v in VIEWS],
    }
    for name, mesh in (("candidate", candidate), ("reference", reference)):
        centre, radius = _frame([mesh]) if own_frames else shared
        points, normals = _splats(mesh, SPLATS_PER_PIXEL * side * side)
        strip = np.concatenate(
            [_view(points, normals, centre, radius, _basis(t, u), side) for _, t, u in VIEWS],
            axis=1,
        )
        out[name] = base64.b64encode(np.ascontiguousarray(strip).tobytes()).decode("ascii")
    return out
