# The bracket as the union of two blocks.
import cadquery as cq

A, B, T, D = 50.0, 30.0, 8.0, 20.0
base = cq.Workplane("XY").box(A, D, T, centered=False)
wall = cq.Workplane("XY").box(T, D, B, centered=False)
result = base.union(wall)
