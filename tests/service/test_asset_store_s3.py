"""The asset store in an S3-compatible bucket, shared by replicas, against a real server.

A `moto_server` on 127.0.0.1 is the bucket. Two `rewardgate serve` replicas use it, each
with its own cache folder: a file uploaded through one is scored through the other,
whose cache starts empty; an object tampered with in the bucket is refused (`error`,
never scored); with the bucket unreachable an item is `error` and an upload a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from rewardgate.clients import RewardClient
from rewardgate.service.app import create_app, verifier_env
from rewardgate.service.asset_store_s3 import S3Objects
from rewardgate.service.settings import Settings
from rewardgate.verifiers.assets import AssetStore, CorruptAsset, attach_remote
from rewardgate.verifiers.errors import InsufficientStorage, NotFound, VerifierError
from rewardgate.verifiers.registry import Registry
from rewardgate.verifiers.symbolic_regression import SymbolicRegressionVerifier
from tests.conftest import LiveServer, free_port
from tests.service.live import start_server, stop_server
from tests.service.moto_server import moto_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("asset_store_s3")]

BUCKET = "rewardgate-assets"
# moto accepts any credentials.
CREDENTIALS = {"asset_s3_access_key_id": "testing", "asset_s3_secret_access_key": "testing"}


@dataclass
class Bucket:
    endpoint: str

    def settings(self) -> dict[str, Any]:
        return {
            "asset_s3_bucket": BUCKET,
            "asset_s3_prefix": "assets/",
            "asset_s3_endpoint_url": self.endpoint,
            "asset_s3_region": "us-east-1",
            "asset_s3_timeout_s": 2,
            **CREDENTIALS,
        }

    def objects(self) -> S3Objects:
        return S3Objects(BUCKET, "assets/", self.endpoint, "us-east-1", "testing", "testing", 2)

    def head(self, sha: str) -> tuple[int, object]:
        """The object's size and last-modified time."""
        head = self.objects()._s3().head_object(Bucket=BUCKET, Key=f"assets/{sha}")
        return int(head["ContentLength"]), head["LastModified"]

    def put(self, sha: str, body: bytes) -> None:
        """Write an object behind the service's back (what tampering looks like)."""
        self.objects()._s3().put_object(Bucket=BUCKET, Key=f"assets/{sha}", Body=body)


@pytest.fixture(scope="module")
def bucket() -> Iterator[Bucket]:
    with moto_server() as port:
        found = Bucket(f"http://127.0.0.1:{port}")
        found.objects()._s3().create_bucket(Bucket=BUCKET)
        yield found


@dataclass
class Replicas:
    a: LiveServer
    b: LiveServer
    b_cache: Path


@pytest.fixture(scope="module")
def replicas(bucket: Bucket, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("s3-replicas")
    a = start_server(folder / "a", asset_dir=folder / "a-cache", **bucket.settings())
    try:
        b = start_server(folder / "b", asset_dir=folder / "b-cache", **bucket.settings())
        try:
            yield Replicas(a, b, folder / "b-cache")
        finally:
            stop_server(b)
    finally:
        stop_server(a)


def csv_of(slope: int, rows: int = 50) -> bytes:
    """Data points of y = slope * x; the slope makes each test's asset its own."""
    return ("x,y\n" + "".join(f"{x},{slope * x}\n" for x in range(1, rows + 1))).encode()


def fit(ref: str, answer: str) -> dict[str, Any]:
    return {"verifier": "symbolic_regression", "response": answer, "reference": {"data": ref}}


def cached(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.glob("*/*") if p.is_file())


def test_an_upload_through_one_replica_scores_through_another(replicas: Replicas) -> None:
    content = csv_of(3)
    with RewardClient(replicas.a.url) as client:
        sha = client.upload_asset(content)
    ref = f"asset:{sha}"
    assert sha not in cached(replicas.b_cache)
    with RewardClient(replicas.b.url) as client:
        right, wrong = client.score_batch([fit(ref, "3*x"), fit(ref, "x**2")])
    assert (right.status, right.reward) == ("ok", pytest.approx(1.0)), right.error
    assert wrong.status == "ok" and wrong.reward < 0.9
    assert sha in cached(replicas.b_cache)
    answer = httpx.get(f"{replicas.b.url}/v1/assets/{sha}", timeout=10)
    assert (answer.status_code, answer.content) == (200, content)


def test_an_upload_is_written_once(replicas: Replicas, bucket: Bucket) -> None:
    content = csv_of(4)

    def upload(url: str) -> str:
        return str(httpx.post(f"{url}/v1/assets", content=content, timeout=30).json()["sha256"])

    sha = upload(replicas.a.url)
    first = bucket.head(sha)
    time.sleep(1.1)  # S3 times objects to the second: a rewrite would show a later one
    shas = {upload(url) for url in [replicas.a.url, replicas.b.url] * 3}
    assert shas == {sha}
    assert bucket.head(sha) == first
    assert first[0] == len(content)


@pytest.mark.parametrize(
    ("slope", "tamper"),
    [(5, lambda b: b.replace(b"5,", b"6,")), (6, lambda b: b[: len(b) // 2])],
    ids=["edited", "truncated"],
)
def test_a_tampered_object_is_refused_not_scored(
    replicas: Replicas, bucket: Bucket, slope: int, tamper: Any
) -> None:
    content = csv_of(slope)
    sha = httpx.post(f"{replicas.a.url}/v1/assets", content=content, timeout=30).json()["sha256"]
    bucket.put(sha, tamper(content))
    with RewardClient(replicas.b.url) as client:
        [result] = client.score_batch([fit(f"asset:{sha}", f"{slope}*x")])
    assert result.status == "error"
    assert result.error is not None and "corrupt" in result.error and sha in result.error
    assert sha not in cached(replicas.b_cache)
    answer = httpx.get(f"{replicas.b.url}/v1/assets/{sha}", timeout=10)
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "verifier_error"


def test_a_missing_asset_is_invalid(replicas: Replicas) -> None:
    with RewardClient(replicas.b.url) as client:
        [result] = client.score_batch([fit("asset:" + "0" * 64, "x")])
    assert result.status == "invalid"
    assert httpx.head(f"{replicas.b.url}/v1/assets/{'0' * 64}", timeout=10).status_code == 404


def unreachable(tmp_path: Path) -> Settings:
    """A bucket on a port nobody listens on."""
    return Settings(
        workers=1,
        asset_dir=tmp_path / "cache",
        asset_s3_bucket=BUCKET,
        asset_s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        asset_s3_region="us-east-1",
        asset_s3_timeout_s=30,  # a refused connection fails at once; the back-off lasts this
        **CREDENTIALS,
    )


def test_an_unreachable_bucket_is_an_error_not_a_reward(tmp_path: Path) -> None:
    settings = unreachable(tmp_path)
    registry = Registry([SymbolicRegressionVerifier], env=verifier_env(settings))
    try:
        with TestClient(create_app(settings, registry)) as http:
            results = [
                http.post("/v1/rewards", json={"items": [item]}).json()["results"][0]
                for item in [fit(f"asset:{c * 64}", "x") | {"fallback_reward": -7.0} for c in "12"]
            ]
            upload = http.post("/v1/assets", content=b"x,y\n1,1\n")
    finally:
        attach_remote(settings.asset_dir, None)
    assert [(r["status"], r["reward"]) for r in results] == [("error", -7.0)] * 2
    assert all("asset store s3://" in r["error"] for r in results)
    # After a failure to connect, the next call fails at once instead of waiting again.
    assert "Could not connect" in results[0]["error"]
    assert "not tried again" in results[1]["error"]
    assert upload.status_code == 500
    assert upload.json()["error"]["code"] == "verifier_error"


def test_a_store_opened_on_the_folder_alone_reads_through_the_bucket(
    bucket: Bucket, tmp_path: Path
) -> None:
    """What a verifier does: `AssetStore(env.asset_dir, ...)` with no bucket settings."""
    shared = AssetStore(tmp_path / "uploader", 1 << 20, 1 << 30, bucket.objects())
    with shared.writer() as writer:
        writer.write(b"read through\n")
        sha = writer.commit()
    attach_remote(tmp_path / "reader", bucket.objects())
    try:
        assert AssetStore(tmp_path / "reader", 1, 1).resolve(f"asset:{sha}").read_bytes() == (
            b"read through\n"
        )
    finally:
        attach_remote(tmp_path / "reader", None)
    with pytest.raises(NotFound):
        AssetStore(tmp_path / "alone", 1, 1).resolve(f"asset:{sha}")
    bucket.put(sha, b"read trough\n")
    with pytest.raises(CorruptAsset):
        AssetStore(tmp_path / "fresh", 1, 1, bucket.objects()).path(sha)
    assert issubclass(CorruptAsset, VerifierError)


def test_the_quota_counts_the_bucket_not_the_local_cache(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("f" * 64, b"an object another replica stored")
    data = b"a new asset"
    held = bucket.objects().total_bytes()
    store = AssetStore(tmp_path / "cache", 1 << 20, held + len(data) - 1, bucket.objects())
    with store.writer() as writer:
        writer.write(data)
        with pytest.raises(InsufficientStorage):
            writer.commit()
    assert cached(tmp_path / "cache") == []
