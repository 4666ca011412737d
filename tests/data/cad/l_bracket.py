# An L-shaped bracket, extruded from its profile.
import cadquery as cq

A, B, T, D = 50.0, 30.0, 8.0, 20.0
profile = [(0, 0), (A, 0), (A, T), (T, T), (T, B), (0, B)]
result = cq.Workplane("XZ").polyline(profile).close().extrude(-D)
