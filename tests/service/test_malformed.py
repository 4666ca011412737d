"""The malformed-input table: requests no client should send, across every endpoint.

Each is answered with the error envelope and the 4xx that names its fault, never a
5xx, never a score; the server keeps serving afterwards. A second table holds items
that are malformed inside a well-formed batch: each gets its own `invalid` result.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.service.test_engine import echo

KEY = "malformed-table-key-0123456789"
LIMIT = 64 * 1024
JSON = {"content-type": "application/json"}
ZEROS = "0" * 64


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def run_code(**overrides: Any) -> dict[str, Any]:
    body = {"code": "print(1)", "language": "python", "run_timeout": 5, "compile_timeout": 5}
    return {**body, **overrides}


def js(value: Any) -> bytes:
    """JSON as Python's encoder writes it: big integers, NaN and all."""
    return json.dumps(value).encode()


# (id, method, path, headers, body, status, code)
Row = tuple[str, str, str, dict[str, str], bytes | None, int, str]
BATCH = b'{"items": [{"verifier": "echo", "response": "4", "reference": {"answer": "4"}}]}'
GET_REWARD = b'{"query": ["q 4"], "prompts": ["q"], "labels": ["4"]}'

ROWS: list[Row] = [
    # -- /v1/rewards: bodies that are not a batch -----------------------------------------
    ("rewards-not-json", "POST", "/v1/rewards", JSON, b"{not json", 400, "invalid_request"),
    ("rewards-empty-body", "POST", "/v1/rewards", JSON, b"", 400, "invalid_request"),
    ("rewards-array", "POST", "/v1/rewards", JSON, b"[]", 400, "invalid_request"),
    ("rewards-items-int", "POST", "/v1/rewards", JSON, b'{"items": 3}', 400, "invalid_request"),
    ("rewards-items-null", "POST", "/v1/rewards", JSON, b'{"items": null}', 400, "invalid_request"),
    ("rewards-items-str", "POST", "/v1/rewards", JSON, b'{"items": "ab"}', 400, "invalid_request"),
    ("rewards-items-obj", "POST", "/v1/rewards", JSON, b'{"items": {}}', 400, "invalid_request"),
    ("rewards-no-items", "POST", "/v1/rewards", JSON, b"{}", 400, "invalid_request"),
    ("rewards-string", "POST", "/v1/rewards", JSON, b'"items"', 400, "invalid_request"),
    ("rewards-null", "POST", "/v1/rewards", JSON, b"null", 400, "invalid_request"),
    ("rewards-number", "POST", "/v1/rewards", JSON, b"123", 400, "invalid_request"),
    ("rewards-truncated", "POST", "/v1/rewards", JSON, b'{"items": [', 400, "invalid_request"),
    ("rewards-trailing", "POST", "/v1/rewards", JSON, BATCH + b" x", 400, "invalid_request"),
    ("rewards-two-docs", "POST", "/v1/rewards", JSON, BATCH + BATCH, 400, "invalid_request"),
    ("rewards-nan", "POST", "/v1/rewards", JSON, b'{"items": [NaN]}', 400, "invalid_request"),
    ("rewards-inf", "POST", "/v1/rewards", JSON, b'{"items": [Infinity]}', 400, "invalid_request"),
    (
        "rewards-huge-float",
        "POST",
        "/v1/rewards",
        JSON,
        b'{"items": [1e999]}',
        400,
        "invalid_request",
    ),
    (
        "rewards-huge-int",
        "POST",
        "/v1/rewards",
        JSON,
        b'{"items": [' + b"9" * 5000 + b"]}",
        400,
        "invalid_request",
    ),
    (
        "rewards-bad-utf8",
        "POST",
        "/v1/rewards",
        JSON,
        b'{"items": ["\xff\xfe"]}',
        400,
        "invalid_request",
    ),
    (
        "rewards-lone-surrogate",
        "POST",
        "/v1/rewards",
        JSON,
        b'{"items": ["\\ud800"]}',
        400,
        "invalid_request",
    ),
    ("rewards-bom", "POST", "/v1/rewards", JSON, b"\xef\xbb\xbf" + BATCH, 400, "invalid_request"),
    (
        "rewards-deep-nesting",
        "POST",
        "/v1/rewards",
        JSON,
        b'{"items": ' + deep(5000) + b"}",
        400,
        "invalid_request",
    ),
    ("rewards-nul-bytes", "POST", "/v1/rewards", JSON, b"\x00" * 64, 400, "invalid_request"),
    (
        "rewards-single-quotes",
        "POST",
        "/v1/rewards",
        JSON,
        b"{'items': []}",
        400,
        "invalid_request",
    ),
    (
        "rewards-too-many-items",
        "POST",
        "/v1/rewards",
        JSON,
        js({"items": [echo("1")] * 9}),
        413,
        "payload_too_large",
    ),
    ("rewards-oversize", "POST", "/v1/rewards", JSON, b" " * (LIMIT + 1), 413, "payload_too_large"),
    # -- /v1/rewards: not JSON at all (the cross-site vectors) ----------------------------
    (
        "rewards-text-plain",
        "POST",
        "/v1/rewards",
        {"content-type": "text/plain"},
        BATCH,
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-form",
        "POST",
        "/v1/rewards",
        {"content-type": "application/x-www-form-urlencoded"},
        b"items=1",
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-multipart",
        "POST",
        "/v1/rewards",
        {"content-type": "multipart/form-data; boundary=x"},
        b"--x--",
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-xml",
        "POST",
        "/v1/rewards",
        {"content-type": "application/xml"},
        b"<items/>",
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-text-xml",
        "POST",
        "/v1/rewards",
        {"content-type": "text/xml"},
        b"<items/>",
        415,
        "unsupported_media_type",
    ),
    ("rewards-no-content-type", "POST", "/v1/rewards", {}, BATCH, 415, "unsupported_media_type"),
    (
        "rewards-latin1",
        "POST",
        "/v1/rewards",
        {"content-type": "application/json; charset=latin-1"},
        BATCH,
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-json-suffix",
        "POST",
        "/v1/rewards",
        {"content-type": "application/merge-patch+json"},
        BATCH,
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-ndjson-body",
        "POST",
        "/v1/rewards",
        {"content-type": "application/x-ndjson"},
        BATCH,
        415,
        "unsupported_media_type",
    ),
    (
        "rewards-octet",
        "POST",
        "/v1/rewards",
        {"content-type": "application/octet-stream"},
        BATCH,
        415,
        "unsupported_media_type",
    ),
    # -- /v1/rewards: wrong methods and paths -----------------------------------------------
    ("rewards-get", "GET", "/v1/rewards", {}, None, 405, "method_not_allowed"),
    ("rewards-put", "PUT", "/v1/rewards", JSON, BATCH, 405, "method_not_allowed"),
    ("rewards-delete", "DELETE", "/v1/rewards", {}, None, 405, "method_not_allowed"),
    ("rewards-patch", "PATCH", "/v1/rewards", JSON, BATCH, 405, "method_not_allowed"),
    ("unknown-path", "GET", "/v2/rewards", {}, None, 404, "not_found"),
    ("unknown-deep-path", "POST", "/v1/rewards/extra", JSON, BATCH, 404, "not_found"),
    # -- /get_reward ----------------------------------------------------------------------------
    ("get-reward-not-json", "POST", "/get_reward", JSON, b"{nope", 400, "invalid_request"),
    ("get-reward-empty", "POST", "/get_reward", JSON, b"", 400, "invalid_request"),
    ("get-reward-no-query", "POST", "/get_reward", JSON, b"{}", 400, "invalid_request"),
    (
        "get-reward-query-str",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": "abc"}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-query-ints",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": [1, 2]}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-query-null",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": null}',
        400,
        "invalid_request",
    ),
    ("get-reward-array", "POST", "/get_reward", JSON, b'[["a"]]', 400, "invalid_request"),
    (
        "get-reward-labels-short",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": ["a", "b"], "labels": ["1"]}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-prompts-long",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": ["a"], "prompts": ["x", "y"]}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-prompts-int",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": ["a"], "prompts": [3]}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-too-many",
        "POST",
        "/get_reward",
        JSON,
        js({"query": ["a"] * 9}),
        413,
        "payload_too_large",
    ),
    (
        "get-reward-deep",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": ["a"], "labels": [' + deep(5000) + b"]}",
        400,
        "invalid_request",
    ),
    (
        "get-reward-bad-utf8",
        "POST",
        "/get_reward",
        JSON,
        b'{"query": ["\xff"]}',
        400,
        "invalid_request",
    ),
    (
        "get-reward-oversize",
        "POST",
        "/get_reward",
        JSON,
        b" " * (LIMIT + 1),
        413,
        "payload_too_large",
    ),
    (
        "get-reward-text-plain",
        "POST",
        "/get_reward",
        {"content-type": "text/plain"},
        GET_REWARD,
        415,
        "unsupported_media_type",
    ),
    (
        "get-reward-form",
        "POST",
        "/get_reward",
        {"content-type": "application/x-www-form-urlencoded"},
        b"query=a",
        415,
        "unsupported_media_type",
    ),
    (
        "get-reward-xml",
        "POST",
        "/get_reward",
        {"content-type": "application/xml"},
        b"<q/>",
        415,
        "unsupported_media_type",
    ),
    (
        "get-reward-no-content-type",
        "POST",
        "/get_reward",
        {},
        GET_REWARD,
        415,
        "unsupported_media_type",
    ),
    ("get-reward-get", "GET", "/get_reward", {}, None, 405, "method_not_allowed"),
    # -- /run_code ------------------------------------------------------------------------------
    ("run-code-not-json", "POST", "/run_code", JSON, b"{code", 400, "invalid_request"),
    ("run-code-empty-object", "POST", "/run_code", JSON, b"{}", 400, "invalid_request"),
    ("run-code-code-int", "POST", "/run_code", JSON, js(run_code(code=1)), 400, "invalid_request"),
    (
        "run-code-no-language",
        "POST",
        "/run_code",
        JSON,
        js({"code": "print(1)"}),
        400,
        "invalid_request",
    ),
    (
        "run-code-unknown-language",
        "POST",
        "/run_code",
        JSON,
        js(run_code(language="cobol")),
        400,
        "invalid_request",
    ),
    (
        "run-code-zero-timeout",
        "POST",
        "/run_code",
        JSON,
        js(run_code(run_timeout=0)),
        400,
        "invalid_request",
    ),
    (
        "run-code-huge-timeout",
        "POST",
        "/run_code",
        JSON,
        js(run_code(run_timeout=1e9)),
        400,
        "invalid_request",
    ),
    (
        "run-code-timeout-str",
        "POST",
        "/run_code",
        JSON,
        js(run_code(compile_timeout="ten")),
        400,
        "invalid_request",
    ),
    (
        "run-code-memory-over-cap",
        "POST",
        "/run_code",
        JSON,
        js(run_code(memory_limit_MB=100_000)),
        400,
        "invalid_request",
    ),
    (
        "run-code-memory-huge",
        "POST",
        "/run_code",
        JSON,
        js(run_code(memory_limit_MB=10**30)),
        400,
        "invalid_request",
    ),
    (
        "run-code-memory-float",
        "POST",
        "/run_code",
        JSON,
        js(run_code(memory_limit_MB=1.5)),
        400,
        "invalid_request",
    ),
    (
        "run-code-files-not-b64",
        "POST",
        "/run_code",
        JSON,
        js(run_code(files={"a.txt": "%%%"})),
        400,
        "invalid_request",
    ),
    (
        "run-code-files-escape",
        "POST",
        "/run_code",
        JSON,
        js(run_code(files={"../a": "YQ=="})),
        400,
        "invalid_request",
    ),
    (
        "run-code-files-absolute",
        "POST",
        "/run_code",
        JSON,
        js(run_code(files={"/etc/a": "YQ=="})),
        400,
        "invalid_request",
    ),
    (
        "run-code-files-list",
        "POST",
        "/run_code",
        JSON,
        js(run_code(files=["a"])),
        400,
        "invalid_request",
    ),
    (
        "run-code-fetch-escape",
        "POST",
        "/run_code",
        JSON,
        js(run_code(fetch_files=["../../etc/passwd"])),
        400,
        "invalid_request",
    ),
    (
        "run-code-fetch-absolute",
        "POST",
        "/run_code",
        JSON,
        js(run_code(fetch_files=["/etc/passwd"])),
        400,
        "invalid_request",
    ),
    (
        "run-code-stdin-list",
        "POST",
        "/run_code",
        JSON,
        js(run_code(stdin=["a"])),
        400,
        "invalid_request",
    ),
    (
        "run-code-deep",
        "POST",
        "/run_code",
        JSON,
        b'{"code": ' + deep(5000) + b"}",
        400,
        "invalid_request",
    ),
    (
        "run-code-bad-utf8",
        "POST",
        "/run_code",
        JSON,
        b'{"code": "\xff", "language": "python"}',
        400,
        "invalid_request",
    ),
    ("run-code-oversize", "POST", "/run_code", JSON, b" " * (LIMIT + 1), 413, "payload_too_large"),
    (
        "run-code-text-plain",
        "POST",
        "/run_code",
        {"content-type": "text/plain"},
        js(run_code()),
        415,
        "unsupported_media_type",
    ),
    (
        "run-code-form",
        "POST",
        "/run_code",
        {"content-type": "application/x-www-form-urlencoded"},
        b"code=1",
        415,
        "unsupported_media_type",
    ),
    (
        "run-code-no-content-type",
        "POST",
        "/run_code",
        {},
        js(run_code()),
        415,
        "unsupported_media_type",
    ),
    ("run-code-get", "GET", "/run_code", {}, None, 405, "method_not_allowed"),
    # -- assets, catalogue, probes ----------------------------------------------------------------
    ("asset-bad-sha", "GET", "/v1/assets/not-a-sha", {}, None, 400, "invalid_request"),
    ("asset-non-hex-sha", "GET", f"/v1/assets/{'g' * 64}", {}, None, 400, "invalid_request"),
    ("asset-short-sha", "GET", f"/v1/assets/{ZEROS[:63]}", {}, None, 400, "invalid_request"),
    ("asset-missing", "GET", f"/v1/assets/{ZEROS}", {}, None, 404, "not_found"),
    (
        "asset-oversize",
        "POST",
        "/v1/assets",
        {"content-type": "application/octet-stream"},
        b"x" * 2049,
        413,
        "payload_too_large",
    ),
    ("asset-put", "PUT", f"/v1/assets/{ZEROS}", {}, b"x", 405, "method_not_allowed"),
    ("asset-delete", "DELETE", f"/v1/assets/{ZEROS}", {}, None, 405, "method_not_allowed"),
    ("verifiers-post", "POST", "/v1/verifiers", JSON, b"{}", 405, "method_not_allowed"),
    ("healthz-post", "POST", "/healthz", JSON, b"{}", 405, "method_not_allowed"),
    ("metrics-delete", "DELETE", "/metrics", {}, None, 405, "method_not_allowed"),
]

# Auth: (id, headers) that must all be 401 on a server with a key.
AUTH_ROWS: list[tuple[str, dict[str, str]]] = [
    ("no-header", {}),
    ("basic-scheme", {"authorization": f"Basic {KEY}"}),
    ("no-scheme", {"authorization": KEY}),
    ("empty-bearer", {"authorization": "Bearer "}),
    ("wrong-key", {"authorization": "Bearer " + "x" * len(KEY)}),
    ("key-prefix", {"authorization": f"Bearer {KEY[:-1]}"}),
    ("key-plus-one", {"authorization": f"Bearer {KEY}x"}),
    ("key-in-query-only", {}),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One in-process app for the whole table (no state is shared between rows)."""
    from rewardgate.service.app import create_app, verifier_env
    from rewardgate.service.settings import Settings
    from rewardgate.verifiers.registry import Registry
    from tests.service.probes import PROBES

    settings = Settings(
        workers=1,
        asset_dir=tmp_path_factory.mktemp("assets"),
        max_body_bytes=LIMIT,
        max_items_per_request=8,
        max_asset_bytes=2048,
        max_run_memory_mb=1024,
    )
    registry = Registry.from_entry_points(PROBES, env=verifier_env(settings))
    with TestClient(create_app(settings, registry), raise_server_exceptions=False) as client:
        yield client


def assert_envelope(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    if response.request.method == "HEAD":
        return
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and "Traceback" not in response.text


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) + len(AUTH_ROWS) >= 77
    assert len({row[0] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_malformed_request_gets_its_4xx_in_the_envelope(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    response = client.request(method, path, headers=headers, content=body)
    assert_envelope(response, status, code)


def test_chunked_oversize_is_413_on_every_json_endpoint(client: TestClient) -> None:
    """No Content-Length: the limit is found while reading, and still answered 413."""

    def chunks() -> Any:
        for _ in range(LIMIT // 1024 + 2):
            yield b" " * 1024

    for path in ("/v1/rewards", "/get_reward", "/run_code"):
        response = client.post(path, content=chunks(), headers=JSON)
        assert_envelope(response, 413, "payload_too_large")


def test_the_server_still_serves_after_the_table(client: TestClient) -> None:
    batch = client.post("/v1/rewards", content=BATCH, headers=JSON)
    assert batch.status_code == 200 and batch.json()["results"][0]["reward"] == 1.0
    charset = {"content-type": "application/json; charset=UTF-8"}
    assert client.post("/v1/rewards", content=BATCH, headers=charset).status_code == 200
    ndjson = {**JSON, "accept": "application/x-ndjson"}
    streamed = client.post("/v1/rewards", content=BATCH, headers=ndjson)
    assert streamed.status_code == 200 and orjson.loads(streamed.text.splitlines()[0])["index"] == 0


@pytest.mark.parametrize(
    "item",
    [
        3,
        "text",
        None,
        [],
        {},
        {"verifier": "nope", "response": "x"},
        {"verifier": 7, "response": "x"},
        {"verifier": "echo"},
        {"verifier": "echo", "response": ["x"]},
        {"verifier": "echo", "response": "x", "surprise": 1},
        {"verifier": "echo", "response": "x", "fallback_reward": "high"},
        {"verifier": "echo", "response": "x", "options": [1]},
        {"verifier": "echo", "response": "x", "reference": {"answer": 4}},
        {"verifier": "echo", "response": "x", "reference": orjson.loads(deep(400))},
    ],
    ids=lambda item: json.dumps(item)[:40],
)
def test_a_malformed_item_is_its_own_invalid_result(client: TestClient, item: Any) -> None:
    body = js({"items": [item, echo("4", "4")]})
    response = client.post("/v1/rewards", content=body, headers=JSON)
    assert response.status_code == 200, response.text[:300]
    bad, good = response.json()["results"]
    assert bad["status"] == "invalid" and bad["error"], bad
    assert (good["status"], good["reward"]) == ("ok", 1.0)


@pytest.mark.parametrize(
    "label", ["NaN", "Infinity", "-Infinity", '{"answer": NaN}', "[1, Infinity]"]
)
def test_a_non_finite_label_is_refused_per_item(client: TestClient, label: str) -> None:
    """Python's json writes NaN and Infinity; as a gold answer each would be compared."""
    good = b'"4"'
    raw = b'{"query": ["q4", "q4"], "prompts": ["q", "q"], "labels": ['
    raw += label.encode() + b", " + good + b"]}"
    response = client.post("/get_reward?verifier=math", content=raw, headers=JSON)
    assert response.status_code == 200, response.text[:300]
    answer = response.json()
    assert answer["extra_logs"]["verified"] == [0.0, 1.0]
    assert answer["rewards"][0] == 0.0


def test_a_non_finite_label_inside_label_json_is_refused(client: TestClient) -> None:
    body = {"query": ["q4"], "prompts": ["q"], "labels": ['{"answer": NaN}']}
    response = client.post("/get_reward?verifier=math", content=js(body), headers=JSON)
    assert response.json()["extra_logs"]["verified"] == [0.0]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from rewardgate.service.app import create_app, verifier_env
    from rewardgate.service.settings import Settings
    from rewardgate.verifiers.registry import Registry
    from tests.service.probes import PROBES

    settings = Settings(workers=1, asset_dir=tmp_path_factory.mktemp("k"), api_keys=KEY)
    registry = Registry(PROBES, env=verifier_env(settings))
    with TestClient(create_app(settings, registry), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("headers"), [row[1] for row in AUTH_ROWS], ids=[r[0] for r in AUTH_ROWS])
def test_bad_credentials_get_401_in_the_envelope(
    keyed: TestClient, headers: dict[str, str]
) -> None:
    for method, path, body in (
        ("POST", f"/v1/rewards?key={KEY}", BATCH),
        ("POST", "/get_reward", GET_REWARD),
        ("GET", "/v1/verifiers", None),
        ("GET", "/metrics", None),
    ):
        response = keyed.request(method, path, content=body, headers={**JSON, **headers})
        assert_envelope(response, 401, "unauthorized")
