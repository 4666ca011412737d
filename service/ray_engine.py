"""`rewardgate score --engine ray`: a dataset scored by copies of the engine on Ray Data.

The engine (worker pool, deadlines, cache, dedup) stays the unit of work; Ray only
places and feeds copies of it, so a verdict on a cluster is the verdict on a laptop:

- Ray Data reads the input in one pass (`ray_read.RowsDatasource`: local mode's rows,
  JSONL lines parsed where they are scored so a row keeps its exact JSON, Parquet as
  Arrow, each with its row id) and cuts it into enough blocks to feed every actor (one
  file is one block by default, which would keep all but one actor idle). The driver
  counts the rows first, as local mode does, for the progress bar and the final check.
- `map_batches` runs `Scorer` on an actor pool. Each actor owns one warm in-process
  engine whose workers it forks itself; Ray cannot see those processes, so the actor
  reserves one CPU per worker, plus any custom resource the caller names (to keep
  reward actors off a trainer's GPU nodes). Actors restart and tasks retry when a
  process or a node dies.
- The driver consumes the results in input order (`preserve_order`) and writes the
  lines the actors encoded through local mode's sink, so the output is always a prefix
  of the finished one: `--resume` after a killed driver counts what was written and the
  read leaves those rows out, and no row is lost or written twice. The old driver's actors die
  with it (they are owned by its job), so no stale actor writes anything.

Ray is imported only here, and only when a run starts (`pip install "rewardgate[ray]"`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from rewardgate.service.batch import FieldMap, ScoreSummary, score_columns
from rewardgate.service.ray_io import ROW_ID, TEXT, open_sink, open_source
from rewardgate.verifiers.errors import InvalidRequest, RewardgateError

__all__ = ["RayOptions", "RayUnavailable", "Scorer", "run_ray", "score_with_ray"]

# The scorer's output columns: the output line exactly as local mode writes it (the
# input row and the score columns, or the score columns alone for Parquet's journal),
# what the closing summary counts, and a problem with the row (not JSON, not an object)
# that stops the run as it stops a local one.
OUT_LINE, OUT_STATUS, OUT_REWARD, OUT_VERIFIER = "line", "status", "reward", "verifier"
OUT_PROBLEM = "problem"
# Local-mode chunks per actor call: enough that the chunk being encoded overlaps the
# ones being scored, few enough that a lost call costs little to redo.
CHUNKS_PER_CALL = 4


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray run goes."""

    address: str | None = None  # None: RAY_ADDRESS, else a local cluster is started
    actors: int | None = None  # None: as many as the cluster's CPUs allow
    # Engine worker processes per actor = CPUs it reserves. One by default: an actor's
    # engine gateway (parsing, hooks, dispatch, encoding) is one Python thread, and with
    # a cheap verifier it, not its workers, is the limit (math rows: one actor of two
    # workers kept the actor at 87% of a core and each worker at 12%); one worker per
    # actor gives every worker a gateway of its own. What it costs: one more warm
    # process (its memory) per worker.
    workers_per_actor: int = 1
    resources: dict[str, float] = field(default_factory=dict)  # custom, per actor
    batch_size: int = 256  # rows per request to an actor's engine (local mode's chunk)
    settings: dict[str, Any] = field(default_factory=dict)  # Settings overrides per actor


class Scorer:
    """One Ray actor: one warm engine, scoring whole batches in order.

    The engine starts in the constructor, so its workers are forked and warm before the
    first batch arrives; a restarted actor builds a fresh one.

    A batch is several of local mode's chunks. They are handed to the engine as soon as
    each is parsed and are turned into output lines as each comes back, so the workers
    are scoring while this process parses and encodes (as local mode keeps chunks in
    flight); one chunk at a time would leave them idle between chunks. The lines are
    encoded here, exactly as local mode's sink encodes them, so the driver only writes
    bytes: decoding and re-encoding every row there cost it as much as the scoring
    actor's own work.
    """

    def __init__(
        self,
        fields: FieldMap,
        fmt: str,
        workers: int,
        settings: dict[str, Any],
        chunk: int = 256,
        whole_rows: bool = True,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from rewardgate.clients.local import LocalClient
        from rewardgate.service.heap import serving_heap
        from rewardgate.service.settings import Settings

        self.fields = fields
        self.format = fmt
        self.chunk = max(1, chunk)
        self.whole_rows = whole_rows
        self.client = LocalClient(Settings(**{"workers": workers, **settings}), batch_size=chunk)
        self.client._run(self.client._async.engine())  # fork the workers now
        serving_heap()  # the actor's process is this engine's alone (service/heap.py)
        # Threads only wait for the engine's answers (it runs on the client's own loop).
        self.waiters = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rewardgate-chunk")

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        ids = batch[ROW_ID].to_pylist()
        rows, problems = self._rows(batch)
        starts = range(0, len(ids), self.chunk)
        pending = []
        for start in starts:
            todo = [i for i in range(start, min(start + self.chunk, len(ids))) if not problems[i]]
            items = [self.fields.item(ids[i], rows[i]) for i in todo]
            pending.append((todo, self.waiters.submit(self.client.score_batch, items)))
        lines: list[bytes | None] = [None] * len(ids)
        statuses: list[str | None] = [None] * len(ids)
        rewards: list[float | None] = [None] * len(ids)
        verifiers: list[str | None] = [None] * len(ids)
        for todo, future in pending:
            for i, result in zip(todo, future.result(), strict=True):
                scores = score_columns(result)
                record = {**rows[i], **scores} if self.whole_rows else scores
                lines[i] = orjson.dumps(record, default=str) + b"\n"
                statuses[i] = result.status
                rewards[i] = result.reward if result.status == "ok" else None
                verifiers[i] = result.verifier or "?"
        return pa.table(
            {
                ROW_ID: pa.array(ids, pa.int64()),
                OUT_LINE: pa.array(lines, pa.binary()),
                OUT_STATUS: pa.array(statuses, pa.string()),
                OUT_REWARD: pa.array(rewards, pa.float64()),
                OUT_VERIFIER: pa.array(verifiers, pa.string()),
                OUT_PROBLEM: pa.array(problems, pa.string()),
            }
        )

    def _rows(self, batch: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
        if self.format == "parquet":
            table_rows: list[dict[str, Any]] = batch.drop_columns([ROW_ID]).to_pylist()
            return table_rows, [None] * len(table_rows)
        rows: list[dict[str, Any]] = []
        problems: list[str | None] = []
        for line in batch[TEXT].to_pylist():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rows.append({})
                problems.append(f"not JSON: {exc}")
                continue
            rows.append(row if isinstance(row, dict) else {})
            problems.append(None if isinstance(row, dict) else "a row must be a JSON object")
        return rows, problems

    # No `__del__` closing the engine: Ray Data calls it on graceful actor exit, and a
    # pool shutdown there held each actor for Ray's 30 s grace period. The engine's
    # workers exit by themselves once the actor process is gone (service/pool.py).


def _connect(address: str | None) -> None:
    import ray

    if not ray.is_initialized():
        # log_to_driver off: the actors' engine logs would interleave with the progress bar.
        ray.init(address=address, log_to_driver=False, configure_logging=False)


def _cluster_cpus(per_actor: int) -> int:
    """The cluster's CPUs; refuses an actor no node could ever hold (it would wait forever)."""
    import ray

    largest = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]), default=0)
    if per_actor > largest:
        raise InvalidRequest(
            f"--ray-workers-per-actor {per_actor}: each actor reserves a CPU per worker and "
            f"the largest node of the cluster has {largest}"
        )
    return int(ray.cluster_resources().get("CPU", 1))


def build_dataset(
    source_uri: str, fields: FieldMap, options: RayOptions, skip: int, whole_rows: bool = True
) -> tuple[Any, int]:
    """The scored dataset (lazy) and the input's row count.

    `whole_rows`: each output line is the input row plus the score columns (False: the
    score columns alone, as the journal of a Parquet output holds them).
    """
    import ray.data as rd

    from rewardgate.service.ray_read import RowsDatasource

    source = open_source(source_uri)
    total = source.count_rows()
    ctx = rd.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    # The CLI draws its own progress bar; Ray Data's bars and operator logs would
    # interleave with it.
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    per_actor = max(1, options.workers_per_actor)
    cpus = _cluster_cpus(per_actor)
    actors = options.actors or max(1, cpus // per_actor)
    rows_per_call = options.batch_size * CHUNKS_PER_CALL
    left = max(0, total - skip)
    # Enough blocks that every actor has several to work on, none larger than a call,
    # so a lost actor costs little work to redo. One file is one read task; asked for
    # more blocks than tasks, Ray Data splits the task's output into as many.
    blocks = max(actors * 4, -(-left // rows_per_call), 1)
    datasource = RowsDatasource(
        source.path, fmt=source.format, filesystem=source.filesystem, skip=skip
    )
    # One read pass, streamed into the actors while they start (their engines take
    # seconds to warm up). The read reserves no CPU: the actors reserve every CPU their
    # workers use, so a read asking for one could wait for ever behind them (on a 2-CPU
    # node two actors of one worker hold both); it is one short task a file.
    ds = rd.read_datasource(datasource, override_num_blocks=blocks, ray_remote_args={"num_cpus": 0})
    scored = _score_on_actors(ds, fields, options, source.format, actors, whole_rows)
    return scored, total


def _score_on_actors(
    ds: Any,
    fields: FieldMap,
    options: RayOptions,
    fmt: str,
    actors: int,
    whole_rows: bool,
) -> Any:
    import ray.data as rd

    per_actor = max(1, options.workers_per_actor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ds.map_batches(
            Scorer,
            fn_constructor_kwargs={
                "fields": fields,
                "fmt": fmt,
                "workers": per_actor,
                "settings": options.settings,
                "chunk": options.batch_size,
                "whole_rows": whole_rows,
            },
            batch_format="pyarrow",
            # Several chunks a call, kept in flight together in the actor's engine.
            batch_size=options.batch_size * CHUNKS_PER_CALL,
            compute=rd.ActorPoolStrategy(size=actors),
            # The actor's engine forks `per_actor` workers Ray cannot see: reserve them.
            num_cpus=per_actor,
            resources=options.resources or None,
            # A dead actor (its process or its node) is restarted and its batch retried;
            # Ray Data re-executes lost blocks, so nothing is lost or repeated.
            max_restarts=-1,
            max_task_retries=-1,
        )


def _results(scored: Any, summary: ScoreSummary) -> Iterator[list[bytes]]:
    """The output lines of each scored batch, in order, counted into `summary`."""
    for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
        problems = batch[OUT_PROBLEM]
        if problems.null_count != len(problems):
            for row_id, problem in zip(
                batch[ROW_ID].to_pylist(), problems.to_pylist(), strict=True
            ):
                if problem is not None:
                    raise InvalidRequest(f"row {row_id + 1}: {problem}")
        lines: list[bytes] = batch[OUT_LINE].to_pylist()
        if not lines:
            continue
        summary.scored += len(lines)
        summary.by_status.update(batch[OUT_STATUS].to_pylist())
        summary.by_verifier.update(batch[OUT_VERIFIER].to_pylist())
        for reward in batch[OUT_REWARD].to_pylist():
            if reward is not None:  # an `ok` row's (local mode adds them in this order)
                summary.ok += 1
                summary.reward_sum += reward
        yield lines


def score_with_ray(
    source_uri: str,
    output_uri: str,
    fields: FieldMap,
    options: RayOptions,
    *,
    resume: bool = False,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreSummary:
    """Score every row of `source_uri` into `output_uri`; returns what this run did.

    `progress(total, n)` is called with the input's size first (n = rows already done)
    and then with each batch written.
    """
    import ray  # noqa: F401  (missing: the caller's hint to install the extra)

    sink = open_sink(output_uri, source_uri, resume=resume, force=force)
    try:
        try:
            _connect(options.address)
        except Exception as exc:  # ray's connection errors have no common base class
            raise RayUnavailable(f"cannot reach the Ray cluster: {exc}{_auth_hint()}") from exc
        summary = ScoreSummary(already_done=sink.done)
        started = time.perf_counter()
        scored, total = build_dataset(source_uri, fields, options, sink.done, sink.whole_rows)
        if sink.done > total:
            raise InvalidRequest(f"{output_uri} has {sink.done} rows but the input {total}")
        if progress is not None:
            progress(total, sink.done)
        if sink.done < total:
            for lines in _results(scored, summary):
                sink.write_lines(lines)
                if progress is not None:
                    progress(total, len(lines))
        summary.seconds = time.perf_counter() - started
        if sink.done != total:
            raise RayUnavailable(f"the run wrote {sink.done} of {total} rows")
        sink.finish()
        return summary
    finally:
        sink.close()


def _auth_hint() -> str:
    """Ray (2.52 on) starts clusters with token auth when ~/.ray/auth_token exists, which
    any earlier local `ray.init()` writes; a driver given an explicit address sends the
    token only when told to. The connection error alone does not say so."""
    import os
    from pathlib import Path

    if os.environ.get("RAY_AUTH_MODE") or not (Path.home() / ".ray" / "auth_token").exists():
        return ""
    return (
        " (if the cluster uses token authentication, as `ray start` does when "
        "~/.ray/auth_token exists, set RAY_AUTH_MODE=token)"
    )


class RayUnavailable(RewardgateError):
    """The cluster could not be reached or the run could not finish on it."""

    code = "ray_unavailable"
    http_status = 503


def parse_resources(specs: tuple[str, ...] | list[str]) -> dict[str, float]:
    """`NAME=AMOUNT` pairs from the command line."""
    resources: dict[str, float] = {}
    for spec in specs:
        name, sep, amount = spec.partition("=")
        try:
            resources[name.strip()] = float(amount) if sep else 1.0
        except ValueError:
            raise InvalidRequest(f"--ray-resource {spec!r}: want NAME=AMOUNT") from None
        if not name.strip() or resources[name.strip()] <= 0:
            raise InvalidRequest(f"--ray-resource {spec!r}: want NAME=AMOUNT, AMOUNT > 0")
    return resources


def run_ray(
    source: str,
    output: str,
    fields: FieldMap,
    *,
    ray_address: str | None,
    actors: int | None,
    workers_per_actor: int,
    resources: tuple[str, ...],
    chunk_size: int,
    resume: bool,
    force: bool,
    quiet: bool,
) -> ScoreSummary:
    """`rewardgate score --engine ray`: the run with the local mode's progress bar."""
    import click
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("scoring on ray"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=quiet,
    )
    task: Any = None

    def advance(total: int, n: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task("score", total=total, completed=n)
        else:
            progress.update(task, advance=n)

    try:
        options = RayOptions(
            address=ray_address,
            actors=actors,
            workers_per_actor=workers_per_actor,
            resources=parse_resources(resources),
            batch_size=chunk_size,
        )
        with progress:
            return score_with_ray(
                source, output, fields, options, resume=resume, force=force, progress=advance
            )
    except RewardgateError as exc:
        raise click.ClickException(exc.message) from None
    except ModuleNotFoundError as exc:
        if exc.name != "ray" and not str(exc.name).startswith("ray."):
            raise
        raise click.ClickException(
            "--engine ray needs Ray: pip install 'rewardgate[ray]'"
        ) from None
