# A cylinder.
import cadquery as cq

R, H = 15.0, 40.0
result = cq.Workplane("XY").circle(R).extrude(H)
