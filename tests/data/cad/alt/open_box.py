# The open box as a block minus a pocket.
import cadquery as cq

L, W, H, T = 60.0, 40.0, 30.0, 3.0
pocket = cq.Workplane("XY").box(L - 2 * T, W - 2 * T, H).translate((0, 0, T))
result = cq.Workplane("XY").box(L, W, H).cut(pocket)
