"""Where the trainer adapters score: `url`, else `$REWARDGATE_URL`, else in-process."""

from __future__ import annotations

import pytest

from rewardgate.clients import LocalClient, RewardClient
from rewardgate.clients.connect import URL_ENV, close_shared, connect, service_urls, shared_client


@pytest.mark.parametrize(
    ("argument", "env", "urls"),
    [
        (None, None, []),
        (None, "", []),
        (None, "http://a:8000", ["http://a:8000"]),
        (None, " http://a:8000 , http://b:8000,", ["http://a:8000", "http://b:8000"]),
        ("http://c:8000", "http://a:8000", ["http://c:8000"]),
        (["http://c:8000", "http://d:8000"], None, ["http://c:8000", "http://d:8000"]),
        ("", "http://a:8000", []),
    ],
    ids=[
        "nothing",
        "empty-env",
        "env",
        "env-comma-separated",
        "argument-beats-env",
        "argument-list",
        "empty-argument-means-in-process",
    ],
)
def test_service_urls(monkeypatch, argument, env, urls) -> None:
    if env is None:
        monkeypatch.delenv(URL_ENV, raising=False)
    else:
        monkeypatch.setenv(URL_ENV, env)
    assert service_urls(argument) == urls


def test_one_client_per_configuration(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv("REWARDGATE_ASSET_DIR", str(tmp_path))
    try:
        remote = shared_client("http://a:8000", timeout=5.0)
        assert isinstance(remote, RewardClient) and remote.base_urls == ["http://a:8000"]
        assert shared_client("http://a:8000", timeout=5.0) is remote
        assert shared_client("http://a:8000", timeout=6.0) is not remote
        assert shared_client("http://b:8000") is not remote
        local = shared_client()
        assert isinstance(local, LocalClient) and shared_client() is local
    finally:
        close_shared()
    assert shared_client("http://a:8000", timeout=5.0) is not remote, "closed clients are let go"
    close_shared()
    with connect("http://a:8000") as client:
        assert isinstance(client, RewardClient)
