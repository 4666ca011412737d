# The same plate: circles at explicit points, cut through.
import cadquery as cq

L, W, T, D = 80.0, 50.0, 6.0, 8.0
x, y = (L - 20) / 2, (W - 20) / 2
result = (
    cq.Workplane("XY")
    .box(L, W, T)
    .faces(">Z")
    .workplane()
    .pushPoints([(x, y), (-x, y), (x, -y), (-x, -y)])
    .circle(D / 2)
    .cutThruAll()
)
