"""The asset store replicas share: objects in an S3-compatible bucket (AWS, MinIO, Ceph).

Each replica keeps its `asset_dir` as a read-through cache in front of the bucket
(`rewardgate.verifiers.assets.AssetStore`); this module is the bucket's side, and
`asset_store(settings)` builds the store the upload route and the verifiers share.
boto3 is imported when a bucket is configured, never at import time, and each process
makes its own client: the pool's workers are forked, and a client (its connection
pool) must not cross a fork.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from rewardgate.verifiers.assets import AssetStore, attach_remote
from rewardgate.verifiers.errors import ConfigurationError, NotFound, VerifierError

if TYPE_CHECKING:
    from rewardgate.service.settings import Settings

__all__ = ["S3Objects", "asset_store"]


class S3Objects:
    """Assets as objects `<prefix><sha256>` in one bucket (an `ObjectStore`).

    Every boto3 or connection failure becomes a `VerifierError` here, at the boundary,
    so an item whose asset cannot be fetched is `error`, and an upload that cannot be
    stored answers 5xx, never a reward of 0. After a failure to reach the store, calls
    fail at once for `timeout_s`: a verifier may resolve an asset while preparing an
    item on the gateway's event loop, which must not wait out a timeout for every item
    of a batch while the store is down.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "assets/",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self._credentials = (access_key_id, secret_access_key)
        self.timeout_s = timeout_s
        self._client: Any = None
        self._client_pid = -1
        self._lock = threading.Lock()
        self._down: tuple[float, str] | None = None  # (monotonic time, why) of a failure

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    def __repr__(self) -> str:
        return f"S3Objects({self.describe()!r})"

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                try:
                    import boto3
                    from botocore.config import Config
                except ImportError as exc:
                    raise ConfigurationError(
                        "asset_s3_bucket needs boto3: pip install 'rewardgate[server]'"
                    ) from exc
                key_id, secret = self._credentials
                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=key_id,
                    aws_secret_access_key=secret,
                    config=Config(
                        connect_timeout=self.timeout_s,
                        read_timeout=self.timeout_s,
                        retries={"max_attempts": 2, "mode": "standard"},
                    ),
                )
                self._client_pid = os.getpid()
            return self._client

    def _key(self, sha: str) -> str:
        return self.prefix + sha

    def _failed(self, what: str, exc: Exception) -> VerifierError:
        why = f"{what} failed: {exc}"
        if isinstance(exc, _transport_errors()):
            self._down = (time.monotonic(), why)
        return VerifierError(f"asset store {self.describe()}: {why}")

    def _check_up(self) -> None:
        down = self._down
        if down is not None:
            left = down[0] + self.timeout_s - time.monotonic()
            if left > 0:
                raise VerifierError(
                    f"asset store {self.describe()}: not tried again for {left:.1f} s "
                    f"after a failure to reach it ({down[1]})"
                )
            self._down = None

    def size(self, sha: str) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._check_up()
        try:
            head = self._s3().head_object(Bucket=self.bucket, Key=self._key(sha))
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self._failed(f"HEAD {sha}", exc) from None
        except BotoCoreError as exc:
            raise self._failed(f"HEAD {sha}", exc) from None
        return int(head["ContentLength"])

    def download(self, sha: str, out: BinaryIO) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self._check_up()
        try:
            self._s3().download_fileobj(self.bucket, self._key(sha), out)
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise NotFound(f"no asset {sha}; upload it with POST /v1/assets") from None
            raise self._failed(f"GET {sha}", exc) from None
        except (BotoCoreError, OSError) as exc:
            raise self._failed(f"GET {sha}", exc) from None

    def upload(self, sha: str, path: Path) -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        self._check_up()
        try:
            self._s3().upload_file(str(path), self.bucket, self._key(sha))
        except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as exc:
            raise self._failed(f"PUT {sha}", exc) from None

    def total_bytes(self) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        self._check_up()
        total = 0
        try:
            pages = self._s3().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                total += sum(int(obj["Size"]) for obj in page.get("Contents", ()))
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("LIST", exc) from None
        return total


def _transport_errors() -> tuple[type[Exception], ...]:
    """botocore's failures to reach the store at all (not its answers)."""
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import HTTPClientError

    return (BotoConnectionError, HTTPClientError)


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def asset_store(settings: Settings) -> AssetStore:
    """The store of these settings: `asset_dir`, in front of the bucket if one is set.

    Attaches the bucket to `asset_dir` for this process (and the workers it forks), so
    the verifiers' readers, built from the folder alone, read through it too.
    """
    remote: S3Objects | None = None
    if settings.asset_s3_bucket:
        # An empty value (a compose file's `${VAR:-}`) means unset, as for the bucket.
        remote = S3Objects(
            settings.asset_s3_bucket,
            settings.asset_s3_prefix,
            settings.asset_s3_endpoint_url or None,
            settings.asset_s3_region or None,
            settings.asset_s3_access_key_id or None,
            settings.asset_s3_secret_access_key or None,
            settings.asset_s3_timeout_s,
        )
    attach_remote(settings.asset_dir, remote)
    return AssetStore(
        settings.asset_dir, settings.max_asset_bytes, settings.max_asset_store_bytes, remote
    )
