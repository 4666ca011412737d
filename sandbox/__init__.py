"""Isolated execution of untrusted programs (bwrap and docker backends)."""
