"""Every server setting, declared once.

Each field has a name, type, default and one-line doc; its environment variable is
`REWARDGATE_<NAME>`, its `rewardgate serve` flag `--<name>` (generated from this
model), and its row in the README's settings table is checked against this model by
a test. Precedence: argument > environment > config file (TOML, named by
`REWARDGATE_CONFIG`) > default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rewardgate.verifiers.judge.endpoint import JudgeEndpoint

__all__ = ["Settings"]

_DEFAULT_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rewardgate"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REWARDGATE_", extra="forbid", frozen=True, validate_default=True
    )

    host: str = Field("127.0.0.1", description="Address `rewardgate serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `rewardgate serve` binds.")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Verifier worker processes (default: one per core).",
    )
    timeout_s: float = Field(
        30.0, gt=0, description="Per-item budget when a verifier's options set none."
    )
    max_timeout_s: float = Field(
        600.0, gt=0, description="Upper bound on any per-item budget a request may ask for."
    )
    max_inflight: int = Field(
        4096, ge=1, description="Items queued or running at once; past it requests get 429."
    )
    max_items_per_request: int = Field(
        1024, ge=1, description="Items one POST /v1/rewards may carry (more is 413)."
    )
    max_body_bytes: int = Field(
        32 * 2**20, ge=1024, description="Largest request body outside asset uploads (413)."
    )
    retry_after_s: float = Field(1.0, gt=0, description="Retry-After seconds sent with a 429.")
    cache_size: int = Field(
        100_000, ge=0, description="Results kept in the cache (0 turns caching off)."
    )
    cache_path: Path | None = Field(
        None, description="SQLite file for an on-disk result cache; in memory when unset."
    )
    asset_dir: Path = Field(
        _DEFAULT_HOME / "assets", description="Folder of the content-addressed asset store."
    )
    max_asset_bytes: int = Field(
        256 * 2**20, ge=1, description="Largest single asset upload (413)."
    )
    max_asset_store_bytes: int = Field(
        10 * 2**30, ge=1, description="Total size of the asset store (507 when full)."
    )
    sql_db_dir: Path | None = Field(
        None, description="Folder of the databases the sql verifier's references name."
    )
    sql_postgres: Annotated[dict[str, str], NoDecode] = Field(
        {},
        description=(
            "PostgreSQL connections for the sql verifier's `pg:<name>` databases: "
            "`name=DSN` pairs, comma-separated, or a JSON object."
        ),
    )
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Comma-separated bearer tokens; empty disables auth."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level of the service's JSON logs."
    )
    graceful_timeout_s: float = Field(
        30.0, ge=0, description="On SIGTERM, how long in-flight requests may finish."
    )
    reward_specs: dict[str, dict[str, Any]] = Field(
        {},
        description='Named `compose` specs requests use as `{"spec": name}` '
        "(TOML tables `[reward_specs.NAME]`, or JSON).",
    )
    judge_endpoints: dict[str, JudgeEndpoint] = Field(
        {},
        description="OpenAI-compatible endpoints `judge` may call, by name: "
        "`{base_url, model, api_key_env, timeout_s, max_retries, max_tokens}` (TOML or JSON).",
    )
    length_tokenizer: Path | None = Field(
        None, description="tokenizer.json (or its folder) `length` counts tokens with."
    )
    cad_runtime: Path | None = Field(
        None,
        description="Prefix of the CAD runtime (CadQuery for the sandbox's python3, from "
        "scripts/install-cad.sh), mounted read-only into CAD sandboxes; unset: "
        "/usr/local/lib/rewardgate/cad.",
    )
    get_reward_verifier: str = Field(
        "math", min_length=1, description="Verifier of POST /get_reward when `?verifier=` is unset."
    )
    svg_max_elements: int = Field(
        10_000, ge=1, description="Most elements an SVG may draw, each `<use>` counting its copy."
    )
    svg_max_canvas_px: int = Field(
        16_384, ge=1, description="Largest SVG width, height or viewBox side (px) rendered."
    )
    web_chromium: Path | None = Field(
        None,
        description="Chromium binary the `web` verifier drives (jailed, no network); "
        "unset: Debian's /usr/lib/chromium/chromium.",
    )
    sandbox_backend: Literal["bwrap", "docker"] = Field(
        "bwrap",
        description="Sandbox backend of code, chart and CAD runs whose options name none.",
    )
    docker_image: str = Field(
        "rewardgate/sandbox:latest",
        description="Image of the docker sandbox backend (scripts/docker-images.sh builds it).",
    )
    docker_pool_size: int = Field(
        2, ge=0, description="Idle docker sandbox containers kept warm per worker process."
    )
    image_perceptual: dict[str, Any] = Field(
        {},
        description="Perceptual image metrics (dreamsim, lpips, clip) by name: a local weights "
        "`path`, or `{path, factory}` (TOML or JSON); none by default.",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @field_validator("reward_specs", "judge_endpoints", "image_perceptual", mode="before")
    @classmethod
    def _json_tables(cls, value: Any) -> Any:
        """A flag or an argument may give a table as JSON text."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("reward_specs")
    @classmethod
    def _specs_are_specs(cls, specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """A spec's shape is checked at start-up; its children's options when used."""
        from rewardgate.verifiers.compose.spec import ComposeSpec

        for name, spec in specs.items():
            try:
                ComposeSpec.model_validate(spec)
            except ValidationError as exc:
                raise ValueError(f"reward_specs.{name}: {exc}") from None
        return specs

    @field_validator("sql_postgres", mode="before")
    @classmethod
    def _parse_connections(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.strip().startswith("{"):
            return json.loads(value)
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        if any("=" not in p for p in pairs):
            raise ValueError("sql_postgres must be name=DSN pairs or a JSON object")
        return dict(p.split("=", 1) for p in pairs)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_items_per_request > self.max_inflight:
            raise ValueError("max_items_per_request must not exceed max_inflight")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("REWARDGATE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"REWARDGATE_{field.upper()}"
