"""The sql verifier's rewards, extraction, steps, limits and the requests it calls invalid."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardgate.service.app import verifier_env
from rewardgate.service.settings import Settings
from rewardgate.testing import EngineHarness
from rewardgate.verifiers.assets import AssetStore
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.models import RewardRequest, RewardResult
from rewardgate.verifiers.sql import SqlVerifier
from rewardgate.verifiers.sql.rewards import clean_abnormal, length_bonus, ves_bucket
from tests.verifiers.sql_support import CHINOOK, env_for, make_db_dir

GOLD = "SELECT COUNT(*) FROM Track"
WRONG = "SELECT COUNT(*) FROM Album"
BROKEN = "SELECT COUNT(*) FROM Tracks"
FENCE = "`" * 3


def sql_block(query: str) -> str:
    return f"{FENCE}sql\n{query}\n{FENCE}"


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_db_dir(tmp_path_factory.mktemp("sqldb"))
    (root / "spider").mkdir()
    variant = root / "spider" / "chinook_renamed.sqlite"
    shutil.copy(CHINOOK, variant)
    with sqlite3.connect(variant) as conn:
        conn.execute("UPDATE Genre SET Name = 'Rock and Roll' WHERE GenreId = 1")
    conn.close()
    (root / "broken.sqlite").write_bytes(b"this is not a database at all" * 100)
    (root / "chinook.csv").write_text("a,b\n")
    return root


def score(
    db_dir: Path, response: str, gold: str = GOLD, db: str = "chinook.sqlite", **options: Any
) -> RewardResult:
    verifier = SqlVerifier(env_for(db_dir))
    request = RewardRequest(
        verifier="sql", response=response, reference={"gold_sql": gold, "db": db}, options=options
    )
    return verifier.verify(request)


EXTRACTION = [
    ("fenced", f"The count:\n{sql_block(GOLD)}", 1.0),
    ("last-block-wins", f"{sql_block(WRONG)}\nno, better:\n{sql_block(GOLD + ';')}", 1.0),
    ("upper-case-fence", f"{FENCE}SQL\n{GOLD}\n{FENCE}", 1.0),
    ("whole-text", GOLD, 1.0),
    ("trailing-semicolons", GOLD + " ;;\n", 1.0),
    ("trailing-comment", GOLD + "; -- done", 1.0),
    ("earlier-block-right-last-wrong", f"{sql_block(GOLD)}\n{sql_block(WRONG)}", 0.0),
    ("prose-only", "I think there are many tracks.", 0.0),
]


@pytest.mark.parametrize("db", ["chinook.sqlite", "chinook.duckdb"], ids=["sqlite", "duckdb"])
@pytest.mark.parametrize(
    ("response", "reward"), [e[1:] for e in EXTRACTION], ids=[e[0] for e in EXTRACTION]
)
def test_extraction(db_dir: Path, db: str, response: str, reward: float) -> None:
    result = score(db_dir, response, db=db)
    assert (result.status, result.reward) == ("ok", reward)


def test_empty_response_is_no_query(db_dir: Path) -> None:
    result = score(db_dir, "  \n ")
    assert (result.reward, result.details["rule"]) == (0.0, "no_query")
    assert [s.label for s in result.steps or []] == ["extract"]


PRESETS = [
    # (reward option, match, runs but wrong, fails to run, refused as unsafe)
    ("binary", 1.0, 0.0, 0.0, 0.0),
    ("arctic", 1.0, 0.1, 0.0, 0.0),
    ({"executes": 0.2, "match": 0.8, "fails": -1.0}, 1.0, 0.2, -1.0, -1.0),
]


@pytest.mark.parametrize(
    ("reward", "match", "wrong", "fails", "unsafe"), PRESETS, ids=["binary", "arctic", "custom"]
)
def test_reward_presets(
    db_dir: Path, reward: Any, match: float, wrong: float, fails: float, unsafe: float
) -> None:
    got = [
        score(db_dir, query, reward=reward).reward
        for query in (GOLD, WRONG, BROKEN, "DELETE FROM Track")
    ]
    assert got == pytest.approx([match, wrong, fails, unsafe])


def test_steps_report_each_stage(db_dir: Path) -> None:
    result = score(db_dir, sql_block(WRONG), reward="arctic")
    assert [(s.label, s.reward) for s in result.steps or []] == [
        ("extract", 0.0),
        ("parse", 0.0),
        ("execute", 0.1),
        ("match", 0.0),
    ]
    assert result.details["rule"] == "mismatch"
    assert result.details["query"] == WRONG
    assert (result.details["gold_rows"], result.details["pred_rows"]) == (1, 1)
    assert result.details["first_difference"] == {"gold_only": [3503], "pred_only": [347]}


def test_error_details_carry_the_engine_message(db_dir: Path) -> None:
    result = score(db_dir, BROKEN)
    assert result.details["rule"] == "exec_error"
    assert "no such table" in result.details["error"]
    assert [s.label for s in result.steps or []] == ["extract", "parse", "execute"]


def r1(think: str, query: str) -> str:
    return f"<think>{think}</think>\n<answer>{sql_block(query)}</answer>"


def r1_length(think: str, query: str) -> float:
    """SQL-R1's length score as its compute_score works it out (answer and think stripped)."""
    answer = sql_block(query)
    return len(query) / len(answer) + (len(think) + len(answer)) / 2048 * 0.5


SQL_R1 = [
    ("match", r1("Count tracks.", GOLD), 1 + 2 + 3 + r1_length("Count tracks.", GOLD)),
    ("mismatch", r1("Count albums.", WRONG), 1 + 2 - 3),
    ("unexecutable", r1("Typo.", BROKEN), 1 - 2),
    ("unsafe", r1("Drop it.", "DROP TABLE Track"), 1 - 2),
    ("no-think", f"<answer>{sql_block(GOLD)}</answer>", -1),
    ("two-answers", r1("x", GOLD) + "<answer>again</answer>", -1),
    ("answer-before-think", f"<answer>{sql_block(GOLD)}</answer><think>x</think>", -1),
    ("no-sql-block", f"<think>x</think><answer>{GOLD}</answer>", -1),
    ("plain-sql", GOLD, -1),
]


@pytest.mark.parametrize(
    ("response", "reward"), [c[1:] for c in SQL_R1], ids=[c[0] for c in SQL_R1]
)
def test_sql_r1_reward(db_dir: Path, response: str, reward: float) -> None:
    result = score(db_dir, response, reward="sql_r1")
    assert result.status == "ok"
    assert result.reward == pytest.approx(reward)
    assert result.steps is not None and result.steps[0].label == "format"


def test_sql_r1_long_answer_gets_the_capped_length_bonus() -> None:
    query = "SELECT 1"
    answer = "x" * 3000
    assert length_bonus(query, "", answer) == pytest.approx(0.5 + len(query) / len(answer))


def test_test_dbs_must_all_match(db_dir: Path) -> None:
    gold, pred = "SELECT Name FROM Genre WHERE GenreId = 1", "SELECT 'Rock'"
    alone = score(db_dir, pred, gold=gold)
    assert alone.reward == 1.0
    verifier = SqlVerifier(env_for(db_dir))
    reference = {
        "gold_sql": gold,
        "db": "chinook.sqlite",
        "test_dbs": ["spider/chinook_renamed.sqlite"],
    }
    suite = verifier.verify(RewardRequest(verifier="sql", response=pred, reference=reference))
    assert (suite.reward, suite.details["db"]) == (0.0, "spider/chinook_renamed.sqlite")
    right = verifier.verify(RewardRequest(verifier="sql", response=gold, reference=reference))
    assert right.reward == 1.0


def test_asset_databases_name_their_engine_by_content(db_dir: Path, tmp_path: Path) -> None:
    store = AssetStore(tmp_path / "assets", 2**30, 2**31)
    shas = []
    for name in ("chinook.sqlite", "chinook.duckdb"):
        with store.writer() as writer:
            writer.write((db_dir / name).read_bytes())
            shas.append(writer.commit())
    verifier = SqlVerifier(VerifierEnv(asset_dir=store.root))
    for sha, engine in zip(shas, ["sqlite", "duckdb"], strict=True):
        reference = {"gold_sql": GOLD, "db": f"asset:{sha}"}
        result = verifier.verify(RewardRequest(verifier="sql", response=GOLD, reference=reference))
        assert (result.reward, result.details["engine"]) == (1.0, engine)
        assert verifier.fingerprints(verifier.prepare(reference, {}).reference) == [f"asset:{sha}"]


def test_ves_scales_the_match_by_bird_buckets(db_dir: Path) -> None:
    slow = (
        "SELECT COUNT(*) FROM Track t WHERE "
        "(SELECT COUNT(*) FROM InvoiceLine i WHERE i.TrackId <> t.TrackId) >= 0"
    )
    result = score(db_dir, slow, ves=True, ves_runs=2)
    assert result.details["ves"]["time_ratio"] < 0.25
    assert result.reward == 0.25
    same = score(db_dir, GOLD, ves=True, ves_runs=3)
    assert same.reward == same.details["ves"]["reward"] > 0
    wrong = score(db_dir, WRONG, ves=True)
    assert wrong.reward == 0.0 and "ves" not in wrong.details


@pytest.mark.parametrize(
    ("ratio", "bucket"),
    [(5.0, 1.25), (2.0, 1.25), (1.99, 1.0), (1.0, 1.0), (0.5, 0.75), (0.25, 0.5), (0.1, 0.25)],
)
def test_ves_buckets(ratio: float, bucket: float) -> None:
    assert ves_bucket(ratio) == bucket


def test_clean_abnormal_drops_outliers_beyond_three_sigma() -> None:
    ratios = [1.0] * 20 + [100.0]
    assert clean_abnormal(ratios) == [1.0] * 20
    assert clean_abnormal([2.0, 2.0]) == [2.0, 2.0]


INVALID = [
    ("missing-db", {"gold_sql": GOLD, "db": "nope.sqlite"}, "no database"),
    ("path-escape", {"gold_sql": GOLD, "db": "../chinook.sqlite"}, "relative"),
    ("absolute-path", {"gold_sql": GOLD, "db": "/etc/passwd.sqlite"}, "relative"),
    ("unknown-suffix", {"gold_sql": GOLD, "db": "chinook.csv"}, "must end in"),
    ("unreadable-db", {"gold_sql": GOLD, "db": "broken.sqlite"}, "gold_sql fails"),
    ("missing-test-db", {"gold_sql": GOLD, "db": "chinook.sqlite", "test_dbs": ["x.db"]}, "x.db"),
    ("unknown-pg", {"gold_sql": GOLD, "db": "pg:nope"}, "no PostgreSQL connection"),
    ("missing-asset", {"gold_sql": GOLD, "db": "asset:" + "0" * 64}, "no asset"),
    ("gold-fails", {"gold_sql": "SELECT nope FROM Track", "db": "chinook.sqlite"}, "gold_sql"),
    ("gold-unsafe", {"gold_sql": "DELETE FROM Track", "db": "chinook.sqlite"}, "gold_sql"),
    ("no-gold", {"db": "chinook.sqlite"}, "gold_sql"),
]


@pytest.fixture
def engine(
    verifier_engine: Callable[..., EngineHarness], db_dir: Path, tmp_path: Path
) -> EngineHarness:
    return verifier_engine(SqlVerifier, env=env_for(db_dir, asset_dir=tmp_path / "assets"))


@pytest.mark.parametrize(
    ("reference", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_bad_references_are_invalid(
    engine: EngineHarness, reference: dict[str, Any], message: str
) -> None:
    [result] = engine.score([{"verifier": "sql", "response": GOLD, "reference": reference}])
    assert result.status == "invalid", result
    assert message in (result.error or "")


def test_gold_over_the_row_cap_is_invalid(engine: EngineHarness) -> None:
    reference = {"gold_sql": "SELECT * FROM Track", "db": "chinook.sqlite"}
    [result] = engine.score(
        [{"verifier": "sql", "response": GOLD, "reference": reference, "options": {"max_rows": 10}}]
    )
    assert result.status == "invalid" and "max_rows" in (result.error or "")


def test_through_the_engine_verdicts_are_cached_per_database(engine: EngineHarness) -> None:
    items = [
        {"verifier": "sql", "response": q, "reference": {"gold_sql": GOLD, "db": db}}
        for db in ("chinook.sqlite", "chinook.duckdb")
        for q in (GOLD, WRONG)
    ]
    first = engine.score(items)
    assert [(r.status, r.reward, r.cached) for r in first] == [
        ("ok", 1.0, False),
        ("ok", 0.0, False),
        ("ok", 1.0, False),
        ("ok", 0.0, False),
    ]
    again = engine.score(items)
    assert all(r.cached for r in again)


def test_options_are_validated(engine: EngineHarness) -> None:
    reference = {"gold_sql": GOLD, "db": "chinook.sqlite"}
    for options in ({"semantics": "exact"}, {"reward": "nope"}, {"max_rows": 0}, {"bogus": 1}):
        [result] = engine.score(
            [{"verifier": "sql", "response": GOLD, "reference": reference, "options": options}]
        )
        assert result.status == "invalid", options


def test_server_settings_reach_the_verifier(tmp_path: Path) -> None:
    settings = Settings(
        sql_db_dir=tmp_path, sql_postgres="main=postgresql://u@127.0.0.1/a, other=postgresql://b"
    )
    sql = SqlVerifier(verifier_env(settings)).settings
    assert sql.db_dir == tmp_path
    assert sql.postgres == {
        "main": "postgresql://u@127.0.0.1/a",
        "other": "postgresql://b",
    }
    as_json = Settings(sql_postgres='{"main": "postgresql://x"}')
    assert as_json.sql_postgres == {"main": "postgresql://x"}


def test_unreachable_postgres_is_an_error_not_a_verdict(
    verifier_engine: Callable[..., EngineHarness], tmp_path: Path
) -> None:
    env = VerifierEnv(config={"sql_postgres": {"down": "postgresql://nobody@127.0.0.1:1/none"}})
    harness = verifier_engine(SqlVerifier, env=env)
    reference = {"gold_sql": GOLD, "db": "pg:down"}
    items = [
        {"verifier": "sql", "response": GOLD, "reference": reference, "options": options}
        for options in (
            {},
            {"reward": {"executes": 1, "mismatch": -4, "fails": -2}},
            {"reward": {"match": 2, "fails": -0.5}},
        )
    ]
    results = harness.score(items)
    # No verdict pays the least a verdict could under the item's own reward scale.
    assert [(r.status, r.reward) for r in results] == [
        ("error", 0.0),
        ("error", -3.0),
        ("error", -0.5),
    ]
    assert "PostgreSQL" in (results[0].error or "")


@pytest.mark.parametrize(
    ("weights", "lowest"),
    [
        ({"match": 1}, 0.0),
        ({"executes": 0.1, "match": 0.9}, 0.0),
        ({"format_ok": 1, "format_bad": -1, "executes": 2, "fails": -2, "match": 3,
          "mismatch": -3, "length": 1, "gate_on_format": True}, -1.0),
        ({"format_ok": 1, "format_bad": -1, "fails": -2}, -3.0),
        ({"executes": 1, "mismatch": -4, "fails": -2}, -3.0),
    ],
    ids=["binary", "arctic", "sql_r1", "ungated-format", "mismatch-below-failure"],
)  # fmt: skip
def test_lowest_reward_follows_the_weights(weights: dict[str, Any], lowest: float) -> None:
    from rewardgate.verifiers.sql.models import RewardWeights

    assert RewardWeights(**weights).lowest() == lowest


def test_a_fence_of_another_language_is_not_an_sql_block(db_dir: Path) -> None:
    response = f"{FENCE}sqlite\n{WRONG}\n{FENCE}\n{sql_block(GOLD)}\n{FENCE}sqlx\n{WRONG}\n{FENCE}"
    assert score(db_dir, response).reward == 1.0


def test_an_enormous_query_is_refused_unparsed(db_dir: Path) -> None:
    query = "SELECT " + " + ".join(["1"] * 60_000)
    result = score(db_dir, query)
    assert (result.reward, result.details["rule"]) == (0.0, "query_too_long")


def test_importing_the_verifier_loads_no_driver() -> None:
    import subprocess
    import sys

    heavy = ["sqlglot", "duckdb", "psycopg", "sqlite3"]
    code = (
        "import sys, rewardgate.verifiers.sql\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
