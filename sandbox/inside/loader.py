"""Loading trusted code inside a sandbox and calling an entry's `main()`.

An entry script (a `PythonEntry`: the code harness, a runner) runs the same way warm
and cold: executed once as module `rewardgate_entry`, then its `main()` called by
`run_main`. A warm server (`zygote`, `docker_zygote`) does the first step once, with
the entry's `preload(files)`, and the second in each run's fork; a cold start
(`boot`, `run_entry`) does both in one process. Helper files an entry ships beside
itself are executed into namespaces the entry owns (`exec_files`), read from the work
dir only before any program runs (`read_files`): the program may rewrite them later.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

WORKDIR = "/sandbox"
ENTRY_MODULE = "rewardgate_entry"


def read_files(names: Iterable[str]) -> dict[str, str]:
    """The texts of the work dir's files `names`."""
    sources = {}
    for name in names:
        with open(name, encoding="utf-8") as f:
            sources[name] = f.read()
    return sources


def exec_files(namespace: dict[str, Any], sources: Mapping[str, str], names: Iterable[str]) -> None:
    """Execute each of `names` (keys of `sources`) in `namespace`, in order."""
    for name in names:
        exec(compile(sources[name], name, "exec"), namespace)


def load_entry(
    script: str, source: str | bytes, files: Mapping[str, str] | None = None, folder: str = WORKDIR
) -> dict[str, Any]:
    """The entry `script` executed once as a module; with `files` (a warm start) its
    `preload(files)` is called, and what is loaded is frozen out of later collections
    (fewer pages copied by each run's fork)."""
    namespace: dict[str, Any] = {"__name__": ENTRY_MODULE, "__builtins__": __builtins__}
    namespace["__file__"] = f"{folder}/{script}"
    exec(compile(source, script, "exec"), namespace)
    if files is not None:
        if "preload" in namespace:
            namespace["preload"](dict(files))
        gc.freeze()
    return namespace


def run_main(namespace: dict[str, Any]) -> int:
    """Call the entry's `main()`; its exit status as `python3 script` would end with."""
    code = 0
    try:
        namespace["main"]()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            code = code or 120
    return code


def fork_run(set_up: Callable[[], None], namespace: dict[str, Any]) -> int:
    """A warm server's run: fork; the child calls `set_up()` (its fds, namespaces,
    limits; a failure is reported on its fd 2 and ends it with 125), then the entry's
    `main()`, and exits with its status. The child's pid, here."""
    pid = os.fork()
    if pid == 0:
        try:
            set_up()
        except BaseException:
            os.write(2, f"zygote: run set-up failed: {traceback.format_exc()}".encode())
            os._exit(125)
        os._exit(run_main(namespace))
    return pid


def run_entry(script: str) -> int:
    """A cold start of the entry `script` in the work dir (the cwd)."""
    with open(script, "rb") as f:
        source = f.read()
    sys.argv = [script]
    namespace = load_entry(script, source, folder=os.getcwd())
    return run_main(namespace)
