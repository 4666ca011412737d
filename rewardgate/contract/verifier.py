"""The one small interface every verifier implements, built-in or plugin.

A verifier separates *preparing* a request (validating its reference and options,
cheap, done in the gateway so a malformed item never costs a worker) from *judging*
it (the expensive part, done in a worker process under a hard deadline). `verify()`
runs both in the calling process for embedding programs and tests; the engine calls
`prepare()` and `judge()` separately.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rewardgate.contract.conformance import Conformance
from rewardgate.contract.errors import ConfigurationError, InvalidRequest
from rewardgate.contract.fingerprint import (
    debian_versions,
    digest,
    package_versions,
    source_digest,
)
from rewardgate.contract.models import RewardRequest, RewardResult, StepReward
from rewardgate.contract.settings import VerifierSettings

if TYPE_CHECKING:
    from rewardgate.contract.registry import Registry

__all__ = [
    "FrozenDetails",
    "FrozenList",
    "NoReference",
    "Prepared",
    "SandboxEnv",
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
class SandboxEnv:
    """The server's sandbox settings, shared by every verifier that runs programs.

    None is "not configured": the backend's own default (bwrap, its image and pool
    size) and no per-run memory cap beyond the verifier's own.
    """

    backend: str | None = None
    docker_image: str | None = None
    docker_pool_size: int | None = None
    max_run_memory_mb: int | None = None

    def docker_options(self) -> dict[str, Any]:
        """Keyword arguments of the docker backend's constructor that are configured."""
        options = {"image": self.docker_image, "pool_size": self.docker_pool_size}
        return {key: value for key, value in options.items() if value is not None}


# Flat keys of the deprecated `config` dict that are server-wide, and where they go.
_GLOBAL_CONFIG_KEYS = frozenset(
    {
        "sandbox_backend",
        "docker_sandbox",
        "max_run_memory_mb",
        "judge_endpoints",
        "image_perceptual",
        "reward_specs",
    }
)


@dataclass(frozen=True)
class VerifierEnv:
    """What the host (server, LocalClient, a test) tells verifiers about this machine.

    Verifiers must not read settings or environment variables themselves: the same
    verifier runs under different servers in one test session. Server-wide things come
    typed (`sandbox`, `judge_endpoints` by name, `image_perceptual` metrics by name,
    `reward_specs` by name); a verifier's own settings come as its raw table in
    `verifiers`, which `Verifier.settings` validates against the verifier's model.
    `registry` is the registry that built the verifier (set by `Registry`), so a
    verifier that combines others (`compose`) judges with exactly the verifiers its
    host registered.

    `config` is deprecated: the flat keys older hosts passed (`sandbox_backend`,
    `docker_sandbox`, `sql_db_dir`, ...) are still read, the server-wide ones here and
    a verifier's own (`<name>_<key>`, see `VerifierSettings.legacy_keys`) by the verifier.
    """

    asset_dir: Path | None = None
    sandbox: SandboxEnv = field(default_factory=SandboxEnv)
    judge_endpoints: Mapping[str, Any] = field(default_factory=dict)
    image_perceptual: Mapping[str, Any] = field(default_factory=dict)
    reward_specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    verifiers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    registry: Registry | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        config = self.config
        if not config.keys() & _GLOBAL_CONFIG_KEYS:
            return
        docker = dict(config.get("docker_sandbox") or {})
        sandbox = SandboxEnv(
            backend=config.get("sandbox_backend", self.sandbox.backend),
            docker_image=docker.get("image", self.sandbox.docker_image),
            docker_pool_size=docker.get("pool_size", self.sandbox.docker_pool_size),
            max_run_memory_mb=config.get("max_run_memory_mb", self.sandbox.max_run_memory_mb),
        )
        object.__setattr__(self, "sandbox", sandbox)
        for key in ("judge_endpoints", "image_perceptual", "reward_specs"):
            if key in config:
                object.__setattr__(self, key, dict(config[key] or {}))

    def settings_table(self, name: str, legacy_keys: tuple[str, ...] = ()) -> dict[str, Any]:
        """The raw settings of verifier `name`: its table, over deprecated flat `config` keys."""
        table = {
            key: self.config[f"{name}_{key}"]
            for key in legacy_keys
            if f"{name}_{key}" in self.config
        }
        table.update(self.verifiers.get(name, {}))
        return table


class FrozenDetails(dict[str, Any]):
    """A verdict's details that refuse change, so one verdict can be returned for many
    items (a verifier with a few possible outcomes builds each once): a caller that
    edits a shared verdict in place fails loudly instead of changing every item's.
    Pickles (workers send verdicts back) and validates into a `RewardResult` as a dict."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared verdict's details are read-only: copy them to change them")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __reduce__(self) -> tuple[type[FrozenDetails], tuple[dict[str, Any]]]:
        return FrozenDetails, (dict(self),)


class FrozenList(list[Any]):
    """A list inside `FrozenDetails` that refuses change too (a shared verdict's
    `labels`): a read-only top level over a mutable list would still let one caller
    change every item's details. Equal to the plain list it holds; pickles as itself."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a shared verdict's details are read-only: copy them to change them")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        return FrozenList, (list(self),)


class Verdict:
    """What `judge` returns: the verifier's ruling, without transport fields.

    A slotted class with a plain `__init__`, not a dataclass: one is built per item, and
    for the cheapest verifiers (a preset whose whole reward is two substring tests) the
    dataclass's generated `__init__` cost as much as the judging (bench/cheap_verifiers.py).
    """

    __slots__ = ("details", "reward", "steps")

    def __init__(
        self,
        reward: float,
        steps: list[StepReward] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.reward = reward
        self.steps = steps
        self.details: dict[str, Any] = {} if details is None else details

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return (self.reward, self.steps, self.details) == (
            other.reward,
            other.steps,
            other.details,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaced

    def __repr__(self) -> str:
        return f"Verdict(reward={self.reward!r}, steps={self.steps!r}, details={self.details!r})"


# What `prepare` makes of the reference: the validated `Reference` model itself, or any
# object the verifier's `judge` reads faster (a plain slotted object: reading a pydantic
# model's attribute costs several times a plain one's, which the cheapest verifiers feel).
RefT = TypeVar("RefT")
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
    # The verifier's own settings model (`[verifiers.<name>]`); `settings` is its value.
    Settings: ClassVar[type[VerifierSettings]] = VerifierSettings
    # Full-reward, zero-reward and invalid requests every host can check it with
    # (`rewardgate.testing`'s conformance check); None: not declared, which that check fails.
    conformance: ClassVar[Conformance | None] = None

    settings: VerifierSettings

    def __init__(self, env: VerifierEnv | None = None) -> None:
        self.env = env or VerifierEnv()
        self.settings = self.load_settings(self.env)

    @classmethod
    def load_settings(cls, env: VerifierEnv) -> VerifierSettings:
        """This verifier's settings from `env`, validated; a bad value is the host's
        configuration error, named `verifiers.<name>.<key>`."""
        try:
            return cls.Settings.model_validate(
                env.settings_table(cls.name, cls.Settings.legacy_keys)
            )
        except ValidationError as exc:
            raise ConfigurationError(
                describe_validation_error(f"verifiers.{cls.name}", exc)
            ) from None

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

    def reference_key(self, reference: RefT) -> Any:
        """The prepared reference as the result cache keys on it (JSON): the validated
        model's dump. A verifier whose `prepare` returns another object for `judge` to
        read says here which validated model it stands for."""
        assert isinstance(reference, BaseModel), "override reference_key for this reference"
        return reference.model_dump(mode="json")

    def fingerprints(self, reference: RefT) -> list[str]:
        """Fingerprints of the named files a verdict on `reference` reads (cache key part)."""
        return []

    def fingerprint_for(self, reference: RefT, options: OptT) -> str:
        """The verdict fingerprint of this item: the verifier's, for the backend it runs on.

        The cache keys on it and results carry it; see `rewardgate.contract.fingerprint`.
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
            cache[backend] = digest(self.fingerprint_parts(backend))
        return cache[backend]

    def fingerprint_parts(self, backend: str | None) -> dict[str, Any]:
        """What `fingerprint` digests; override `judging_tools` rather than this."""
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
        return RewardResult.of_verdict(
            item_id,
            self.name,
            self.version,
            fingerprint,
            verdict.reward,
            verdict.steps,
            verdict.details,
        )


def _own_package(module: str) -> str:
    """A built-in verifier's whole domain package (`rewardgate.verifiers.math`), else its module."""
    parts = module.split(".")
    if parts[:2] == ["rewardgate", "verifiers"] and len(parts) > 3:
        return ".".join(parts[:3])
    return module
