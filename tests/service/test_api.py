"""The HTTP API, through the real app in-process (TestClient runs its lifespan)."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.test_engine import echo

JSON = {"content-type": "application/json"}


def envelope(response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    return body["error"]


def test_batch_mixes_statuses_and_keeps_order(make_client) -> None:
    client = make_client(workers=2)
    items = [
        echo("42", id="good"),
        {"verifier": "nope", "response": "x", "id": "unknown"},
        {"verifier": "echo", "response": "x", "reference": [1, 2], "id": "bad-ref"},
        echo("7", id="wrong"),
        17,
    ]
    response = client.post("/v1/rewards", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["id"], r["status"], r["reward"]) for r in results] == [
        ("good", "ok", 1.0),
        ("unknown", "invalid", 0.0),
        ("bad-ref", "invalid", 0.0),
        ("wrong", "ok", 0.0),
        (None, "invalid", 0.0),
    ]
    assert "available:" in results[1]["error"] and "echo" in results[1]["error"]
    assert results[0]["version"] == "1" and results[0]["cached"] is False


def test_ndjson_streams_every_result_with_its_index(make_client) -> None:
    client = make_client(workers=2)
    items = [echo(str(i), answer="2", id=f"i{i}") for i in range(5)] + [{"verifier": "nope"}]
    with client.stream(
        "POST", "/v1/rewards", json={"items": items}, headers={"accept": "application/x-ndjson"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in response.iter_lines() if line]
    assert sorted(line["index"] for line in lines) == list(range(6))
    by_index = {line["index"]: line for line in lines}
    assert by_index[2]["reward"] == 1.0 and by_index[2]["id"] == "i2"
    assert by_index[5]["status"] == "invalid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_request"),
        (b'{"items": 3}', 400, "invalid_request"),
        (b"[]", 400, "invalid_request"),
    ],
    ids=["not-json", "items-not-list", "not-object"],
)
def test_malformed_batches_get_the_envelope(make_client, body, status, code) -> None:
    response = make_client().post("/v1/rewards", content=body, headers=JSON)
    assert response.status_code == status
    assert envelope(response)["code"] == code


def test_too_many_items_is_413(make_client) -> None:
    client = make_client(max_items_per_request=3)
    response = client.post("/v1/rewards", json={"items": [echo("1")] * 4})
    assert response.status_code == 413
    assert envelope(response)["code"] == "payload_too_large"


def test_body_over_the_limit_is_413_by_length_and_by_stream(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    big = {"items": [echo("x" * 4096)]}
    response = client.post("/v1/rewards", json=big)
    assert response.status_code == 413 and envelope(response)["code"] == "payload_too_large"

    def chunks():
        yield orjson.dumps(big)

    streamed = client.post(
        "/v1/rewards", content=chunks(), headers=JSON
    )  # chunked: no Content-Length
    assert streamed.status_code == 413 and envelope(streamed)["code"] == "payload_too_large"


def test_full_queue_answers_429_with_retry_after(make_client) -> None:
    import threading

    client = make_client(
        max_inflight=2, max_items_per_request=2, retry_after_s=3, admission_wait_s=0.2
    )
    slow = {"verifier": "sleepy", "response": "", "reference": {"seconds": 1.5}}
    results: list[int] = []
    thread = threading.Thread(
        target=lambda: results.append(
            client.post("/v1/rewards", json={"items": [slow, slow]}).status_code
        )
    )
    thread.start()
    try:
        import time

        deadline = time.monotonic() + 5
        while client.app.state.engine.inflight < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        response = client.post("/v1/rewards", json={"items": [echo("42")]})
        assert response.status_code == 429
        assert response.headers["retry-after"] == "3"
        assert envelope(response)["code"] == "overloaded"
    finally:
        thread.join()
    assert results == [200]
    assert client.post("/v1/rewards", json={"items": [echo("42")]}).status_code == 200


class TestAuth:
    KEYS = ("alpha-key-0123456789", "beta-key-0123456789")

    @pytest.fixture
    def client(self, make_client):
        return make_client(api_keys=",".join(self.KEYS))

    @pytest.mark.parametrize("path", ["/v1/verifiers", "/metrics", "/docs", "/openapi.json"])
    def test_guarded_paths_refuse_without_a_token(self, client, path) -> None:
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert envelope(response)["code"] == "unauthorized"

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer wrong",
            "Basic alpha-key-0123456789",
            "alpha-key-0123456789",
            "Bearer ",
            "Bearer alpha-key-012345678",
        ],
    )
    def test_wrong_credentials_refused(self, client, header) -> None:
        response = client.post(
            "/v1/rewards", json={"items": [echo("42")]}, headers={"authorization": header}
        )
        assert response.status_code == 401

    @pytest.mark.parametrize("key", KEYS)
    def test_each_key_is_accepted(self, client, key) -> None:
        response = client.post(
            "/v1/rewards", json={"items": [echo("42")]}, headers={"authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200
        assert response.json()["results"][0]["reward"] == 1.0

    @pytest.mark.parametrize("path", ["/healthz", "/readyz"])
    def test_probes_stay_open(self, client, path) -> None:
        assert client.get(path).status_code == 200


def test_unknown_route_and_method_use_the_envelope(make_client) -> None:
    client = make_client()
    assert envelope(client.get("/v2/nothing"))["code"] == "not_found"
    response = client.get("/v1/rewards")
    assert response.status_code == 405
    assert envelope(response)["code"] == "method_not_allowed"


def test_unexpected_errors_hide_the_stack_trace(make_client) -> None:
    client = make_client()

    @client.app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/shadow")

    response = client.get("/boom", headers={"x-request-id": "req-123"})
    assert response.status_code == 500
    error = envelope(response)
    assert error["code"] == "internal" and "req-123" in error["message"]
    assert "secret" not in response.text and "Traceback" not in response.text


def test_request_id_is_echoed(make_client) -> None:
    response = make_client().get("/healthz", headers={"x-request-id": "abc"})
    assert response.headers["x-request-id"] == "abc"
    assert len(make_client().get("/healthz").headers["x-request-id"]) == 32


def test_verifiers_lists_schemas_and_limits(make_client) -> None:
    client = make_client(installed=True, start=False, max_items_per_request=77)
    body = client.get("/v1/verifiers").json()
    by_name = {v["name"]: v for v in body["verifiers"]}
    assert {"echo", "sleepy", "faulty", "math"} <= set(by_name)
    assert by_name["echo"]["reference_schema"]["required"] == ["answer"]
    assert "timeout_s" in by_name["echo"]["options_schema"]["properties"]
    assert body["limits"]["max_items_per_request"] == 77


def test_readyz_reports_the_pool_and_degraded_tools(make_client) -> None:
    client = make_client()
    response = client.get("/readyz")
    assert response.status_code == 200, "a missing tool degrades one verifier, not the replica"
    body = response.json()
    assert body["ready"] is True and body["checks"]["workers"] == "ok"
    assert body["degraded"] == ["faulty.tool"]
    assert "apt-get install" in body["checks"]["faulty.tool"]
    client.app.state.engine.close()
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json()["ready"] is False


def test_openapi_documents_the_batch(make_client) -> None:
    spec = make_client().get("/openapi.json").json()
    body = spec["paths"]["/v1/rewards"]["post"]["requestBody"]
    items = body["content"]["application/json"]["schema"]["properties"]["items"]
    # The shape to send, and (truthfully) that any other value is that item's `invalid`.
    shape, anything = items["items"]["anyOf"]
    assert "verifier" in shape["properties"] and "type" not in anything
    assert make_client().get("/docs").status_code == 200


def test_metrics_parse_as_prometheus_text(make_client) -> None:
    client = make_client()
    client.post("/v1/rewards", json={"items": [echo("42"), echo("42"), {"verifier": "nope"}]})
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    items = {
        (s.labels["verifier"], s.labels["status"]): s.value
        for s in families["rewardgate_items"].samples
        if s.name == "rewardgate_items_total"
    }
    assert items[("echo", "ok")] == 2 and items[("unknown", "invalid")] == 1
    assert families["rewardgate_cache_hits"].samples[0].value == 1
    assert "rewardgate_item_seconds" in families
    assert "rewardgate_queue_depth" in families
    requests = {
        (s.labels["route"], s.labels["code"]) for s in families["rewardgate_requests"].samples
    }
    assert ("/v1/rewards", "200") in requests


class TestAssets:
    def test_upload_then_head_and_get(self, make_client) -> None:
        client = make_client()
        data = b"\x00\x01 a database file" * 100
        response = client.post("/v1/assets", content=data)
        assert response.status_code == 200
        sha = response.json()["sha256"]
        assert sha == hashlib.sha256(data).hexdigest()
        head = client.head(f"/v1/assets/{sha}")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        assert client.get(f"/v1/assets/{sha}").content == data
        assert client.post("/v1/assets", content=data).json()["sha256"] == sha

    def test_missing_and_malformed_names(self, make_client) -> None:
        client = make_client()
        assert client.head(f"/v1/assets/{'0' * 64}").status_code == 404
        missing = client.get(f"/v1/assets/{'0' * 64}")
        assert missing.status_code == 404 and envelope(missing)["code"] == "not_found"
        bad = client.get("/v1/assets/../../etc/passwd")
        assert bad.status_code in (400, 404)
        assert envelope(client.get("/v1/assets/not-a-sha"))["code"] == "invalid_request"

    def test_size_limits(self, make_client, tmp_path) -> None:
        client = make_client(max_asset_bytes=1000, max_asset_store_bytes=1500)
        too_big = client.post("/v1/assets", content=b"x" * 1001)
        assert too_big.status_code == 413 and envelope(too_big)["code"] == "payload_too_large"
        assert client.post("/v1/assets", content=b"a" * 900).status_code == 200
        full = client.post("/v1/assets", content=b"b" * 900)
        assert full.status_code == 507 and envelope(full)["code"] == "insufficient_storage"
        leftovers = [p for p in (tmp_path / "assets").iterdir() if p.name.startswith(".upload")]
        assert leftovers == []
