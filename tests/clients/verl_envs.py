"""verl releases for the reward-loop tests, each installed in a folder of its own.

verl's declared dependencies (transformers < 5.11, tensordict <= 0.10, Ray's default
extra, wandb, ...) conflict with the venv's, and its reward loop needs only a few of
them: so each tested release goes, without dependencies, into `build/verl/VERSION`
with just what its reward loop and `DataProto` import beyond the venv (torch,
transformers, numpy and Ray come from the venv). `make setup` runs
`python -m tests.clients.verl_envs install`; a test finds a release missing and says
to run it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The current release and the previous minor (README: "verl ... tested").
VERSIONS = ("0.9.1", "0.8.0")
# What verl's reward loop imports beyond the venv, at versions verl accepts.
EXTRAS = (
    "tensordict==0.10.0",
    "pyvers==0.1.0",
    "cloudpickle>=3",
    "codetiming==1.4.0",
    "omegaconf==2.4.0",
    "antlr4-python3-runtime==4.9.3",
)


def target(version: str) -> Path:
    return ROOT / "build" / "verl" / version


def installed(version: str) -> bool:
    return (target(version) / f"verl-{version}.dist-info").is_dir()


def install() -> None:
    for version in VERSIONS:
        if installed(version):
            continue
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
             str(target(version)), f"verl=={version}", *EXTRAS],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        raise SystemExit("usage: python -m tests.clients.verl_envs install")
    install()
