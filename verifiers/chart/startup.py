"""Starting matplotlib for chart runs: its imports, fonts and caches; runs in the sandbox.

Shipped as text beside runner.py (it must not import rewardgate). A warm sandbox's
zygote calls `preload_modules(read_only=True)` once, so every run forked from it
finds matplotlib imported and its fonts loaded; a cold run calls it with its work
dir as matplotlib's config dir.
"""

from __future__ import annotations

import io
import os
import sys

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any


def preload_modules(read_only: bool) -> None:
    """The imports every run needs. `read_only`: no directory is writable here (a warm
    sandbox's zygote), so matplotlib's config and font cache directories are faked
    for the import (`_import_read_only`); a cold run uses its work dir."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ["MPLBACKEND"] = "Agg"
    # Debian's matplotlib looks for /etc/matplotlibrc, which a sandbox does not see.
    os.environ["MATPLOTLIBRC"] = os.path.join(_data_path(), "matplotlibrc")
    if read_only:
        _import_read_only()
    else:
        os.environ["MPLCONFIGDIR"] = os.path.join(os.getcwd(), ".matplotlib")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import mpl_toolkits.mplot3d  # noqa: F401

    # One drawing loads the fonts and fills the text and path caches every run reuses.
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="line")
    ax.bar([0.5], [0.5])
    ax.set_title("Title $x^2$")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")


def _import_read_only() -> None:
    """Import matplotlib where nothing is writable.

    Its import reads `matplotlibrc` (`MATPLOTLIBRC` names the packaged one, so the
    config dir is not looked up) and builds the font list, which it caches on disk: for that one
    import the cache and config dirs are a path that does not exist, the cache's lock
    is skipped and `font_manager` writes into memory. Everything is put back after.
    """
    import contextlib
    import importlib.util

    import matplotlib
    from matplotlib import cbook

    nowhere = "/nonexistent/matplotlib"
    saved = (matplotlib.get_cachedir, matplotlib.get_configdir, cbook._lock_path)
    matplotlib.get_cachedir = matplotlib.get_configdir = lambda: nowhere
    cbook._lock_path = lambda path: contextlib.nullcontext()

    def open_cache(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            return io.StringIO()
        return open(file, mode, *args, **kwargs)

    try:
        spec = importlib.util.find_spec("matplotlib.font_manager")
        if spec is None or spec.loader is None:
            raise ImportError("matplotlib.font_manager not found")
        module = importlib.util.module_from_spec(spec)
        module.__dict__["open"] = open_cache
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]
            raise
        del module.__dict__["open"]
        matplotlib.font_manager = module
        import matplotlib.pyplot  # style and tex paths read the dirs now
    finally:
        matplotlib.get_cachedir, matplotlib.get_configdir, cbook._lock_path = saved


def _data_path() -> str:
    """matplotlib's data dir, found without importing matplotlib (Debian's or a wheel's)."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    package = os.path.dirname(spec.origin) if spec and spec.origin else ""
    for candidate in (os.path.join(package, "mpl-data"), "/usr/share/matplotlib/mpl-data"):
        if os.path.exists(os.path.join(candidate, "matplotlibrc")):
            return candidate
    return package
