"""Running `runner.py` in the sandbox and reading what it reports.

The runner's first channel line proves it started, so a sandbox that cannot run it
raises `SandboxError` instead of scoring the script 0. Everything after that line
came from the script's process or could have: `parse_record` accepts plain data of
the expected shape and size only, and anything else is the script's failure
(`protocol`), never the service's.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardgate.sandbox.api import ExecResult, Limits, PythonEntry
from rewardgate.verifiers.chart.models import ChartOptions
from rewardgate.verifiers.errors import RewardgateError, SandboxError, VerifierError

__all__ = ["ChartRecord", "Outcome", "execute", "parse_record", "sandbox_s"]

HERE = Path(__file__).resolve().parent
RUNNER_MB = 512  # the runner's own memory (its interpreter, the PNG) beside the script's
OVERHEAD_S = 10.0  # interpreter and matplotlib start (cold), reporting
MAX_PNG_BYTES = 32 << 20
MAX_TEXTS = 5000
MAX_ITEMS = 20000
MAX_NAME_CHARS = 300
HEX = frozenset("0123456789ABCDEF")
TEXT_KINDS = ("text", "tick", "auto")
FAILURES = ("syntax_error", "runtime_error", "memory_limit", "no_figure", "render_failed")


@dataclass(frozen=True)
class ChartRecord:
    """What the instrumented run drew: ChartMimic's four views of the chart."""

    texts: tuple[tuple[str, str], ...] = ()  # (text, kind: "text", "tick" or "auto")
    layout: tuple[tuple[int, ...], ...] = ()
    types: dict[str, int] = field(default_factory=dict)
    colors: tuple[tuple[str, str], ...] = ()
    # ChartMimic's own colour log: (logging function, colour), see chartmimic.py
    cm_colors: tuple[tuple[str, str], ...] = ()
    cm_installed: bool = True  # False: ChartMimic's hooks could not be installed


@dataclass(frozen=True)
class Outcome:
    """One run: `label` is "ok" (`png` and `record` set) or why the chart is missing."""

    label: str
    message: str = ""
    png: bytes | None = None
    record: ChartRecord | None = None
    ms: float | None = None


@functools.cache
def _entry() -> PythonEntry:
    names = ("runner.py", "startup.py", "colours.py", "chartmimic.py", "instrument.py")
    files = {name: (HERE / name).read_text(encoding="utf-8") for name in names}
    return PythonEntry("runner.py", files)


def sandbox_s(options: ChartOptions) -> float:
    return options.time_limit_s + OVERHEAD_S


def _backend(name: str) -> Any:
    try:
        from rewardgate.sandbox import get_backend

        return get_backend(name)
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox backend {name!r} unavailable: {exc}") from exc


def execute(script: str, options: ChartOptions) -> Outcome:
    """Run `script` in the sandbox; how it went (a verdict's input, never an exception
    for anything the script did)."""
    job = {
        "dpi": options.dpi,
        "figsize": list(options.figsize),
        "seed": options.seed,
        "time_limit_s": options.time_limit_s,
        "memory_mb": options.memory_mb,
    }
    wall = sandbox_s(options)
    limits = Limits(
        wall_s=wall,
        cpu_s=wall,
        memory_mb=options.memory_mb + RUNNER_MB,
        processes=64,
        open_files=256,
        file_size_mb=64,
        output_bytes=MAX_PNG_BYTES * 4 // 3 + (4 << 20),
    )
    backend = _backend(options.backend)
    try:
        result = backend.run_python(
            _entry(), {"chart.py": script}, json.dumps(job), limits, channel=True
        )
    except RewardgateError:
        raise
    except Exception as exc:
        raise SandboxError(f"sandbox run failed: {type(exc).__name__}: {exc}") from exc
    return _outcome(result)


def _outcome(result: ExecResult) -> Outcome:
    report: dict[str, Any] = {}
    for number, raw in enumerate((result.channel or b"").splitlines()):
        try:
            line = json.loads(raw)
        except ValueError:
            break  # a line cut by the sandbox's kill; nothing after it is whole
        if not isinstance(line, dict) or (
            number == 0 and not {"runner", "internal_error"} & line.keys()
        ):
            break
        report.update(line)
    if "internal_error" in report:
        raise VerifierError(f"the chart runner failed: {str(report['internal_error'])[-500:]}")
    if "runner" not in report:
        tail = result.stderr[-500:].decode("utf-8", "replace")
        raise SandboxError(f"the chart runner never started (exit {result.exit_code}): {tail}")
    executed = report.get("executed") or {}
    ms = executed.get("ms") if isinstance(executed.get("ms"), (int, float)) else None
    outcome = report.get("result")
    if isinstance(outcome, dict) and outcome:
        return _from_result(outcome, ms)
    if executed.get("timed_out") or result.timed_out:
        return Outcome("time_limit", "the script ran past time_limit_s", ms=ms)
    if result.oom_killed:
        return Outcome("memory_limit", "the sandbox ran out of memory", ms=ms)
    if executed.get("signal") == 24:  # SIGXCPU: the child's CPU rlimit
        return Outcome("time_limit", "the script used up its CPU time", ms=ms)
    if executed:
        return Outcome("runtime_error", "the script's process ended without a result", ms=ms)
    return Outcome("runtime_error", "the runner was ended before it reported", ms=ms)


def _from_result(outcome: dict[str, Any], ms: float | None) -> Outcome:
    error = outcome.get("error")
    if error is not None:
        label = error if error in FAILURES else "protocol"
        return Outcome(label, str(outcome.get("message", ""))[:1000], ms=ms)
    try:
        png = base64.b64decode(str(outcome["png"]), validate=True)
        record = parse_record(outcome["record"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        return Outcome("protocol", f"malformed result from the script's process: {exc}", ms=ms)
    if len(png) > MAX_PNG_BYTES or not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return Outcome("protocol", "the script's process sent no PNG", ms=ms)
    return Outcome("ok", png=png, record=record, ms=ms)


def _str(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
        raise ValueError("expected a short string")
    return value


def _list(value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError("expected a list")
    return value


def parse_record(raw: Any) -> ChartRecord:
    """The record as plain, bounded data; ValueError for anything else."""
    if not isinstance(raw, dict):
        raise ValueError("the record is not an object")
    texts = []
    for item in _list(raw.get("texts"), MAX_TEXTS):
        entry = _list(item, 4)
        if len(entry) != 4 or entry[3] not in TEXT_KINDS:
            raise ValueError("a text entry is not [text, x, y, kind]")
        texts.append((_str(entry[0]), entry[3]))
    layout = []
    for item in _list(raw.get("layout"), MAX_ITEMS):
        cells = _list(item, 6)
        if len(cells) != 6 or not all(type(c) is int for c in cells):
            raise ValueError("a layout entry is not six integers")
        layout.append(tuple(cells))
    types = raw.get("types")
    if not isinstance(types, dict) or len(types) > MAX_ITEMS:
        raise ValueError("types is not an object")
    counts = {_str(k): v for k, v in types.items()}
    if not all(type(v) is int and v > 0 for v in counts.values()):
        raise ValueError("a chart type count is not a positive integer")
    colors = []
    for item in _list(raw.get("colors"), MAX_ITEMS):
        pair = _list(item, 2)
        if len(pair) != 2:
            raise ValueError("a colour entry is not a pair")
        colors.append((_str(pair[0]), _color(pair[1])))
    cm_colors = []
    for item in _list(raw.get("cm_colors", []), MAX_ITEMS):
        pair = _list(item, 2)
        if len(pair) != 2:
            raise ValueError("a colour entry is not a pair")
        cm_colors.append((_str(pair[0]), _color(pair[1], (7, 9))))
    installed = raw.get("cm_installed", True)
    if not isinstance(installed, bool):
        raise ValueError("cm_installed is not a boolean")
    return ChartRecord(
        tuple(texts), tuple(layout), counts, tuple(colors), tuple(cm_colors), installed
    )


def _color(value: Any, lengths: tuple[int, ...] = (7,)) -> str:
    """`#RRGGBB` (upper case; `#RRGGBBAA` too where `lengths` allows) or a colormap's name."""
    text = _str(value)
    if text.startswith("#") and (len(text) not in lengths or any(c not in HEX for c in text[1:])):
        raise ValueError(f"not a #RRGGBB colour: {text!r}")
    return text
