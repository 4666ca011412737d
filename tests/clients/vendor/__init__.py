"""Trainers' own client code, vendored unchanged (each folder has its licence and
says where it came from), so tests drive what trainers really run without installing
the trainers (verl needs torch)."""
