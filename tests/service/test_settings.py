"""Settings: declared once, precedence argument > environment > config file > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from rewardgate.service.cli import main, settings_markdown
from rewardgate.service.settings import Settings
from tests.conftest import ROOT


def test_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "rewardgate.toml"
    config.write_text("timeout_s = 11.0\nmax_inflight = 2048\nport = 1111\n")
    monkeypatch.setenv("REWARDGATE_CONFIG", str(config))
    assert Settings().port == 1111
    monkeypatch.setenv("REWARDGATE_PORT", "2222")
    monkeypatch.setenv("REWARDGATE_TIMEOUT_S", "22")
    settings = Settings(port=3333)
    assert (settings.port, settings.timeout_s, settings.max_inflight) == (3333, 22.0, 2048)


def test_api_keys_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "REWARDGATE_API_KEYS", " key-one-0123456789abcdef, key-two-0123456789abcdef ,,"
    )
    assert Settings().api_keys == ("key-one-0123456789abcdef", "key-two-0123456789abcdef")


@pytest.mark.parametrize(
    "bad",
    [
        {"workers": 0},
        {"timeout_s": 0},
        {"log_level": "loud"},
        {"max_inflight": 2, "max_items_per_request": 3},
        {"no_such_setting": 1},
    ],
    ids=["zero-workers", "zero-timeout", "unknown-level", "batch-over-capacity", "unknown"],
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_every_setting_is_a_serve_flag() -> None:
    help_text = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200).output
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in help_text
        assert Settings.env_name(name) in help_text


def test_readme_settings_table_matches_the_code() -> None:
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- settings-table.*?-->\n(.*?)\n<!-- /settings-table -->", readme, re.S)
    assert table is not None
    assert table.group(1) == settings_markdown(), "run `rewardgate settings` and paste it"
