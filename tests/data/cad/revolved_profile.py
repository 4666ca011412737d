# A vase-like solid revolved from a polyline profile.
import cadquery as cq

R, H = 20.0, 30.0
profile = [(0, 0), (R, 0), (R, 5), (R / 2, 15), (R * 0.6, H), (0, H)]
result = cq.Workplane("XZ").polyline(profile).close().revolve(360, (0, 0, 0), (0, 1, 0))
