"""A pool of killable worker processes in which no worker can break or wedge another.

Why not pebble (or `concurrent.futures.ProcessPoolExecutor`): both feed every worker
through one shared channel. pebble declares the whole pool broken when a worker dies
with no task (the kernel's OOM killer does exactly that), and a worker killed while it
holds the channel's lock leaves every other worker waiting on that lock for ever. Here
each worker has its own pipe and its own supervising thread in the parent (a *slot*),
so a worker that dies, at any instant, costs only the job it held:

- the job queue lives in the parent, so nothing queued is ever lost with a worker;
- a slot finds its worker dead (the process sentinel, EOF on the pipe) and forks a
  new one; a worker found dead before it got a job is replaced silently;
- past a job's deadline, on cancellation or on death, the slot SIGKILLs the worker
  (which also works on a stopped one) and the job fails with `JobTimeout`,
  `concurrent.futures.CancelledError` or `WorkerDied`; the caller decides on retries.

`Watchdog` (service/watchdog.py) is the backstop for what a slot cannot see from the
inside (a slot blocked writing to a stopped worker, a slot thread that crashed) and
the liveness probe behind `/healthz`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import signal
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["Job", "JobTimeout", "PoolClosed", "WorkerDied", "WorkerPool"]

log = logging.getLogger("rewardgate.pool")


class WorkerDied(Exception):
    """The worker running the job ended without answering (killed, crashed, OOM)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"worker died (exit code {exitcode})")
        self.exitcode = exitcode


class JobTimeout(Exception):
    """The job ran past its deadline; its worker was killed."""


class PoolClosed(RuntimeError):
    """The pool was closed before the job finished."""


@dataclass(eq=False)
class Job:
    """One call of a function in a worker; `future` holds its outcome."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float | None
    future: Future[Any] = field(default_factory=Future)
    _cancel: threading.Event = field(default_factory=threading.Event)
    _slot: _Slot | None = None

    def cancel(self) -> None:
        """Cancel, killing the worker if the job is already running."""
        if self.future.cancel():
            return
        self._cancel.set()
        slot = self._slot
        if slot is not None:
            slot.wake()


def _worker_main(
    conn: Connection, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    """The worker's loop: one job at a time from its own pipe, the outcome back.

    SIGINT and SIGTERM are ignored: the pool ends its workers with SIGKILL, so a
    SIGTERM sent to the whole process group still lets the gateway drain its
    requests. An idle worker whose gateway is gone exits (workers forked later
    hold copies of the gateway's pipe ends, so EOF alone cannot tell).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        fn, args = pickle.loads(message)
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # every failure goes back as data
            exc.traceback = traceback.format_exc()  # type: ignore[attr-defined]
            outcome = (False, exc)
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:
            data = pickle.dumps((False, RuntimeError(f"unpicklable outcome: {exc!r}")))
        conn.send_bytes(data)


def _ping() -> int:
    return os.getpid()


class _Slot:
    """One worker process and the thread that feeds and supervises it."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.job: Job | None = None
        self.deadline: float | None = None
        self.spawn_failing_since: float | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.thread = self._new_thread()

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name=f"rewardgate-slot-{self.index}", daemon=True)

    # -- worker lifecycle -----------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.exitcode is None

    def spawn(self) -> None:
        """Fork a fresh worker with a fresh pipe; raises OSError when the fork fails.

        Forks are serialised: a worker forked while another's pipes are half set up
        would hold their child ends, and that worker's death would go unnoticed.
        """
        with self.pool.fork_lock:
            parent, child = self.pool.context.Pipe(duplex=True)
            process = self.pool.context.Process(
                target=_worker_main,
                args=(child, self.pool.initializer, self.pool.initargs),
                name=f"rewardgate-worker-{self.index}",
                daemon=True,
            )
            try:
                process.start()
            except BaseException:
                parent.close()
                child.close()
                raise
            child.close()
        self.process, self.conn = process, parent
        self.pool.spawned += 1

    def kill(self) -> int | None:
        """SIGKILL and reap the worker (stopped or not); returns its exit code."""
        process, conn = self.process, self.conn
        self.process, self.conn = None, None
        exitcode = None
        if process is not None:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
            process.join(timeout=5)
            exitcode = process.exitcode
            with contextlib.suppress(ValueError):
                process.close()
        if conn is not None:
            conn.close()
        return exitcode

    def _ensure_worker(self) -> bool:
        if self.alive:
            return True
        if self.process is not None:
            code = self.kill()
            self.pool.deaths += 1
            log.warning("worker %d found dead while idle (exit code %s)", self.index, code)
        try:
            self.spawn()
        except OSError as exc:
            if self.spawn_failing_since is None:
                self.spawn_failing_since = time.monotonic()
            log.error("worker %d cannot be started: %s", self.index, exc)
            self._sleep(self.pool.respawn_backoff_s)
            return False
        self.spawn_failing_since = None
        return True

    # -- the slot's loop ------------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 512):
                pass

    def _sleep(self, seconds: float) -> None:
        wait([self._wake_r], timeout=seconds)
        self._drain_wake()

    def _run(self) -> None:
        while not self.pool.closed:
            if not self._ensure_worker():
                continue
            job = self.pool._take(self)
            if job is None:
                continue
            try:
                # A worker that died while idle is replaced before the job is sent,
                # so the job is not charged for it.
                while not self.alive and not self.pool.closed:
                    self._ensure_worker()
                if self.pool.closed:
                    _settle(job, exc=PoolClosed("pool closed"))
                    continue
                self._execute(job)
            except BaseException:  # a bug here must not lose the job
                log.exception("slot %d failed", self.index)
                self.kill()
                _settle(job, exc=WorkerDied(None))
                raise
            finally:
                self.job, self.deadline = None, None
                job._slot = None
        self.kill()

    def _execute(self, job: Job) -> None:
        assert self.process is not None and self.conn is not None
        try:
            data = pickle.dumps((job.fn, job.args))
        except Exception as exc:  # the caller's bug, not the worker's
            _settle(job, exc=exc)
            return
        self._drain_wake()
        self.deadline = time.monotonic() + job.timeout if job.timeout else None
        conn, process = self.conn, self.process
        try:
            conn.send_bytes(data)
        except OSError:
            self._fail_dead(job)
            return
        while True:
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            ready = wait([conn, process.sentinel, self._wake_r], timeout=timeout)
            if conn in ready or (process.sentinel in ready and conn.poll(0)):
                try:
                    ok, value = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError, pickle.UnpicklingError):
                    self._fail_dead(job)
                    return
                _settle(job, value=value) if ok else _settle(job, exc=value)
                return
            if process.sentinel in ready:
                self._fail_dead(job)
                return
            if self._wake_r in ready:
                self._drain_wake()
            if job._cancel.is_set() or self.pool.closed:
                self.kill()
                _settle(job, exc=PoolClosed("pool closed") if self.pool.closed else None)
                return
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.kill()
                self.pool.deaths += 1
                _settle(job, exc=JobTimeout(f"job ran past its {job.timeout:g} s deadline"))
                return

    def _fail_dead(self, job: Job) -> None:
        code = self.kill()
        if job._cancel.is_set():
            _settle(job, exc=None)
            return
        self.pool.deaths += 1
        if self.deadline is not None and time.monotonic() >= self.deadline:
            # Killed by the watchdog for running past its deadline.
            _settle(job, exc=JobTimeout(f"job ran past its {job.timeout:g} s deadline"))
        else:
            _settle(job, exc=WorkerDied(code))


def _settle(job: Job, value: Any = None, exc: BaseException | None = None) -> None:
    """Resolve the job's future once; `exc=None` with a cancel request means cancelled."""
    if job.future.done():
        return
    if exc is None and job._cancel.is_set():
        exc = CancelledError()
    with contextlib.suppress(Exception):
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(value)


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


@atexit.register
def _kill_workers_at_exit() -> None:
    """Workers ignore SIGTERM, so multiprocessing's own exit hook (terminate, then join)
    would wait for ever on a pool nobody closed; close such pools first (atexit runs
    this hook before multiprocessing's, which was registered earlier)."""
    for pool in list(_POOLS):
        if not pool.closed:
            with contextlib.suppress(Exception):
                pool.close()


class WorkerPool:
    """`size` forked workers, each run by its own slot thread; jobs wait in the parent."""

    def __init__(
        self,
        size: int,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        context: BaseContext | None = None,
        respawn_backoff_s: float = 0.5,
    ) -> None:
        self.size = size
        self.initializer = initializer
        self.initargs = initargs
        self.context: Any = context or get_context("fork")
        self.respawn_backoff_s = respawn_backoff_s
        self.fork_lock = threading.Lock()
        self.closed = False
        self.spawned = 0
        self.deaths = 0
        self._jobs: deque[Job] = deque()
        self._urgent: deque[Job] = deque()
        self._cond = threading.Condition()
        self.slots: list[_Slot] = []

    def start(self) -> None:
        """Fork every worker now (raising if that fails), then start the slots."""
        self.slots = [_Slot(self, i) for i in range(self.size)]
        _POOLS.add(self)
        try:
            for slot in self.slots:
                slot.spawn()
        except BaseException:
            for slot in self.slots:
                slot.kill()
            raise
        for slot in self.slots:
            slot.thread.start()

    def submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        timeout: float | None = None,
        *,
        urgent: bool = False,
    ) -> Job:
        """Queue a job; `urgent` ones (a retry that already waited its turn) go first."""
        return self._enqueue(Job(fn, args, timeout), urgent=urgent)

    def ping(self, timeout: float) -> Job:
        """A trivial job ahead of the queue: answers within `timeout` if a worker is free."""
        return self._enqueue(Job(_ping, (), timeout), urgent=True)

    def _enqueue(self, job: Job, urgent: bool) -> Job:
        with self._cond:
            if self.closed:
                raise PoolClosed("pool closed")
            (self._urgent if urgent else self._jobs).append(job)
            self._cond.notify()
        return job

    def _take(self, slot: _Slot) -> Job | None:
        with self._cond:
            while not self.closed and not self._urgent and not self._jobs:
                self._cond.wait()
            if self.closed:
                return None
            job = (self._urgent or self._jobs).popleft()
            if not job.future.set_running_or_notify_cancel():
                return None
            job._slot, slot.job = slot, job
            return job

    # -- what the watchdog and the probes read --------------------------------------

    @property
    def queued(self) -> int:
        return len(self._jobs) + len(self._urgent)

    @property
    def alive_workers(self) -> int:
        return sum(1 for slot in self.slots if slot.alive)

    @property
    def busy(self) -> int:
        return sum(1 for slot in self.slots if slot.job is not None)

    def spawn_failing_for(self) -> float:
        """How long every slot without a worker has been failing to start one (0: none)."""
        now = time.monotonic()
        since = [s.spawn_failing_since for s in self.slots if not s.alive]
        if not since or any(s is None for s in since) or self.alive_workers:
            return 0.0
        return now - max(s for s in since if s is not None)

    def kill_overdue(self, grace_s: float) -> int:
        """Kill workers whose slot let a job run `grace_s` past its deadline.

        A slot enforces deadlines itself, except while blocked writing a job to a
        worker that stopped reading (SIGSTOP); the kill unblocks it.
        """
        now, killed = time.monotonic(), 0
        for slot in self.slots:
            deadline, process = slot.deadline, slot.process
            if deadline is not None and process is not None and now > deadline + grace_s:
                with contextlib.suppress(OSError, ValueError):
                    process.kill()
                killed += 1
        return killed

    def revive_slots(self) -> int:
        """Restart slot threads that ended by a bug; their jobs already failed."""
        revived = 0
        for slot in self.slots:
            if not self.closed and not slot.thread.is_alive():
                slot.thread = slot._new_thread()
                slot.thread.start()
                revived += 1
        return revived

    def close(self) -> None:
        """Stop every slot and kill every worker; queued jobs fail with `PoolClosed`."""
        with self._cond:
            self.closed = True
            pending = [*self._urgent, *self._jobs]
            self._urgent.clear()
            self._jobs.clear()
            self._cond.notify_all()
        for job in pending:
            _settle(job, exc=PoolClosed("pool closed"))
        for slot in self.slots:
            slot.wake()
        for slot in self.slots:
            if slot.thread.is_alive():
                slot.thread.join(timeout=10)
            slot.kill()
            for fd in (slot._wake_r, slot._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
