"""Run a module of another checkout of rewardgate, for before/after rounds in one bench.

The package is installed editable, and its subpackages live outside `rewardgate/`
(`service/`, `verifiers/`, `sandbox/`, `clients/`, mapped by the install's finder). With
only the other checkout's root on the path, `rewardgate` itself came from it but
`rewardgate.service` and the rest still came from this install, so a "baseline" served
this checkout's engine. Here the other checkout's subpackage folders are put first on
`rewardgate.__path__`, so every part of it is its own.

    python bench/checkout.py TREE MODULE [ARG ...]   (as `python -m MODULE ARG ...`)

`command(tree, module, *args)` builds that command line.
"""

from __future__ import annotations

import os
import runpy
import sys
import tempfile
from pathlib import Path

__all__ = ["command"]

SUBPACKAGES = ("service", "verifiers", "sandbox", "clients")


def command(tree: Path, module: str, *args: str) -> list[str]:
    """The command that runs `module` with `args` from the checkout at `tree`."""
    return [sys.executable, str(Path(__file__).resolve()), str(tree.resolve()), module, *args]


def main() -> None:
    tree, module = Path(sys.argv[1]), sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    sys.path.insert(0, str(tree))
    import rewardgate

    if Path(rewardgate.__file__).resolve().parent != tree / "rewardgate":
        raise SystemExit(f"rewardgate did not come from {tree}: {rewardgate.__file__}")
    links = Path(tempfile.mkdtemp(prefix="rewardgate-checkout-"))
    for name in SUBPACKAGES:
        os.symlink(tree / name, links / name)
    rewardgate.__path__.insert(0, str(links))
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
