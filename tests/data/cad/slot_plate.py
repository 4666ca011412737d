# A plate with a slot cut through it.
import cadquery as cq

L, W, T = 70.0, 30.0, 5.0
result = cq.Workplane("XY").box(L, W, T).faces(">Z").workplane().slot2D(40.0, 10.0).cutThruAll()
