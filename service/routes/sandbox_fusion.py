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
another SandboxFusion language is a 400 naming the supported ones. `files` (base64)
are placed in the work dir; `fetch_files` (paths in the work dir) come back base64 in
`files` after the run, those that exist, each up to 8 MiB. The program runs on the
server's default backend (`sandbox_backend`), at most `workers` at once; past four
times that, 429. `memory_limit_MB` over the server's per-run cap (`max_run_memory_mb`,
lowered to fit the memory budget) is a 400; -1 ("none") is 2048 MB or the cap if lower.
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

from rewardgate.service.settings import Settings
from rewardgate.verifiers.errors import InvalidRequest, Overloaded, SandboxError

__all__ = ["CommandRunResult", "RunCodeRequest", "RunCodeResponse", "router", "run_memory_mb"]

router = APIRouter()

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
QUEUE_FACTOR = 4


class RunCodeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: str
    language: str = Field(..., description="python, cpp, c, java, nodejs, rust or go.")
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

    language = get_language(body.language)
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


class _Gate:
    """At most `workers` runs at once and `QUEUE_FACTOR` times that waiting or running."""

    def __init__(self, workers: int) -> None:
        self.limiter = anyio.CapacityLimiter(workers)
        self.most = workers * QUEUE_FACTOR
        self.inflight = 0


def _gate(request: Request) -> _Gate:
    gate = getattr(request.app.state, "run_code_gate", None)
    if gate is None:
        settings: Settings = request.app.state.settings
        gate = request.app.state.run_code_gate = _Gate(settings.workers)
    return gate


@router.post(
    "/run_code",
    summary="SandboxFusion's run_code: build and run one program, report each stage",
    response_model=RunCodeResponse,
)
async def run_code_route(body: RunCodeRequest, request: Request) -> RunCodeResponse:
    settings: Settings = request.app.state.settings
    gate = _gate(request)
    if gate.inflight >= gate.most:
        raise Overloaded(f"{gate.inflight} /run_code runs in flight", settings.retry_after_s)
    gate.inflight += 1
    try:
        return await anyio.to_thread.run_sync(run_code, body, settings, limiter=gate.limiter)
    except SandboxError as exc:
        return RunCodeResponse(status="SandboxError", message=exc.message)
    finally:
        gate.inflight -= 1
