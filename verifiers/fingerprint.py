"""Compatibility alias: the verdict fingerprints live in `rewardgate.contract.fingerprint`.

Existing imports of `rewardgate.verifiers.fingerprint` (built-ins, plugins) keep working and
get the very same objects; new code imports from the contract.
"""

from rewardgate.contract.fingerprint import *  # noqa: F403
from rewardgate.contract.fingerprint import __all__ as __all__
from rewardgate.contract.fingerprint import _package_version as _package_version
from rewardgate.contract.fingerprint import command_version as command_version
