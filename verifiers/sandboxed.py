"""The sandbox backend of a verifier that runs programs: the request's, else the server's.

Verifiers whose options carry a `backend` field (code, chart, cad) share this rule:
a request that names a backend gets it, one that names none gets the server's
`sandbox_backend` setting (carried in `VerifierEnv.config`), and a name no backend
answers to is the request's fault (`invalid`, listing the available ones). The docker
backend's constructor options (image, pool size) come from the server's config too,
so a worker builds the backend its server was configured with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from rewardgate.verifiers.base import VerifierEnv, VerifierOptions
from rewardgate.verifiers.errors import InvalidRequest

if TYPE_CHECKING:
    from rewardgate.sandbox.api import Backend

__all__ = ["backend_name", "chosen_backend", "configure_docker", "sandbox_backend"]

OptionsT = TypeVar("OptionsT", bound=VerifierOptions)


def backend_name(options: VerifierOptions, env: VerifierEnv) -> str:
    """The backend `options` run on: theirs if set, else the server's, else their default."""
    default = env.config.get("sandbox_backend")
    if default and "backend" not in options.model_fields_set:
        return str(default)
    return str(getattr(options, "backend"))  # noqa: B009  (every such Options has it)


def chosen_backend(options: OptionsT, env: VerifierEnv) -> OptionsT:
    """`options` with `backend` resolved (see `backend_name`); an unknown one is invalid."""
    from rewardgate.sandbox.registry import available_backends

    name = backend_name(options, env)
    if name not in available_backends():
        raise InvalidRequest(
            f"options.backend: unknown sandbox backend {name!r}; "
            f"available: {', '.join(available_backends())}"
        )
    if name == getattr(options, "backend"):  # noqa: B009
        return options
    return options.model_copy(update={"backend": name})


def configure_docker(env: VerifierEnv) -> None:
    """The docker backend as the server says (image, pool size), before any use of it."""
    from rewardgate.sandbox.registry import configure

    configure("docker", **env.config.get("docker_sandbox", {}))


def sandbox_backend(name: str, env: VerifierEnv) -> Backend:
    """The process-wide backend `name`, docker configured as the server says."""
    from rewardgate.sandbox.registry import get_backend

    configure_docker(env)
    return get_backend(name)
