"""Trusted in-sandbox CAD runner: executes a CadQuery script, checks and measures its shape.

Shipped as text into the sandbox work dir (with `geometry.py` and `cad_runtime.json`,
which names the CAD runtime's prefix) and run as the entry `runner.py`, cold or as
`main()` in a fork of a zygote that ran `preload()` (CadQuery already imported). It
imports nothing of rewardgate but the sandbox's inside library
(`rewardgate.sandbox.inside`). One run:

1. `job.json` (options) and `script.py` (the script) are in the work dir; stdin holds
   the reference file's bytes, unread so far.
2. The script runs in a forked child: own session, only /dev/null on fd 0, its output
   to files, fd 3 (the channel) closed, memory and CPU rlimits. The child picks the
   result (`result`, else `r`, else what `show_object` was given) and writes it as a
   BREP file; whatever it does is reported, never trusted.
3. When the child has ended (or hit its time limit) every other process the script
   started is killed (`reaper.kill_the_rest`). Only then is the reference read from stdin:
   the script never had a way to read it, in a file or in this process's memory.
4. The analysis runs in a second child, this process's own code only, under its own
   deadline (`analysis_s`, counted from the script's end): it reads the script's BREP,
   checks it (BRepCheck) and measures it, compares it with the reference
   (`geometry.compare`) and reports on fd 3. A `build` job (a reference script) sends
   the BREP back instead. Running past the deadline is reported as `analysis_timeout`,
   any other end of that child as `analysis_failed`: the service's failures, never the
   script's verdict, since nothing of the script runs any more.

Channel lines, in order: `runner` (started), `script` (about to run it), `executed`,
then the analysis' (`no_shape`, `candidate`, `reference`, `metrics`, `compare_error`,
`reference_error`, `brep` and, when a build job asks to `measure`, `measured`; `views`
or `views_error` when the job asks for views) or
`analysis_timeout` / `analysis_failed`, and `done`. What is missing tells how far a
run got.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import sys
import time

from rewardgate.sandbox.inside import channel, limits, privileges, process, reaper
from rewardgate.sandbox.inside.channel import emit

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

TAIL = 2000
RUNTIME_FILE = "cad_runtime.json"
RESULT_BREP = ".result.brep"
RESULT_INFO = ".result.json"
MAX_BREP_BYTES = 64 << 20
RESULT_NAMES = ("result", "r")
# A reference measured by its build run (`measure`, `read_measured`), and the most its
# channel line may take (the host allows a build's channel that much more).
MEASURED = "measured"
MAX_MEASURED_BYTES = 24 << 20


def use_runtime(files: dict[str, str] | None = None) -> None:
    """Put the CAD runtime's site-packages first on sys.path (before Debian's own)."""
    if files is not None:
        text = files[RUNTIME_FILE]
    else:
        with open(RUNTIME_FILE, encoding="utf-8") as f:
            text = f.read()
    prefix = json.loads(text)["prefix"]
    site = f"{prefix}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    if site not in sys.path:
        sys.path.insert(0, site)
    # One thread per BLAS/OpenMP pool: a run gets a share of a core, not the machine.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


# The helper modules shipped beside the runner, imported by `main` before the script runs.
HELPERS = ("geometry", "views")


def preload(files: dict[str, str]) -> None:
    """Warm start: import CadQuery, the metrics' modules and our helpers once, in the zygote.

    The helpers come from `files` (the host's texts, as the work dir's copies are), so a
    run's `main` finds them imported: compiling them in every run cost more CPU than
    the fork that starts it.
    """
    import types

    use_runtime(files)
    with contextlib.suppress(ImportError):
        import cadquery  # noqa: F401
        import scipy.spatial  # noqa: F401

        for name in HELPERS:
            module = types.ModuleType(name)
            module.__file__ = f"{name}.py"
            sys.modules[name] = module
            try:
                exec(compile(files[f"{name}.py"], f"{name}.py", "exec"), module.__dict__)
            except BaseException:
                del sys.modules[name]  # `main` imports it from the work dir and reports
                raise


def to_shape(obj: Any) -> Any:
    """A CadQuery object (Workplane, Shape, Assembly, Sketch face) as one OCC shape."""
    import cadquery as cq

    if isinstance(obj, (list, tuple)):
        shapes = [to_shape(o) for o in obj]
        return cq.Compound.makeCompound(shapes) if len(shapes) != 1 else shapes[0]
    if isinstance(obj, cq.Workplane):
        shapes = [o for o in obj.vals() if isinstance(o, cq.Shape)]
        if not shapes:
            raise TypeError("the Workplane holds no shape")
        return shapes[0] if len(shapes) == 1 else cq.Compound.makeCompound(shapes)
    if isinstance(obj, cq.Assembly):
        return obj.toCompound()
    if isinstance(obj, cq.Shape):
        return obj
    raise TypeError(f"the result is a {type(obj).__name__}, not a CadQuery shape")


def child_main(job: dict[str, Any]) -> None:
    """In the forked child: run the script, write its result as a BREP file."""
    import builtins
    import traceback
    import types

    shown: list[Any] = []
    main = types.ModuleType("__main__")
    main.__file__ = "script.py"
    main.__dict__["__builtins__"] = builtins
    main.__dict__["show_object"] = lambda obj, *args, **kwargs: shown.append(obj)
    sys.modules["__main__"] = main
    sys.argv = ["script.py"]
    info: dict[str, Any] = {}
    try:
        with open("script.py", "rb") as f:
            source = f.read()
        exec(compile(source, "script.py", "exec"), main.__dict__)
        found = [n for n in RESULT_NAMES if n in main.__dict__]
        if found:
            info["result_name"] = found[0]
            to_shape(main.__dict__[found[0]]).exportBrep(RESULT_BREP)
        elif shown:
            info["result_name"] = "show_object"
            to_shape(shown).exportBrep(RESULT_BREP)
        else:
            info["error"] = "the script sets no `result` or `r` and calls no show_object()"
    except BaseException as exc:
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        info["error"] = "".join(frames)[-TAIL:]
    with open(RESULT_INFO, "w", encoding="utf-8") as f:
        json.dump(info, f)


def spawn(job: dict[str, Any]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDONLY)
        out = os.open(".output", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        process.move_fds((null, out, out))
        process.close_from(3)
        limits.set_limits(
            cpu_s=int(job["time_limit_s"]) + 1,
            address_space_bytes=limits.address_space_in_use() + (job["memory_mb"] << 20),
        )
        child_main(job)
    except BaseException:
        code = 1
    os._exit(code)


def clear_leftovers() -> None:
    """Remove what the script wrote besides its result: the space is the reference's."""
    keep = {
        "job.json",
        "script.py",
        "runner.py",
        "geometry.py",
        "views.py",
        RUNTIME_FILE,
        RESULT_BREP,
    }
    for folder in (".", "/dev/shm"):
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if folder == "." and entry.name in keep:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)


def execute(job: dict[str, Any]) -> dict[str, Any]:
    """Run the script in a child under its limits; how it went, from this side."""
    started = time.monotonic()
    pid = spawn(job)
    pidfd = os.pidfd_open(pid)
    timed_out = not select.select([pidfd], [], [], job["time_limit_s"])[0]
    os.close(pidfd)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    contained = reaper.kill_the_rest()
    report: dict[str, Any] = {
        "exit": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "ms": round((time.monotonic() - started) * 1000, 1),
        "contained": contained,
    }
    with contextlib.suppress(OSError, ValueError):
        with open(RESULT_INFO, encoding="utf-8") as f:
            info = json.loads(f.read(1 << 16))
        if isinstance(info, dict):
            report["error"] = str(info.get("error", ""))[-TAIL:] or None
            report["result_name"] = str(info.get("result_name", "")) or None
    with contextlib.suppress(OSError), open(".output", "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - TAIL))
        report["output_tail"] = f.read(TAIL).decode("utf-8", "replace")
    clear_leftovers()
    return report


def read_result() -> tuple[Any, str | None]:
    """The child's shape, read back here; None and why when there is none."""
    import geometry

    try:
        size = os.lstat(RESULT_BREP).st_size
    except OSError:
        return None, "no result shape was written"
    if size > MAX_BREP_BYTES:
        return None, f"the result's BREP is over {MAX_BREP_BYTES} bytes"
    try:
        return geometry.load(RESULT_BREP, "brep"), None
    except Exception as exc:
        return None, f"the result's BREP cannot be read: {exc}"


def read_reference(job: dict[str, Any]) -> dict[str, Any]:
    """The reference from stdin (read only now), measured and meshed."""
    import geometry

    data = sys.stdin.buffer.read()
    if job["reference_format"] == MEASURED:
        return read_measured(data)
    name = ".reference." + job["reference_format"]
    with open(name, "wb") as f:
        f.write(data)
    if job["reference_format"] == "stl":
        mesh = geometry.load_stl(name)
        return {"props": geometry.mesh_properties(mesh), "mesh": mesh}
    shape = geometry.load(name, job["reference_format"])
    props = geometry.properties(shape)
    mesh = geometry.tessellate(shape, max(props["bbox"]), job.get("chamfer_protocol") == "papers")
    return {"props": props, "mesh": mesh, "shape": shape}


def read_measured(data: bytes) -> dict[str, Any]:
    """A reference measured by its build run (`measure`): its BREP, read for the exact
    IoU, with the properties and the mesh that run made of that same BREP (a JSON
    header line, then the BREP, the nodes and the triangles as little-endian arrays)."""
    import geometry
    import numpy as np

    head, _, body = data.partition(b"\n")
    meta = json.loads(head)
    size_brep, size_nodes, size_tris = meta["brep"], meta["nodes"], meta["tris"]
    if len(body) != size_brep + size_nodes + size_tris:
        raise ValueError("the measured reference is not the size its header says")
    with open(".reference.brep", "wb") as f:
        f.write(body[:size_brep])
    shape = geometry.load(".reference.brep", "brep")
    nodes = np.frombuffer(body, "<f8", size_nodes // 8, size_brep).reshape(-1, 3)
    tris = np.frombuffer(body, "<i8", size_tris // 8, size_brep + size_nodes).reshape(-1, 3)
    mesh = (nodes.astype(np.float64), tris.astype(np.int64))
    return {"props": meta["props"], "mesh": mesh, "shape": shape}


def measure(job: dict[str, Any], shape: Any, props: dict[str, Any]) -> None:
    """Mesh a built reference as a score run would (`read_reference`: the shape read back
    from its BREP, measured, then meshed), so each score run reads the mesh instead of
    making it again: a third of a CAD item's work (bench/cad_throughput.py). Best
    effort: without this line the host sends the BREP, and the score run meshes it."""
    import geometry

    try:
        papers = job.get("chamfer_protocol") == "papers"
        nodes, tris = geometry.tessellate(shape, max(props["bbox"]), papers)
        line = {
            "measured": {
                "protocol": job.get("chamfer_protocol", "paired"),
                "props": props,
                "nodes": base64.b64encode(nodes.astype("<f8").tobytes()).decode(),
                "tris": base64.b64encode(tris.astype("<i8").tobytes()).decode(),
            }
        }
        text = json.dumps(line)
    except Exception:  # the score runs will mesh it themselves
        return
    if len(text) < MAX_MEASURED_BYTES:
        channel.write_all(channel.CHANNEL, (text + "\n").encode())


def score(job: dict[str, Any], shape: Any, props: dict[str, Any]) -> None:
    import geometry

    try:
        ref = read_reference(job)
    except Exception as exc:
        emit({"reference_error": f"{type(exc).__name__}: {exc}"[-TAIL:]})
        return
    emit({"reference": ref["props"]})
    if not ref["props"]["valid_solid"]:
        emit({"reference_error": "the reference is not a valid solid"})
        return
    try:  # the script's shape, however odd: a failure here is its verdict
        papers = job.get("chamfer_protocol") == "papers"
        mesh = geometry.tessellate(shape, max(props["bbox"]), papers)
        cand = {"props": props, "mesh": mesh, "shape": shape}
        metrics = geometry.compare(
            cand,
            ref,
            job["normalize"],
            job["samples"],
            job["seed"],
            job.get("chamfer_protocol", "paired"),
        )
    except Exception as exc:  # OCC raises its own Standard_Failure subclasses
        emit({"compare_error": f"{type(exc).__name__}: {exc}"[-TAIL:]})
        return
    emit({"metrics": metrics})
    if job.get("views"):
        draw_views(job, mesh, ref["mesh"])


def draw_views(job: dict[str, Any], mesh: Any, ref_mesh: Any) -> None:
    """Evidence images (`evidence: "images"`): the two meshes from fixed views."""
    import views

    own_frames = bool(job["normalize"]) or job.get("chamfer_protocol") == "papers"
    try:
        emit({"views": views.draw(mesh, ref_mesh, own_frames)})
    except Exception as exc:  # the images are optional: the verdict stands without them
        emit({"views_error": f"{type(exc).__name__}: {exc}"[-TAIL:]})


def analyse(job: dict[str, Any]) -> None:
    """The runner's own work on the script's result (in the analysis child)."""
    import geometry

    shape, problem = read_result()
    if shape is None:
        emit({"no_shape": problem})
        return
    try:
        props = geometry.properties(shape)
    except Exception as exc:  # a shape OCC cannot even measure is the script's verdict
        emit({"no_shape": f"the result cannot be checked: {type(exc).__name__}: {exc}"[-TAIL:]})
        return
    emit({"candidate": props})
    if job["kind"] == "build":
        if props["valid_solid"]:
            with open(RESULT_BREP, "rb") as f:
                emit({"brep": base64.b64encode(f.read()).decode()})
            if job.get("measure"):
                measure(job, shape, props)
        return
    if props["valid_solid"] and job.get("reference_format"):
        score(job, shape, props)


def supervise_analysis(job: dict[str, Any]) -> None:
    """Run `analyse` in a child under the analysis deadline, counted from now."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            analyse(job)
        except BaseException:  # a bug here must not read as the script's failure
            import traceback

            with contextlib.suppress(BaseException):
                emit({"internal_error": traceback.format_exc()[-TAIL:]})
            code = 1
        os._exit(code)
    pidfd = os.pidfd_open(pid)
    finished = select.select([pidfd], [], [], job["analysis_s"])[0]
    os.close(pidfd)
    if not finished:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not finished:
        channel.emit_after_cut({"analysis_timeout": job["analysis_s"]})
    elif status:
        code = os.waitstatus_to_exitcode(status)
        channel.emit_after_cut(
            {"analysis_failed": f"the analysis process ended with status {code}"}
        )


def run(job: dict[str, Any]) -> None:
    emit({"script": "started"})
    executed = execute(job)
    emit({"executed": executed})
    if executed["timed_out"] or executed.get("error") or executed["exit"] != 0:
        return  # the verdict is the script's outcome: nothing to analyse
    if not executed["contained"]:
        emit({"no_shape": "a process the script started could not be killed"})
        return
    supervise_analysis(job)


def main() -> None:
    privileges.not_dumpable()
    privileges.child_subreaper()  # the script's orphans stay ours, for the reaper
    channel.keep_private()
    emit({"runner": "started"})
    try:
        use_runtime()
        with open("job.json", encoding="utf-8") as f:
            job = json.load(f)
        # geometry.py is imported from the work dir before the script runs, which could
        # rewrite it, and the work dir leaves sys.path at once: no later import of this
        # process may find a module the script wrote there.
        sys.path.insert(0, os.getcwd())
        try:
            import cadquery  # noqa: F401
            import geometry  # noqa: F401
            import scipy.spatial  # noqa: F401
            import views  # noqa: F401
        except ImportError as exc:
            emit({"runtime_missing": f"{type(exc).__name__}: {exc}"})
            return
        finally:
            sys.path.remove(os.getcwd())
        run(job)
    except Exception:  # a bug here must not read as the script's failure
        import traceback

        emit({"internal_error": traceback.format_exc()[-TAIL:]})
        return
    emit({"done": True})


if __name__ == "__main__":
    main()
