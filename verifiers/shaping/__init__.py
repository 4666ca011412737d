"""Shaping verifiers: rewards on the form of a response rather than its correctness.

`format` (tag structure, open-r1's format and tag-count rewards, a regex), `length`
(DAPO's overlong penalty, cosine length scaling), `repetition` (n-gram repetition
penalty) and `string` (exact, case-insensitive, substring, regex and fuzzy matches).
Each is small and cheap; they are meant to be combined with a correctness verifier
through `compose`. `steps.py` holds the Clip and Delta transforms of per-step rewards.
"""

from rewardgate.verifiers.shaping.format import FormatOptions, FormatVerifier
from rewardgate.verifiers.shaping.length import LengthOptions, LengthVerifier
from rewardgate.verifiers.shaping.repetition import RepetitionOptions, RepetitionVerifier
from rewardgate.verifiers.shaping.string import StringOptions, StringReference, StringVerifier

__all__ = [
    "FormatOptions",
    "FormatVerifier",
    "LengthOptions",
    "LengthVerifier",
    "RepetitionOptions",
    "RepetitionVerifier",
    "StringOptions",
    "StringReference",
    "StringVerifier",
]
