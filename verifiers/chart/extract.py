"""Finding the plotting script in a response: the last ```python block.

The code verifier's rule (`rewardgate.verifiers.code.extract`): the last block tagged
python, else the last untagged block, else the last block; a response without a
fence is the script itself. Blank output is no script.
"""

from __future__ import annotations

from rewardgate.verifiers.code.extract import extract_program

__all__ = ["extract_script"]


def extract_script(response: str) -> str | None:
    """The script, or None when the response holds none."""
    script = extract_program(response, "python")
    return script if script.strip() else None
