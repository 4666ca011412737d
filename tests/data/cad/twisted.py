# A square bar twisted along its length.
import cadquery as cq

S, H, A = 20.0, 40.0, 45.0
result = cq.Workplane("XY").rect(S, S * 0.6).twistExtrude(H, A)
