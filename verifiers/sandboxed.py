"""The sandbox backend of a verifier that runs programs: the request's, else the server's.

Verifiers whose options carry a `backend` field (code, chart, cad) share this rule:
a request that names a backend gets it, one that names none gets the server's
`sandbox_backend` setting (carried in `VerifierEnv.sandbox`), and a name no backend
answers to is the request's fault (`invalid`, listing the available ones). The docker
backend's constructor options (image, pool size) come from the server's settings too,
so a worker builds the backend its server was configured with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from rewardgate.verifiers.base import VerifierEnv, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest

if TYPE_CHECKING:
    from rewardgate.sandbox.api import Backend

__all__ = [
    "SANDBOX_TOOLCHAINS",
    "backend_identity",
    "backend_name",
    "chosen_backend",
    "configure_docker",
    "sandbox_backend",
]

# The Debian packages whose programs a bwrap sandbox runs from the host's read-only
# /usr: what judges a run there (the docker backend's is its image, `backend_identity`).
SANDBOX_TOOLCHAINS = (
    "bubblewrap",
    "libc6",
    "python3.11-minimal",
    "gcc-12",
    "g++-12",
    "openjdk-17-jdk-headless",
    "nodejs",
    "rustc",
    "golang-1.19-go",
)

OptionsT = TypeVar("OptionsT", bound=VerifierOptions)


def backend_name(options: VerifierOptions, env: VerifierEnv) -> str:
    """The backend `options` run on: theirs if set, else the server's, else their default."""
    default = env.sandbox.backend
    if default and "backend" not in options.model_fields_set:
        return str(default)
    return str(getattr(options, "backend"))  # noqa: B009  (every such Options has it)


def chosen_backend(options: OptionsT, env: VerifierEnv) -> OptionsT:
    """`options` with `backend` resolved (see `backend_name`), an unknown one invalid, and
    `memory_mb` held to the server's per-run cap (see `capped_memory`)."""
    from rewardgate.sandbox.registry import available_backends

    name = backend_name(options, env)
    if name not in available_backends():
        raise InvalidRequest(
            f"options.backend: unknown sandbox backend {name!r}; "
            f"available: {', '.join(available_backends())}"
        )
    if name != getattr(options, "backend"):  # noqa: B009
        options = options.model_copy(update={"backend": name})
    return capped_memory(options, env)


def capped_memory(options: OptionsT, env: VerifierEnv) -> OptionsT:
    """`options` whose `memory_mb` fits the server's per-run cap (`max_run_memory_mb`,
    lowered to fit `run_memory_budget_mb` across concurrent runs).

    Asked above the cap is the request's fault (`invalid`); a default above it is
    lowered to it, so every run of code, chart and CAD scripts stays within the host.
    """
    cap = env.sandbox.max_run_memory_mb
    memory = getattr(options, "memory_mb", None)
    if not isinstance(cap, int) or not isinstance(memory, int) or memory <= cap:
        return options
    if "memory_mb" in options.model_fields_set:
        raise InvalidRequest(
            f"options.memory_mb: {memory} is over this server's cap of {cap} MB per run "
            "(settings max_run_memory_mb, run_memory_budget_mb)"
        )
    return options.model_copy(update={"memory_mb": cap})


def configure_docker(env: VerifierEnv) -> None:
    """The docker backend as the server says (image, pool size), before any use of it."""
    from rewardgate.sandbox.registry import configure

    configure("docker", **env.sandbox.docker_options())


def sandbox_backend(name: str, env: VerifierEnv) -> Backend:
    """The process-wide backend `name`, docker configured as the server says."""
    from rewardgate.sandbox.registry import get_backend

    configure_docker(env)
    return get_backend(name)


def backend_identity(name: str | None, env: VerifierEnv) -> dict[str, str]:
    """What judges a run on backend `name` beyond the host's packages: docker's image id.

    Part of a verdict fingerprint, so a rebuilt sandbox image (a new compiler in it)
    misses the cache. An image the daemon cannot show is named as such, which differs
    from any id, and is reported by `health()`.
    """
    if name != "docker":
        return {}
    from rewardgate.verifiers.errors import RewardgateError

    try:
        return {"docker_image": sandbox_backend(name, env).identity()}
    except RewardgateError as exc:
        return {"docker_image": f"unavailable: {exc}"}
