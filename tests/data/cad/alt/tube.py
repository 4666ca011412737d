# The tube as a cylinder minus a cylinder.
import cadquery as cq

R, H, RI = 20.0, 30.0, 14.0
outer = cq.Workplane("XY").circle(R).extrude(H)
result = outer.cut(cq.Workplane("XY").circle(RI).extrude(H))
