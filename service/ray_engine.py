"""`rewardgate score --engine ray`: a dataset scored by copies of the engine on Ray Data.

The engine (worker pool, deadlines, cache, dedup) stays the unit of work; Ray only
places and feeds copies of it, so a verdict on a cluster is the verdict on a laptop:

- Ray Data reads the input (JSONL as text lines, parsed where they are scored, so a
  row keeps its exact JSON; Parquet as Arrow), zips it with `range(n)` for a row id,
  and splits it into enough blocks to feed every actor (one file is one block, which
  would keep all but one actor idle).
- `map_batches` runs `Scorer` on an actor pool. Each actor owns one warm in-process
  engine whose workers it forks itself; Ray cannot see those processes, so the actor
  reserves one CPU per worker, plus any custom resource the caller names (to keep
  reward actors off a trainer's GPU nodes). Actors restart and tasks retry when a
  process or a node dies.
- The driver consumes the results in input order (`preserve_order`) and writes them
  through the same sinks as local mode, so the output is always a prefix of the
  finished one: `--resume` after a killed driver counts what was written and skips
  those row ids, and no row is lost or written twice. The old driver's actors die
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
from rewardgate.service.ray_io import open_sink, open_source
from rewardgate.verifiers.errors import InvalidRequest, RewardgateError

__all__ = ["RayOptions", "RayUnavailable", "Scorer", "run_ray", "score_with_ray"]

ROW_ID = "__rewardgate_row_id"
# The scorer's output columns: the input row as JSON text, the score columns as JSON
# text, and a problem with the row (not JSON, not an object) that stops the run as it
# stops a local one.
OUT_ROW, OUT_SCORES, OUT_PROBLEM = "row", "scores", "problem"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide a Ray run goes."""

    address: str | None = None  # None: RAY_ADDRESS, else a local cluster is started
    actors: int | None = None  # None: as many as the cluster's CPUs allow
    workers_per_actor: int = 2  # engine worker processes per actor = CPUs it reserves
    resources: dict[str, float] = field(default_factory=dict)  # custom, per actor
    batch_size: int = 256  # rows per map_batches call
    settings: dict[str, Any] = field(default_factory=dict)  # Settings overrides per actor


class Scorer:
    """One Ray actor: one warm engine, scoring whole batches in order.

    The engine starts in the constructor, so its workers are forked and warm before the
    first batch arrives; a restarted actor builds a fresh one.
    """

    def __init__(
        self, fields: FieldMap, fmt: str, workers: int, settings: dict[str, Any], skip: int
    ) -> None:
        from rewardgate.clients.local import LocalClient
        from rewardgate.service.settings import Settings

        self.fields = fields
        self.format = fmt
        self.skip = skip
        self.client = LocalClient(Settings(**{"workers": workers, **settings}))
        self.client._run(self.client._async.engine())  # fork the workers now

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.skip:
            batch = batch.filter(pc.greater_equal(batch[ROW_ID], pa.scalar(self.skip, pa.int64())))
        ids = batch[ROW_ID].to_pylist()
        rows, problems = self._rows(batch)
        todo = [i for i, p in enumerate(problems) if p is None]
        results = self.client.score_batch([self.fields.item(ids[i], rows[i]) for i in todo])
        scores: list[str | None] = [None] * len(ids)
        texts: list[str | None] = [None] * len(ids)
        for i, result in zip(todo, results, strict=True):
            scores[i] = orjson.dumps(score_columns(result)).decode()
            texts[i] = orjson.dumps(rows[i], default=str).decode()
        return pa.table(
            {
                ROW_ID: pa.array(ids, pa.int64()),
                OUT_ROW: pa.array(texts, pa.string()),
                OUT_SCORES: pa.array(scores, pa.string()),
                OUT_PROBLEM: pa.array(problems, pa.string()),
            }
        )

    def _rows(self, batch: Any) -> tuple[list[dict[str, Any]], list[str | None]]:
        if self.format == "parquet":
            table_rows: list[dict[str, Any]] = batch.drop_columns([ROW_ID]).to_pylist()
            return table_rows, [None] * len(table_rows)
        rows: list[dict[str, Any]] = []
        problems: list[str | None] = []
        for line in batch["text"].to_pylist():
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


def _cluster_cpus() -> int:
    import ray

    return int(ray.cluster_resources().get("CPU", 1))


def build_dataset(
    source_uri: str, fields: FieldMap, options: RayOptions, skip: int
) -> tuple[Any, int]:
    """The scored dataset (lazy) and the input's row count."""
    import ray.data as rd

    source = open_source(source_uri)
    ctx = rd.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    # The CLI draws its own progress bar; Ray Data's bars and operator logs would
    # interleave with it.
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if source.format == "jsonl":
        ds = rd.read_text(source.path, filesystem=source.filesystem)
    else:
        ds = rd.read_parquet(source.path, filesystem=source.filesystem)
    total = ds.count()
    per_actor = max(1, options.workers_per_actor)
    actors = options.actors or max(1, (_cluster_cpus() - 1) // per_actor)
    ids = rd.range(total).rename_columns({"id": ROW_ID})
    # Enough blocks that every actor has several to work on, none larger than a few
    # batches, so a lost actor costs little work to redo.
    blocks = max(actors * 4, -(-total // (options.batch_size * 4)), 1)
    with warnings.catch_warnings():
        # Ray 2.60 marks `zip` (positional, so it needs preserve_order, set above) and
        # the actor options passed as keywords as deprecated; both work in the tested
        # range, which stops before 2.64 where they go.
        warnings.simplefilter("ignore")
        ds = ds.zip(ids).repartition(blocks)
        return _score_on_actors(ds, fields, options, source.format, skip, actors), total


def _score_on_actors(
    ds: Any, fields: FieldMap, options: RayOptions, fmt: str, skip: int, actors: int
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
                "skip": skip,
            },
            batch_format="pyarrow",
            batch_size=options.batch_size,
            compute=rd.ActorPoolStrategy(size=actors),
            # The actor's engine forks `per_actor` workers Ray cannot see: reserve them.
            num_cpus=per_actor,
            resources=options.resources or None,
            # A dead actor (its process or its node) is restarted and its batch retried;
            # Ray Data re-executes lost blocks, so nothing is lost or repeated.
            max_restarts=-1,
            max_task_retries=-1,
        )


def _add(summary: ScoreSummary, scores: dict[str, Any]) -> None:
    summary.scored += 1
    summary.by_status[scores["status"]] += 1
    summary.by_verifier[scores["reward_details"].get("verifier") or "?"] += 1
    if scores["status"] == "ok":
        summary.ok += 1
        summary.reward_sum += scores["reward"]


def _results(scored: Any) -> Iterator[list[tuple[dict[str, Any], dict[str, Any]]]]:
    for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
        pairs = []
        for row_id, row, scores, problem in zip(
            batch[ROW_ID].to_pylist(),
            batch[OUT_ROW].to_pylist(),
            batch[OUT_SCORES].to_pylist(),
            batch[OUT_PROBLEM].to_pylist(),
            strict=True,
        ):
            if problem is not None:
                raise InvalidRequest(f"row {row_id + 1}: {problem}")
            pairs.append((orjson.loads(row), orjson.loads(scores)))
        if pairs:
            yield pairs


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
            raise RayUnavailable(f"cannot reach the Ray cluster: {exc}") from exc
        summary = ScoreSummary(already_done=sink.done)
        started = time.perf_counter()
        scored, total = build_dataset(source_uri, fields, options, sink.done)
        if sink.done > total:
            raise InvalidRequest(f"{output_uri} has {sink.done} rows but the input {total}")
        if progress is not None:
            progress(total, sink.done)
        if sink.done < total:
            for pairs in _results(scored):
                sink.write(pairs)
                for _, scores in pairs:
                    _add(summary, scores)
                if progress is not None:
                    progress(total, len(pairs))
        summary.seconds = time.perf_counter() - started
        if sink.done != total:
            raise RayUnavailable(f"the run wrote {sink.done} of {total} rows")
        sink.finish()
        return summary
    finally:
        sink.close()


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
