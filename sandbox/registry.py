"""`get_backend(name)`: one backend instance per process, created on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rewardgate.sandbox.api import Backend
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["available_backends", "get_backend"]


def _bwrap() -> Backend:
    from rewardgate.sandbox.bwrap import BwrapBackend

    return BwrapBackend()


_FACTORIES: dict[str, Callable[[], Backend]] = {"bwrap": _bwrap}
_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def available_backends() -> list[str]:
    return sorted(_FACTORIES)


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
            backend = _instances[name] = factory()
        return backend
