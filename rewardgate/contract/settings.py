"""Each verifier's own settings: a frozen model the host fills from its configuration.

A verifier that needs configuration (a folder of databases, a browser binary, a size
limit) declares `Settings = MySettings`, a subclass of `VerifierSettings`. The server
fills it from the `[verifiers.<name>]` table of its TOML file and from
`REWARDGATE_<NAME>__<KEY>` variables; `rewardgate settings` and the README list every
field with its description. Verifiers never read loose keys out of a dict, so a
misspelt key is refused at start instead of being ignored at judge time.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["VerifierSettings", "legacy_name", "settings_env_name"]


class VerifierSettings(BaseModel):
    """Base of every verifier's settings: frozen, unknown keys refused, every field a default.

    `legacy_keys` names the fields that were flat server settings before verifiers had
    tables of their own (`sql_db_dir` is now `[verifiers.sql] db_dir`); the flat name,
    `<verifier>_<key>`, is still accepted, with a warning at start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    legacy_keys: ClassVar[tuple[str, ...]] = ()


def settings_env_name(verifier: str, key: str) -> str:
    """The environment variable of one verifier setting: `REWARDGATE_SQL__DB_DIR`."""
    return f"REWARDGATE_{verifier.upper()}__{key.upper()}"


def legacy_name(verifier: str, key: str) -> str:
    """The deprecated flat setting name of a verifier setting: `sql_db_dir`."""
    return f"{verifier}_{key}"
