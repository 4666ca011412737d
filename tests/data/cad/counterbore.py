# A block with a counterbored hole.
import cadquery as cq

L, W, H = 40.0, 40.0, 15.0
result = cq.Workplane("XY").box(L, W, H).faces(">Z").workplane().cboreHole(8.0, 14.0, 5.0)
