"""SandboxFusion's routes that rewardgate does not serve: a clear 501, never a bare 404.

SandboxFusion's server also has dataset and judging routes (`submit`, `get_prompts`,
`get_prompt_by_id`, `list_datasets`, `list_ids`, `get_metrics`,
`get_metrics_function`) and `/v1/ping`. A client pointed here from SandboxFusion that
calls one gets the error envelope saying so, with the route that is served instead
(`/run_code`, or `/v1/rewards` for judging): SandboxFusion's own client puts the body
in its exception, and `submit_safe`, which turns any failure into `accepted=False`,
logs it. `/run_jupyter` is served (by a tool session: `service/routes/sessions.py`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from rewardgate.service.errors import error_response

__all__ = ["UNSUPPORTED", "router"]

# route -> what to use instead
UNSUPPORTED: dict[str, str] = {
    "/submit": "score with POST /v1/rewards (the code verifier) or run with POST /run_code",
    "/get_prompts": "rewardgate holds no datasets; build prompts from your own data",
    "/get_prompt_by_id": "rewardgate holds no datasets; build prompts from your own data",
    "/list_datasets": "rewardgate holds no datasets; GET /v1/verifiers lists what it judges",
    "/list_ids": "rewardgate holds no datasets",
    "/get_metrics": "score with POST /v1/rewards and aggregate the rewards yourself",
    "/get_metrics_function": "score with POST /v1/rewards and aggregate the rewards yourself",
    "/v1/ping": "GET /healthz (alive) and GET /readyz (ready) are rewardgate's probes",
}

router = APIRouter()


async def _unsupported(request: Request) -> Response:
    path = request.url.path
    return error_response(
        501,
        "not_supported",
        f"{path} is SandboxFusion's and not supported by rewardgate: {UNSUPPORTED[path]}",
    )


for _path in UNSUPPORTED:
    router.add_api_route(_path, _unsupported, methods=["GET", "POST"], include_in_schema=False)
