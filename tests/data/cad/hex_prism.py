# A hexagonal prism with a round bore.
import cadquery as cq

D, H, B = 30.0, 12.0, 10.0
result = cq.Workplane("XY").polygon(6, D).extrude(H).faces(">Z").workplane().hole(B)
