"""A real S3-compatible server (moto's) on loopback, for the tests of object-store I/O.

moto accepts any credentials; it keeps everything in memory and is gone when stopped.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import free_port

__all__ = ["moto_server"]


@contextlib.contextmanager
def moto_server() -> Iterator[int]:
    """Start `moto_server` on 127.0.0.1; yields its port once it accepts connections."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert time.monotonic() < deadline and server.poll() is None, "moto did not start"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
