"""In-process scoring from a daemonic process, through a helper process of its own.

The engine keeps each item's deadline by running checkers in worker processes it can
kill. A daemonic `multiprocessing` process may not start children (TRL's async trainer
runs its rollout worker as one: `spawn`, `daemon=True`), so there `LocalClient`
cannot start its engine. `HelperClient` starts the same engine one step removed: a
plain `subprocess` (which a daemonic process may start) serves it on 127.0.0.1, on a
port the kernel picks, behind a random API key, and the client scores over HTTP. So
the caller gets what `LocalClient` gives (the same settings, verifiers, deadlines and
`timeout` results) without running `rewardgate serve` itself.

The helper lives as long as its owner: it reads its standard input, which only the
owner holds, and shuts down at end of file, i.e. when the client closes or when the
owner dies in any way (a SIGKILL included), so no server outlives a trainer.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import selectors
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

from rewardgate.clients.sync import RewardClient

if TYPE_CHECKING:
    from rewardgate.service.settings import Settings
    from rewardgate.verifiers.registry import Registry

__all__ = ["HelperClient", "HelperService"]

START_TIMEOUT_S = 600.0  # every installed verifier warms up first, on a busy machine
STOP_TIMEOUT_S = 30.0


class HelperService:
    """The helper process serving the engine, and where to reach it."""

    def __init__(
        self,
        settings: Settings | None = None,
        registry: Registry | None = None,
        *,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.api_key = secrets.token_urlsafe(32)
        # The owner's import path, so the helper unpickles the same settings and
        # verifier classes (a spawned process may have had its path set by its parent).
        path = os.pathsep.join(entry for entry in sys.path if entry)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewardgate.clients.helper_service"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            pickle.dump((settings, registry, self.api_key), self.process.stdin)
            self.process.stdin.flush()
            port = _read_port(self.process, self.process.stdout, start_timeout_s)
        except BaseException:
            self.close()
            raise
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        """End of file on its input stops the helper; killed if it does not stop."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _read_port(process: subprocess.Popen[bytes], stdout: IO[bytes], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(
                    f"rewardgate's helper service did not start in {timeout_s:.0f} s"
                )
            if selector.select(timeout=min(left, 1.0)):
                line = stdout.readline()
                if line.strip().isdigit():
                    return int(line)
                if not line:
                    break  # the helper closed its output: it is exiting
    code = process.wait()
    raise RuntimeError(
        f"rewardgate's helper service exited with code {code} before serving "
        "(its error is on this process's standard error)"
    )


class HelperClient(RewardClient):
    """`LocalClient`'s twin for daemonic processes: the engine in a helper process.

    Takes `LocalClient`'s `settings` and `registry` (both must pickle: they go to the
    helper) and `RewardClient`'s other keywords. `close` stops the helper.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        registry: Registry | None = None,
        **client_kwargs: Any,
    ) -> None:
        self.helper = HelperService(settings, registry)
        try:
            super().__init__(self.helper.url, api_key=self.helper.api_key, **client_kwargs)
        except BaseException:
            self.helper.close()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.helper.close()


def _serve() -> None:
    """The helper: serve the engine until end of file on standard input."""
    import socket

    import uvicorn

    from rewardgate.service.app import create_app
    from rewardgate.service.settings import Settings

    settings, registry, api_key = pickle.load(sys.stdin.buffer)
    # Watch the owner's pipe on a descriptor of its own, with plain reads: a thread
    # blocked in `sys.stdin` holds its lock, and a worker forked then would hang in
    # multiprocessing's start-up, which closes `sys.stdin`.
    owner = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    settings = (settings or Settings()).model_copy(
        update={"host": "127.0.0.1", "api_keys": (api_key,)}
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, registry, freeze_heap=True),
            log_config=None,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=int(settings.graceful_timeout_s),
        )
    )

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            os.write(sys.stdout.fileno(), f"{port}\n".encode())

    def watch_owner() -> None:
        while os.read(owner, 65536):
            pass
        server.should_exit = True

    threading.Thread(target=announce, daemon=True).start()
    threading.Thread(target=watch_owner, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    _serve()
