"""Where the trainer adapters score: a service when a URL is given, else this process.

The URL is the adapter's `url` argument or, without one, `$REWARDGATE_URL` (several
base URLs may be given, comma-separated); with neither, an in-process `LocalClient`
runs the engine (the `[server]` extra). Trainers call a reward function thousands of
times, from many threads, so each process keeps one client per configuration
(`shared_client`) instead of opening a connection pool, or starting worker processes,
per call. A forked child makes its own: a pool or engine does not survive a fork.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread
import multiprocessing
import os
import threading
from collections.abc import Sequence
from typing import Any, TypeAlias

from rewardgate.clients.local import LocalClient
from rewardgate.clients.sync import RewardClient

__all__ = [
    "URL_ENV",
    "Scorer",
    "Urls",
    "close_shared",
    "connect",
    "service_urls",
    "shared_client",
]

URL_ENV = "REWARDGATE_URL"

Scorer: TypeAlias = RewardClient | LocalClient
Urls: TypeAlias = str | Sequence[str] | None

_shared: dict[tuple[int, tuple[str, ...], str], Scorer] = {}
_lock = threading.Lock()
_registered = False


def service_urls(url: Urls = None) -> list[str]:
    """The base URLs to use: `url` if given, else `$REWARDGATE_URL`; empty: in-process."""
    if url is None:
        url = os.environ.get(URL_ENV, "")
    if isinstance(url, str):
        return [part.strip() for part in url.split(",") if part.strip()]
    return [str(part) for part in url]


def connect(url: Urls = None, **client_kwargs: Any) -> Scorer:
    """A new client: `RewardClient(urls, **client_kwargs)` when there is a URL, else
    `LocalClient(**client_kwargs)`. The caller closes it.

    In-process scoring needs worker processes, which a daemonic process cannot start
    (TRL's async trainer runs its rollout worker as one: `spawn`, `daemon=True`); there
    the engine runs in a helper process instead (`HelperClient`), with the same
    settings, verifiers and per-item deadlines.
    """
    urls = service_urls(url)
    if urls:
        return RewardClient(urls, **client_kwargs)
    if multiprocessing.current_process().daemon:
        from rewardgate.clients.helper_service import HelperClient

        return HelperClient(**client_kwargs)
    return LocalClient(**client_kwargs)


def shared_client(url: Urls = None, **client_kwargs: Any) -> Scorer:
    """This process's client for this configuration, made on first use, closed at exit."""
    global _registered
    key = (os.getpid(), tuple(service_urls(url)), repr(sorted(client_kwargs.items())))
    with _lock:
        client = _shared.get(key)
        if client is None:
            client = _shared[key] = connect(url, **client_kwargs)
            if not _registered:
                _register_exit()
                _registered = True
    return client


def _register_exit() -> None:
    """Close the shared clients at exit while thread pools still take work.

    Closing the in-process engine hands work to a thread; `concurrent.futures` refuses
    new work once its own exit hook ran, which is before `atexit`'s. So the hook goes
    where that one is (threading's exit hooks, run last-registered first), after
    importing `concurrent.futures.thread` so that its hook is registered before ours.
    """
    assert concurrent.futures.thread  # imported above for its exit hook's place
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:
            raise RuntimeError("no threading exit hooks")
        register(close_shared)
    except RuntimeError:  # already shutting down, or another interpreter
        atexit.register(close_shared)


def close_shared() -> None:
    """Close this process's shared clients (a parent's, inherited by fork, are dropped)."""
    pid = os.getpid()
    with _lock:
        mine = [client for key, client in _shared.items() if key[0] == pid]
        _shared.clear()
    for client in mine:
        client.close()
