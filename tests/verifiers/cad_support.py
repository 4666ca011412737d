"""Shared helpers of the cad verifier's tests: the reference parts and a scorer."""

from __future__ import annotations

import ast
import base64
import os
import re
from pathlib import Path
from typing import Any

from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.cad import CadVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult

# `make test` builds the image (scripts/docker-images.sh) under this name.
IMAGE = os.environ.get("REWARDGATE_DOCKER_IMAGE", "rewardgate/sandbox:latest")
BACKENDS = ("bwrap", "docker")
DATA = Path(__file__).resolve().parent.parent / "data" / "cad"
PARTS = sorted(p.stem for p in DATA.glob("*.py"))
ALTERNATIVES = sorted(p.stem for p in (DATA / "alt").glob("*.py"))
HOLED = sorted(p.stem for p in (DATA / "holed").glob("*.py"))


def cad_verifier(**config: Any) -> CadVerifier:
    """A cad verifier under a server config; docker runs use the image `make test` built."""
    return CadVerifier(VerifierEnv(config={"docker_sandbox": {"image": IMAGE}, **config}))


VERIFIER = cad_verifier()
_DIMENSIONS = re.compile(r"^(?P<names>[A-Z0-9_, ]+) = (?P<values>.+)$", re.MULTILINE)


def part(name: str, folder: str = "") -> str:
    return (DATA / folder / f"{name}.py").read_text(encoding="utf-8")


def data_file(name: str) -> str:
    return base64.b64encode((DATA / "files" / name).read_bytes()).decode()


def fenced(script: str) -> str:
    return f"Here is the part.\n\n```python\n{script}\n```\n"


def changed_dimension(script: str, factor: float = 1.1) -> str:
    """The script with its first dimension (the first `A, B = 1.0, 2.0` line) scaled."""
    match = _DIMENSIONS.search(script)
    assert match, "every part starts with a line of dimensions"
    values = list(ast.literal_eval(match["values"]))
    values[0] *= factor
    line = f"{match['names']} = {', '.join(map(repr, values))}"
    return script[: match.start()] + line + script[match.end() :]


def score(
    response: str, reference: dict[str, Any], verifier: CadVerifier = VERIFIER, **options: Any
) -> RewardResult:
    request = RewardRequest(verifier="cad", response=response, reference=reference, options=options)
    return verifier.verify(request)
