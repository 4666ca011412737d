# The shaft revolved from its half profile.
import cadquery as cq

R1, H1, R2, H2 = 12.0, 20.0, 7.0, 30.0
profile = [(0, 0), (R1, 0), (R1, H1), (R2, H1), (R2, H1 + H2), (0, H1 + H2)]
result = cq.Workplane("XZ").polyline(profile).close().revolve(360, (0, 0, 0), (0, 1, 0))
