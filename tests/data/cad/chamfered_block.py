# A block with its top edges chamfered.
import cadquery as cq

L, W, H, C = 50.0, 35.0, 25.0, 4.0
result = cq.Workplane("XY").box(L, W, H).edges(">Z").chamfer(C)
