"""Test collection per function-call format, run inside the trusted harness process.

Shipped next to harness.py and loaded by it (before any candidate code runs) with
`collect(job, child)`, which returns `(name, thunk)` pairs: calling a thunk runs one
test, raising on failure. The candidate's functions are `child.proxy(name)` objects;
the test code and the expected values never leave this process. Must not import
rewardgate.
"""

from __future__ import annotations

import builtins
import functools
import json
import math
import sys
import types

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Test = tuple[str, Callable[[], Any]]


def collect(job: dict[str, Any], child: Any) -> list[Test]:
    return COLLECTORS[job["format"]](job, child)


def _bindable(child: Any, trusted: Any = ()) -> list[str]:
    """The program's functions the tests may see: none that shadows a builtin (a program
    defining `abs` must not change `assert abs(f(x) - y) < 1e-6`) or a trusted name."""
    return [n for n in child.functions if n not in trusted and not hasattr(builtins, n)]


def _bind(ns: dict[str, Any], child: Any, trusted: Any = ()) -> None:
    for name in _bindable(child, trusted):
        ns[name] = child.proxy(name)


# --- HumanEval and MBPP -----------------------------------------------------------------


def humaneval(job: dict[str, Any], child: Any) -> list[Test]:
    entry = job["entry_point"]
    ns: dict[str, Any] = {"__name__": "__check__"}
    trusted: set[str] = set()
    if job.get("prompt"):
        exec(compile(job["prompt"], "prompt.py", "exec"), ns)
        trusted = {name for name in ns if not name.startswith("__")} - {entry}
    _bind(ns, child, trusted)
    candidate = child.proxy(entry)
    ns[entry] = candidate
    exec(compile(job["test_code"], "test.py", "exec"), ns)
    check = ns["check"]

    def test() -> None:
        if entry not in child.functions:
            raise NameError(f"the program defines no {entry}()")
        check(candidate)

    return [("check", test)]


def mbpp(job: dict[str, Any], child: Any) -> list[Test]:
    ns: dict[str, Any] = {"__name__": "__check__"}
    exec(compile(job.get("setup_code") or "", "setup.py", "exec"), ns)
    _bind(ns, child, set(ns))
    tests: list[Test] = []
    for index, source in enumerate(job["asserts"]):
        code = compile(source, f"assert_{index}.py", "exec")
        tests.append((source[:200], functools.partial(exec, code, ns)))
    return tests


# --- pytest files, without pytest ---------------------------------------------------------


class _Raises:
    def __init__(self, expected: type[BaseException], match: str | None = None) -> None:
        self.expected, self.match = expected, match

    def __enter__(self) -> _Raises:
        return self

    def __exit__(self, kind: Any, value: Any, tb: Any) -> bool:
        if kind is None:
            raise AssertionError(f"DID NOT RAISE {self.expected}")
        if not issubclass(kind, self.expected):
            return False
        if self.match is not None:
            import re

            if not re.search(self.match, str(value)):
                raise AssertionError(f"{value!s} does not match {self.match!r}")
        self.value = value
        return True


class _Approx:
    def __init__(self, expected: Any, rel: float = 1e-6, abs: float = 1e-12) -> None:
        self.expected, self.rel, self.abs = expected, rel, abs

    def _close(self, a: Any, b: Any) -> bool:
        if isinstance(b, (list, tuple)):
            return isinstance(a, (list, tuple)) and len(a) == len(b) and all(map(self._close, a, b))
        if isinstance(b, dict):
            return (
                isinstance(a, dict)
                and a.keys() == b.keys()
                and all(self._close(a[k], b[k]) for k in b)
            )
        if type(a) in (int, float) and type(b) in (int, float):
            return math.isclose(a, b, rel_tol=self.rel, abs_tol=self.abs)
        return a == b

    def __eq__(self, other: object) -> bool:
        return self._close(other, self.expected)

    def __repr__(self) -> str:
        return f"approx({self.expected!r})"


class _Mark:
    def parametrize(self, names: Any, values: Any, ids: Any = None, **_: Any) -> Any:
        def decorate(func: Any) -> Any:
            func.__dict__.setdefault("_params", []).insert(0, (names, list(values)))
            return func

        return decorate

    def __getattr__(self, name: str) -> Any:
        def mark(*args: Any, **kwargs: Any) -> Any:
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda func: func

        return mark


def _fail(message: str = "") -> None:
    raise AssertionError(message)


def _param(*values: Any, **_: Any) -> Any:
    return values if len(values) != 1 else values[0]


def _fixture(*args: Any, **_: Any) -> Any:
    return args[0] if len(args) == 1 and callable(args[0]) else (lambda func: func)


def _pytest_shim() -> types.ModuleType:
    """What test files use of pytest: raises, approx, mark.parametrize, param, fixture, fail."""
    shim = types.ModuleType("pytest")
    shim.__dict__.update(
        raises=_Raises, approx=_Approx, mark=_Mark(), param=_param, fixture=_fixture, fail=_fail
    )
    return shim


def _cases(name: str, func: Any) -> list[Test]:
    cases: list[tuple[dict[str, Any], str]] = [({}, "")]
    for names, values in getattr(func, "_params", []):
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        expanded = []
        for kwargs, label in cases:
            for index, value in enumerate(values):
                row = value if len(names) > 1 else (value,)
                tag = f"{label}-{index}" if label else str(index)
                expanded.append(({**kwargs, **dict(zip(names, row, strict=True))}, tag))
        cases = expanded
    return [(f"{name}[{tag}]" if tag else name, functools.partial(func, **kw)) for kw, tag in cases]


def pytest_file(job: dict[str, Any], child: Any) -> list[Test]:
    module = types.ModuleType(job["module"])
    for name in _bindable(child):
        setattr(module, name, child.proxy(name))
    sys.modules[job["module"]] = module
    sys.modules["pytest"] = _pytest_shim()
    ns: dict[str, Any] = {"__name__": "test_" + job["module"]}
    exec(compile(job["test_file"], "test_file.py", "exec"), ns)
    tests: list[Test] = []
    for name, obj in list(ns.items()):
        if name.startswith("test") and isinstance(obj, types.FunctionType):
            tests.extend(_cases(name, obj))
        elif name.startswith("Test") and isinstance(obj, type):
            for method, func in vars(obj).items():
                if method.startswith("test") and isinstance(func, types.FunctionType):
                    bound = functools.partial(func, obj())
                    bound.__dict__.update(func.__dict__)
                    tests.extend(_cases(f"{name}::{method}", bound))
    return tests


# --- APPS / TACO / verl call-based problems ----------------------------------------------


def _arguments(raw: Any) -> list[Any]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, str):
        try:
            return [json.loads(line) for line in raw.split("\n") if line.strip()]
        except ValueError:
            return [raw]
    return [raw]


def _value(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _plain(value: Any) -> Any:
    """Ground truth has lists where programs return tuples."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _int_keys(value: Any) -> Any:
    if isinstance(value, dict):
        try:
            return {int(k): v for k, v in value.items()}
        except (TypeError, ValueError):
            return value
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _apps_test(call: Callable[..., Any], raw_input: Any, raw_output: Any) -> None:
    args = _arguments(raw_input)
    if len(args) == 1 and isinstance(args[0], dict):
        args = [_int_keys(args[0])]
    got = _plain(call(*args))
    expected = _plain(_value(raw_output))
    candidates = [expected, _int_keys(expected)]
    if isinstance(expected, list) and expected:
        candidates += [expected[0], _int_keys(expected[0])]
    if not any(got == want for want in candidates):
        raise AssertionError(f"returned {_short(got)}, expected {_short(expected)}")


def apps(job: dict[str, Any], child: Any) -> list[Test]:
    name = job["fn_name"]
    target = name
    if name not in child.functions and "Solution" in child.classes:
        target = f"Solution.{name}"
    call = child.proxy(target)
    pairs = zip(job["inputs"], job["outputs"], strict=True)
    return [
        (f"test {i}", functools.partial(_apps_test, call, a, b)) for i, (a, b) in enumerate(pairs)
    ]


COLLECTORS = {"humaneval": humaneval, "mbpp": mbpp, "pytest": pytest_file, "apps": apps}
