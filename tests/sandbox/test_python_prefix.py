"""The scientific Python prefix in every sandbox: the pinned versions are what python3
imports (under -I too), nobody in a run can change them, BLAS pools stay at one thread
so a run's process limit holds, and a host without the prefix is told how to get it."""

from __future__ import annotations

import re
from pathlib import Path

from rewardgate.sandbox import python_prefix
from rewardgate.sandbox.api import Backend, Limits

PINS = Path(__file__).resolve().parents[2] / "scripts" / "python-prefix.txt"
IMPORT_LIMITS = Limits(wall_s=60, cpu_s=60)


def pinned() -> dict[str, str]:
    lines = PINS.read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_python_imports_the_pinned_versions_from_the_prefix(any_backend: Backend) -> None:
    code = (
        "import numpy, pandas, scipy, sympy, sklearn, networkx, statsmodels\n"
        "for m in (numpy, pandas, scipy, sympy, sklearn, networkx, statsmodels):\n"
        "    print(m.__name__, m.__version__, m.__file__)\n"
    )
    result = any_backend.run(["python3", "-I", "-c", code], limits=IMPORT_LIMITS)
    assert result.exit_code == 0, result.stderr
    pins = pinned()
    for line in result.stdout.decode().splitlines():
        name, version, path = line.split()
        assert version == pins["scikit-learn" if name == "sklearn" else name], line
        assert re.match(r"/usr/local/lib/python3\.\d+/dist-packages/", path), line


def test_a_run_cannot_write_to_the_prefix(any_backend: Backend) -> None:
    code = (
        "import os, numpy\n"
        "here = os.path.dirname(numpy.__file__)\n"
        "for path, mode in ((numpy.__file__, 'a'), (os.path.join(here, 'x.py'), 'w'),\n"
        "                   (os.path.join(os.path.dirname(here), 'evil.pth'), 'w')):\n"
        "    try:\n"
        "        open(path, mode).write('import os')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
    )
    result = any_backend.run(["python3", "-I", "-c", code], limits=IMPORT_LIMITS)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 3 and all(line.startswith("refused") for line in lines), lines


def test_numpy_runs_single_threaded_under_the_default_process_limit(
    any_backend: Backend,
) -> None:
    # A BLAS pool sized from the host's cores would count against the process limit.
    code = (
        "import numpy as np\n"
        "from threadpoolctl import threadpool_info\n"
        "a = np.random.default_rng(0).random((400, 400))\n"
        "print(round(float(np.linalg.norm(a @ a.T)) > 0))\n"
        "print(sorted({pool['num_threads'] for pool in threadpool_info()}))\n"
        "print(open('/proc/self/status').read().split('Threads:')[1].split()[0])\n"
    )
    result = any_backend.run(["python3", "-I", "-c", code], limits=Limits(wall_s=60, cpu_s=60))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.decode().split("\n")[:3] == ["1", "[1]", "1"], result.stdout


def test_the_prefixs_health_on_each_backend(any_backend: Backend) -> None:
    assert python_prefix.health(any_backend) == "ok"


def test_a_host_without_the_prefix_is_told_how_to_install_it(tmp_path: Path) -> None:
    assert "install-python-prefix.sh" in python_prefix.host_health(tmp_path)
    assert python_prefix.bind_args(tmp_path) == []
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "numpy").mkdir(parents=True)
    problem = python_prefix.host_health(tmp_path)
    assert "pandas" in problem and "numpy" not in problem.split(" missing")[0], problem
    assert "numpy==1.26.3" in python_prefix.installed()
