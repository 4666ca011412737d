# A flange: a disc with a bore and six bolt holes.
import cadquery as cq

R, T, BORE, BOLT = 40.0, 8.0, 20.0, 6.0
result = (
    cq.Workplane("XY")
    .circle(R)
    .extrude(T)
    .faces(">Z")
    .workplane()
    .hole(BORE)
    .polarArray(R * 0.7, 0, 360, 6)
    .hole(BOLT)
)
