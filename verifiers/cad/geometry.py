"""Geometry of CAD results: validity, properties and the CAD papers' comparison metrics.

Runs inside the sandbox (shipped as text beside `cad_runner.py`, imported there with the
CAD runtime on sys.path) and, in `bench/cad_throughput.py`, directly in one process. It
must not import rewardgate. The protocol is CAD-Recode's `evaluate.py` (github
filaPro/cad-recode, also cadrille's `evaluate.py`, github col14m/cadrille):

- normalisation: centre the bounding box at the origin and scale uniformly so the
  largest extent is 1 (rotation is not undone);
- Chamfer distance: `n` points sampled on each surface (area-weighted, 8192 in the
  papers), nearest neighbours both ways by KD-tree, the mean *squared* distances
  added; the papers report it x1000;
- IoU: intersection volume over union volume. The papers intersect meshes; here the
  exact B-rep boolean (`BRepAlgoAPI_Common`) is used wherever both sides are B-reps and
  the result is sane, and ray casting through the meshes otherwise (an STL
  reference, or a boolean that fails).

Two protocols for the Chamfer distance (`compare`'s `protocol`):

- `papers` (the presets `cadrille` and `cad_recode`): cadrille's `evaluate.py` exactly.
  Each shape is tessellated at cadrille's *absolute* tolerances (`compound.tessellate(
  0.001, 0.1)`, in the shape's own units), framed by its mesh's bounds, and the two
  surfaces are sampled independently (each by its own seeded generator, spawned from
  `seed`), so two copies of one shape score the papers' sampling floor (CD x 1000 about
  0.1-0.3 at 8192 points), not 0.
- `paired` (rewardgate's reading, the default without a preset): tolerances relative to
  the shape's largest extent (the same mesh density at any scale) and one seed for both
  sides, so identical surfaces score exactly 0 and near-matches sit below the papers'
  floor: a lower-noise reward, not the papers' number.

Sampling uses seeded generators and the tessellation is deterministic, so the same
shapes always give the same numbers under either protocol.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

    import numpy as np
    from numpy.typing import NDArray

    Mesh = tuple[NDArray[np.float64], NDArray[np.int64]]

# Tessellation tolerances: linear relative to the largest extent under `paired`, absolute
# (cadrille's and CAD-Recode's `compound.tessellate(0.001, 0.1)`) under `papers`.
LINEAR_DEFLECTION = 1e-3
ANGULAR_DEFLECTION = 0.1
PROTOCOLS = ("paired", "papers")
RAYS = 160  # rays per axis of the mesh-fallback IoU
MAX_TRIANGLES = 400_000  # a mesh past this is refused (the candidate's verdict)
BOOLEAN_SLACK = 1e-4  # relative volume slack of the boolean consistency checks


def load(path: str, fmt: str) -> Any:
    """The shape in a BREP or STEP file (an STL file is read as a mesh: `load_stl`)."""
    if fmt == "brep":
        from OCP.BRep import BRep_Builder
        from OCP.BRepTools import BRepTools
        from OCP.TopoDS import TopoDS_Shape

        shape = TopoDS_Shape()
        if not BRepTools.Read_s(shape, path, BRep_Builder()) or shape.IsNull():
            raise ValueError("not a readable BREP file")
        # A BREP file may carry triangles of its own, which need not match its surfaces:
        # the mesh is always made here, from the geometry.
        BRepTools.Clean_s(shape)
        return shape
    from OCP.IFSelect import IFSelect_ReturnStatus
    from OCP.STEPControl import STEPControl_Reader

    reader = STEPControl_Reader()
    if reader.ReadFile(path) != IFSelect_ReturnStatus.IFSelect_RetDone:
        raise ValueError("not a readable STEP file")
    reader.TransferRoots()
    shape = reader.OneShape()
    if shape.IsNull():
        raise ValueError("the STEP file holds no shape")
    return shape


def load_stl(path: str) -> Mesh:
    import numpy as np
    from OCP.RWStl import RWStl

    poly = RWStl.ReadFile_s(path)
    if poly is None or poly.NbTriangles() == 0:
        raise ValueError("not a readable STL file with triangles")
    if poly.NbTriangles() > MAX_TRIANGLES:
        raise ValueError(f"the STL file has more than {MAX_TRIANGLES} triangles")
    nodes = np.array([poly.Node(i).Coord() for i in range(1, poly.NbNodes() + 1)], dtype=float)
    tris = np.array([poly.Triangle(i).Get() for i in range(1, poly.NbTriangles() + 1)]) - 1
    return nodes, tris.astype(np.int64)


def bounds(shape: Any) -> tuple[list[float], list[float]]:
    """Tight axis-aligned bounds (`AddOptimal`: the geometry, not its tolerances)."""
    from OCP.Bnd import Bnd_Box
    from OCP.BRepBndLib import BRepBndLib

    box = Bnd_Box()
    BRepBndLib.AddOptimal_s(shape, box, False, False)
    if box.IsVoid():
        return [0.0] * 3, [0.0] * 3
    x0, y0, z0, x1, y1, z1 = box.Get()
    return [x0, y0, z0], [x1, y1, z1]


def _count(shape: Any, kind: Any) -> int:
    from OCP.TopExp import TopExp
    from OCP.TopTools import TopTools_IndexedMapOfShape

    found = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, kind, found)
    return int(found.Extent())


def properties(shape: Any) -> dict[str, Any]:
    """What the checks read: validity (BRepCheck), topology counts, volume, area, bbox.

    `valid_solid`: BRepCheck passes, at least one solid, a positive volume; the
    verifier's gate between "executed" and "scored".
    """
    from OCP.BRepCheck import BRepCheck_Analyzer
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_ShapeEnum as T

    valid = bool(BRepCheck_Analyzer(shape).IsValid())
    area = GProp_GProps()
    BRepGProp.SurfaceProperties_s(shape, area)
    lo, hi = bounds(shape)
    counts = {
        name: _count(shape, kind)
        for name, kind in (
            ("solids", T.TopAbs_SOLID),
            ("faces", T.TopAbs_FACE),
            ("edges", T.TopAbs_EDGE),
            ("vertices", T.TopAbs_VERTEX),
        )
    }
    vol = _volume(shape)
    finite = all(math.isfinite(x) for x in (vol, *lo, *hi))
    return {
        "brep_valid": valid,
        "valid_solid": valid and finite and counts["solids"] > 0 and vol > 0,
        "volume": _finite(vol),
        "area": _finite(float(area.Mass())),
        "bbox": [_finite(h - low) for low, h in zip(lo, hi, strict=True)],
        "bbox_min": [_finite(x) for x in lo],
        "bbox_max": [_finite(x) for x in hi],
        **counts,
    }


def _finite(x: float) -> float | None:
    """JSON has no inf or NaN: an unbounded or broken shape reports None instead."""
    return x if math.isfinite(x) else None


def mesh_properties(mesh: Mesh) -> dict[str, Any]:
    """The same fields from a triangle mesh (an STL reference): volume by signed tetrahedra."""
    import numpy as np

    nodes, tris = mesh
    a, b, c = (nodes[tris[:, i]] for i in range(3))
    volume = abs(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0)
    area = float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0)
    lo, hi = nodes.min(axis=0).tolist(), nodes.max(axis=0).tolist()
    return {
        "brep_valid": None,
        "valid_solid": volume > 0,
        "volume": volume,
        "area": area,
        "bbox": [h - low for low, h in zip(lo, hi, strict=True)],
        "bbox_min": lo,
        "bbox_max": hi,
        "triangles": len(tris),
    }


def tessellate(shape: Any, extent: float, absolute: bool = False) -> Mesh:
    """Triangles of `shape`: linear tolerance relative to `extent`, or `absolute` (cadrille).

    Relative, scale does not matter; absolute, a part drawn in the papers' ~200-unit
    frame is meshed as their code meshes it.
    """
    import cadquery as cq
    import numpy as np

    linear = LINEAR_DEFLECTION if absolute else max(extent, 1e-9) * LINEAR_DEFLECTION
    vertices, triangles = cq.Shape.cast(shape).tessellate(linear, ANGULAR_DEFLECTION)
    if len(triangles) > MAX_TRIANGLES:
        raise ValueError(f"the shape tessellates into more than {MAX_TRIANGLES} triangles")
    nodes = np.array([v.toTuple() for v in vertices], dtype=float).reshape(-1, 3)
    return nodes, np.array(triangles, dtype=np.int64).reshape(-1, 3)


def frame(props: dict[str, Any]) -> tuple[Any, float]:
    """CAD-Recode's normalisation of one shape: its bbox centre and 1 / largest extent."""
    import numpy as np

    lo, hi = np.array(props["bbox_min"]), np.array(props["bbox_max"])
    extent = float((hi - lo).max())
    return (lo + hi) / 2.0, 1.0 / extent if extent > 1e-12 else 1.0


def mesh_frame(mesh: Mesh) -> tuple[Any, float]:
    """cadrille's normalisation of a mesh: its vertices' bounds centre and 1 / largest extent."""
    nodes = mesh[0]
    lo, hi = nodes.min(axis=0), nodes.max(axis=0)
    extent = float((hi - lo).max())
    return (lo + hi) / 2.0, 1.0 / extent if extent > 1e-7 else 1.0


def sample_surface(mesh: Mesh, n: int, seed: Any) -> Any:
    """`n` points uniformly on the surface (area-weighted triangles, uniform barycentric).

    The same distribution as `trimesh.sample.sample_surface`, which the papers call.
    `seed`: an int or a `numpy.random.SeedSequence`.
    """
    import numpy as np

    nodes, tris = mesh
    a, b, c = (nodes[tris[:, i]] for i in range(3))
    areas = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = areas.sum()
    if total <= 0:
        return np.repeat(nodes[:1], n, axis=0)
    rng = np.random.default_rng(seed)
    pick = np.searchsorted(np.cumsum(areas), rng.random(n) * total, side="right")
    pick = np.minimum(pick, len(areas) - 1)
    r = rng.random((n, 2))
    fold = r.sum(axis=1) > 1
    r[fold] = 1 - r[fold]
    return a[pick] + r[:, :1] * (b[pick] - a[pick]) + r[:, 1:] * (c[pick] - a[pick])


def chamfer(p: Any, q: Any) -> float:
    """CAD-Recode's Chamfer distance: mean squared NN distance p->q plus q->p."""
    import numpy as np
    from scipy.spatial import cKDTree

    d_pq, _ = cKDTree(q).query(p, k=1)
    d_qp, _ = cKDTree(p).query(q, k=1)
    return float(np.mean(np.square(d_pq)) + np.mean(np.square(d_qp)))


def _crossings(mesh: Mesh, lo: Any, cell: Any, grid: int) -> tuple[Any, Any]:
    """Where each vertical ray of a `grid` x `grid` lattice crosses the mesh: (ray, z).

    Each triangle is tested only against the rays inside its xy bounding box.
    """
    import numpy as np

    a, b, c = (mesh[0][mesh[1][:, i]] for i in range(3))
    tri_lo = np.minimum(np.minimum(a, b), c)[:, :2]
    tri_hi = np.maximum(np.maximum(a, b), c)[:, :2]
    first = np.clip(np.ceil((tri_lo - lo) / cell - 0.5), 0, grid).astype(np.int64)
    last = np.clip(np.floor((tri_hi - lo) / cell - 0.5), -1, grid - 1).astype(np.int64)
    span = np.maximum(last - first + 1, 0)
    counts = span[:, 0] * span[:, 1]
    tri = np.repeat(np.arange(len(a)), counts)
    k = np.arange(len(tri)) - np.repeat(np.cumsum(counts) - counts, counts)
    ix = first[tri, 0] + k % np.maximum(span[tri, 0], 1)
    iy = first[tri, 1] + k // np.maximum(span[tri, 0], 1)
    px = lo[0] + (ix + 0.5) * cell[0]
    py = lo[1] + (iy + 0.5) * cell[1]
    ta, tb, tc = a[tri], b[tri], c[tri]
    v0, v1 = tb[:, :2] - ta[:, :2], tc[:, :2] - ta[:, :2]
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    wx, wy = px - ta[:, 0], py - ta[:, 1]
    safe = np.where(np.abs(det) > 1e-300, det, 1.0)
    u = (wx * v1[:, 1] - wy * v1[:, 0]) / safe
    v = (v0[:, 0] * wy - v0[:, 1] * wx) / safe
    hit = (np.abs(det) > 1e-300) & (u >= 0) & (v >= 0) & (u + v <= 1)
    z = ta[:, 2] + u * (tb[:, 2] - ta[:, 2]) + v * (tc[:, 2] - ta[:, 2])
    return (ix * grid + iy)[hit], z[hit]


def _generic_rotation() -> Any:
    import numpy as np

    ax, ay = 0.3719, 0.2113  # radians, chosen to be far from any CAD-typical angle
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    return ry @ rx


def iou_mesh(a: Mesh, b: Mesh) -> float:
    """IoU of two closed meshes in one frame by ray casting: the mesh fallback.

    `RAYS` x `RAYS` vertical rays through both meshes (turned by a fixed generic
    rotation, so rays do not run along CAD-typical faces and edges); along each ray the
    inside of a mesh is where its crossing count is odd, and the lengths inside both
    and inside either add up to the intersection and union volumes.
    """
    import numpy as np

    rot = _generic_rotation()
    meshes = [(m[0] @ rot.T, m[1]) for m in (a, b)]
    lo = np.minimum(meshes[0][0].min(axis=0), meshes[1][0].min(axis=0))[:2]
    hi = np.maximum(meshes[0][0].max(axis=0), meshes[1][0].max(axis=0))[:2]
    cell = np.maximum(hi - lo, 1e-12) / RAYS
    rays, zs, sides = [], [], []
    for index, mesh in enumerate(meshes):
        hits, heights = _crossings(mesh, lo, cell, RAYS)
        rays.append(hits)
        zs.append(heights)
        sides.append(np.full(len(hits), index))
    ray, z, side = np.concatenate(rays), np.concatenate(zs), np.concatenate(sides)
    order = np.lexsort((z, ray))
    ray, z, side = ray[order], z[order], side[order]
    # Parity of each mesh after each crossing, restarted on every ray.
    inside = []
    for s in (0, 1):
        flips = (side == s).astype(np.int64)
        total = np.cumsum(flips)
        start = np.searchsorted(ray, ray, side="left")
        before = np.where(start > 0, total[start - 1], 0)
        inside.append((total - before) % 2 == 1)
    same_ray = ray[1:] == ray[:-1]
    length = np.where(same_ray, z[1:] - z[:-1], 0.0)
    both = float((length * (inside[0][:-1] & inside[1][:-1])).sum())
    either = float((length * (inside[0][:-1] | inside[1][:-1])).sum())
    return both / either if either > 0 else 0.0


def transform(shape: Any, shift: Any, scale: float, centre: Any) -> Any:
    """`shape` scaled by `scale` about `centre`, then moved by `shift` (an exact copy)."""
    from OCP.BRepBuilderAPI import BRepBuilderAPI_Transform
    from OCP.gp import gp_Pnt, gp_Trsf, gp_Vec

    scaling = gp_Trsf()
    scaling.SetScale(gp_Pnt(*map(float, centre)), float(scale))
    moving = gp_Trsf()
    moving.SetTranslation(gp_Vec(*map(float, shift)))
    return BRepBuilderAPI_Transform(shape, moving.Multiplied(scaling), True).Shape()


def _volume(shape: Any) -> float:
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps

    props = GProp_GProps()
    BRepGProp.VolumeProperties_s(shape, props)
    return float(props.Mass())


def iou_exact(a: Any, b: Any, vol_a: float, vol_b: float) -> float | None:
    """IoU by the B-rep booleans; None where they fail or disagree with each other.

    OCC can fail silently (coaxial tori give an empty common and a fuse that drops
    one operand), so the common is trusted only when the fuse and the cut agree with
    it: vol(A | B) = vol(A) + vol(B) - vol(A & B) and vol(A - B) = vol(A) - vol(A & B).
    The three share one intersection of the operands (a `BOPAlgo_PaveFiller`), the
    expensive part, so checking costs little more than the common alone.
    """
    from OCP.BOPAlgo import BOPAlgo_PaveFiller
    from OCP.BRepAlgoAPI import BRepAlgoAPI_Common, BRepAlgoAPI_Cut, BRepAlgoAPI_Fuse
    from OCP.Message import Message_ProgressRange
    from OCP.TopTools import TopTools_ListOfShape

    try:
        operands = TopTools_ListOfShape()
        operands.Append(a)
        operands.Append(b)
        filler = BOPAlgo_PaveFiller()
        filler.SetArguments(operands)
        filler.Perform(Message_ProgressRange())
        if filler.HasErrors():
            return None
        results = [op(a, b, filler) for op in (BRepAlgoAPI_Common, BRepAlgoAPI_Fuse)]
        results.append(BRepAlgoAPI_Cut(a, b, filler, True))
        if not all(r.IsDone() for r in results):
            return None
        inter, union, cut = (_volume(r.Shape()) for r in results)
    except Exception:  # OCC raises its own Standard_Failure subclasses
        return None
    smaller, slack = min(vol_a, vol_b), BOOLEAN_SLACK * (vol_a + vol_b)
    if inter < -slack or inter > smaller + slack:
        return None
    if abs(union - (vol_a + vol_b - inter)) > slack or abs(cut - (vol_a - inter)) > slack:
        return None
    inter = min(max(inter, 0.0), smaller)
    return inter / (vol_a + vol_b - inter)


def compare(
    cand: dict[str, Any],
    ref: dict[str, Any],
    normalize: bool,
    samples: int,
    seed: int,
    protocol: str = "paired",
) -> dict[str, Any]:
    """Chamfer distance and IoU of a candidate and a reference.

    Each side is a dict with `props`, `mesh` and, for B-reps, `shape`. With `normalize`
    each shape is mapped into the unit cube by its own frame (CAD-Recode); without, both
    are mapped by the reference's frame, so position and size count while the Chamfer
    distance keeps the papers' unit-cube scale. `protocol` (module docstring): `papers`
    frames by the meshes' bounds and samples the two sides independently.
    """
    import numpy as np

    papers = protocol == "papers"
    framing = (lambda side: mesh_frame(side["mesh"])) if papers else (lambda s: frame(s["props"]))
    ref_centre, ref_scale = framing(ref)
    cand_centre, cand_scale = framing(cand) if normalize else (ref_centre, ref_scale)
    ref_seed, cand_seed = np.random.SeedSequence(seed).spawn(2) if papers else (seed, seed)
    ref_pts = (sample_surface(ref["mesh"], samples, ref_seed) - ref_centre) * ref_scale
    cand_pts = (sample_surface(cand["mesh"], samples, cand_seed) - cand_centre) * cand_scale
    cd = chamfer(cand_pts, ref_pts)
    # Candidate into the reference's original frame: IoU is invariant under the map.
    ratio = cand_scale / ref_scale
    result: dict[str, Any] = {"chamfer": cd, "chamfer_x1000": cd * 1000.0, "protocol": protocol}
    iou = None
    if "shape" in cand and "shape" in ref:
        moved = (
            transform(cand["shape"], ref_centre - cand_centre, ratio, cand_centre)
            if normalize
            else cand["shape"]
        )
        vol_moved = cand["props"]["volume"] * ratio**3
        iou = iou_exact(moved, ref["shape"], vol_moved, ref["props"]["volume"])
        result["iou_method"] = "brep"
    if iou is None:
        nodes, tris = cand["mesh"]
        moved_mesh = ((nodes - cand_centre) * ratio + ref_centre, tris)
        iou = iou_mesh(moved_mesh, ref["mesh"])
        result["iou_method"] = "mesh"
    result["iou"] = float(np.clip(iou, 0.0, 1.0))
    return result
