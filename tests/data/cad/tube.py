# A tube.
import cadquery as cq

R, H, RI = 20.0, 30.0, 14.0
result = cq.Workplane("XY").circle(R).circle(RI).extrude(H)
