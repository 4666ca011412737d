"""Placeholder: the math verifier lands here."""
