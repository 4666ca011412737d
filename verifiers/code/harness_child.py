"""The untrusted side of the function-call harness, and the wire format of both sides.

Run in the sandbox as `python3 -I harness_child.py RFD WFD PRELUDE` by harness.py: it
imports the program (solution.py) as module `solution` and serves calls arriving as
JSON lines on RFD, answering on WFD with plain data (None, bool, int, float, complex,
str, bytes, list, tuple, dict, set, frozenset) or the nearest builtin exception class.
The harness loads this file too, before any program runs, for `encode` / `decode`;
`decode` is the trust boundary. Kept light (no subprocess) since it starts per program.
Must not import rewardgate.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import types

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

TAGS = {"tuple": tuple, "set": set, "frozenset": frozenset}
APPS_PRELUDE = (
    "from typing import *\nfrom collections import *\nfrom itertools import *\n"
    "from functools import *\nfrom heapq import *\nfrom bisect import *\nfrom math import *\n"
    "from string import *\nfrom re import *\nfrom copy import *\nfrom operator import *\n"
    "import sys, math, collections, itertools, functools, heapq, bisect, string, re, copy\n"
    "sys.setrecursionlimit(100000)\n"
)


# --- plain-data serializer (both sides; the decoder is the trust boundary) -------------


def encode(value: Any, depth: int = 0) -> Any:
    if depth > 100:
        raise ValueError("nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind in (tuple, set, frozenset):
        return {kind.__name__: [encode(v, depth + 1) for v in value]}
    if kind is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": base64.b64encode(value).decode()}
    if kind is complex:
        return {"complex": [value.real, value.imag]}
    raise TypeError(f"cannot pass a {kind.__module__}.{kind.__qualname__}")


def _decode_object(pairs: list[tuple[str, Any]]) -> Any:
    if len(pairs) != 1:
        raise ValueError("malformed value")
    tag, body = pairs[0]
    if tag in TAGS and type(body) is list:
        return TAGS[tag](body)
    if tag == "dict" and type(body) is list:
        if not all(type(p) is list and len(p) == 2 for p in body):
            raise ValueError("malformed dict")
        return {k: v for k, v in body}
    if tag == "bytes" and type(body) is str:
        return base64.b64decode(body, validate=True)
    pair = type(body) is list and len(body) == 2
    if tag == "complex" and pair and all(type(x) in (int, float) for x in body):
        return complex(body[0], body[1])
    raise ValueError("malformed value")


def decode(text: str | bytes) -> Any:
    """Plain data from JSON text; a list stays a list, everything else must be tagged."""
    return json.loads(text, object_pairs_hook=_decode_object)


# --- the child: imports the candidate and serves calls ---------------------------------


def child_main(rfd: int, wfd: int, prelude: str) -> None:
    out = os.fdopen(wfd, "wb", buffering=0)
    inp = os.fdopen(rfd, "rb")
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the candidate's prints go nowhere

    def send(obj: dict[str, Any]) -> None:
        out.write((json.dumps(obj) + "\n").encode())

    module = types.ModuleType("solution")
    module.__file__ = os.path.abspath("solution.py")
    sys.modules["solution"] = module
    try:
        with open("solution.py", encoding="utf-8", errors="replace") as f:
            source = f.read()
        code = compile(source, "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        send({"error": "compile_error", "message": f"{type(exc).__name__}: {exc}"[:1000]})
        return
    try:
        if prelude:
            exec(prelude, module.__dict__)
        exec(code, module.__dict__)
    except BaseException as exc:
        label = "memory_limit" if isinstance(exc, MemoryError) else "runtime_error"
        send({"error": label, "message": f"{type(exc).__name__}: {exc}"[:1000]})
        return
    names = dict(vars(module))
    functions = [
        n
        for n, v in names.items()
        if callable(v) and not isinstance(v, (type, types.ModuleType)) and not n.startswith("__")
    ]
    classes = [n for n, v in names.items() if isinstance(v, type) and v.__module__ == "solution"]
    send({"ready": functions, "classes": classes})
    for line in inp:
        request = json.loads(line)
        try:
            target, _, method = request["call"].partition(".")
            func = names[target]
            if method:
                func = getattr(func(), method)
            value = func(*decode(request["args"]), **decode(request["kwargs"]))
        except BaseException as exc:
            # The nearest builtin class, so `except ValueError` in a test sees a subclass.
            kind = next(c for c in type(exc).__mro__ if c.__module__ == "builtins")
            send({"exc": kind.__name__, "message": str(exc)[:500]})
            continue
        if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
            value = value.tolist()
        try:
            send({"ok": json.dumps(encode(value))})
        except (TypeError, ValueError, RecursionError) as exc:
            send({"exc": "UnpassableValue", "message": str(exc)[:500]})


if __name__ == "__main__":
    sys.set_int_max_str_digits(0)
    child_main(int(sys.argv[1]), int(sys.argv[2]), APPS_PRELUDE if sys.argv[3] == "1" else "")
