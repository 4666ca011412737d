"""The part of cadrille's `evaluate.py` that measures the Chamfer distance, verbatim.

From github col14m/cadrille at commit 68e79b7235e075ea7023b3a721935923eaba8563
(Apache License 2.0, see LICENSE beside this file): `compute_chamfer_distance`,
`compound_to_mesh` and the normalisation of `run_cd_single`, unchanged but for the
normalisation lifted into `normalise` so both sides can use it (cadrille's ground-truth
meshes are stored already normalised). Needs trimesh, CadQuery and scipy; run by
`compute.py`, never by the test suite.
"""

import numpy as np
import trimesh
from scipy.spatial import cKDTree


def compute_chamfer_distance(gt_mesh, pred_mesh, n_points):
    gt_points, _ = trimesh.sample.sample_surface(gt_mesh, n_points)
    pred_points, _ = trimesh.sample.sample_surface(pred_mesh, n_points)
    gt_distance, _ = cKDTree(gt_points).query(pred_points, k=1)
    pred_distance, _ = cKDTree(pred_points).query(gt_points, k=1)
    return np.mean(np.square(gt_distance)) + np.mean(np.square(pred_distance))


def compound_to_mesh(compound):
    vertices, faces = compound.tessellate(0.001, 0.1)
    return trimesh.Trimesh([(v.x, v.y, v.z) for v in vertices], faces)


def normalise(pred_mesh):
    center = (pred_mesh.bounds[0] + pred_mesh.bounds[1]) / 2.0
    pred_mesh.apply_translation(-center)
    extent = np.max(pred_mesh.extents)
    if extent > 1e-7:
        pred_mesh.apply_scale(1.0 / extent)
    pred_mesh.apply_transform(trimesh.transformations.translation_matrix([0.5, 0.5, 0.5]))
    return pred_mesh
