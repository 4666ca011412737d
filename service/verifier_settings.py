"""Verifiers' own settings as the server reads them, and the environment it gives them.

Each installed verifier declares its settings model (`Verifier.Settings`); the server
reads its values from `[verifiers.<name>]` in the TOML file and `REWARDGATE_<NAME>__<KEY>`
variables into `Settings.verifiers`, checks them against that model at start, and hands
them to the verifiers in a `VerifierEnv`. This module knows no verifier's keys: it looks
the models up through the entry points, loading only the verifiers it is asked about.

The flat names some of these settings had before (`sql_db_dir`, `cad_runtime`, ...) are
a verifier's `legacy_keys`, `<verifier>_<key>`: still accepted, with a warning at start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_settings import PydanticBaseSettingsSource

from rewardgate.contract.errors import ConfigurationError
from rewardgate.contract.registry import ENTRY_POINT_GROUP, Registry
from rewardgate.contract.settings import VerifierSettings, legacy_name, settings_env_name
from rewardgate.contract.verifier import SandboxEnv, VerifierEnv, describe_validation_error

if TYPE_CHECKING:
    from rewardgate.service.settings import Settings

__all__ = [
    "VerifierTablesSource",
    "check_registry",
    "check_tables",
    "deprecation_message",
    "installed_settings",
    "legacy_split",
    "sandbox_env",
    "settings_rows",
    "verifier_env",
]

_PREFIX = "REWARDGATE_"


def _names() -> list[str]:
    """Installed verifier names, longest first (so `math_steps_x` is math_steps', not math's)."""
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names, key=lambda n: (-len(n), n))


@lru_cache(maxsize=256)
def installed_settings(name: str) -> type[VerifierSettings] | None:
    """The settings model of the installed verifier `name` (None: not installed or broken;
    the registry reports a broken plugin when it loads)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        try:
            loaded = ep.load()
        except Exception:
            return None
        model = getattr(loaded, "Settings", None)
        if isinstance(model, type) and issubclass(model, VerifierSettings):
            return model
    return None


def legacy_split(flat: str) -> tuple[str, str] | None:
    """`("sql", "db_dir")` for the deprecated flat name `sql_db_dir`, else None."""
    for name in _names():
        if flat.startswith(name + "_"):
            key = flat[len(name) + 1 :]
            model = installed_settings(name)
            if model is not None and key in model.legacy_keys:
                return name, key
    return None


def deprecation_message(flat: str) -> str:
    split = legacy_split(flat)
    if split is None:
        return f"setting {flat} is deprecated"
    name, key = split
    return (
        f"setting {flat} (env {_PREFIX}{flat.upper()}) is deprecated: use `{key}` in "
        f"[verifiers.{name}] or {settings_env_name(name, key)}"
    )


class VerifierTablesSource(PydanticBaseSettingsSource):
    """`REWARDGATE_<NAME>__<KEY>` variables as `verifiers` tables, and the deprecated flat
    variables (`REWARDGATE_SQL_DB_DIR`) under their flat names for `Settings` to move."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        tables: dict[str, dict[str, str]] = {}
        flat: dict[str, str] = {}
        for var, value in os.environ.items():
            if not var.upper().startswith(_PREFIX):
                continue
            rest = var[len(_PREFIX) :].lower()
            if "__" in rest:
                name, key = rest.split("__", 1)
                tables.setdefault(name, {})[key] = value
            elif rest not in fields and legacy_split(rest) is not None:
                flat[rest] = value
        return {**flat, "verifiers": tables} if tables else flat


def check_tables(tables: Mapping[str, Mapping[str, Any]]) -> None:
    """Validate each installed verifier's table against its model; raises ValueError
    naming `verifiers.<name>.<key>`. Tables of verifiers not installed are left to the
    registry the server is built with (a test may register a class by hand)."""
    for name, table in tables.items():
        model = installed_settings(name)
        if model is None:
            continue
        try:
            model.model_validate(table)
        except ValidationError as exc:
            raise ValueError(describe_validation_error(f"verifiers.{name}", exc)) from None


def sandbox_env(settings: Settings) -> SandboxEnv:
    """The sandbox as this server configures it, for verifiers and sessions alike: the
    docker backend is one instance per process, and configuring it differently replaces
    it, closing every container of the old one."""
    return SandboxEnv(
        backend=settings.sandbox_backend,
        docker_image=settings.docker_image,
        docker_pool_size=settings.docker_pool_size,
        max_run_memory_mb=settings.run_memory_cap_mb(),
    )


def verifier_env(settings: Settings) -> VerifierEnv:
    """What verifiers may know of this server, typed; secrets named by settings are read here."""
    judge_endpoints = {
        name: endpoint.model_copy(
            update={
                "api_key": os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
            }
        )
        for name, endpoint in settings.judge_endpoints.items()
    }
    return VerifierEnv(
        asset_dir=settings.asset_dir,
        sandbox=sandbox_env(settings),
        judge_endpoints=judge_endpoints,
        image_perceptual=dict(settings.image_perceptual),
        reward_specs=dict(settings.reward_specs),
        verifiers={name: dict(table) for name, table in settings.verifiers.items()},
    )


def check_registry(settings: Settings, registry: Registry) -> None:
    """At start: every `[verifiers.<name>]` table names a registered verifier, and each
    registered verifier's settings validate (a class registered by hand included)."""
    unknown = sorted(set(settings.verifiers) - set(registry.names()))
    if unknown:
        raise ConfigurationError(
            f"settings for unknown verifier(s) {', '.join(unknown)} ([verifiers.<name>] or "
            f"REWARDGATE_<NAME>__<KEY>); registered: {', '.join(registry.names())}"
        )
    for cls in registry.classes():
        cls.load_settings(registry.env)


def settings_rows() -> Iterator[tuple[str, str, str, Any, str]]:
    """(verifier, key, env var, field, description) of every installed verifier's settings."""
    for name in sorted(_names()):
        model = installed_settings(name)
        if model is None:
            continue
        for key, field in model.model_fields.items():
            doc = field.description or ""
            if key in model.legacy_keys:
                doc += f" (was `{legacy_name(name, key)}`)"
            yield name, key, settings_env_name(name, key), field, doc
