# The cylinder as a revolved rectangle.
import cadquery as cq

R, H = 15.0, 40.0
result = cq.Workplane("XZ").rect(R, H, centered=False).revolve(360, (0, 0, 0), (0, 1, 0))
