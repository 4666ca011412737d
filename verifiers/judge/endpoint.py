"""The server-side description of an OpenAI-compatible endpoint `judge` may call.

Endpoints are declared in the server's config and named by requests; a request never
carries a URL, so it cannot point the server at an address of its choosing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JudgeEndpoint"]


class JudgeEndpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(
        pattern=r"^https?://",
        description="Base URL of the OpenAI-compatible API, e.g. http://vllm:8000/v1.",
    )
    model: str = Field(min_length=1, description="Model name sent with each request.")
    api_key_env: str | None = Field(
        default=None, description="Environment variable of the server holding the API key."
    )
    api_key: str | None = Field(
        default=None,
        description="Filled by the server from `api_key_env`; never set it in a config file.",
        repr=False,
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds one call may take.")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries after a transport error, 429 or 5xx."
    )
    max_tokens: int = Field(default=1024, ge=1, description="Completion tokens asked for.")
