"""The wire contract between trainers and verifiers (docs/architecture.md, "Layers").

These models are all the light client imports, so this module must stay free of any
server-side dependency: it needs pydantic and nothing else.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["ok", "invalid", "error", "timeout"]
_M = TypeVar("_M", bound=BaseModel)

__all__ = ["RewardRequest", "RewardResult", "SessionRef", "Status", "StepReward"]


class SessionRef(BaseModel):
    """A live tool session whose files an item is scored on (a bare id is accepted).

    The gateway holding the session reads its files when the item arrives and fills
    `snapshot` (a digest of what it read); an item whose session was never read (scored
    where no session lives) is `invalid`, never judged on an empty response.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    file: str | None = Field(
        default=None, description="code: the session file holding the program (solution.py)."
    )
    snapshot: str | None = Field(default=None, description="Set by the server; leave it out.")


class RewardRequest(BaseModel):
    """One model output to score.

    `reference` and `options` are domain-specific and are validated by the named
    verifier's own models, not here, so a malformed reference becomes a per-item
    `invalid` result instead of failing the whole batch.
    """

    model_config = ConfigDict(extra="forbid")

    verifier: str
    response: str
    reference: Any = None
    options: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    fallback_reward: float | None = None
    # Score this live session's files now (never cached): service/session_rewards.py.
    session: SessionRef | None = None

    @model_validator(mode="before")
    @classmethod
    def _session_shorthand(cls, data: Any) -> Any:
        """`"session": "<id>"` for `{"id": ...}`; a session item's response is read from
        the session, so it may be left out."""
        if isinstance(data, dict) and data.get("session") is not None:
            data = dict(data)
            if isinstance(data["session"], str):
                data["session"] = {"id": data["session"]}
            data.setdefault("response", "")
        return data


class StepReward(BaseModel):
    """A reward for one step of a solution or one test of a program, in order."""

    index: int
    reward: float
    label: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def trusted(
        cls, index: int, reward: float, label: str | None, details: dict[str, Any]
    ) -> StepReward:
        """The step of these four values, not validated: for values that already have
        the fields' types (an int, a float, a string or None, a dict with string keys).

        The engine rebuilds a worker's steps from their tuples with it (the values were
        validated when the worker made them: validating them again was a fifth of the
        gateway loop's time on a SQL item), and a verifier whose steps it builds from
        typed values may use it (`verifiers/sql/judge.py`). Every field is marked set.
        """
        values = {"index": index, "reward": reward, "label": label, "details": details}
        return _filled(cls, values, set(values))


class RewardResult(BaseModel):
    """The verdict on one item.

    `reward` is meaningful only when `status == "ok"`; otherwise it is the request's
    `fallback_reward` (by default the verifier's lowest reward) so that breaking the
    checker never pays better than a wrong answer.
    """

    id: str | None = None
    verifier: str
    version: str | None = None
    # The verdict fingerprint (version, source digest, judging tools' versions) of the
    # judge that gave an `ok` verdict; see rewardgate.contract.fingerprint.
    fingerprint: str | None = None
    reward: float
    status: Status
    steps: list[StepReward] | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def of_verdict(
        cls,
        item_id: str | None,
        verifier: str,
        version: str | None,
        fingerprint: str | None,
        reward: float,
        steps: list[StepReward] | None,
        details: dict[str, Any],
    ) -> RewardResult:
        """The `ok` result of a verdict: the same object validation would build.

        Validating the eleven fields was a tenth of a cheap item's cost in the gateway.
        When every value already has the exact type validation would give it (a float
        reward, no steps or a list of `StepReward` instances, which validation keeps as
        they are, a dict with string keys, strings), nothing is left for it to convert
        or refuse, so the model is filled directly (`model_fields_set` as if validated,
        `tests/test_result_of_verdict.py` pins the equality); any other value (an int
        reward, steps given as dicts, a key that is not a string) is validated.
        """
        if (
            type(reward) is float
            and (steps is None or (type(steps) is list and _exact_steps(steps)))
            and type(details) is dict
            and (item_id is None or type(item_id) is str)
            and type(verifier) is str
            and (version is None or type(version) is str)
            and (fingerprint is None or type(fingerprint) is str)
            and (not details or set(map(type, details)) == _STR)
        ):
            return _filled(
                cls,
                {
                    "id": item_id,
                    "verifier": verifier,
                    "version": version,
                    "fingerprint": fingerprint,
                    "reward": reward,
                    "status": "ok",
                    "steps": None if steps is None else list(steps),
                    "details": details,
                    "error": None,
                    "elapsed_ms": 0.0,
                    "cached": False,
                },
                _VERDICT_FIELDS.copy(),
            )
        return cls(
            id=item_id,
            verifier=verifier,
            version=version,
            fingerprint=fingerprint,
            reward=reward,
            status="ok",
            steps=steps,
            details=details,
        )


_set = object.__setattr__


def _filled(cls: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    """An instance of `cls` holding `values` as validation would leave them (no extra,
    no private state), with `fields_set` as its `model_fields_set`."""
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


# The fields `of_verdict` sets, as validation records them (copied per result).
_VERDICT_FIELDS = {
    "id",
    "verifier",
    "version",
    "fingerprint",
    "reward",
    "status",
    "steps",
    "details",
}
_STR = {str}


def _exact_steps(steps: list[Any]) -> bool:
    """Every item a `StepReward` itself (validation keeps such instances as they are)."""
    return all(type(step) is StepReward for step in steps)
