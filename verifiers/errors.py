"""Compatibility alias: the error tree live in `rewardgate.contract.errors`.

Existing imports of `rewardgate.verifiers.errors` (built-ins, plugins) keep working and
get the very same objects; new code imports from the contract.
"""

from rewardgate.contract.errors import *  # noqa: F403
from rewardgate.contract.errors import __all__ as __all__
