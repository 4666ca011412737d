"""rewardgate: verifiable rewards for RL training.

The components install as subpackages: `rewardgate.contract` (wire models, error
tree, `Verifier` base, registry: the layer everything else builds on),
`rewardgate.verifiers` (domain checkers), `rewardgate.sandbox`, `rewardgate.service`
(HTTP API, engine, CLI) and `rewardgate.clients`; docs/architecture.md says which may
import which. This top level re-exports only the wire contract and the error tree, so
`import rewardgate` stays as light as the client.
"""

from rewardgate.contract.errors import RewardgateError
from rewardgate.contract.models import RewardRequest, RewardResult, StepReward

__version__ = "0.1.0"

__all__ = ["RewardRequest", "RewardResult", "RewardgateError", "StepReward", "__version__"]
