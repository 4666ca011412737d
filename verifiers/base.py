"""Compatibility alias: the `Verifier` base live in `rewardgate.contract.verifier`.

Existing imports of `rewardgate.verifiers.base` (built-ins, plugins) keep working and
get the very same objects; new code imports from the contract.
"""

from rewardgate.contract.verifier import *  # noqa: F403
from rewardgate.contract.verifier import __all__ as __all__
