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

Cheap jobs travel in *chunks*: one message carries several jobs, the worker runs them
in order and streams their outcomes back in batches (every `FLUSH_S`), and writes the
index and start time of the job it is on into memory shared with its slot. So every job
keeps its own deadline: past it only that job is `JobTimeout`; the jobs after it, and
those done whose outcomes had not been sent yet, go back to the front of the queue and
run again, never lost. A worker death is charged to the job it was on in the same way.
A single job is a chunk of one.

`Watchdog` (service/watchdog.py) is the backstop for what a slot cannot see from the
inside (a slot blocked writing to a stopped worker, a slot thread that crashed) and
the liveness probe behind `/healthz`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
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
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from rewardgate.service.job_future import JobFuture

__all__ = ["Job", "JobTimeout", "PoolClosed", "WorkerDied", "WorkerPool"]

log = logging.getLogger("rewardgate.pool")

# How often a worker sends the outcomes of a chunk's finished jobs: often enough that a
# stream shows results as they come, rarely enough that a chunk of 0.01 ms jobs costs
# the gateway a few messages, not one per job.
FLUSH_S = 0.02

# Pickle protocol 5 (out-of-band buffers, the fastest pickler for small tuples) for
# every message on a worker's pipe; both ends are this process's code.
PROTOCOL = pickle.HIGHEST_PROTOCOL


class WorkerDied(Exception):
    """The worker running the job ended without answering (killed, crashed, OOM)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"worker died (exit code {exitcode})")
        self.exitcode = exitcode


class JobTimeout(Exception):
    """The job ran past its deadline; its worker was killed."""


class PoolClosed(RuntimeError):
    """The pool was closed before the job finished."""


@dataclass(eq=False, slots=True)
class Job:
    """One call of a function in a worker; `future` holds its outcome."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float | None
    # A Future without a Condition of its own (service/job_future.py): made per job.
    future: JobFuture = field(default_factory=JobFuture)
    # Seconds the worker spent on the job, set before `future` resolves with its outcome
    # (None when it did not finish: a timeout, a death, a cancel).
    elapsed: float | None = None
    # Set once by `cancel`, read by the slot. A plain flag, not a `threading.Event`:
    # nothing waits on it (the slot is woken through its pipe), and an Event's lock
    # and condition cost more than the rest of a cheap job's bookkeeping.
    _cancelled: bool = False
    _slot: _Slot | None = None

    def cancel(self) -> None:
        """Cancel, killing the worker if the job is already running."""
        if self.future.cancel():
            return
        self._cancelled = True
        slot = self._slot
        if slot is not None:
            slot.wake()


def _worker_main(
    conn: Connection,
    progress: Any,
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
) -> None:
    """The worker's loop: one chunk at a time from its own pipe, the outcomes back.

    Before each job it writes `progress = [start time, index]` (shared with its slot,
    which enforces that job's deadline from it); outcomes go back as
    `(first index, [(ok, value, elapsed s), ...])` every `FLUSH_S` and at the end.

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
    # What the worker inherited from the gateway (modules, warmed parsers, caches) stays
    # alive here: kept out of the collector's sight, a full collection neither walks it
    # (a fifth of a second in a math worker) nor writes to its pages, which copies them
    # from the gateway's one by one.
    gc.freeze()
    clock = time.monotonic
    while True:
        try:
            while not conn.poll(1.0):
                if os.getppid() != parent:
                    return
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] = pickle.loads(message)
        last = len(tasks) - 1
        first, outcomes, flushed = 0, [], clock()
        for index, (fn, args) in enumerate(tasks):
            start = clock()
            progress[0] = start
            progress[1] = index
            try:
                outcome: tuple[bool, Any, float] = (True, fn(*args), clock() - start)
            except BaseException as exc:  # every failure goes back as data
                exc.traceback = traceback.format_exc()  # type: ignore[attr-defined]
                outcome = (False, exc, clock() - start)
            outcomes.append(outcome)
            now = clock()
            if index == last or now - flushed >= FLUSH_S:
                conn.send_bytes(_dump_outcomes(first, outcomes))
                first, outcomes, flushed = index + 1, [], now


def _dump_outcomes(first: int, outcomes: list[tuple[bool, Any, float]]) -> bytes:
    """The outcomes as one message; one that cannot be pickled becomes its job's error."""
    try:
        return pickle.dumps((first, outcomes), PROTOCOL)
    except Exception:
        safe: list[tuple[bool, Any, float]] = []
        for ok, value, elapsed in outcomes:
            try:
                pickle.dumps(value, PROTOCOL)
                safe.append((ok, value, elapsed))
            except Exception as exc:
                safe.append((False, RuntimeError(f"unpicklable outcome: {exc!r}"), elapsed))
        return pickle.dumps((first, safe), PROTOCOL)


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
        # [start time, index] of the job the worker is on (see `_worker_main`).
        self.progress: Any = pool.context.RawArray("d", 2)
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
                args=(child, self.progress, self.pool.initializer, self.pool.initargs),
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
            chunk = self.pool._take(self)
            if chunk is None:
                continue
            try:
                # A worker that died while idle is replaced before the chunk is sent,
                # so no job is charged for it.
                while not self.alive and not self.pool.closed:
                    self._ensure_worker()
                if self.pool.closed:
                    for job in chunk:
                        _settle(job, exc=PoolClosed("pool closed"))
                    continue
                self._execute(chunk)
            except BaseException:  # a bug here must not lose the jobs
                log.exception("slot %d failed", self.index)
                self.kill()
                for job in chunk:
                    _settle(job, exc=WorkerDied(None))
                raise
            finally:
                self.job, self.deadline = None, None
                for job in chunk:
                    if job._slot is self:
                        job._slot = None
        self.kill()

    def _send(self, chunk: list[Job]) -> tuple[list[Job], bytes | None]:
        """The chunk's message; a job that cannot be pickled fails alone (the caller's bug)."""
        try:
            return chunk, pickle.dumps([(job.fn, job.args) for job in chunk], PROTOCOL)
        except Exception:
            sendable = []
            for job in chunk:
                try:
                    pickle.dumps((job.fn, job.args), PROTOCOL)
                    sendable.append(job)
                except Exception as exc:
                    _settle(job, exc=exc)
            if not sendable:
                return sendable, None
            return sendable, pickle.dumps([(job.fn, job.args) for job in sendable], PROTOCOL)

    def _execute(self, chunk: list[Job]) -> None:
        """Run the chunk; each job under its own deadline, read from the worker's progress."""
        assert self.process is not None and self.conn is not None
        chunk, data = self._send(chunk)
        if data is None:
            return
        self._drain_wake()
        # A cancel that woke this slot between `_take` and the drain above would be
        # lost with its wake (and its job would run on to the deadline): wake again.
        if any(job._cancelled for job in chunk):
            self.wake()
        progress = self.progress
        progress[0], progress[1] = 0.0, -1.0
        conn, process = self.conn, self.process
        done = 0  # jobs before this one are settled
        last_event = time.monotonic()  # when job `done` began at the latest
        current = self._track(chunk, done, last_event)
        try:
            conn.send_bytes(data)
        except OSError:
            self._fail_dead(chunk, done, last_event)
            return
        self.pool.messages += 1
        while True:
            timeout = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
            ready = wait([conn, process.sentinel, self._wake_r], timeout=timeout)
            if conn in ready or (process.sentinel in ready and conn.poll(0)):
                try:
                    first, outcomes = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError, pickle.UnpicklingError):
                    self._fail_dead(chunk, done, last_event)
                    return
                for offset, (ok, value, elapsed) in enumerate(outcomes):
                    job = chunk[first + offset]
                    job.elapsed = elapsed
                    _settle(job, value=value) if ok else _settle(job, exc=value)
                done = first + len(outcomes)
                if done >= len(chunk):
                    return
                last_event = time.monotonic()
                current = self._track(chunk, done, last_event)
                continue
            if process.sentinel in ready:
                self._fail_dead(chunk, done, last_event)
                return
            if self._wake_r in ready:
                self._drain_wake()
            if self.pool.closed:
                self.kill()
                for job in chunk[done:]:
                    _settle(job, exc=PoolClosed("pool closed"))
                return
            current = self._track(chunk, done, last_event)
            for job in chunk[done:]:
                if job is not chunk[current] and job._cancelled:
                    _settle(job)  # not running yet: its outcome will be dropped
            if chunk[current]._cancelled:
                self.kill()
                _settle(chunk[current])
                self._requeue(chunk, done, current)
                return
            if self.deadline is not None and time.monotonic() >= self.deadline:
                self.kill()
                self.pool.deaths += 1
                job = chunk[current]
                _settle(job, exc=JobTimeout(f"job ran past its {job.timeout:g} s deadline"))
                self._requeue(chunk, done, current)
                return

    def _track(self, chunk: list[Job], done: int, last_event: float) -> int:
        """Which job the worker is on, and set `deadline` and `job` from it.

        The worker writes its progress before each job; until it has (or while it still
        shows a job whose outcome has come back) the next unsettled job counts as
        started at `last_event`, which is never earlier than its true start.
        """
        progress = self.progress
        # The worker writes the start, then the index: an index read on both sides of
        # the start means the start is that job's or a later one's, never an earlier.
        index, started = int(progress[1]), progress[0]
        while (again := int(progress[1])) != index:
            index, started = again, progress[0]
        if index < done or index >= len(chunk):
            index, started = done, last_event
        job = chunk[index]
        self.job = job
        self.deadline = started + job.timeout if job.timeout else None
        return index

    def _requeue(self, chunk: list[Job], done: int, current: int) -> None:
        """Send the chunk's unsettled jobs but `current` back to the front of the queue."""
        rest = [job for job in chunk[done:] if job is not chunk[current]]
        for job in rest:
            job._slot = None
        self.pool._requeue([job for job in rest if not job.future.done()])

    def _fail_dead(self, chunk: list[Job], done: int, last_event: float) -> None:
        """Charge the death to the job the worker was on; requeue the chunk's rest."""
        current = self._track(chunk, done, last_event)
        code = self.kill()
        job = chunk[current]
        if job._cancelled:
            _settle(job)
        else:
            self.pool.deaths += 1
            if self.deadline is not None and time.monotonic() >= self.deadline:
                # Killed by the watchdog for running past its deadline.
                _settle(job, exc=JobTimeout(f"job ran past its {job.timeout:g} s deadline"))
            else:
                _settle(job, exc=WorkerDied(code))
        self._requeue(chunk, done, current)


def _settle(job: Job, value: Any = None, exc: BaseException | None = None) -> None:
    """Resolve the job's future once; `exc=None` with a cancel request means cancelled."""
    if job.future.done():
        return
    if exc is None and job._cancelled:
        exc = CancelledError()
    try:  # a plain try: `contextlib.suppress` cost as much as the rest, once per job
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(value)
    except Exception:  # already settled by a racing cancel
        pass


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
        self.messages = 0  # chunks sent to workers (each carries one job or more)
        self._jobs: deque[list[Job]] = deque()
        self._urgent: deque[list[Job]] = deque()
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
        job = Job(fn, args, timeout)
        self.submit_chunks([[job]], urgent=urgent)
        return job

    def submit_chunks(self, chunks: list[list[Job]], *, urgent: bool = False) -> None:
        """Queue jobs made by the caller, each chunk sent to one worker as one message.

        Every job keeps its own deadline (`Job.timeout`); see the module doc.
        """
        with self._cond:
            if self.closed:
                raise PoolClosed("pool closed")
            queue = self._urgent if urgent else self._jobs
            for chunk in chunks:
                if chunk:
                    queue.append(chunk)
            self._cond.notify(len(chunks))

    def ping(self, timeout: float) -> Job:
        """A trivial job ahead of the queue: answers within `timeout` if a worker is free."""
        return self.submit(_ping, (), timeout, urgent=True)

    def _requeue(self, jobs: list[Job]) -> None:
        """Jobs of a chunk that did not get their turn, back to the front of the queue."""
        with self._cond:
            if self.closed:
                pending = jobs
            else:
                pending = []
                if jobs:
                    self._urgent.appendleft(jobs)
                    self._cond.notify()
        for job in pending:
            _settle(job, exc=PoolClosed("pool closed"))

    def _take(self, slot: _Slot) -> list[Job] | None:
        with self._cond:
            while not self.closed and not self._urgent and not self._jobs:
                self._cond.wait()
            if self.closed:
                return None
            chunk = []
            for job in (self._urgent or self._jobs).popleft():
                # A requeued job is running already; a cancel may have come meanwhile.
                if job.future.running():
                    if job._cancelled:
                        _settle(job)
                        continue
                elif not job.future.set_running_or_notify_cancel():
                    continue
                job._slot = slot
                chunk.append(job)
            if not chunk:
                return None
            slot.job = chunk[0]
            return chunk

    # -- what the watchdog and the probes read --------------------------------------

    @property
    def queued(self) -> int:
        """Jobs waiting for a worker."""
        return sum(map(len, self._jobs)) + sum(map(len, self._urgent))

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
            pending = [job for chunk in (*self._urgent, *self._jobs) for job in chunk]
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
