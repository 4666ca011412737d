"""The scientific Python prefix through the code verifier, /run_code and sessions: what
SandboxFusion's Python imports (numpy, pandas, scipy, sympy, scikit-learn, networkx)
works in a solution on both backends, its memory still ends as `memory_limit`, and the
verifier's health says whether the prefix is there (`code.python_prefix` in doctor)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rewardgate.service.sessions import SessionLimits, SessionManager
from rewardgate.verifiers.base import VerifierEnv
from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult

IMAGE = os.environ.get("REWARDGATE_DOCKER_IMAGE", "rewardgate/sandbox:latest")
VERIFIER = CodeVerifier(VerifierEnv(config={"docker_sandbox": {"image": IMAGE}}))

# One function per package, each answer computed by that package.
SOLUTION = """\
import networkx as nx
import numpy as np
import pandas as pd
import sympy
from scipy import optimize
from sklearn.linear_model import LinearRegression

def solve(kind):
    if kind == "numpy":
        return int(np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])).round())
    if kind == "pandas":
        frame = pd.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]})
        return frame.groupby("k")["v"].sum().to_dict()
    if kind == "scipy":
        return round(float(optimize.brentq(lambda x: x * x - 2, 0, 2)), 6)
    if kind == "sympy":
        x = sympy.symbols("x")
        return str(sympy.factor(x**2 - 1))
    if kind == "sklearn":
        model = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), [1.0, 3.0, 5.0])
        return round(float(model.coef_[0]), 6)
    if kind == "networkx":
        graph = nx.Graph([(1, 2), (2, 3), (3, 4), (1, 4), (4, 5)])
        return nx.shortest_path_length(graph, 1, 5)
"""
ASSERTS = [
    "assert solve('numpy') == 5",
    "assert solve('pandas') == {'a': 4, 'b': 2}",
    "assert solve('scipy') == 1.414214",
    "assert solve('sympy') == '(x - 1)*(x + 1)'",
    "assert solve('sklearn') == 2.0",
    "assert solve('networkx') == 2",
]
# A column's mean from stdin: a stdio program that reads with pandas.
STDIO = "import sys, pandas as pd\nprint(pd.read_csv(sys.stdin)['v'].mean())\n"
# 400 MB of float64s, written so the pages are real.
ALLOCATE = "import numpy as np\na = np.ones(50_000_000)\nprint(a.sum())\n"


def score(response: str, reference: Any, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="code", response=response, reference=reference, options=options
    )
    return VERIFIER.verify(request)


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_a_solution_using_the_scientific_packages_passes(backend: str) -> None:
    response = f"```python\n{SOLUTION}```"
    result = score(response, {"asserts": ASSERTS}, backend=backend, time_limit_s=30)
    assert (result.status, result.reward) == ("ok", 1.0), result
    wrong = score(
        response, {"asserts": ["assert solve('numpy') == 6"]}, backend=backend, time_limit_s=30
    )
    assert (wrong.status, wrong.reward) == ("ok", 0.0), wrong


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_a_stdio_program_reads_its_input_with_pandas(backend: str) -> None:
    tests = [{"stdin": "k,v\na,1\nb,2\n", "expected_stdout": "1.5"}]
    result = score(f"```python\n{STDIO}```", {"tests": tests}, backend=backend, time_limit_s=30)
    assert (result.status, result.reward) == ("ok", 1.0), result


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_a_numpy_allocation_past_the_limit_is_a_memory_limit(backend: str) -> None:
    tests = [{"stdin": "", "expected_stdout": "50000000.0"}]
    reference = {"tests": tests}
    over = score(ALLOCATE, reference, backend=backend, memory_mb=128, time_limit_s=30)
    assert over.status == "ok" and over.reward == 0.0, over
    assert [step.label for step in over.steps or []] == ["memory_limit"], over.details
    # The same program in enough memory passes: the label is the limit's doing.
    fits = score(ALLOCATE, reference, backend=backend, memory_mb=1024, time_limit_s=30)
    assert (fits.status, fits.reward) == ("ok", 1.0), fits


def test_run_code_imports_pandas_and_pytest_numpy(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    code = "import pandas as pd\nprint(pd.Series([1, 2, 3]).sum(), pd.__version__)"
    body = {"code": code, "language": "python", "run_timeout": 30}
    answer = client.post("/run_code", json=body).json()
    assert answer["status"] == "Success", answer
    assert answer["run_result"]["stdout"] == "6 2.2.2\n", answer
    assert answer["run_result"]["stderr"] == "", answer  # no import-time warning
    # SandboxFusion's pytest id runs Debian's pytest on the same python3: it sees them too.
    for total, status in ((6, "Success"), (7, "Failed")):
        test = f"import numpy as np\ndef test_sum():\n    assert np.arange(4).sum() == {total}\n"
        body = {"code": test, "language": "pytest", "run_timeout": 30}
        answer = client.post("/run_code", json=body).json()
        assert answer["status"] == status, answer


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
def test_a_python_session_imports_numpy(backend: str) -> None:
    limits = SessionLimits(call_timeout_s=30.0, memory_mb=512, lifetime_s=120, idle_s=60)
    manager = SessionManager(backend, max_live=2, limits=limits)
    try:
        session = manager.create("python")
        answer = manager.run(session.id, "import numpy as np\nint(np.arange(10).sum())")
        assert (answer["status"], answer["value"]) == ("ok", "45"), answer
    finally:
        manager.close()


def test_health_reports_the_prefix_on_each_backend() -> None:
    health = VERIFIER.health()
    assert health["python_prefix"] == "ok", health
    assert health["python_prefix.docker"] == "ok", health
    # A verdict is fingerprinted with the prefix's pinned versions.
    assert "numpy==1.26.3" in VERIFIER.judging_tools("bwrap")["python_prefix"]
    # No probe runs in an image that is not there: its own line says why.
    missing = CodeVerifier(VerifierEnv(config={"docker_sandbox": {"image": "rg/none:never"}}))
    assert missing.health()["python_prefix.docker"].startswith("not tested"), missing.health()
