"""Reward items that name a live tool session: scored on the session's files as they are now.

SWE-style episodes end with "run the tests where the agent worked". The tests do not
run inside the session: the agent's leftovers there (a patched `pytest`, a
`sitecustomize.py`, a daemon rewriting results) would judge themselves. The gateway
reads a snapshot of the session's files through its kernel and the item is judged like
any other, in a fresh sandbox by the verifier's own trusted runner under the nonce rule:

- `code`: the program is the session file `session.file` (default `solution.py`);
  nothing else of the session enters the test's sandbox.
- `patch` (execution mode only): the reference's snapshot (`files` or `repo`) is the
  base, and the session's changes to it become the response as a unified diff, so the
  patch verifier's rules hold: tests and `conftest.py` are protected paths, links and
  paths out of the tree are refused. Caches (`__pycache__`, `.pytest_cache`, ...) and
  files that are not UTF-8 text are left out and named in the evidence. A session that
  changed nothing runs the tests on the base as it is.

The session is resolved here, in the gateway that owns it, before the item reaches a
worker (workers are other processes; sessions live in this one). Reading is bounded
(`session_snapshot.py`) and leaves the session usable. A session of
another replica is scored there (`sessions_forward.py`); an unknown, expired or
another key's session is `invalid`. The engine never caches nor deduplicates such an
item, and refuses one whose session was not read (`SessionRef.snapshot` unset). Each
verdict's `details.session` says which session and which snapshot (a digest of the
files read) it judged.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from pydantic import ValidationError
from starlette.requests import Request

from rewardgate.contract.errors import InvalidRequest, NotFound, RewardgateError, VerifierTimeout
from rewardgate.service.session_snapshot import (
    Snapshot,
    read_snapshot,
    session_diff,
    text_of,
    unchanged_diff,
)
from rewardgate.service.sessions import SessionManager
from rewardgate.service.sessions_forward import forward_json, peer_for
from rewardgate.verifiers.base import describe_validation_error
from rewardgate.verifiers.models import RewardRequest, RewardResult

__all__ = ["SessionItems", "resolve_session_items"]

DEFAULT_FILE = "solution.py"


def _ended(exc: NotFound, session_id: str) -> RewardgateError:
    """A session that ended while it was read: its own call timeout, or it died."""
    if "timeout" in exc.message:
        return VerifierTimeout(f"session {session_id}: reading its files ran past its limit")
    return InvalidRequest(f"session {session_id}: {exc.message}")


@dataclass
class SessionItems:
    """A batch split in three: items for the engine (sessions read and filled in),
    items answered here (refused, or scored by the replica owning their session), and
    the evidence to add to each session item's result."""

    items: list[Any]
    positions: list[int]
    answered: dict[int, RewardResult]
    evidence: dict[int, dict[str, Any]]
    size: int

    def _with_evidence(self, index: int, result: RewardResult) -> RewardResult:
        evidence = self.evidence.get(index)
        if evidence is None:
            return result
        return result.model_copy(update={"details": {**result.details, "session": evidence}})

    def merge(self, results: Sequence[RewardResult]) -> list[RewardResult]:
        """The batch's results in request order, from the engine's results."""
        merged: list[RewardResult | None] = [None] * self.size
        for index, result in self.answered.items():
            merged[index] = result
        for index, result in zip(self.positions, results, strict=True):
            merged[index] = self._with_evidence(index, result)
        return [r for r in merged if r is not None]

    async def stream(
        self, results: AsyncIterator[tuple[int, RewardResult]]
    ) -> AsyncIterator[tuple[int, RewardResult]]:
        """The engine's streamed results under their request indices, the answered first."""
        for index, result in self.answered.items():
            yield index, result
        async for position, result in results:
            index = self.positions[position]
            yield index, self._with_evidence(index, result)


def _refused(item: dict[str, Any], exc: RewardgateError, registry: Any) -> RewardResult:
    """An item answered here with no verdict: its fallback, else its verifier's lowest."""
    name = item.get("verifier") if isinstance(item.get("verifier"), str) else None
    fallback = item.get("fallback_reward")
    verifier = registry.get(name) if name is not None and name in registry else None
    if not isinstance(fallback, (int, float)) or isinstance(fallback, bool):
        fallback = verifier.lowest_reward if verifier is not None else 0.0
    return RewardResult(
        id=item.get("id") if isinstance(item.get("id"), str) else None,
        verifier=name or "",
        version=verifier.version if verifier is not None else None,
        reward=float(fallback),
        status=exc.status,
        error=exc.message,
    )


def _session_id(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    ref = item.get("session")
    if isinstance(ref, str):
        return ref
    if isinstance(ref, dict) and isinstance(ref.get("id"), str):
        return str(ref["id"])
    return None


def _resolve(
    item: dict[str, Any], manager: SessionManager | None, owner: str | None, registry: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item with its session read into it, and the evidence; raises why not.

    Blocking (the session's kernel answers over a pipe): runs on a thread.
    """
    try:
        request = RewardRequest.model_validate(item)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_error("item", exc)) from None
    assert request.session is not None
    session_id = request.session.id
    ref = request.session.model_dump(exclude_none=True)
    if ref.get("snapshot") is not None:
        raise InvalidRequest("session.snapshot is set by the server; leave it out")
    if request.response:
        raise InvalidRequest("with session, the response is read from the session: leave it out")
    if manager is None:
        raise InvalidRequest(f"no live session {session_id} (unknown, expired or another key's)")
    try:
        manager.get(session_id, owner)
    except NotFound:
        raise InvalidRequest(
            f"no live session {session_id} (unknown, expired or another key's)"
        ) from None
    verifier = item.get("verifier")
    if verifier == "code":
        return _resolve_code(item, ref, manager, session_id, owner)
    if verifier == "patch":
        return _resolve_patch(item, ref, manager, session_id, owner, registry)
    raise InvalidRequest(f"verifier {verifier!r} cannot score a session (code and patch can)")


def _read(
    manager: SessionManager, session_id: str, owner: str | None, only: str | None = None
) -> Snapshot:
    try:
        return read_snapshot(manager, session_id, owner, only)
    except NotFound as exc:
        raise _ended(exc, session_id) from None


def _resolve_code(
    item: dict[str, Any], ref: dict[str, Any], manager: SessionManager, sid: str, owner: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    name = str(ref.get("file") or DEFAULT_FILE)
    norm = posixpath.normpath(name)
    if norm.startswith(("/", "..")) or "\0" in name:
        raise InvalidRequest(f"session.file must be a relative path in the session: {name!r}")
    snapshot = _read(manager, sid, owner, norm)
    if norm not in snapshot.files:
        raise InvalidRequest(
            f"session {sid}: no file {name!r} to score ({snapshot.skipped.get(norm, 'absent')})"
        )
    program = text_of(snapshot.files[norm])
    if program is None:
        raise InvalidRequest(f"session {sid}: {name!r} is not UTF-8 text")
    digest = snapshot.digest
    evidence = {"id": sid, "snapshot": digest, "file": norm, "bytes": len(snapshot.files[norm])}
    resolved = {**item, "response": program, "session": {**ref, "snapshot": digest}}
    return resolved, evidence


def _resolve_patch(
    item: dict[str, Any],
    ref: dict[str, Any],
    manager: SessionManager,
    sid: str,
    owner: str | None,
    registry: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    from rewardgate.verifiers.patch.snapshot import load_snapshot

    if ref.get("file") is not None:
        raise InvalidRequest("session.file: the patch verifier scores the whole session")
    given = item.get("options")
    options: dict[str, Any] = given if isinstance(given, dict) else {}
    if options.get("mode") != "execution":
        raise InvalidRequest('a session is scored by running its tests: options.mode "execution"')
    # The diff below is this module's: the verifier reads it as a plain unified diff.
    options = {**options, "response_format": "plain", "edit_format": "unified_diff"}
    verifier = registry.get("patch")
    prepared = verifier.prepare(item.get("reference"), options)
    reference = prepared.reference
    base = load_snapshot(reference.files, reference.repo, verifier.env.asset_dir)
    snapshot = _read(manager, sid, owner)
    untouched = set(base.untouchable) | set(base.blobs)
    diff, changed = session_diff(base.files, snapshot, untouched)
    if not diff:
        diff = unchanged_diff(base.files, prepared.options)
    digest = snapshot.digest
    evidence = {
        "id": sid,
        "snapshot": digest,
        "files": len(snapshot.files),
        "changed": changed[:50],
        "skipped": dict(sorted(snapshot.skipped.items())[:50]),
    }
    resolved = {
        **item,
        "response": diff,
        "options": options,
        "session": {**ref, "snapshot": digest},
    }
    return resolved, evidence


async def _forwarded(
    url: str, indexed: list[tuple[int, Any]], request: Request, timeout_s: float
) -> dict[int, RewardResult]:
    """The owning replica's results for these items (an `error` each when it fails)."""
    body = orjson.dumps({"items": [item for _, item in indexed]})
    answer = await forward_json(url, "/v1/rewards", request.headers, body, timeout_s)
    if isinstance(answer, dict) and len(answer.get("results", [])) == len(indexed):
        return {
            index: RewardResult.model_validate(result)
            for (index, _), result in zip(indexed, answer["results"], strict=True)
        }
    why = answer if isinstance(answer, str) else "an answer of another shape"
    exc = RewardgateError(f"the replica owning this session did not score it: {why}")
    registry = request.app.state.engine.registry
    return {index: _refused(item, exc, registry) for index, item in indexed}


async def resolve_session_items(items: list[Any], request: Request) -> SessionItems | None:
    """The batch with its session items read (None: no item names a session)."""
    named = [i for i, item in enumerate(items) if _session_id(item) is not None]
    if not named:
        return None
    from rewardgate.service.routes.sessions import owner_from_request

    state = request.app.state
    settings, registry = state.settings, state.engine.registry
    manager: SessionManager | None = getattr(state, "sessions", None)
    owner = owner_from_request(request)
    answered: dict[int, RewardResult] = {}
    evidence: dict[int, dict[str, Any]] = {}
    resolved = dict(enumerate(items))
    by_peer: dict[str, list[tuple[int, Any]]] = {}
    for index in named:
        url = peer_for(settings, str(_session_id(items[index])), request.headers)
        if url is not None:
            by_peer.setdefault(url, []).append((index, items[index]))

    async def one(index: int) -> None:
        item = items[index]
        try:
            resolved[index], evidence[index] = await anyio.to_thread.run_sync(
                lambda: _resolve(item, manager, owner, registry)
            )
        except RewardgateError as exc:
            answered[index] = _refused(item, exc, registry)
        except Exception as exc:  # a bug here fails its item, not the batch
            error = RewardgateError(f"reading the session failed: {type(exc).__name__}: {exc}")
            answered[index] = _refused(item, error, registry)

    timeout_s = settings.max_timeout_s + settings.session_call_timeout_s + 30
    forwarded = [index for batch in by_peer.values() for index, _ in batch]
    peers = [_forwarded(url, batch, request, timeout_s) for url, batch in by_peer.items()]
    local = [one(index) for index in named if index not in forwarded]
    outcomes = await asyncio.gather(*peers, *local)
    for outcome in outcomes[: len(peers)]:
        answered.update(outcome or {})
    positions = [i for i in range(len(items)) if i not in answered]
    return SessionItems([resolved[i] for i in positions], positions, answered, evidence, len(items))
