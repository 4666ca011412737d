"""Every installed verifier gets the verdicts it declares (`Verifier.conformance`) through
the real engine, and a verifier added from one module and one entry point does too,
showing in `GET /v1/verifiers` with its settings.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rewardgate.contract import VerifierEnv
from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.testing import EngineHarness, check_conformance, installed_names, start_engine
from rewardgate.verifiers.registry import Registry
from tests.conftest import ROOT
from tests.verifiers.test_judge import endpoint, server_url

__all__ = ["server_url"]  # the judge's scripted chat-completions server, a fixture

# What a verifier needs beyond this machine's Python: tests/markers.py's resources.
MARKS: dict[str, Any] = {"web": pytest.mark.chromium, "cad": pytest.mark.cad}
SQL_DATA = ROOT / "tests" / "data" / "sql"


@pytest.fixture(scope="module")
def harness(server_url: str) -> Iterator[EngineHarness]:
    """One engine with every installed verifier, configured as their cases need: Chinook
    for `sql`, the scripted judge endpoint for `judge`."""
    env = VerifierEnv(
        verifiers={"sql": {"db_dir": str(SQL_DATA)}},
        judge_endpoints={"local": endpoint(server_url)},
    )
    engine = start_engine(env=env, include_installed=True, workers=2)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=MARKS.get(name, ())) for name in installed_names()]
)
def test_installed_verifier_conforms(harness: EngineHarness, name: str) -> None:
    check_conformance(harness, type(harness.engine.registry.get(name)))


def test_a_verifier_without_cases_fails_the_check(harness: EngineHarness) -> None:
    class Silent(type(harness.engine.registry.get("string"))):  # type: ignore[misc]
        conformance = None

    with pytest.raises(AssertionError, match="declares no conformance cases"):
        check_conformance(harness, Silent)


def test_wrong_declared_verdicts_are_named(harness: EngineHarness) -> None:
    """The check can fail: cases swapped round are reported, each by its role."""
    string = type(harness.engine.registry.get("string"))
    cases = string.conformance
    assert cases is not None
    swapped = type(cases)(full=cases.zero, zero=cases.full, invalid=cases.full)

    class Swapped(string):  # type: ignore[misc,valid-type]
        conformance = swapped

    with pytest.raises(AssertionError) as failed:
        check_conformance(harness, Swapped)
    message = str(failed.value)
    assert "full: want ok >= 1.0" in message and "zero: want ok <= 0.0" in message
    assert "invalid: want invalid, got ok" in message


def install_plugin(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module and a dist-info naming it under the entry-point group, on sys.path."""
    module = f"rg_plugin_{name}"
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            f'''
            """A third-party verifier: one module, one entry point, one settings model."""

            from pydantic import BaseModel, Field, RootModel

            from rewardgate.contract import (
                Case,
                Conformance,
                Verdict,
                Verifier,
                VerifierOptions,
                VerifierSettings,
            )


            class EchoSettings(VerifierSettings):
                ignore_case: bool = Field(False, description="Compare without regard to case.")


            class EchoReference(RootModel[str]):
                pass


            class EchoVerifier(Verifier[EchoReference, VerifierOptions]):
                name = "{name}"
                version = "1"
                description = "Pays 1 when the response equals the reference."
                Reference = EchoReference
                Settings = EchoSettings
                conformance = Conformance(
                    full=Case("same", "same"),
                    zero=Case("other", "same"),
                    invalid=Case("same", "same", {{"no_such_option": 1}}),
                )

                def judge(self, response, reference, options):
                    want, got = reference.root, response
                    if self.settings.ignore_case:
                        want, got = want.lower(), got.lower()
                    return Verdict(1.0 if got == want else 0.0)
            '''
        )
    )
    dist = folder / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[rewardgate.verifiers]\n{name} = {module}:EchoVerifier\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_a_new_verifier_from_one_module_and_one_entry_point(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    conformance: Callable[..., Any],
) -> None:
    install_plugin(tmp_path, "echo_plugin", monkeypatch)
    assert "echo_plugin" in installed_names()
    cls = type(Registry.from_entry_points().get("echo_plugin"))
    conformance(cls)

    # Its settings are read from its own variables and reach it; the listing of the
    # installed verifiers (the app's default registry) has it, settings included.
    monkeypatch.setenv("REWARDGATE_ECHO_PLUGIN__IGNORE_CASE", "true")
    settings = Settings(workers=1, asset_dir=tmp_path / "assets")
    assert settings.verifiers == {"echo_plugin": {"ignore_case": "true"}}
    listing = TestClient(create_app(settings)).get("/v1/verifiers").json()["verifiers"]
    schema = {v["name"]: v for v in listing}["echo_plugin"]["settings_schema"]
    alone = Registry([cls], env=verifier_env(settings))
    with TestClient(create_app(settings, alone)) as client:
        item = {"verifier": "echo_plugin", "response": "SAME", "reference": "same"}
        [result] = client.post("/v1/rewards", json={"items": [item]}).json()["results"]
    assert schema["properties"]["ignore_case"]["description"] == "Compare without regard to case."
    assert (result["status"], result["reward"]) == ("ok", 1.0)  # ignore_case reached it
