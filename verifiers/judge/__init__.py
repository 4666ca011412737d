"""The `judge` verifier: an LLM as judge through an OpenAI-compatible endpoint.

Endpoints are named in the server's config (`judge_endpoints`); requests name one and
never give a URL.
"""

from rewardgate.verifiers.judge.endpoint import JudgeEndpoint

__all__ = ["JudgeEndpoint"]
