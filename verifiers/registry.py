"""Compatibility alias: the registry live in `rewardgate.contract.registry`.

Existing imports of `rewardgate.verifiers.registry` (built-ins, plugins) keep working and
get the very same objects; new code imports from the contract.
"""

from rewardgate.contract.registry import *  # noqa: F403
from rewardgate.contract.registry import __all__ as __all__
