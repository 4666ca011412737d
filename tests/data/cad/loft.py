# A loft from a square to a circle.
import cadquery as cq

S, H, R = 30.0, 25.0, 8.0
result = cq.Workplane("XY").rect(S, S).workplane(offset=H).circle(R).loft()
