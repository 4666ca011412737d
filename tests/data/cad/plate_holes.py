# A plate with four corner holes.
import cadquery as cq

L, W, T, D = 80.0, 50.0, 6.0, 8.0
result = (
    cq.Workplane("XY")
    .box(L, W, T)
    .faces(">Z")
    .workplane()
    .rect(L - 20, W - 20, forConstruction=True)
    .vertices()
    .hole(D)
)
