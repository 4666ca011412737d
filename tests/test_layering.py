"""The layering rules of docs/architecture.md hold, and the lint that enforces them bites.

The rules live in per-directory ruff.toml files (rewardgate/contract, sandbox, verifiers,
clients) that extend the root configuration with flake8-tidy-imports bans; `make lint`
runs them. These tests run the same ruff over the real tree (it must pass) and over a
scratch tree with the same configuration and planted violations (each must fail), so a
config that silently stops matching (a renamed folder, a rule dropped from `select`)
fails here rather than letting a break through.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYER_CONFIGS = ["rewardgate/contract", "sandbox", "verifiers", "clients"]
TIDY_RULES = "TID251,TID252,TID253"
# rewardgate.verifiers modules that only re-export the contract (clients may import them).
CONTRACT_ALIASES = {"__init__", "base", "errors", "fingerprint", "models", "registry"}


def ruff_layers(root: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """`ruff check` with only the import rules, as `make lint` applies them under `root`."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            TIDY_RULES,
            "--output-format",
            "concise",
            *paths,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A tree with the repository's ruff configuration and no code."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for layer in LAYER_CONFIGS:
        (tmp_path / layer).mkdir(parents=True)
        shutil.copy(ROOT / layer / "ruff.toml", tmp_path / layer / "ruff.toml")
    return tmp_path


def plant(root: Path, path: str, source: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)


def test_the_real_tree_keeps_the_layering() -> None:
    done = ruff_layers(ROOT, "rewardgate", "sandbox", "verifiers", "service", "clients")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("path", "source", "banned"),
    [
        (
            "rewardgate/contract/leak.py",
            "from rewardgate.service import app\n",
            "rewardgate.service",
        ),
        ("rewardgate/contract/leak.py", "import fastapi\n", "fastapi"),
        (
            "rewardgate/contract/leak.py",
            "def f():\n    from rewardgate.verifiers.math import MathVerifier\n",
            "rewardgate.verifiers",
        ),
        (
            "sandbox/leak.py",
            "from rewardgate.verifiers.code import CodeVerifier\n",
            "rewardgate.verifiers",
        ),
        ("sandbox/leak.py", "import rewardgate.service.engine\n", "rewardgate.service"),
        # A known exception (sandbox/bwrap.py) is exempt; its neighbours in a subfolder are not.
        (
            "sandbox/inside/leak.py",
            "from rewardgate.verifiers.errors import X\n",
            "rewardgate.verifiers",
        ),
        (
            "verifiers/math/leak.py",
            "from rewardgate.service.engine import Engine\n",
            "rewardgate.service",
        ),
        (
            "verifiers/code/leak.py",
            "def f():\n    from rewardgate.sandbox.bwrap import SYSTEM_DIRS\n",
            "rewardgate.sandbox.bwrap",
        ),
        ("verifiers/sql/leak.py", "from rewardgate.clients import Client\n", "rewardgate.clients"),
        (
            "clients/leak.py",
            "from rewardgate.service.app import create_app\n",
            "rewardgate.service",
        ),
        (
            "clients/leak.py",
            "from rewardgate.verifiers.math import MathVerifier\n",
            "rewardgate.verifiers.math",
        ),
        ("clients/leak.py", "import rewardgate.sandbox\n", "rewardgate.sandbox"),
    ],
)
def test_a_planted_violation_fails_the_lint(
    scratch: Path, path: str, source: str, banned: str
) -> None:
    plant(scratch, path, source)
    done = ruff_layers(scratch, ".")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"`{banned}` is banned" in done.stdout, done.stdout
    assert path in done.stdout


def test_a_relative_import_is_refused(scratch: Path) -> None:
    """Relative imports would dodge the bans (verifiers/ installs as rewardgate.verifiers)."""
    plant(scratch, "verifiers/math/leak.py", "from ..service import engine\n")
    done = ruff_layers(scratch, ".")
    assert done.returncode == 1
    assert "TID252" in done.stdout


def test_what_the_layers_may_import_passes(scratch: Path) -> None:
    """The allowed edges stay allowed: the rules are not simply 'ban everything'."""
    plant(scratch, "rewardgate/contract/ok.py", "import pydantic\nimport hashlib\n")
    plant(scratch, "sandbox/ok.py", "from rewardgate.contract.errors import SandboxError\n")
    plant(
        scratch,
        "verifiers/math/ok.py",
        "from rewardgate.contract import Verifier\n"
        "from rewardgate.sandbox.api import Limits\n"
        "from rewardgate.sandbox import get_backend\n"
        "from rewardgate.verifiers.qa import answer\n",
    )
    plant(
        scratch,
        "clients/ok.py",
        "from rewardgate.contract.models import RewardResult\n"
        "from rewardgate.verifiers.errors import RewardgateError\n"
        "\n\ndef engine():\n"
        "    from rewardgate.service.engine import Engine\n\n"
        "    return Engine\n",
    )
    plant(scratch, "service/ok.py", "from rewardgate.sandbox.bwrap import SYSTEM_DIRS\n")
    done = ruff_layers(scratch, ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_clients_ban_every_domain_module() -> None:
    """A new verifier folder must join the clients' list of module-level bans."""
    # (tomllib is 3.11+; the list is one flat array of strings.)
    config = (ROOT / "clients" / "ruff.toml").read_text()
    listed = re.search(r"banned-module-level-imports = \[(.*?)\]", config, re.S)
    assert listed is not None
    banned = set(re.findall(r'"([\w.]+)"', listed.group(1)))
    modules = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "verifiers").iterdir()
        if (path.suffix == ".py" and path.is_file()) or (path / "__init__.py").is_file()
    }
    missing = sorted(
        f"rewardgate.verifiers.{name}"
        for name in modules - CONTRACT_ALIASES
        if f"rewardgate.verifiers.{name}" not in banned
    )
    assert missing == [], f"add {missing} to clients/ruff.toml banned-module-level-imports"


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        (
            "rewardgate.contract",
            [
                "fastapi",
                "starlette",
                "pebble",
                "httpx",
                "rewardgate.verifiers",
                "rewardgate.service",
                "rewardgate.sandbox",
                "rewardgate.clients",
            ],
        ),
        (
            "rewardgate.clients",
            [
                "fastapi",
                "pebble",
                "rewardgate.service",
                "rewardgate.sandbox",
                "rewardgate.verifiers.math",
                "rewardgate.verifiers.code",
                "rewardgate.verifiers.sandboxed",
            ],
        ),
    ],
)
def test_importing_a_layer_loads_nothing_above_it(module: str, forbidden: list[str]) -> None:
    """What the lint states, checked at run time: transitive imports included."""
    code = (
        f"import sys, {module}\n"
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {forbidden!r} "
        f"or any(m == f or m.startswith(f + '.') for f in {forbidden!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
