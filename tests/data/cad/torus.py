# A torus.
import cadquery as cq

R, RT = 25.0, 6.0
result = cq.Workplane("XY").add(cq.Solid.makeTorus(R, RT))
