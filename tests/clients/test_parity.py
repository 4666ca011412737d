"""The same items through every client give the same rewards and statuses."""

from __future__ import annotations

from typing import Any

from rewardgate.clients import LocalClient, RewardClient, RewardRequest, rewards
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry
from tests.clients.support import echo, in_process
from tests.service.probes import PROBES


def three_hundred_items() -> list[Any]:
    items: list[Any] = [
        echo(str(i % 7), answer=str(i % 3), id=f"e{i}") for i in range(290)
    ]  # right when i % 7 == i % 3
    items[10] = RewardRequest(verifier="echo", response="1", reference={"answer": "1"}, id="m")
    items += [
        {"verifier": "nope", "response": "x", "id": "unknown"},
        {"verifier": "echo", "response": "x", "reference": [1], "id": "bad-reference"},
        {"verifier": "echo", "response": "x", "id": "no-reference"},
        {"verifier": "echo", "response": 5, "reference": {"answer": "5"}, "id": "not-str"},
        echo("x", options={"colour": "red"}, id="bad-option"),
        {"verifier": "faulty", "response": "tool", "id": "tool"},
        {"verifier": "faulty", "response": "ok", "fallback_reward": 0.25, "id": "faulty-ok"},
        {"verifier": "faulty", "response": "bug", "fallback_reward": 0.25, "id": "bug"},
        "not an object",
        17,
    ]
    return items


def verdicts(results: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.id, r.status, r.reward) for r in results]


async def test_sync_async_and_local_clients_agree(make_app, live_server, tmp_path) -> None:
    items = three_hundred_items()
    server = live_server(workers=2)
    with RewardClient(server.url) as client:
        over_http = client.score_batch(items, batch_size=64)
    async with in_process(await make_app(workers=2)) as client:
        in_process_results = await client.score_batch(items, batch_size=50)
    settings = Settings(workers=2, asset_dir=tmp_path / "local-assets")
    with LocalClient(settings, Registry(PROBES)) as local:
        local_results = local.score_batch(items, batch_size=40)

    assert len(over_http) == 300
    assert verdicts(over_http) == verdicts(in_process_results) == verdicts(local_results)
    assert rewards(over_http) == rewards(in_process_results) == rewards(local_results)
    expected = [float(i % 7 == i % 3) for i in range(290)]
    expected[10] = 1.0
    assert rewards(over_http, abstain=False)[:290] == expected
    statuses = {r.id: r.status for r in over_http[290:]}
    assert statuses == {
        "unknown": "invalid",
        "bad-reference": "invalid",
        "no-reference": "invalid",
        "not-str": "invalid",
        "bad-option": "invalid",
        "tool": "error",
        "faulty-ok": "ok",
        "bug": "error",
        None: "invalid",
    }
    assert rewards(over_http)[-10:] == [None] * 5 + [None, 0.5, None, None, None]
    assert rewards(over_http, abstain=False)[-5:] == [-1.0, 0.5, 0.25, 0.0, 0.0]


def math_items() -> list[dict[str, Any]]:
    """300 math items: right and wrong answers in several spellings, and bad references."""
    spellings = ["\\boxed{{{v}}}", "The answer is {v}.", "$\\frac{{{v2}}}{{2}}$", "so $x = {v}$"]
    items: list[dict[str, Any]] = []
    for i in range(294):
        value = i % 11
        answer = value if i % 3 else value + 1
        text = spellings[i % 4].format(v=answer, v2=2 * answer)
        items.append({"verifier": "math", "response": text, "reference": str(value), "id": str(i)})
    items += [
        {"verifier": "math", "response": "1", "reference": "", "id": "empty-gold"},
        {"verifier": "math", "response": "1", "reference": {"gold": "1"}, "id": "bad-field"},
        {"verifier": "math", "response": "\\boxed{}", "reference": "3", "id": "empty-box"},
        {"verifier": "math", "response": "\\boxed{A, B, C, D}", "reference": "B", "id": "all"},
        {
            "verifier": "math",
            "response": "x",
            "reference": "5",
            "options": {"nope": 1},
            "id": "bad-option",
        },
        {"verifier": "math", "response": "\\boxed{5}", "reference": 5, "id": "int-gold"},
    ]
    return items


async def test_every_client_and_the_cli_agree_on_math(live_server, tmp_path) -> None:
    import json
    import subprocess
    import sys

    from rewardgate.clients import AsyncRewardClient
    from tests.conftest import ROOT

    items = math_items()
    server = live_server(workers=2)
    with RewardClient(server.url) as client:
        sync_results = client.score_batch(items, batch_size=64)
    async with AsyncRewardClient(server.url) as async_client:
        async_results = await async_client.score_batch(items, batch_size=100)
    with LocalClient(Settings(workers=2, asset_dir=tmp_path / "assets")) as local:
        local_results = local.score_batch(items)

    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in items))
    cli_runs = {}
    for name, extra in {"in-process": [], "server": ["--server", server.url]}.items():
        output = tmp_path / f"{name}.jsonl"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rewardgate.service.cli",
                "score",
                str(source),
                "-o",
                str(output),
                "--quiet",
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        cli_runs[name] = [json.loads(line) for line in output.read_text().splitlines()]

    expected = [(r.status, r.reward) for r in sync_results]
    assert [(r.status, r.reward) for r in async_results] == expected
    assert [(r.status, r.reward) for r in local_results] == expected
    for rows in cli_runs.values():
        assert [(row["status"], row["reward"]) for row in rows] == expected
    assert [r.reward for r in sync_results[:294]] == [float(i % 3 != 0) for i in range(294)]
    assert [r.status for r in sync_results[294:]] == [
        "invalid",
        "invalid",
        "ok",
        "ok",
        "invalid",
        "ok",
    ]
    assert [r.reward for r in sync_results[296:]] == [0.0, 0.0, 0.0, 1.0]
