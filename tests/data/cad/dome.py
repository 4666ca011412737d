# A dome: a sphere cut flat below its centre.
import cadquery as cq

R, C = 20.0, 8.0
cutter = cq.Workplane("XY").box(3 * R, 3 * R, 3 * R).translate((0, 0, -1.5 * R - C))
result = cq.Workplane("XY").sphere(R).cut(cutter)
