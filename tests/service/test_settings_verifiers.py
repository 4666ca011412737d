"""Verifiers' own settings: declared by each verifier, read from `[verifiers.<name>]` and
`REWARDGATE_<NAME>__<KEY>`, checked at start; the old flat names still work, with a
warning; LocalClient builds its environment without FastAPI.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from rewardgate.contract import ConfigurationError, SandboxEnv, VerifierEnv
from rewardgate.service.app import create_app
from rewardgate.service.settings import Settings
from rewardgate.service.verifier_settings import verifier_env
from rewardgate.verifiers.registry import Registry
from rewardgate.verifiers.sql import SqlVerifier
from rewardgate.verifiers.svg import SvgVerifier
from tests.conftest import ROOT


def test_a_verifier_table_comes_from_the_file_and_its_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "rewardgate.toml"
    config.write_text(
        "[verifiers.svg]\nmax_elements = 50\nmax_canvas_px = 300\n\n"
        '[verifiers.sql]\npostgres = { main = "postgresql://u@h/a" }\n'
    )
    monkeypatch.setenv("REWARDGATE_CONFIG", str(config))
    monkeypatch.setenv("REWARDGATE_SVG__MAX_ELEMENTS", "7")  # the variable beats the file
    settings = Settings()
    env = verifier_env(settings)
    svg = SvgVerifier(env).settings
    assert (svg.max_elements, svg.max_canvas_px) == (7, 300)
    assert SqlVerifier(env).settings.postgres == {"main": "postgresql://u@h/a"}
    assert settings.deprecation_warnings() == []


@pytest.mark.parametrize("source", ["argument", "variable", "file"])
def test_deprecated_flat_names_still_work(
    source: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if source == "argument":
        settings = Settings(sql_db_dir=tmp_path, svg_max_elements=3)
    else:
        if source == "variable":
            monkeypatch.setenv("REWARDGATE_SQL_DB_DIR", str(tmp_path))
            monkeypatch.setenv("REWARDGATE_SVG_MAX_ELEMENTS", "3")
        else:
            config = tmp_path / "rewardgate.toml"
            config.write_text(f'sql_db_dir = "{tmp_path}"\nsvg_max_elements = 3\n')
            monkeypatch.setenv("REWARDGATE_CONFIG", str(config))
        settings = Settings()
    env = verifier_env(settings)
    assert SqlVerifier(env).settings.db_dir == tmp_path
    assert SvgVerifier(env).settings.max_elements == 3
    assert settings.sql_db_dir == tmp_path  # the old attribute still reads
    [sql, svg] = settings.deprecation_warnings()
    assert "sql_db_dir" in sql and "REWARDGATE_SQL__DB_DIR" in sql
    assert "svg_max_elements" in svg and "[verifiers.svg]" in svg


def test_the_new_name_wins_over_the_deprecated_one(tmp_path: Path) -> None:
    settings = Settings(svg_max_elements=3, verifiers={"svg": {"max_elements": 9}})
    assert SvgVerifier(verifier_env(settings)).settings.max_elements == 9


def test_deprecated_names_are_logged_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(workers=1, asset_dir=tmp_path, svg_max_canvas_px=200)
    app = create_app(settings, Registry([SvgVerifier], env=verifier_env(settings)))
    with caplog.at_level(logging.WARNING), TestClient(app):
        pass
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("svg_max_canvas_px" in line and "deprecated" in line for line in warned)


@pytest.mark.parametrize(
    ("tables", "error"),
    [
        ({"svg": {"max_elements": 0}}, r"verifiers\.svg\.max_elements"),
        ({"svg": {"no_such_key": 1}}, r"verifiers\.svg\.no_such_key"),
        ({"sql": {"postgres": "no-pairs-here"}}, r"verifiers\.sql\.postgres"),
    ],
    ids=["out-of-range", "unknown-key", "unparsable"],
)
def test_bad_verifier_settings_are_refused(tables: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Settings(verifiers=tables)


def test_a_table_of_a_verifier_not_registered_is_refused(tmp_path: Path) -> None:
    settings = Settings(workers=1, asset_dir=tmp_path, verifiers={"no_such": {"x": 1}})
    with pytest.raises(ConfigurationError, match="no_such"):
        create_app(settings, Registry([SvgVerifier], env=verifier_env(settings)))


def test_the_deprecated_config_dict_still_reaches_verifiers() -> None:
    env = VerifierEnv(
        config={
            "svg_max_elements": 3,
            "sandbox_backend": "docker",
            "docker_sandbox": {"image": "rg/test:1"},
            "max_run_memory_mb": 300,
        }
    )
    assert SvgVerifier(env).settings.max_elements == 3
    assert env.sandbox == SandboxEnv("docker", "rg/test:1", None, 300)
    assert env.sandbox.docker_options() == {"image": "rg/test:1"}


def test_no_verifier_reads_a_loose_config_dict() -> None:
    """Verifiers read typed settings (`self.settings`, `env.sandbox`, ...), never keys of
    the deprecated `VerifierEnv.config` dict."""
    readers = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "verifiers").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\benv\.config\b", line)
    ]
    assert readers == []


def test_a_local_client_needs_no_fastapi() -> None:
    """Constructing a LocalClient and building its verifiers' environment imports no
    FastAPI (nor Starlette): the in-process engine needs neither."""
    code = (
        "import sys\n"
        "from rewardgate.clients.local import LocalClient\n"
        "client = LocalClient()\n"
        "assert client.registry.names()\n"
        "assert [v.settings_schema for v in client.verifiers() if v.name == 'sql']\n"
        "client.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
