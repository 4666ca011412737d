"""The `rewardgate` command.

`serve`'s flags are generated from `Settings`, so a new setting is a flag, an
environment variable and a README row without being written three times.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import click

from rewardgate.clients.retry import DEFAULT_RETRY_FOR_S
from rewardgate.service.settings import Settings
from rewardgate.verifiers.registry import Registry

__all__ = ["main"]


def _click_type(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    base = args[0] if args else annotation
    if base in (int, float, str):
        return base
    if base is Path:
        return click.Path(path_type=Path)
    if get_args(base) and all(isinstance(a, str) for a in get_args(base)):
        return click.Choice(list(get_args(base)))
    return str


def settings_options(func: Any) -> Any:
    """Decorate `func` with one `--flag` per setting; unset flags leave env/config in charge."""
    for name, field in reversed(list(Settings.model_fields.items())):
        flag = "--" + name.replace("_", "-")
        func = click.option(
            flag,
            name,
            type=_click_type(field.annotation),
            default=None,
            help=f"{field.description} [env {Settings.env_name(name)}]",
        )(func)
    return func


def settings_from_flags(flags: dict[str, Any]) -> Settings:
    return Settings(**{k: v for k, v in flags.items() if v is not None})


@click.group()
@click.version_option(package_name="rewardgate")
def main() -> None:
    """rewardgate: verifiable rewards for RL training."""


@main.command()
@settings_options
def serve(**flags: Any) -> None:
    """Run the HTTP service."""
    run_server(settings_from_flags(flags))


def run_server(settings: Settings, registry: Registry | None = None) -> None:
    """Serve until SIGTERM/SIGINT; in-flight requests get `graceful_timeout_s` to finish."""
    import uvicorn

    from rewardgate.service.app import create_app
    from rewardgate.service.logs import configure_logging

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings, registry, freeze_heap=True),
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s),
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def verifiers(as_json: bool) -> None:
    """List the installed verifiers."""
    from rich.console import Console
    from rich.table import Table

    registry = Registry.from_entry_points()
    classes = registry.classes()
    fingerprints = registry.fingerprints()
    if as_json:
        rows = [
            {
                "name": c.name,
                "version": c.version,
                "fingerprint": fingerprints[c.name],
                "description": c.description,
            }
            for c in classes
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "version", "fingerprint", "reference fields", "description")
    for cls in classes:
        table.add_row(
            cls.name,
            cls.version,
            fingerprints[cls.name],
            _reference_fields(cls.Reference),
            cls.description,
        )
    Console().print(table)


def _reference_fields(model: Any) -> str:
    """A reference's fields, or for a union of formats (a RootModel) each format's fields."""
    if set(model.model_fields) != {"root"}:
        return ", ".join(model.model_fields)
    schema = model.model_json_schema()
    variants = schema.get("oneOf") or schema.get("anyOf") or []
    definitions = schema.get("$defs", {})
    formats = []
    for variant in variants:
        definition = definitions.get(variant.get("$ref", "").rsplit("/", 1)[-1], {})
        formats.append(", ".join(definition.get("properties", {})) or "?")
    return " | ".join(formats) or "root"


@main.command(name="settings")
def settings_table() -> None:
    """Print the settings table (Markdown), as in the README."""
    click.echo(settings_markdown())


def _default_text(field: Any) -> str:
    if field.default_factory is not None:
        return "one per core"
    text = str(field.default).replace(str(Path.home()), "~")
    return f"`{text}`"


def settings_markdown() -> str:
    """The server's settings, then each installed verifier's own (from its model)."""
    from rewardgate.service.verifier_settings import settings_rows

    lines = ["| setting | env var | default | what |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        env = Settings.env_name(name)
        lines.append(f"| `{name}` | `{env}` | {_default_text(field)} | {field.description} |")
    lines += [
        "",
        "Each verifier's own settings, in `[verifiers.<name>]` of the TOML file:",
        "",
        "| verifier | setting | env var | default | what |",
        "|---|---|---|---|---|",
    ]
    for verifier, key, env, field, doc in settings_rows():
        lines.append(f"| `{verifier}` | `{key}` | `{env}` | {_default_text(field)} | {doc} |")
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def doctor(as_json: bool) -> None:
    """Check which backends and tools work on this machine, with the fix for each."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from rewardgate.service.doctor import run_checks

    checks = run_checks()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
        return
    table = Table("check", "used by", "state", "detail", "fix")
    for check in checks:
        state = "[green]ok[/green]" if check.ok else "[red]missing[/red]"
        table.add_row(
            escape(check.name), check.used_by, state, escape(check.detail), escape(check.fix)
        )
    Console().print(table)


@main.command()
@click.argument("input_location", metavar="INPUT")
@click.option(
    "-o",
    "--output",
    "output_location",
    required=True,
    help="Output file (.jsonl or .parquet): the input rows plus reward, status, reward_details; "
    "with --engine ray also an object-store prefix (s3://bucket/prefix: part files + manifest).",
)
@click.option("--verifier", help="Verifier for every row (default: the row's `verifier` field).")
@click.option("--response-field", default="response", show_default=True)
@click.option("--reference-field", default="reference", show_default=True)
@click.option(
    "--reference-json",
    is_flag=True,
    help="The reference field holds JSON text to decode (e.g. code tests).",
)
@click.option("--options", "options_json", default="{}", help="Verifier options as JSON.")
@click.option("--server", help="Score through a running service at this URL (default: in-process).")
@click.option("--api-key", envvar="REWARDGATE_API_KEY", help="Bearer token for --server.")
@click.option(
    "--retry-for",
    type=click.FloatRange(min=0),
    default=DEFAULT_RETRY_FOR_S,
    show_default=True,
    help="With --server: seconds a request keeps retrying while the server is "
    "unreachable, restarting or overloaded (429/502/503) before the run stops.",
)
@click.option(
    "--concurrency", default=4, show_default=True, help="Chunks of rows in flight at once."
)
@click.option("--chunk-size", default=256, show_default=True, help="Rows per request.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same output.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an HTML report of OUTPUT here at the end (see `rewardgate report`).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process (or --server); ray: copies of the engine on a Ray cluster "
    "(pip install 'rewardgate[ray]'); INPUT may then be an object-store URI too.",
)
@click.option(
    "--ray-address",
    envvar="RAY_ADDRESS",
    help="Ray cluster (host:port); default: the job's cluster, else a local one is started.",
)
@click.option(
    "--ray-actors", type=click.IntRange(min=1), help="Scoring actors (default: fill the CPUs)."
)
@click.option(
    "--ray-workers-per-actor",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help=(
        "Engine worker processes per actor; the actor reserves as many CPUs. More than one "
        "saves memory for slow verifiers; one keeps cheap verifiers from queueing behind "
        "the actor's own (single-threaded) gateway."
    ),
)
@click.option(
    "--ray-resource",
    "ray_resources",
    multiple=True,
    metavar="NAME=AMOUNT",
    help="A custom Ray resource each actor needs (e.g. reward=1 keeps actors off GPU nodes).",
)
def score(
    input_location: str,
    output_location: str,
    verifier: str | None,
    response_field: str,
    reference_field: str,
    reference_json: bool,
    options_json: str,
    server: str | None,
    api_key: str | None,
    retry_for: float,
    concurrency: int,
    chunk_size: int,
    resume: bool,
    force: bool,
    quiet: bool,
    engine: str,
    ray_address: str | None,
    ray_actors: int | None,
    ray_workers_per_actor: int,
    ray_resources: tuple[str, ...],
    report_path: Path | None,
) -> None:
    """Score every row of INPUT (JSONL or Parquet) and write OUTPUT incrementally."""
    import asyncio

    from rewardgate.service.batch import FieldMap
    from rewardgate.service.datasets import ResultSink, count_rows
    from rewardgate.verifiers.errors import RewardgateError

    try:
        options = json.loads(options_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--options") from None
    if not isinstance(options, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--options")
    fields = FieldMap(verifier, response_field, reference_field, options, reference_json)
    if report_path is not None and "://" in output_location:
        raise click.BadParameter("--report needs a local OUTPUT file", param_hint="--report")
    if engine == "ray":
        if server:
            raise click.BadParameter("--server and --engine ray exclude each other")
        from rewardgate.service.ray_engine import run_ray

        summary = run_ray(
            input_location,
            output_location,
            fields,
            ray_address=ray_address,
            actors=ray_actors,
            workers_per_actor=ray_workers_per_actor,
            resources=ray_resources,
            chunk_size=chunk_size,
            resume=resume,
            force=force,
            quiet=quiet,
        )
        _print_summary(summary, output_location)
        _report_at_end(Path(output_location), report_path)
        return
    input_path, output = Path(input_location), Path(output_location)
    if not input_path.exists():
        raise click.BadParameter(f"{input_path} does not exist", param_hint="INPUT")
    try:
        total = count_rows(input_path)
        sink = ResultSink(output, input_path, resume=resume, force=force)
    except RewardgateError as exc:
        raise click.ClickException(exc.message) from None
    try:
        summary = asyncio.run(
            _score(
                input_path,
                sink,
                fields,
                total,
                _Remote(server, api_key, retry_for) if server else None,
                concurrency,
                chunk_size,
                quiet,
            )
        )
    except RewardgateError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        sink.close()
    _print_summary(summary, output)
    _report_at_end(output, report_path)


def _report_at_end(output: Path, report_path: Path | None) -> None:
    if report_path is not None:
        from rewardgate.service.report import write_report

        write_report(output, report_path)
        click.echo(f"report -> {report_path}", err=True)


@main.command()
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The HTML file to write (self-contained: open it anywhere, offline).",
)
@click.option(
    "--group-field",
    default="prompt",
    show_default=True,
    help="Rows with equal values here form a GRPO group (zero-variance groups are counted).",
)
@click.option("--top", default=5, show_default=True, help="Lowest and highest rows shown.")
def report(input_path: Path, output: Path, group_field: str, top: int) -> None:
    """Write an HTML report on a scored dataset (the OUTPUT of `rewardgate score`)."""
    from rewardgate.service.report import write_report
    from rewardgate.verifiers.errors import RewardgateError

    try:
        data = write_report(input_path, output, group_field=group_field, top=top)
    except RewardgateError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{data.rows} rows -> {output}", err=True)


@dataclass(frozen=True)
class _Remote:
    """Where `score --server` sends its rows, and how long it rides out a server that
    is restarting or overloaded (backoff capped at 2 s, so a server that comes back
    is used within seconds)."""

    url: str
    api_key: str | None
    retry_for: float


async def _score(
    source: Path,
    sink: Any,
    fields: Any,
    total: int,
    server: _Remote | None,
    concurrency: int,
    chunk_size: int,
    quiet: bool,
) -> Any:
    from contextlib import AsyncExitStack

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rewardgate.clients import AsyncLocalClient, AsyncRewardClient, Retry
    from rewardgate.service.batch import score_dataset
    from rewardgate.service.heap import serving_heap

    progress = Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:.1f} items/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        disable=quiet,
    )
    async with AsyncExitStack() as stack:
        client: AsyncRewardClient | AsyncLocalClient
        if server:
            client = await stack.enter_async_context(
                AsyncRewardClient(
                    server.url,
                    api_key=server.api_key,
                    batch_size=chunk_size,
                    retry=Retry(retry_for=server.retry_for, max_backoff_s=2.0),
                )
            )
        else:
            client = await stack.enter_async_context(AsyncLocalClient(batch_size=chunk_size))
            # This process is the service for the run: its collector is set up as a
            # server's is, once the engine is warm (service/heap.py).
            await client.engine()
            serving_heap()
        stack.enter_context(progress)
        task = progress.add_task("score", total=total, completed=sink.done, rate=0.0)
        started = time.perf_counter()
        done_now = 0

        def advance(n: int) -> None:
            nonlocal done_now
            done_now += n
            rate = done_now / max(time.perf_counter() - started, 1e-9)
            progress.update(task, advance=n, rate=rate)

        return await score_dataset(
            source,
            sink,
            client.score_batch,
            fields,
            chunk_size=chunk_size,
            concurrency=concurrency,
            progress=advance,
        )


def _print_summary(summary: Any, output: Path | str) -> None:
    from rich.console import Console

    mean = "n/a" if summary.mean_reward is None else f"{summary.mean_reward:.4f}"
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items())) or "none"
    verifiers = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_verifier.items())) or "none"
    resumed = (
        f" (after {summary.already_done} rows from an earlier run)" if summary.already_done else ""
    )
    Console(stderr=True).print(
        f"scored {summary.scored} rows{resumed} -> {output}\n"
        f"  mean reward (ok rows): {mean}\n"
        f"  by status: {statuses}\n"
        f"  by verifier: {verifiers}\n"
        f"  {summary.items_per_s:.1f} items/s over {summary.seconds:.1f} s",
        highlight=False,
    )


if __name__ == "__main__":
    main()
