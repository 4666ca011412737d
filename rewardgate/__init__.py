"""rewardgate: verifiable rewards for RL training.

The components install as subpackages: `rewardgate.verifiers` (contract and domain
checkers), `rewardgate.sandbox`, `rewardgate.service` (HTTP API, engine, CLI) and
`rewardgate.clients`. This top level re-exports only the wire contract and the error
tree, so `import rewardgate` stays as light as the client.
"""

from rewardgate.verifiers.errors import RewardgateError
from rewardgate.verifiers.models import RewardRequest, RewardResult, StepReward

__version__ = "0.1.0"

__all__ = ["RewardRequest", "RewardResult", "RewardgateError", "StepReward", "__version__"]
