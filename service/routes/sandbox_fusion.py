"""`POST /run_code`: SandboxFusion's code-execution protocol, on rewardgate's sandbox.

Trainers wired to SandboxFusion (verl's `sandbox_fusion` code reward posts
`{code, language, stdin, compile_timeout, run_timeout, memory_limit_MB, files,
fetch_files}` once per test case and compares `run_result.stdout` itself) can point
their URL here unchanged. The answer has SandboxFusion's shape:

    {"status": "Success" | "Failed" | "SandboxError", "message": str,
     "compile_result": CommandRunResult | null, "run_result": CommandRunResult | null,
     "executor_pod_name": null, "files": {}}
    CommandRunResult = {"status": "Finished" | "Error" | "TimeLimitExceeded",
                        "execution_time": float | null, "return_code": int | null,
                        "stdout": str | null, "stderr": str | null}

as SandboxFusion fills it: `Failed` when the build or the run ended non-zero or past its
time limit, `TimeLimitExceeded` with no return code, `compile_result` only for compiled
languages (a cached build reports a zero-second success) and no `run_result` after a
failed build. `SandboxError` means the sandbox itself broke (the trainer scores -1, "no
verdict"), never the program. Languages: python, cpp, c, java, nodejs (js), rust, go;
another of SandboxFusion's ids is a 400 naming it as one without a toolchain here
(`sandbox.languages.canonical_language`, the table every endpoint reads). Programs are
built and run with SandboxFusion's own commands (`sandbox.languages.SANDBOX_FUSION`:
C++ `-std=c++17` without `-O2`, Rust without an edition, Java as `Main.java` run with
`-ea`), so a program answers as it would there. `files` (base64) are placed in the work
dir; `fetch_files` (paths in the work dir) come back base64 in `files` after the run,
those that exist, each up to 8 MiB. The program runs on the server's default backend
(`sandbox_backend`), at most `workers` at once; the others wait in arrival order while
they can still start in time for their client (`run_queue.RunQueue`: 504 past that,
429 past `max_waiting_items` runs waiting). `memory_limit_MB` over the server's per-run
cap (`max_run_memory_mb`, lowered to fit the memory budget) is a 400; -1 ("none") is
2048 MB or the cap if lower.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import posixpath
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from rewardgate.service.metrics import Metrics
from rewardgate.service.routes import sandbox_fusion_unsupported
from rewardgate.service.routes.run_queue import RunQueue
from rewardgate.service.settings import Settings
from rewardgate.verifiers.errors import InvalidRequest, SandboxError

__all__ = ["CommandRunResult", "RunCodeRequest", "RunCodeResponse", "router", "run_memory_mb"]

router = APIRouter()
# SandboxFusion's other routes answer a clear 501 (served with this router, so the app
# that serves /run_code serves them too).
router.include_router(sandbox_fusion_unsupported.router)

# SandboxFusion's memory_limit_MB of -1 means "no limit"; a sandbox always has one.
DEFAULT_MEMORY_MB = 2048
OUTPUT_BYTES = 1 << 20  # SandboxFusion keeps 1 MiB of each stream too
FETCH_BYTES = 8 << 20
# Run after the program (which never sees fd 3): the requested files, as JSON on fd 3.
_FETCH = f"""import base64, json, os, sys
out = {{}}
for name in json.loads(sys.argv[1]):
    try:
        with open(name, "rb") as f:
            out[name] = base64.b64encode(f.read({FETCH_BYTES})).decode()
    except OSError:
        pass
os.write(3, json.dumps(out).encode())
"""


class RunCodeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    language: str = Field(
        ..., description="python, cpp, c, java, nodejs, rust or go (or an alias: py3, c++, js)."
    )
    stdin: str | None = None
    compile_timeout: float = Field(10, gt=0, le=600)
    run_timeout: float = Field(10, gt=0, le=600)
    memory_limit_MB: int = -1  # SandboxFusion's spelling
    files: dict[str, str | None] = Field(default_factory=dict, description="path -> base64")
    fetch_files: list[str] = Field(default_factory=list)


class CommandRunResult(BaseModel):
    status: Literal["Finished", "Error", "TimeLimitExceeded"]
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeResponse(BaseModel):
    status: Literal["Success", "Failed", "SandboxError"]
    message: str = ""
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


def _inside(name: str, field: str) -> str:
    norm = posixpath.normpath(name)
    if not name or norm.startswith(("/", "..")) or norm == ".":
        raise InvalidRequest(f"{field}: {name!r} must be a relative path inside the work dir")
    return norm


def _decode_files(files: dict[str, str | None]) -> dict[str, bytes]:
    out = {}
    for name, content in files.items():
        if content is None:
            continue  # SandboxFusion skips these too
        norm = _inside(name, "files")
        try:
            out[norm] = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(f"files: {name!r} is not base64") from None
    return out


def run_memory_mb(asked: int, cap: int) -> int:
    """The run's memory limit: SandboxFusion's "none" (-1, or 0) is the default, lowered
    to the server's cap; an explicit ask over the cap is refused, never quietly cut,
    since a program run with less memory than it asked for fails for the server's sake.
    """
    if asked <= 0:
        return min(DEFAULT_MEMORY_MB, cap)
    if asked > cap:
        raise InvalidRequest(
            f"memory_limit_MB: {asked} is over this server's cap of {cap} MB per run "
            "(settings max_run_memory_mb, run_memory_budget_mb)"
        )
    return asked


def _command(result: Any) -> CommandRunResult:
    """An `ExecResult` as SandboxFusion reports a command."""
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    seconds = round(result.wall_ms / 1000, 4)
    if result.timed_out:
        return CommandRunResult(
            status="TimeLimitExceeded", execution_time=seconds, stdout=stdout, stderr=stderr
        )
    return CommandRunResult(
        status="Finished",
        execution_time=seconds,
        return_code=result.exit_code,
        stdout=stdout,
        stderr=stderr,
    )


def _failed(command: CommandRunResult | None) -> bool:
    return command is not None and (
        command.status == "TimeLimitExceeded" or command.return_code not in (0, None)
    )


def run_code(body: RunCodeRequest, settings: Settings) -> RunCodeResponse:
    """Build (or reuse) and run the program once, on the server's default backend; builds
    share the code verifier's compile cache (the system temp dir's)."""
    from rewardgate.sandbox import COMPILE_LIMITS, Limits, Toolchain, get_language
    from rewardgate.sandbox.registry import configure, get_backend

    language = get_language(body.language, commands="sandbox_fusion")
    files = _decode_files(body.files)
    memory = run_memory_mb(body.memory_limit_MB, settings.run_memory_cap_mb())
    fetch = [_inside(name, "fetch_files") for name in body.fetch_files]
    configure("docker", image=settings.docker_image, pool_size=settings.docker_pool_size)
    backend = get_backend(settings.sandbox_backend)
    compile_limits = dataclasses.replace(
        COMPILE_LIMITS, wall_s=body.compile_timeout, cpu_s=body.compile_timeout
    )
    toolchain = Toolchain(backend, compile_limits=compile_limits)
    program = toolchain.prepare(language, body.code)
    compile_result = None
    if language.compiler is not None:
        if program.compile_result is None:  # a cache hit: built before, successfully
            compile_result = CommandRunResult(
                status="Finished", execution_time=0.0, return_code=0, stdout="", stderr=""
            )
        else:
            compile_result = _command(program.compile_result)
    if _failed(compile_result):
        return RunCodeResponse(status="Failed", compile_result=compile_result)
    limits = Limits(
        wall_s=body.run_timeout,
        cpu_s=body.run_timeout,
        memory_mb=memory,
        output_bytes=OUTPUT_BYTES,
        open_files=max(Limits.open_files, language.open_files),  # R needs more
    )
    if fetch:
        limits = dataclasses.replace(limits, output_bytes=OUTPUT_BYTES + FETCH_BYTES * len(fetch))
        result = _run_and_fetch(program, body.stdin or "", limits, files, fetch)
    else:
        result = program.run(stdin=body.stdin or "", limits=limits, files=dict(files))
    run_result = _command(result)
    return RunCodeResponse(
        status="Failed" if _failed(run_result) else "Success",
        compile_result=compile_result,
        run_result=run_result,
        files=_fetched(result.channel, fetch),
    )


def _run_and_fetch(
    program: Any, stdin: str, limits: Any, files: dict[str, bytes], fetch: list[str]
) -> Any:
    """Run the program under a shell that then sends `fetch` back over the channel; the
    program's own exit status stays the command's (a signal's as the shell's 128 + n)."""
    import json
    import shlex

    script = (
        f"{shlex.join(program.argv)} 3>&-; rc=$?; "
        f"python3 -I -c {shlex.quote(_FETCH)} {shlex.quote(json.dumps(fetch))}; exit $rc"
    )
    merged = {**program.files, **files}
    return program.backend.run(
        ["sh", "-c", script], merged, stdin, limits, mounts=program.mounts, channel=True
    )


def _fetched(channel: bytes | None, fetch: list[str]) -> dict[str, str]:
    """The fetched files the channel holds, as plain strings; nothing else it may say."""
    import json

    if not fetch or not channel:
        return {}
    try:
        data = json.loads(channel)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in fetch and isinstance(v, str)}


def _queue(request: Request) -> tuple[RunQueue, anyio.CapacityLimiter]:
    """This app's line of runs and the threads that execute them (made on first use,
    its metrics in the app's registry)."""
    state = request.app.state
    queue = getattr(state, "run_code_queue", None)
    if queue is None:
        settings: Settings = state.settings
        metrics: Metrics = state.metrics
        queue = state.run_code_queue = RunQueue(
            settings.workers,
            max_waiting=settings.max_waiting_items,
            registry=metrics.registry,
            retry_after_s=settings.retry_after_s,
        )
        state.run_code_threads = anyio.CapacityLimiter(settings.workers)
    return queue, state.run_code_threads


@router.post(
    "/run_code",
    summary="SandboxFusion's run_code: build and run one program, report each stage",
    response_model=RunCodeResponse,
)
async def run_code_route(body: RunCodeRequest, request: Request) -> RunCodeResponse:
    from rewardgate.sandbox import get_language

    settings: Settings = request.app.state.settings
    get_language(body.language)  # an unknown language is a 400 at once, not after the line
    queue, threads = _queue(request)

    async def execute() -> RunCodeResponse:
        return await anyio.to_thread.run_sync(run_code, body, settings, limiter=threads)

    try:
        return await queue.run(body.compile_timeout + body.run_timeout, execute)
    except SandboxError as exc:
        return RunCodeResponse(status="SandboxError", message=exc.message)
