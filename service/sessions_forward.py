"""Session calls behind a load balancer: forwarded to the replica that owns the session.

A session lives in one replica's process. With `session_replica` (this replica's name)
and `session_peers` (every replica's name -> base URL, the same on each) set, a session
id starts with its replica's name (`NAME~TOKEN`), and a replica that gets a call for
another peer's session forwards it there, with the caller's credentials, once (the
`x-rewardgate-forwarded` header stops a second hop). Only listed peers are ever called:
an id naming anything else is just an unknown session (404), so a caller cannot make a
replica call a URL of its choosing. VerlTool's `/get_observation` names trajectories,
not sessions: each trajectory belongs to the peer that rendezvous hashing picks for it,
the same on every replica, so a batch is split by owner and the answers put back in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import httpx
from starlette.responses import Response

from rewardgate.service.errors import error_response

__all__ = ["FORWARDED", "SEPARATOR", "forward", "forward_json", "peer_for", "trajectory_owner"]

FORWARDED = "x-rewardgate-forwarded"
SEPARATOR = "~"
_PASSED = ("authorization", "content-type", "x-request-id")


def peer_for(settings: Any, session_id: str, headers: Mapping[str, str]) -> str | None:
    """The base URL of the peer owning `session_id`; None: this replica answers."""
    if not settings.session_replica or headers.get(FORWARDED):
        return None
    name, sep, _ = session_id.partition(SEPARATOR)
    if not sep or name == settings.session_replica:
        return None
    url: str | None = settings.session_peers.get(name)
    return url


def trajectory_owner(settings: Any, trajectory_id: str) -> str:
    """The peer name owning a VerlTool trajectory (rendezvous hashing: every replica
    computes the same, and a peer added moves only the trajectories it wins)."""
    names = sorted(settings.session_peers) or [settings.session_replica]
    return max(names, key=lambda n: hashlib.sha256(f"{n}\0{trajectory_id}".encode()).digest())


async def _send(
    base_url: str, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout_s: float
) -> httpx.Response | str:
    """The peer's answer, or why there is none."""
    sent = {k: headers[k] for k in _PASSED if k in headers}
    sent[FORWARDED] = "1"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            return await client.request(method, base_url + path, content=body, headers=sent)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"


async def forward(
    base_url: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout_s: float,
) -> Response:
    """The peer's answer to the same call, passed through as it came."""
    answer = await _send(base_url, method, path, headers, body, timeout_s)
    if isinstance(answer, str):
        return error_response(
            502, "peer_unreachable", f"the replica owning this session did not answer: {answer}"
        )
    media = answer.headers.get("content-type")
    return Response(answer.content, status_code=answer.status_code, media_type=media)


async def forward_json(
    base_url: str, path: str, headers: Mapping[str, str], body: bytes, timeout_s: float
) -> dict[str, Any] | str:
    """A forwarded POST's JSON answer, or why the peer gave none."""
    json_headers = {**headers, "content-type": "application/json"}
    answer = await _send(base_url, "POST", path, json_headers, body, timeout_s)
    if isinstance(answer, str):
        return answer
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {answer.text[:200]}"
    parsed: dict[str, Any] = answer.json()
    return parsed
