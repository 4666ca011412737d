# A shaft with two diameters.
import cadquery as cq

R1, H1, R2, H2 = 12.0, 20.0, 7.0, 30.0
result = cq.Workplane("XY").circle(R1).extrude(H1).faces(">Z").workplane().circle(R2).extrude(H2)
