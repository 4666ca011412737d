"""Which verifier answers to which name.

Built-ins and plugins register the same way, through the entry-point group
`rewardgate.verifiers`; tests and embedding programs may also pass classes
explicitly. Instances are created lazily, once per process, so a forked worker builds
its own and nothing heavy happens at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from importlib.metadata import entry_points
from typing import cast

from rewardgate.contract.errors import ConfigurationError, UnknownVerifier
from rewardgate.contract.verifier import Verifier, VerifierEnv

__all__ = ["ENTRY_POINT_GROUP", "Registry"]

ENTRY_POINT_GROUP = "rewardgate.verifiers"


class Registry:
    def __init__(
        self, classes: Iterable[type[Verifier]] = (), env: VerifierEnv | None = None
    ) -> None:
        # Verifiers reach their siblings through the env (see `VerifierEnv.registry`).
        self.env = replace(env or VerifierEnv(), registry=self)
        self._classes: dict[str, type[Verifier]] = {}
        self._instances: dict[str, Verifier] = {}
        for cls in classes:
            self.register(cls)

    @classmethod
    def from_entry_points(
        cls, extra: Iterable[type[Verifier]] = (), env: VerifierEnv | None = None
    ) -> Registry:
        """Every installed verifier plus `extra`; a name claimed twice raises."""
        registry = cls(env=env)
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"verifier plugin {ep.name} = {ep.value} failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not (isinstance(loaded, type) and issubclass(loaded, Verifier)):
                raise ConfigurationError(f"entry point {ep.name} = {ep.value} is not a Verifier")
            verifier_cls = cast(type[Verifier], loaded)
            if verifier_cls.name != ep.name:
                raise ConfigurationError(
                    f"entry point {ep.name} = {ep.value} names a verifier "
                    f"called {verifier_cls.name!r}"
                )
            registry.register(verifier_cls)
        for extra_cls in extra:
            registry.register(extra_cls)
        return registry

    def register(self, cls: type[Verifier]) -> None:
        name = getattr(cls, "name", None)
        if not name or not getattr(cls, "version", None):
            raise ConfigurationError(f"{cls.__qualname__} must set `name` and `version`")
        if name in self._classes:
            existing = self._classes[name]
            raise ConfigurationError(
                f"verifier name {name!r} is claimed by both "
                f"{existing.__module__}.{existing.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        self._classes[name] = cls

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def names(self) -> list[str]:
        return sorted(self._classes)

    def get(self, name: str) -> Verifier:
        """The instance for `name`; an unknown name lists the available ones."""
        instance = self._instances.get(name)
        if instance is None:
            cls = self._classes.get(name)
            if cls is None:
                raise UnknownVerifier(
                    f"unknown verifier {name!r}; available: {', '.join(self.names()) or 'none'}"
                )
            instance = self._instances[name] = cls(self.env)
        return instance

    def fingerprints(self) -> dict[str, str]:
        """Each verifier's verdict fingerprint on its default sandbox backend."""
        return {
            name: verifier.fingerprint(verifier.default_backend())
            for name, verifier in ((name, self.get(name)) for name in self.names())
        }

    def classes(self) -> list[type[Verifier]]:
        return [self._classes[n] for n in self.names()]
