"""The one small interface every verifier implements, built-in or plugin.

A verifier separates *preparing* a request (validating its reference and options,
cheap, done in the gateway so a malformed item never costs a worker) from *judging*
it (the expensive part, done in a worker process under a hard deadline). `verify()`
runs both in the calling process for embedding programs and tests; the engine calls
`prepare()` and `judge()` separately.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardgate.verifiers.errors import InvalidRequest
from rewardgate.verifiers.models import RewardRequest, RewardResult, StepReward

if TYPE_CHECKING:
    from rewardgate.verifiers.registry import Registry

__all__ = [
    "NoReference",
    "Prepared",
    "Verdict",
    "Verifier",
    "VerifierEnv",
    "VerifierOptions",
    "describe_validation_error",
]


class VerifierOptions(BaseModel):
    """Base of every verifier's options: frozen, unknown keys rejected.

    `timeout_s` is the item's budget; a verifier whose budget follows from other
    options (per-test time limits, say) overrides `Verifier.budget_s`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float | None = Field(
        default=None, gt=0, description="Hard budget for this item; server default if unset."
    )


class NoReference(BaseModel):
    """Reference model of verifiers that need none; any given reference is ignored."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _ignore(cls, data: Any) -> Any:
        # Any reference at all: a shaping child of `compose` gets the parent's (a string).
        return {}


@dataclass(frozen=True)
class VerifierEnv:
    """What the host (server, LocalClient, a test) tells verifiers about this machine.

    Verifiers must not read settings or environment variables themselves: the same
    verifier runs under different servers in one test session. `registry` is the
    registry that built the verifier (set by `Registry`), so a verifier that combines
    others (`compose`) judges with exactly the verifiers its host registered.
    """

    asset_dir: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)
    registry: Registry | None = field(default=None, compare=False, repr=False)


@dataclass
class Verdict:
    """What `judge` returns: the verifier's ruling, without transport fields."""

    reward: float
    steps: list[StepReward] | None = None
    details: dict[str, Any] = field(default_factory=dict)


RefT = TypeVar("RefT", bound=BaseModel)
OptT = TypeVar("OptT", bound=VerifierOptions)


@dataclass(frozen=True)
class Prepared(Generic[RefT, OptT]):
    """A request whose reference and options passed the verifier's own validation."""

    reference: RefT
    options: OptT


def describe_validation_error(prefix: str, exc: ValidationError) -> str:
    """One line naming every failing field, e.g. `reference.answer: Field required`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class Verifier(ABC, Generic[RefT, OptT]):
    """A domain checker. Subclasses set the class attributes and implement `judge`.

    `judge` must return a `Verdict` for anything the model's output does (a wrong,
    unparsable or hostile answer is a verdict, usually reward 0) and raise a
    `RewardgateError` only when the checker itself cannot work.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    Reference: ClassVar[type[BaseModel]] = NoReference
    Options: ClassVar[type[VerifierOptions]] = VerifierOptions
    lowest_reward: ClassVar[float] = 0.0
    cacheable: ClassVar[bool] = True
    # What else a verdict depends on (see `fingerprint`): modules whose files it runs
    # besides its own package (the sandbox for code runs), the Python distributions
    # and Debian packages that judge.
    source_modules: ClassVar[tuple[str, ...]] = ()
    judging_packages: ClassVar[tuple[str, ...]] = ()
    judging_debian_packages: ClassVar[tuple[str, ...]] = ()

    def __init__(self, env: VerifierEnv | None = None) -> None:
        self.env = env or VerifierEnv()

    def prepare(self, reference: Any, options: dict[str, Any] | None) -> Prepared[RefT, OptT]:
        """Validate the request's domain parts; raises `InvalidRequest` naming the field."""
        try:
            # A missing reference validates as an empty one, so the error names the
            # fields it lacks (and verifiers that need none accept it).
            ref = self.Reference.model_validate({} if reference is None else reference)
        except ValidationError as exc:
            raise InvalidRequest(describe_validation_error("reference", exc)) from None
        try:
            opts = self.Options.model_validate(options or {})
        except ValidationError as exc:
            raise InvalidRequest(describe_validation_error("options", exc)) from None
        return Prepared(ref, opts)  # type: ignore[arg-type]

    def budget_s(self, reference: RefT, options: OptT, default_s: float) -> float:
        """Seconds this item may take before the engine kills it and reports `timeout`.

        A verifier whose work grows with the reference (one run per unit test) derives
        its budget from both, so a slow candidate is a verdict, not an engine timeout.
        """
        return options.timeout_s or default_s

    def lowest_reward_for(self, options: OptT) -> float:
        """The lowest reward a verdict under `options` can give: the default reward of a
        non-ok result, so breaking the checker never pays better than a wrong answer.

        Verifiers whose reward scale follows their options (a preset with negative
        stage weights) override it.
        """
        return self.lowest_reward

    def cacheable_for(self, reference: RefT, options: OptT) -> bool:
        """Whether this item's verdict may be cached; a sampling judge is not (see `judge`)."""
        return self.cacheable

    def fingerprints(self, reference: RefT) -> list[str]:
        """Fingerprints of the named files a verdict on `reference` reads (cache key part)."""
        return []

    def fingerprint_for(self, reference: RefT, options: OptT) -> str:
        """The verdict fingerprint of this item: the verifier's, for the backend it runs on.

        The cache keys on it and results carry it; see `rewardgate.verifiers.fingerprint`.
        Verifiers whose verdicts depend on the request's sandbox backend pass it on;
        a composite combines its children's.
        """
        return self.fingerprint(None)

    def default_backend(self) -> str | None:
        """The sandbox backend an item that names none runs on (None: no sandbox)."""
        return None

    def fingerprint(self, backend: str | None = None) -> str:
        """Version, source digest and judging tools' versions, memoised per backend."""
        cache: dict[str | None, str] = self.__dict__.setdefault("_fingerprints", {})
        if backend not in cache:
            from rewardgate.verifiers.fingerprint import digest

            cache[backend] = digest(self.fingerprint_parts(backend))
        return cache[backend]

    def fingerprint_parts(self, backend: str | None) -> dict[str, Any]:
        """What `fingerprint` digests; override `judging_tools` rather than this."""
        from rewardgate.verifiers.fingerprint import (
            debian_versions,
            package_versions,
            source_digest,
        )

        modules = (_own_package(type(self).__module__), *self.source_modules)
        return {
            "verifier": self.name,
            "version": self.version,
            "sources": {module: source_digest(module) for module in modules},
            "packages": package_versions(self.judging_packages),
            "debian": debian_versions(self.judging_debian_packages),
            "tools": self.judging_tools(backend),
        }

    def judging_tools(self, backend: str | None) -> dict[str, str]:
        """Versions of tools that are neither Python nor Debian packages (an image id)."""
        return {}

    def warmup(self) -> None:
        """Pay one-off costs (imports, parser caches) in the gateway before workers fork.

        Workers are forked from the gateway, so whatever this warms is inherited by
        every worker, including the replacements of killed ones.
        """

    def health(self) -> dict[str, str]:
        """Readiness of the tools this verifier needs: name -> "ok" or what is wrong."""
        return {}

    @abstractmethod
    def judge(self, response: str, reference: RefT, options: OptT) -> Verdict:
        """Score one response; runs in a worker process under the item's deadline."""

    def verify(self, request: RewardRequest) -> RewardResult:
        """Prepare and judge in this process, with no deadline (embedding and tests)."""
        prepared = self.prepare(request.reference, request.options)
        verdict = self.judge(request.response, prepared.reference, prepared.options)
        fingerprint = self.fingerprint_for(prepared.reference, prepared.options)
        return self.result(verdict, request.id, fingerprint)

    def result(
        self, verdict: Verdict, item_id: str | None, fingerprint: str | None = None
    ) -> RewardResult:
        """The `ok` result carrying `verdict`, stamped with this verifier's name, version
        and the verdict fingerprint of the item."""
        return RewardResult(
            id=item_id,
            verifier=self.name,
            version=self.version,
            fingerprint=fingerprint,
            reward=verdict.reward,
            status="ok",
            steps=verdict.steps,
            details=verdict.details,
        )


def _own_package(module: str) -> str:
    """A built-in verifier's whole domain package (`rewardgate.verifiers.math`), else its module."""
    parts = module.split(".")
    if parts[:2] == ["rewardgate", "verifiers"] and len(parts) > 3:
        return ".".join(parts[:3])
    return module
