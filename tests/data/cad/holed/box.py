# The block with a through hole.
import cadquery as cq

L, W, H = 40.0, 30.0, 20.0
result = cq.Workplane("XY").box(L, W, H).faces(">Z").workplane().hole(8)
