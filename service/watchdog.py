"""The pool's watchdog: the backstop for what a slot cannot see, and the liveness probe.

Every `interval_s` it (1) kills a worker whose job ran `grace_s` past its deadline
(a slot blocked writing to a stopped worker cannot enforce the deadline itself; in a
chunk of jobs the deadline is that of the job the worker reported it is on),
(2) restarts a slot thread that ended by a bug, and (3) sends a trivial job through
the pool ahead of the queue with its own short deadline. A probe that fails kills the
worker that took it (the slot's deadline does that), so a stopped or stuck idle worker
is replaced rather than handed real work. The probe is skipped while every worker is
busy with a job inside its deadline: the pool is then slow, not broken.

`healthy` turns false only when the pool cannot heal: `unhealthy_after` probes in a row
failed, or no worker could be started for `heal_timeout_s`. `/healthz` answers 503
then, so an orchestrator restarts the process.
"""

from __future__ import annotations

import logging
import threading

from rewardgate.service.pool import WorkerPool

__all__ = ["Watchdog"]

log = logging.getLogger("rewardgate.watchdog")


class Watchdog:
    def __init__(
        self,
        pool: WorkerPool,
        *,
        interval_s: float = 1.0,
        probe_timeout_s: float = 5.0,
        grace_s: float = 2.0,
        unhealthy_after: int = 3,
        heal_timeout_s: float = 30.0,
    ) -> None:
        self.pool = pool
        self.interval_s = interval_s
        self.probe_timeout_s = probe_timeout_s
        self.grace_s = grace_s
        self.unhealthy_after = unhealthy_after
        self.heal_timeout_s = heal_timeout_s
        self.failed_probes = 0
        self.probes = 0
        self.heals = 0
        self.last_problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rewardgate-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.probe_timeout_s + 5)

    @property
    def healthy(self) -> bool:
        return self.problem is None

    @property
    def problem(self) -> str | None:
        """Why the pool cannot serve, or None while it can (or is healing)."""
        if not self._stop.is_set() and not self._thread.is_alive():
            return "the watchdog stopped"
        failing = self.pool.spawn_failing_for()
        if failing > self.heal_timeout_s:
            return f"no worker could be started for {failing:.0f} s"
        if self.failed_probes >= self.unhealthy_after:
            return f"{self.failed_probes} liveness probes in a row failed: {self.last_problem}"
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the watchdog must outlive its own bugs
                log.exception("watchdog check failed")

    def check(self) -> None:
        """One round: enforce deadlines, revive slots, probe."""
        killed = self.pool.kill_overdue(self.grace_s)
        revived = self.pool.revive_slots()
        if killed or revived:
            self.heals += killed + revived
            log.warning("watchdog killed %d overdue workers, revived %d slots", killed, revived)
        if self.pool.busy >= self.pool.size:
            return
        self.probes += 1
        job = self.pool.ping(self.probe_timeout_s)
        try:
            job.future.result(timeout=self.probe_timeout_s + self.grace_s)
        except Exception as exc:  # a timeout or any failure of the job
            started = job.future.running() or job.future.done()
            job.cancel()
            if self._stop.is_set() or self.pool.closed:
                return
            if not started and self.pool.busy >= self.pool.size:
                # Every worker took a real job before the probe got one: busy, not broken
                # (deadlines and `kill_overdue` bound how long that lasts).
                return
            self.failed_probes += 1
            self.last_problem = f"{type(exc).__name__}: {exc}".rstrip(": ")
            log.error("liveness probe failed (%d in a row): %s", self.failed_probes, exc)
            return
        if self.failed_probes:
            log.warning("liveness probe answered again after %d failures", self.failed_probes)
        self.failed_probes = 0
        self.last_problem = None
