"""The garbage collector of a process that serves the engine and nothing else.

A gateway's heap after warm-up is hundreds of thousands of long-lived objects (every
verifier's imports, parsers, schemas). CPython's collector walks all of them in every
full collection, and a busy gateway allocating a batch's short-lived objects triggers
one every few thousand items: about 30 µs of the gateway's one core per item of a
trivial batch, a third of its cost (bench/overhead.py, measured with `gc.callbacks`).
`serving_heap` moves what is alive after warm-up to the permanent generation
(`gc.freeze`: never walked again, and the forked workers' copies stay shared), and
collects the youngest generation every `GATEWAY_GC_THRESHOLD` allocations instead of
700, so a batch's objects die by reference count before a collection has to walk them
(another 6 to 9 µs an item; in interleaved rounds of the trivial verifier over HTTP,
16,000 → 20,500 items/s and 64 → 53 µs of service CPU an item against 700).

Only for a process that is the service: `rewardgate serve`, a Ray Serve replica, a Ray
Data actor, `rewardgate score`, `LocalClient`'s helper process, and the benches standing
in for one. An embedding program (tests, a notebook, a trainer with a `LocalClient`)
keeps its collector as it is, since objects frozen there are never collected as
cycles. The collections it avoids ran on whichever thread allocated, the supervising
threads of the worker pool included: with SQL items they doubled what those threads
cost.
"""

from __future__ import annotations

import gc

__all__ = ["GATEWAY_GC_THRESHOLD", "serving_heap"]

# Allocations between two collections of the youngest generation; the cyclic garbage
# that waits that long is a few MB at most.
GATEWAY_GC_THRESHOLD = 50_000


def serving_heap() -> None:
    """Freeze what is alive now (call it once the verifiers are warm) and space out the
    young collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GATEWAY_GC_THRESHOLD, *gc.get_threshold()[1:])
