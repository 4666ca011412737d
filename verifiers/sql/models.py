"""The sql verifier's reference and options, as trainers send them.

Option names follow the evaluators they reproduce: `keep_distinct` is
test-suite-sql-eval's flag (off by default there, so DISTINCT is dropped from both
queries), `semantics` names the benchmark whose execution-accuracy rule applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator

from rewardgate.contract.settings import VerifierSettings
from rewardgate.verifiers.base import VerifierOptions

__all__ = [
    "RewardPreset",
    "RewardWeights",
    "Semantics",
    "SqlOptions",
    "SqlReference",
    "SqlSettings",
]

Semantics = Literal["spider", "bird"]
RewardPreset = Literal["binary", "arctic", "sql_r1"]
DbName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class SqlSettings(VerifierSettings):
    """The databases this server's references may name (`[verifiers.sql]`)."""

    legacy_keys = ("db_dir", "postgres")

    db_dir: Path | None = Field(
        None, description="Folder of the databases the sql verifier's references name."
    )
    postgres: dict[str, str] = Field(
        {},
        description="PostgreSQL connections for the sql verifier's `pg:<name>` databases: "
        "`name=DSN` pairs, comma-separated, or a JSON object.",
    )

    @field_validator("postgres", mode="before")
    @classmethod
    def _parse_connections(cls, value: Any) -> Any:
        """An environment variable gives `name=DSN` pairs or a JSON object as text."""
        if not isinstance(value, str):
            return value
        if value.strip().startswith("{"):
            return json.loads(value)
        pairs = [p.strip() for p in value.split(",") if p.strip()]
        if any("=" not in p for p in pairs):
            raise ValueError("postgres must be name=DSN pairs or a JSON object")
        return dict(p.split("=", 1) for p in pairs)


class SqlReference(BaseModel):
    """The gold query and the database(s) it answers on.

    `db` is a name under the server's `[verifiers.sql] db_dir` (`chinook.sqlite`,
    `spider/concert_singer.sqlite`, `sales.duckdb`), `asset:<sha256>` for an uploaded
    file, or `pg:<name>` for a PostgreSQL connection named in the server's settings.
    The prediction must match the gold on `db` and on every one of `test_dbs`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gold_sql: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="The gold query; its result on each database is the answer."
    )
    db: DbName = Field(description="Database name, `asset:<sha256>` or `pg:<name>`.")
    test_dbs: tuple[DbName, ...] = Field(
        (), max_length=64, description="More databases the prediction must also match on."
    )
    # The databases as `SqlVerifier.prepare` resolved them (`targets.Target`s), so that
    # the judgement and the fingerprints that follow it do not stat each file again.
    _targets: tuple[Any, ...] | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are: what `prepare` resolved is not part of the value."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((self.gold_sql, self.db, self.test_dbs))

    def targets(self, env: Any, settings: Any) -> tuple[Any, ...]:
        """The `Target` of `db` and of each of `test_dbs`: as `prepare` resolved them,
        else resolved now (and not kept: a reference held across calls sees each file's
        current version)."""
        # Read from the private dict: the attribute goes through pydantic's __getattr__.
        known = self.__pydantic_private__.get("_targets") if self.__pydantic_private__ else None
        if known is not None:
            return known
        from rewardgate.verifiers.sql.targets import resolve

        return tuple(resolve(name, env, settings) for name in (self.db, *self.test_dbs))


class RewardWeights(BaseModel):
    """Custom stage weights; every preset is one of these (see `rewards.PRESETS`).

    Stages in order: format (SQL-R1's `<think>`/`<answer>` layout), execute (the
    query runs), result (its rows match the gold's), length (SQL-R1's length bonus,
    paid on a match). With `gate_on_format`, a response whose format fails scores
    only the format stage, as SQL-R1 does.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_ok: float = 0.0
    format_bad: float = 0.0
    executes: float = 0.0
    fails: float = 0.0
    match: float = 0.0
    mismatch: float = 0.0
    length: float = 0.0
    gate_on_format: bool = False

    @property
    def uses_format(self) -> bool:
        return self.gate_on_format or bool(self.format_ok or self.format_bad or self.length)

    def lowest(self) -> float:
        """The least a response can score: the reward of a result with no verdict."""
        rest = min(self.fails, self.executes + min(self.mismatch, self.match + min(self.length, 0)))
        if not self.uses_format:
            return rest
        if self.gate_on_format:
            return min(self.format_bad, self.format_ok + rest)
        return min(self.format_ok, self.format_bad) + rest


class SqlOptions(VerifierOptions):
    semantics: Semantics = Field(
        "spider",
        description=(
            "spider: test-suite-sql-eval (bags of rows, order only if the gold has ORDER BY, "
            "column permutations accepted); bird: set(pred) == set(gold)."
        ),
    )
    keep_distinct: bool = Field(
        False,
        description="spider only: keep DISTINCT (test-suite-sql-eval drops it by default).",
    )
    reward: RewardPreset | RewardWeights = Field(
        "binary",
        description=(
            "binary: 1 match, else 0; arctic: 1 match, 0.1 runs but wrong, else 0; "
            "sql_r1: format +-1, execution +-2, result +-3, length bonus; or custom weights."
        ),
    )
    ves: bool = Field(
        False,
        description="Scale the match reward by BIRD's R-VES bucket (1.25 .. 0.25) from timed runs.",
    )
    ves_runs: int = Field(10, ge=1, le=100, description="Timed runs of each query for `ves`.")
    query_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Time limit of one query, enforced inside the engine."
    )
    max_rows: int = Field(
        100_000, ge=1, le=10_000_000, description="Rows a query may return before it is cut."
    )

    def weights(self) -> RewardWeights:
        from rewardgate.verifiers.sql.rewards import PRESETS

        return self.reward if isinstance(self.reward, RewardWeights) else PRESETS[self.reward]

    def budget(self, databases: int) -> float:
        """Seconds the whole item may need: gold and prediction on every database."""
        runs = 2 * (1 + (self.ves_runs if self.ves else 0))
        return databases * runs * self.query_timeout_s + 5.0
