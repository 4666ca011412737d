# A box shelled open at the top.
import cadquery as cq

L, W, H, T = 60.0, 40.0, 30.0, 3.0
result = cq.Workplane("XY").box(L, W, H).faces(">Z").shell(-T)
