"""`get_backend(name)`: one backend instance per process, created on first use.

`configure(name, **options)` sets the constructor options of a backend (the docker
image, its pool size) before it is created; the code verifier calls it with what its
server configured, so worker processes build the same backend as the gateway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rewardgate.contract.errors import InvalidRequest
from rewardgate.sandbox.api import Backend

__all__ = ["available_backends", "configure", "get_backend"]


def _bwrap(**options: Any) -> Backend:
    from rewardgate.sandbox.bwrap import BwrapBackend

    return BwrapBackend(**options)


def _docker(**options: Any) -> Backend:
    from rewardgate.sandbox.docker import DockerBackend

    return DockerBackend(**options)


_FACTORIES: dict[str, Callable[..., Backend]] = {"bwrap": _bwrap, "docker": _docker}
_instances: dict[str, Backend] = {}
_options: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def available_backends() -> list[str]:
    return sorted(_FACTORIES)


def configure(name: str, **options: Any) -> None:
    """Constructor options for backend `name`; a change replaces its instance on next use."""
    with _lock:
        if _options.get(name, {}) == options:
            return
        _options[name] = dict(options)
        old = _instances.pop(name, None)
    close = getattr(old, "close", None)
    if close is not None:
        close()


def get_backend(name: str = "bwrap") -> Backend:
    """The process-wide backend called `name`; unknown names list the available ones."""
    with _lock:
        backend = _instances.get(name)
        if backend is None:
            factory = _FACTORIES.get(name)
            if factory is None:
                raise InvalidRequest(
                    f"unknown sandbox backend {name!r}; available: "
                    + ", ".join(available_backends())
                )
            backend = _instances[name] = factory(**_options.get(name, {}))
        return backend
