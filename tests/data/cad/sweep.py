# A round bar swept along a quarter arc.
import cadquery as cq

R, RB = 40.0, 5.0
path = cq.Workplane("XZ").moveTo(0, 0).radiusArc((R, R), R)
result = cq.Workplane("XY").circle(RB).sweep(path)
