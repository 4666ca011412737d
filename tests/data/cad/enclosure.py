# An enclosure: rounded block shelled open at the top.
import cadquery as cq

L, W, H, R, T = 60.0, 40.0, 25.0, 6.0, 2.0
result = cq.Workplane("XY").box(L, W, H).edges("|Z").fillet(R).faces(">Z").shell(-T)
