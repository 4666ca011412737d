# A plate with two countersunk holes.
import cadquery as cq

L, W, H = 60.0, 25.0, 10.0
result = (
    cq.Workplane("XY")
    .box(L, W, H)
    .faces(">Z")
    .workplane()
    .pushPoints([(-15, 0), (15, 0)])
    .cskHole(6.0, 12.0, 90)
)
