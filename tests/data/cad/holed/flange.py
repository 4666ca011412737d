# The flange with five bolt holes instead of six.
import cadquery as cq

R, T, BORE, BOLT = 40.0, 8.0, 20.0, 6.0
result = (
    cq.Workplane("XY")
    .circle(R)
    .extrude(T)
    .faces(">Z")
    .workplane()
    .hole(BORE)
    .polarArray(R * 0.7, 0, 300, 5, fill=False)
    .hole(BOLT)
)
