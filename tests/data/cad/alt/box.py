# The block as an extruded rectangle, moved down to the same place.
import cadquery as cq

L, W, H = 40.0, 30.0, 20.0
result = cq.Workplane("XY").rect(L, W).extrude(H).translate((0, 0, -H / 2))
