"""VerlTool's tool-server protocol, `POST /get_observation`, served by tool sessions.

VerlTool (github.com/TIGER-AI-Lab/verl-tool, MIT) sends `{trajectory_ids, actions,
extra_fields?, finish?, is_last_step?}` and reads `{observations, dones, valids}`, one
entry per trajectory. As its server (`verl_tool/servers/tool_server.py`) does, each
action goes to the first tool that parses it: `finish` when the request's `finish` (or
the extra field) says so, else `python_code` (`<python>...</python>`, a ```python or
```py block), else `bash_terminal` (`<bash>...</bash>`, ```bash / sh / shell /
terminal). Each (API key, trajectory id, kernel) gets its own tool session, made on
the trajectory's first action and ended on `finish`: the state stays across turns, as
VerlTool's ipython tool and its persistent bash session keep it. An action no tool
parses is answered as VerlTool does (`valid` false, the reason in the observation).
Observations are formatted by VerlTool's rules (`postprocess_observation` of its
python tool; its bash tool's tags), so a VerlTool rollout sees the same text.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from rewardgate.contract.errors import InvalidRequest, NotFound, RewardgateError
from rewardgate.service.routes.fields import Utf8
from rewardgate.service.routes.sessions import manager_of, owner_from_request
from rewardgate.service.sessions import SessionManager
from rewardgate.service.sessions_forward import FORWARDED, forward_json, trajectory_owner

__all__ = ["router"]

router = APIRouter()
MAX_OBS_LENGTH = 100000  # VerlTool's python tool's cut
USAGE = "python_code: <python>...</python> or ```python blocks; bash_terminal: ```bash blocks"
# VerlTool's patterns, `OPENING(.*?)CLOSING` with re.DOTALL, as (opening, closing) pairs:
# `re.findall` on them is quadratic on many unclosed openings (a model's turn can hold
# thousands), so `parse` reads the same blocks in one pass.
_PYTHON = ((r"<python>", "</python>"), (r"```\n?python", "```"), (r"```\n?py", "```"))
_BASH = ((r"<bash>", "</bash>"), (r"```\s*(?:bash|sh|shell)", "```"), (r"```\s*terminal", "```"))


class ActionRequest(BaseModel):
    """VerlTool's `ActionRequest` (other top-level lists become extra fields)."""

    model_config = ConfigDict(extra="allow")
    trajectory_ids: list[Utf8] = Field(..., min_length=1)
    actions: list[Utf8] = Field(..., min_length=1)
    extra_fields: list[dict[str, Any]] | None = None
    finish: list[bool] | None = None
    is_last_step: list[bool] | None = None


def parse(action: str, patterns: tuple[tuple[str, str], ...]) -> str | None:
    """The code of every block of the first pattern that matches, joined; None if none."""
    for opening, closing in patterns:
        blocks = blocks_between(action, re.compile(opening), closing)
        if blocks:
            return "\n".join(block.strip() for block in blocks)
    return None


def blocks_between(text: str, opening: re.Pattern[str], closing: str) -> list[str]:
    """What `re.findall(opening + "(.*?)" + closing, text, re.DOTALL)` finds, in one pass:
    the leftmost opening, the first closing after it, and on from there; once an opening
    has no closing after it, no later one has."""
    found = []
    pos = 0
    while (start := opening.search(text, pos)) is not None:
        end = text.find(closing, start.end())
        if end < 0:
            break
        found.append(text[start.end() : end])
        pos = end + len(closing)
    return found


def python_observation(action: str, text: str, tag: str = "result") -> str:
    """VerlTool's python tool's `postprocess_observation` for a string."""
    if any(p in action for p in ("```output", "```python")):
        if action.count("```") % 2 == 0:
            return f"\n```{tag}\n{text}\n```\n"
        return f"\n{text}\n```\n"
    if "</tool_call>" in action:
        return f"\n<tool_response>\n```{tag}\n{text}\n```\n</tool_response>\n"
    tagged = any(p in action for p in (f"<{tag}>", f"</{tag}>", "</python>"))
    if tagged and action.strip(" \n").endswith(f"<{tag}>"):
        return f"\n{text}\n</{tag}>\n"
    return f"\n<{tag}>\n{text}\n</{tag}>\n"


def bash_observation(action: str, text: str) -> str:
    """VerlTool's bash tool's formatting of an observation."""
    if action.endswith("```output"):
        return "\n" + text + "\n```\n"
    if action.endswith("</tool_call>"):
        return "\n```output\n" + text + "\n```\n"
    if action.endswith("<o>"):
        return "\n" + text + "\n</o>\n"
    if "</bash>" in action:
        return "\n<o>\n" + text + "\n</o>\n"
    if "<|calling system for feedback|>" in action:
        if "```bash" in action or "```sh" in action:
            return "\n```output\n" + text + "\n```\n"
        return "\n<o>\n" + text + "\n</o>\n" if "<bash>" in action else "\n" + text + "\n"
    if action.strip(" \n").endswith("```") or "```bash" in action or "```sh" in action:
        if action.count("```") % 2 == 0:
            return "\n```output\n" + text + "\n```\n"
        return "output\n" + text + "\n```\n"
    return "\n" + text + "\n"


class Trajectories:
    """(owner, trajectory id, kernel) -> session id, for one app."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.sessions: dict[tuple[str | None, str, str], str] = {}
        self.lock = threading.Lock()

    def run(self, owner: str | None, trajectory: str, kernel: str, code: str) -> dict[str, Any]:
        key = (owner, trajectory, kernel)
        with self.lock:
            session_id = self.sessions.get(key)
        if session_id is not None:
            try:
                return self.manager.run(session_id, code, owner=owner)
            except NotFound:
                pass  # expired (idle, lifetime): a fresh one, as VerlTool starts one
        session = self.manager.create(kernel, owner=owner)
        with self.lock:
            self.sessions[key] = session.id
            if len(self.sessions) > 2 * max(self.manager.max_live, 1):
                self._forget_ended()
        return self.manager.run(session.id, code, owner=owner)

    def _forget_ended(self) -> None:
        """Drop trajectories whose sessions expired (never finished, never back)."""
        for key, session_id in list(self.sessions.items()):
            if not self.manager.is_live(session_id):
                del self.sessions[key]

    def finish(self, owner: str | None, trajectory: str) -> None:
        with self.lock:
            keys = [k for k in self.sessions if k[:2] == (owner, trajectory)]
            ids = [self.sessions.pop(k) for k in keys]
        for session_id in ids:
            with contextlib.suppress(NotFound):
                self.manager.delete(session_id, owner)


def observe(
    trajectories: Trajectories,
    owner: str | None,
    trajectory: str,
    action: str,
    extra: dict[str, Any],
) -> tuple[Any, bool, bool]:
    """One action's (observation, done, valid), as VerlTool's tools answer."""
    if extra.get("finish", False):
        trajectories.finish(owner, trajectory)
        return "", True, True
    code = parse(action, _PYTHON)
    if code is not None:
        answer = trajectories.run(owner, trajectory, "python", code)
        text = (answer.get("stdout", "") + "\n" + answer.get("stderr", "")).strip(" \n")
        if answer.get("value") is not None:
            text = (text + "\n" + answer["value"]).strip(" \n")
        return python_observation(action, text[:MAX_OBS_LENGTH]), False, True
    code = parse(action, _BASH)
    if code is not None:
        answer = trajectories.run(owner, trajectory, "bash", code)
        text = (answer.get("stdout", "") + answer.get("stderr", "")).strip(" \n")
        return bash_observation(action, text[:MAX_OBS_LENGTH]), False, True
    invalid = {"obs": "", "invalid_reason": "No valid tool found for action"}
    return {**invalid, "available_tools": USAGE}, False, False


def _extra_fields(body: ActionRequest) -> list[dict[str, Any]]:
    """VerlTool's `_prepare_extra_fields`: every other top-level list joins the extras."""
    extras = [dict(e) for e in body.extra_fields] if body.extra_fields else []
    extras = extras or [{} for _ in body.trajectory_ids]
    others = {"finish": body.finish, "is_last_step": body.is_last_step, **(body.model_extra or {})}
    for key, values in others.items():
        if values is not None and key not in extras[0] and isinstance(values, list):
            for extra, value in zip(extras, values, strict=False):
                extra[key] = value
    return extras


def _failed(reason: str) -> tuple[Any, bool, bool]:
    """VerlTool's answer for an action its tool could not process."""
    return {"obs": "", "error": f"Tool processing failed: {reason}"}, True, False


def observe_safely(
    trajectories: Trajectories,
    owner: str | None,
    trajectory: str,
    action: str,
    extra: dict[str, Any],
) -> tuple[Any, bool, bool]:
    """`observe`, a failure (no room for a session, a broken sandbox) answered for this
    action alone, as VerlTool's server answers a tool that raised."""
    try:
        return observe(trajectories, owner, trajectory, action, extra)
    except RewardgateError as exc:
        return _failed(str(exc))


async def _on_peer(
    url: str,
    indices: list[int],
    body: ActionRequest,
    extras: list[dict[str, Any]],
    request: Request,
) -> list[tuple[Any, bool, bool]]:
    """The answers of the peer that owns these trajectories, in their order."""
    sub = {
        "trajectory_ids": [body.trajectory_ids[i] for i in indices],
        "actions": [body.actions[i] for i in indices],
        "extra_fields": [extras[i] for i in indices],
    }
    timeout_s = request.app.state.settings.session_call_timeout_s + 60
    answer = await forward_json(
        url, "/get_observation", request.headers, json.dumps(sub).encode(), timeout_s
    )
    if isinstance(answer, str):
        return [_failed(f"the replica owning the trajectory: {answer}")] * len(indices)
    return list(zip(answer["observations"], answer["dones"], answer["valids"], strict=True))


@router.post("/get_observation")
async def get_observation(body: ActionRequest, request: Request) -> dict[str, Any]:
    if len(body.actions) != len(body.trajectory_ids):
        raise InvalidRequest("Length of actions must match trajectory_ids")
    if body.extra_fields is not None and len(body.extra_fields) != len(body.trajectory_ids):
        raise InvalidRequest("Length of extra_fields must match trajectory_ids")
    state = request.app.state
    settings = state.settings
    manager = manager_of(request)
    if getattr(state, "trajectories", None) is None:
        state.trajectories = Trajectories(manager)
    trajectories: Trajectories = state.trajectories
    owner = owner_from_request(request)
    extras = _extra_fields(body)
    by_peer: dict[str, list[int]] = {}
    if settings.session_replica and settings.session_peers and not request.headers.get(FORWARDED):
        for i, trajectory in enumerate(body.trajectory_ids):
            name = trajectory_owner(settings, trajectory)
            if name != settings.session_replica and name in settings.session_peers:
                by_peer.setdefault(settings.session_peers[name], []).append(i)
    remote = {i for indices in by_peer.values() for i in indices}
    results: list[tuple[Any, bool, bool]] = [("", False, False)] * len(body.actions)

    async def one(i: int) -> None:
        results[i] = await anyio.to_thread.run_sync(
            observe_safely, trajectories, owner, body.trajectory_ids[i], body.actions[i], extras[i]
        )

    async def peer(url: str, indices: list[int]) -> None:
        for i, result in zip(
            indices, await _on_peer(url, indices, body, extras, request), strict=True
        ):
            results[i] = result

    async with anyio.create_task_group() as group:
        for i in range(len(body.actions)):
            if i not in remote:
                group.start_soon(one, i)
        for url, indices in by_peer.items():
            group.start_soon(peer, url, indices)
    return {
        "observations": [r[0] for r in results],
        "dones": [r[1] for r in results],
        "valids": [r[2] for r in results],
    }
