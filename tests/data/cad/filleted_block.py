# A block with rounded vertical edges.
import cadquery as cq

L, W, H, R = 50.0, 30.0, 20.0, 4.0
result = cq.Workplane("XY").box(L, W, H).edges("|Z").fillet(R)
