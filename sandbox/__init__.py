"""Isolated execution of untrusted programs (bwrap and docker backends).

`get_backend()` gives this process's backend (bwrap by default, or "docker");
`Toolchain` builds programs in each language on it, with a compile cache. Nothing
starts at import.
"""

from rewardgate.sandbox.api import Backend, ExecResult, Limits, Mount, Process, PythonEntry
from rewardgate.sandbox.bwrap import BwrapBackend
from rewardgate.sandbox.docker import DockerBackend
from rewardgate.sandbox.languages import (
    COMPILE_LIMITS,
    LANGUAGES,
    Language,
    Program,
    Toolchain,
    get_language,
)
from rewardgate.sandbox.registry import available_backends, get_backend

__all__ = [
    "COMPILE_LIMITS",
    "LANGUAGES",
    "Backend",
    "BwrapBackend",
    "DockerBackend",
    "ExecResult",
    "Language",
    "Limits",
    "Mount",
    "Process",
    "Program",
    "PythonEntry",
    "Toolchain",
    "available_backends",
    "get_backend",
    "get_language",
]
