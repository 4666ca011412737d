"""The sandbox's scientific Python prefix: where it is, how a sandbox sees it, its health.

SandboxFusion's Python imports numpy, pandas, scipy and more; Debian's python3 has none
of them. `scripts/install-python-prefix.sh` installs pinned PyPI wheels of them into
`PREFIX/lib/pythonX.Y/site-packages` on the host. The bwrap backend binds that directory
read-only over the sandbox's `/usr/local/lib/pythonX.Y/dist-packages`: a directory the
system python3 searches ahead of Debian's own packages even when started with `-I`, so
every Python run (the code verifier's harness and programs, /run_code, session kernels,
warm zygotes) imports from it with no path set up by anyone, and one numpy is seen (the
prefix's, which Debian's matplotlib runs on too). The docker sandbox image holds the
same files at the same place (`sandbox/Dockerfile`). A host without the prefix runs
sandboxes without it; `health` says so.

`THREAD_ENV` caps BLAS and OpenMP pools at one thread in every run: a pool sized from
the host's cores would spend a run's process limit (threads count against the pids
cgroup) and its CPU time on idle workers.
"""

from __future__ import annotations

import glob
import os
import weakref
from pathlib import Path

from rewardgate.contract.errors import RewardgateError
from rewardgate.sandbox.api import Backend, Limits

__all__ = ["MODULES", "THREAD_ENV", "bind_args", "health", "host_health", "installed", "prefix"]

DEFAULT_PREFIX = Path("/usr/local/lib/rewardgate/python")
INSTALL_HINT = "install it with scripts/install-python-prefix.sh (scripts/setup.sh does)"
# What a run must be able to import for the prefix to count as there.
MODULES = ("numpy", "pandas", "scipy", "sympy", "sklearn", "networkx")
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def prefix() -> Path:
    """The host's prefix: $REWARDGATE_PYTHON_PREFIX, else /usr/local/lib/rewardgate/python."""
    return Path(os.environ.get("REWARDGATE_PYTHON_PREFIX") or DEFAULT_PREFIX)


def installed(root: Path | None = None) -> str:
    """The pinned packages the host's prefix was installed with (its install stamp)."""
    try:
        return ((root or prefix()) / ".rewardgate-installed").read_text().strip()
    except OSError as exc:
        return f"none: {type(exc).__name__}"


def _site_dirs(root: Path) -> list[tuple[str, str]]:
    """(host site-packages, sandbox dist-packages) for each Python version it holds."""
    pairs = []
    for site in sorted(glob.glob(str(root / "lib" / "python3.*" / "site-packages"))):
        version = Path(site).parent.name
        pairs.append((site, f"/usr/local/lib/{version}/dist-packages"))
    return pairs


def bind_args(root: Path | None = None) -> list[str]:
    """bwrap arguments binding the prefix read-only where the host's python3 of that
    version looks (the target must exist in the host's /usr: bwrap cannot create a
    mount point in the read-only /usr); none where no prefix is installed."""
    args: list[str] = []
    for site, target in _site_dirs(root or prefix()):
        if os.path.isdir(target):
            args += ["--ro-bind", site, target]
    return args


def host_health(root: Path | None = None) -> str:
    """ "ok" when the host's prefix holds every module in MODULES for the host's python3
    and bwrap can bind it, else what is missing and the fix."""
    root = root or prefix()
    pairs = _site_dirs(root)
    if not pairs:
        return f"no prefix at {root}: {INSTALL_HINT}"
    for site, target in pairs:
        missing = [m for m in MODULES if not os.path.isdir(os.path.join(site, m))]
        if missing:
            return f"{', '.join(missing)} missing under {site}: {INSTALL_HINT}"
        if not os.path.isdir(target):
            return f"{target} is missing on the host (bwrap binds the prefix there): {INSTALL_HINT}"
    return "ok"


# Run in a sandbox: whether its python3 finds every module in MODULES, without the cost
# of importing them.
PROBE = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in %r))"
IMAGE_HINT = "rebuild the sandbox image with scripts/docker-images.sh"
_OK: weakref.WeakKeyDictionary[Backend, str] = weakref.WeakKeyDictionary()


def health(backend: Backend) -> str:
    """ "ok" when python3 in `backend`'s sandbox finds the prefix's modules, else the fix.

    bwrap checks the host's prefix first (its message names what is missing); then one
    probe run in the sandbox, whose ok is remembered per backend."""
    if backend.name == "bwrap":
        host = host_health()
        if host != "ok":
            return host
    if backend in _OK:
        return "ok"
    try:
        probe = backend.run(["python3", "-I", "-c", PROBE % (MODULES,)], limits=Limits(wall_s=30))
    except RewardgateError as exc:
        return f"not tested: the {backend.name} sandbox is unavailable ({exc.message})"
    if probe.exit_code != 0:
        hint = INSTALL_HINT if backend.name == "bwrap" else IMAGE_HINT
        return f"the {backend.name} sandbox's python3 cannot find {', '.join(MODULES)}: {hint}"
    _OK[backend] = "ok"
    return "ok"
