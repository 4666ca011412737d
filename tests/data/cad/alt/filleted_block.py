# The same block from a filleted sketch, extruded.
import cadquery as cq

L, W, H, R = 50.0, 30.0, 20.0, 4.0
sketch = cq.Sketch().rect(L, W).vertices().fillet(R)
result = cq.Workplane("XY").placeSketch(sketch).extrude(H).translate((0, 0, -H / 2))
