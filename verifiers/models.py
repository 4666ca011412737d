"""Compatibility alias: the wire models live in `rewardgate.contract.models`.

Existing imports of `rewardgate.verifiers.models` (built-ins, plugins) keep working and
get the very same objects; new code imports from the contract.
"""

from rewardgate.contract.models import *  # noqa: F403
from rewardgate.contract.models import __all__ as __all__
