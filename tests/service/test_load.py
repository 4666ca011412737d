"""A bounded 64-client load on a real server: every result exactly once, and right.

Clients send batches of 1 to 64 items (JSON and NDJSON) with known verdicts at a
server whose `max_inflight` is far below the offered load, so the admission line and
its 429s are exercised; a client retries 429 after `Retry-After`, as `RewardClient`
does. Large batches must get through as surely as small ones (issue 17, defect 6).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.service.faults import check_results, known_items, metric, score, serve

CLIENTS = 64
ROUNDS = 3


@pytest.mark.slow
def test_64_clients_every_result_exactly_once(tmp_path: Path) -> None:
    failures: list[BaseException] = []
    delivered: Counter[str] = Counter()
    sizes: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(timeout=120) as http:
            for round_ in range(ROUNDS):
                size = 64 if (n + round_) % 4 == 0 else rng.randint(1, 64)
                items = known_items(f"load-{n}-{round_}", size)
                try:
                    results = score(
                        server.url, items, stream=rng.random() < 0.5, retry_for=120, client=http
                    )
                    check_results(items, results)
                except BaseException as exc:
                    with lock:
                        failures.append(exc)
                    return
                with lock:
                    delivered.update(r["id"] for r in results)
                    sizes.append(size)

    with serve(tmp_path, workers=2, max_inflight=256, max_items_per_request=64) as server:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a client is hung"
        assert not failures, failures[:3]
        assert len(sizes) == CLIENTS * ROUNDS  # every batch got through, the 64s included
        assert sizes.count(64) >= CLIENTS * ROUNDS // 4
        assert set(delivered.values()) == {1}
        # The server judged each item once: no hidden second verdict.
        assert metric(server, "rewardgate_items_total") == sum(delivered.values())
        assert metric(server, "rewardgate_queue_depth") == 0
        assert metric(server, "rewardgate_admission_waiting") == 0
