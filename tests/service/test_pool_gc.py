"""A worker keeps what it inherited from the gateway out of the garbage collector's
sight (service/pool.py: `gc.freeze()` at its start), and still collects its own."""

from __future__ import annotations

import gc
import weakref

from rewardgate.service.pool import WorkerPool


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


# Made in the gateway before the fork: a worker inherits it.
INHERITED = [Node() for _ in range(1000)]


def _frozen_inherited() -> tuple[int, bool]:
    """In the worker: how many objects are frozen, and whether an inherited one is."""
    walked = any(obj is INHERITED for generation in range(3) for obj in gc.get_objects(generation))
    return gc.get_freeze_count(), walked


def _collects_own_cycles() -> bool:
    """In the worker: a reference cycle made there is still collected."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    gc.collect()
    return gone() is None


def test_a_worker_freezes_what_it_inherits_and_collects_its_own_garbage() -> None:
    pool = WorkerPool(1)
    pool.start()
    try:
        frozen, inherited_visible = pool.submit(_frozen_inherited, (), 30).future.result(30)
        assert frozen >= len(INHERITED)
        assert not inherited_visible  # out of every generation the collector walks
        assert pool.submit(_collects_own_cycles, (), 30).future.result(30) is True
    finally:
        pool.close()
