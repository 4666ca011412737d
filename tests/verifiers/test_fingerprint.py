"""Verdict fingerprints: a changed judging library or verifier source misses the cache."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.settings import Settings
from rewardgate.verifiers import fingerprint as fp
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.math import MathVerifier
from rewardgate.verifiers.registry import Registry

ITEM = {"verifier": "math", "response": "\\boxed{4}", "reference": "4"}


def serve(cache_path: Path, verifiers: list[type[Any]]) -> TestClient:
    settings = Settings(workers=1, cache_path=cache_path)
    client = TestClient(create_app(settings, Registry(verifiers, env=verifier_env(settings))))
    client.__enter__()
    return client


def score_twice(cache_path: Path, verifiers: list[type[Any]]) -> list[dict[str, Any]]:
    client = serve(cache_path, verifiers)
    try:
        return [client.post("/v1/rewards", json={"items": [ITEM]}).json()["results"][0]]
    finally:
        client.__exit__(None, None, None)


def clear_memos() -> None:
    fp._package_version.cache_clear()
    fp.source_digest.cache_clear()


def test_unchanged_install_hits_across_restarts(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    first = score_twice(cache, [MathVerifier])[0]
    second = score_twice(cache, [MathVerifier])[0]
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["fingerprint"] == second["fingerprint"] == MathVerifier().fingerprint()


def test_a_judging_library_upgrade_misses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.sqlite"
    before = score_twice(cache, [MathVerifier])[0]
    real = importlib.metadata.version

    def upgraded(name: str) -> str:
        return "99.0" if name == "sympy" else real(name)

    monkeypatch.setattr(importlib.metadata, "version", upgraded)
    clear_memos()
    after = score_twice(cache, [MathVerifier])[0]
    assert after["cached"] is False
    assert after["fingerprint"] != before["fingerprint"]
    assert after["reward"] == before["reward"] == 1.0


def test_a_changed_verifier_source_misses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "planted_verifier"
    package.mkdir()
    module = package / "__init__.py"
    source = textwrap.dedent(
        """
        from rewardgate.verifiers.base import Verdict, Verifier

        class Planted(Verifier):
            name = "math"
            version = "1"

            def judge(self, response, reference, options):
                return Verdict(1.0 if "4" in response else 0.0)
        """
    )
    module.write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    cache = tmp_path / "cache.sqlite"
    planted = _load("planted_verifier")
    first = score_twice(cache, [planted])[0]
    again = score_twice(cache, [planted])[0]
    module.write_text(source + "\n# a fix that changes nothing visible\n")
    clear_memos()
    changed = score_twice(cache, [_load("planted_verifier")])[0]
    assert (first["cached"], again["cached"], changed["cached"]) == (False, True, False)
    assert changed["fingerprint"] != first["fingerprint"]


def _load(name: str) -> type[Any]:
    sys.modules.pop(name, None)
    module = __import__(name)
    return module.Planted  # type: ignore[no-any-return]


def test_fingerprint_names_the_tools_that_judge() -> None:
    parts = MathVerifier().fingerprint_parts(None)
    assert parts["version"] == MathVerifier.version
    assert set(parts["packages"]) >= {"math-verify", "sympy"}
    assert "rewardgate.verifiers.math" in parts["sources"]
    code = CodeVerifier().fingerprint_parts("bwrap")
    assert "rewardgate.sandbox" in code["sources"]  # the zygote and harness it ships
    assert code["debian"]["gcc-12"] not in ("absent", "unknown")


def test_docker_backend_keys_on_the_image() -> None:
    verifier = CodeVerifier()
    bwrap, docker = verifier.fingerprint("bwrap"), verifier.fingerprint("docker")
    assert bwrap != docker
    assert "docker_image" in verifier.fingerprint_parts("docker")["tools"]


def test_verifiers_listing_shows_fingerprints(make_client: Callable[..., TestClient]) -> None:
    client = make_client(installed=True)
    listed = {v["name"]: v for v in client.get("/v1/verifiers").json()["verifiers"]}
    assert listed["math"]["fingerprint"] == MathVerifier().fingerprint()
    assert all(len(v["fingerprint"]) == 24 for v in listed.values())
