"""Every server setting, declared once.

Each field has a name, type, default and one-line doc; its environment variable is
`REWARDGATE_<NAME>`, its `rewardgate serve` flag `--<name>` (generated from this
model), and its row in the README's settings table is checked against this model by
a test. Precedence: argument > environment > config file (TOML, named by
`REWARDGATE_CONFIG`) > default.

A verifier's own settings are not listed here: each verifier declares its model
(`Verifier.Settings`), and its values arrive in `verifiers` (TOML `[verifiers.<name>]`,
variables `REWARDGATE_<NAME>__<KEY>`); see `rewardgate.service.verifier_settings`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rewardgate.contract.settings import VerifierSettings
from rewardgate.service.verifier_settings import (
    VerifierTablesSource,
    check_tables,
    deprecation_message,
    installed_settings,
    legacy_split,
)
from rewardgate.verifiers.judge.endpoint import JudgeEndpoint

__all__ = ["MIN_API_KEY_CHARS", "MIN_RUN_MEMORY_MB", "Settings", "host_memory_budget_mb"]

# 16 random characters (64+ bits as hex) cannot be guessed over HTTP.
MIN_API_KEY_CHARS = 16
MIN_RUN_MEMORY_MB = 128
_HOST_SHARE = 0.8


def host_memory_budget_mb() -> int:
    """80% of the memory this process may use: the host's, or its cgroup's if lower
    (a container's limit is the real ceiling there)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit = "max"
    if limit.isdigit():
        total = min(total, int(limit))
    return int(total * _HOST_SHARE) >> 20


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
        4096,
        ge=1,
        description="Items queued or running at once; past it requests wait in line, then 429.",
    )
    max_items_per_request: int = Field(
        1024, ge=1, description="Items one POST /v1/rewards may carry (more is 413)."
    )
    max_body_bytes: int = Field(
        32 * 2**20, ge=1024, description="Largest request body outside asset uploads (413)."
    )
    retry_after_s: float = Field(1.0, gt=0, description="Retry-After seconds sent with a 429.")
    chunk_target_ms: float = Field(
        10.0,
        ge=0,
        description="Cheap items go to a worker several at a time, about this many ms of "
        "work per message by the verifier's measured cost (0: one item per message).",
    )
    chunk_max_items: int = Field(
        128, ge=1, description="Items one message to a worker carries at most."
    )
    admission_wait_s: float = Field(
        10.0,
        ge=0,
        description="How long a request that does not fit waits in the FIFO admission line "
        "before its 429 (0: refuse at once).",
    )
    max_waiting_items: int = Field(
        4096, ge=0, description="Items of requests waiting in the admission line at most."
    )
    cache_max_bytes: int = Field(
        64 * 2**20, ge=0, description="Bytes the in-memory result cache may hold (0: no bound)."
    )
    cache_size: int = Field(
        100_000, ge=0, description="Results kept in the cache (0 turns caching off)."
    )
    cache_path: Path | None = Field(
        None, description="SQLite file for an on-disk result cache; in memory when unset."
    )
    redis_url: str | None = Field(
        None,
        description="Redis shared by the replicas as the result cache's second level "
        "(`redis://host:6379/0`, or `rediss://` for TLS); unset: no shared cache.",
    )
    redis_password: str | None = Field(
        None, description="Password (AUTH) for Redis, when not in redis_url."
    )
    redis_username: str | None = Field(None, description="ACL user name for Redis.")
    redis_tls_ca_file: Path | None = Field(
        None, description="CA bundle to check the Redis server's certificate (TLS)."
    )
    redis_tls_cert_file: Path | None = Field(
        None, description="Client certificate for Redis TLS (mutual TLS)."
    )
    redis_tls_key_file: Path | None = Field(
        None, description="Key of the client certificate for Redis TLS."
    )
    redis_ttl_s: int = Field(
        7 * 24 * 3600, ge=1, description="How long a verdict stays in the shared Redis cache."
    )
    redis_timeout_s: float = Field(
        0.5,
        gt=0,
        description="Connect and reply timeout for Redis; past it the item is a cache miss.",
    )
    redis_retry_s: float = Field(
        5.0,
        gt=0,
        description="After a Redis failure, how long the shared cache is skipped before retrying.",
    )
    redis_prefix: str = Field(
        "rewardgate:verdict:", description="Prefix of the shared cache's Redis keys."
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
    asset_s3_bucket: str | None = Field(
        None,
        description="S3-compatible bucket holding the assets (shared by replicas); unset: "
        "asset_dir alone. With it, asset_dir is this replica's read-through cache.",
    )
    asset_s3_prefix: str = Field("assets/", description="Key prefix of the assets in the bucket.")
    asset_s3_endpoint_url: str | None = Field(
        None, description="Endpoint of a non-AWS S3 service (MinIO, Ceph, moto); unset: AWS."
    )
    asset_s3_region: str | None = Field(None, description="Region of the asset bucket.")
    asset_s3_access_key_id: str | None = Field(
        None, description="Access key of the asset bucket; unset: boto3's credential chain."
    )
    asset_s3_secret_access_key: str | None = Field(
        None, description="Secret key matching asset_s3_access_key_id."
    )
    asset_s3_timeout_s: float = Field(
        10.0, gt=0, description="Connect and read timeout of each object-store call."
    )
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description=f"Comma-separated bearer tokens, each at least {MIN_API_KEY_CHARS} "
        "characters; unset or empty disables auth (a blank key is refused at start).",
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
    get_reward_verifier: str = Field(
        "math", min_length=1, description="Verifier of POST /get_reward when `?verifier=` is unset."
    )
    recent_items: int = Field(
        0,
        ge=0,
        description="Scored items (request and result) /ui keeps in memory to show; "
        "0 (default) keeps none, since a run's data may be sensitive.",
    )
    recent_max_bytes: int = Field(
        16 * 2**20, ge=1024, description="Bytes of JSON the recent items may hold at most."
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
    max_run_memory_mb: int = Field(
        2048,
        ge=16,
        description="Most memory one sandboxed run may ask for (`code`'s `memory_mb`, "
        "/run_code's `memory_limit_MB`); more is refused, a default above it is lowered.",
    )
    run_memory_budget_mb: int | None = Field(
        None,
        ge=64,
        description="Memory all concurrent sandboxed runs (2 x `workers`) may hold together; "
        "lowers the per-run cap to fit. Unset: 80% of the host's (or its cgroup's) memory.",
    )
    image_perceptual: dict[str, Any] = Field(
        {},
        description="Perceptual image metrics (dreamsim, lpips, clip) by name: a local weights "
        "`path`, or `{path, factory}` (TOML or JSON); none by default.",
    )
    verifiers: dict[str, dict[str, Any]] = Field(
        {},
        description="Each verifier's own settings (the table below): TOML tables "
        "`[verifiers.NAME]`, variables `REWARDGATE_NAME__KEY`, or JSON.",
    )
    session_max_live: int = Field(
        200, ge=0, description="Tool sessions alive at once on this replica (0: sessions off)."
    )
    session_backend: Literal["bwrap", "docker"] | None = Field(
        None,
        description="Sandbox backend of tool sessions (bwrap or docker); unset: `sandbox_backend`.",
    )
    session_memory_mb: int = Field(
        256, ge=32, description="Memory cap of one tool session, all its processes together."
    )
    session_memory_budget_mb: int = Field(
        0,
        ge=0,
        description="Memory caps of all live tool sessions together at most; a session "
        "past it is refused with 429 (0: session_max_live x session_memory_mb).",
    )
    session_replica: str = Field(
        "",
        description="This replica's name among session_peers: its session ids start with "
        "it, and a call for another peer's session is forwarded there (empty: no forwarding).",
    )
    session_peers: dict[str, str] = Field(
        {},
        description="Every replica's name -> base URL (the same on each, TOML or JSON), for "
        "forwarding session calls and VerlTool trajectories to the replica that owns them.",
    )
    session_call_timeout_s: float = Field(
        30.0, gt=0, description="Longest one session call (cell or command) may run."
    )
    session_lifetime_s: float = Field(
        3600.0, gt=0, description="A tool session ends this long after it was created."
    )
    session_idle_s: float = Field(
        600.0, gt=0, description="A tool session ends after this long without a call."
    )
    # Deprecated flat names given (`sql_db_dir`), moved into `verifiers`; logged at start.
    _deprecated: tuple[str, ...] = PrivateAttr(())

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Unset or empty is "no auth"; anything else must name real keys.

        `" , "` (a variable set by a template with nothing filled in) used to parse as no
        keys and silently turn auth off; a value that names no key is a mistake, refused.
        """
        if isinstance(value, str):
            if not value.strip():
                return ()
            keys = tuple(k.strip() for k in value.split(",") if k.strip())
            if not keys:
                raise ValueError("api_keys names no key (only commas and spaces)")
            return keys
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_are_keys(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            if key != key.strip() or not key:
                raise ValueError("api_keys: a key is blank or has spaces around it")
            if len(key) < MIN_API_KEY_CHARS:
                raise ValueError(
                    f"api_keys: a key of {len(key)} characters is too short to guard a "
                    f"service; use at least {MIN_API_KEY_CHARS} (e.g. `openssl rand -hex 16`)"
                )
        return keys

    @field_validator(
        "reward_specs",
        "judge_endpoints",
        "image_perceptual",
        "verifiers",
        "session_peers",
        mode="before",
    )
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

    @field_validator("verifiers")
    @classmethod
    def _tables_fit_their_models(
        cls, tables: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, Any]]:
        """A verifier's table is checked against its settings model at start-up."""
        check_tables(tables)
        return tables

    @model_validator(mode="wrap")
    @classmethod
    def _move_deprecated_names(
        cls, data: Any, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        """Deprecated flat names (`sql_db_dir`) move into their verifier's table; a key
        set there under its new name wins. Any other unknown name is refused."""
        moved: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            tables = cls._json_tables(data.get("verifiers") or {})
            tables = {name: dict(table) for name, table in tables.items()}
            for flat in [key for key in data if key not in cls.model_fields]:
                split = legacy_split(flat)
                if split is not None:
                    tables.setdefault(split[0], {}).setdefault(split[1], data.pop(flat))
                    moved.append(flat)
            if tables:
                data["verifiers"] = tables
        settings = handler(data)
        settings._deprecated = tuple(moved)
        return settings

    def deprecation_warnings(self) -> list[str]:
        """One line for each deprecated setting name this configuration used."""
        return [deprecation_message(flat) for flat in self._deprecated]

    def verifier_settings(self, name: str) -> VerifierSettings:
        """The installed verifier `name`'s settings as configured here, validated."""
        model = installed_settings(name)
        if model is None:
            raise KeyError(f"no installed verifier {name!r} with settings")
        return model.model_validate(self.verifiers.get(name, {}))

    if not TYPE_CHECKING:

        def __getattr__(self, item: str) -> Any:
            # Deprecated flat names still read, from their verifier's table.
            split = None if item.startswith("_") else legacy_split(item)
            if split is not None:
                return getattr(self.verifier_settings(split[0]), split[1])
            return super().__getattr__(item)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_items_per_request > self.max_inflight:
            raise ValueError("max_items_per_request must not exceed max_inflight")
        return self

    def run_memory_cap_mb(self) -> int:
        """The per-run memory cap in force: `max_run_memory_mb`, lowered so that every
        run that may be under way at once (a pool's worth of verifier runs and a
        /run_code gate's worth) fits in `run_memory_budget_mb` together.

        Never below `MIN_RUN_MEMORY_MB`: a host too small for its worker count gets a
        warning at start (see `create_app`) rather than a server that refuses every run.
        """
        budget = self.run_memory_budget_mb or host_memory_budget_mb()
        share = budget // (2 * self.workers)
        return max(MIN_RUN_MEMORY_MB, min(self.max_run_memory_mb, share))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            VerifierTablesSource(settings_cls),
        ]
        config_file = os.environ.get("REWARDGATE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"REWARDGATE_{field.upper()}"
