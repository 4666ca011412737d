"""Function tests in D: the response and its tests as one program, built as plain D.

MultiPL-E's D suites are `unittest` blocks followed by an empty `void main(){}`, run
with `-unittest`. Here every top-level `unittest` block becomes a function, and every
`main` is renamed, so the build is the ordinary one (`gdc -O2`, asserts kept): the
generated `main` runs test INDEX's statements (`asserts`), or the suite's unittest
functions and then its own renamed `main` (`test_code`), and prints the per-request
nonce last. A failed `assert` throws `core.exception.AssertError` (a wrong answer); a
response that exits early (`core.stdc.stdlib.exit(0)`) never prints the nonce.
"""

from __future__ import annotations

import re
from typing import Protocol

from rewardgate.verifiers.code.braces import brace_depths

__all__ = ["assemble_d"]

_MAIN = re.compile(r"\b(?:void|int)\s+(main)\s*\(([^)]*)\)")
_UNITTEST = re.compile(r"\bunittest(?=\s*\{)")


class _Tests(Protocol):
    setup: str
    asserts: tuple[str, ...]
    test_code: str


def assemble_d(tests: _Tests, source: str, blanked: str) -> str:
    """One D source; `source` is program + setup + test_code and `blanked` the same with
    comments and literals blanked (native.blank)."""
    depths = brace_depths(blanked)
    edits: list[tuple[int, int, str]] = []
    mains: list[tuple[str, bool]] = []
    units: list[str] = []
    for match in _MAIN.finditer(blanked):
        if depths[match.start()] == 0:
            name = f"rewardgateMain{len(mains)}"
            mains.append((name, bool(match.group(2).strip())))
            edits.append((match.start(1), match.end(1), name))
    for match in _UNITTEST.finditer(blanked):
        if depths[match.start()] == 0:
            name = f"rewardgateUnittest{len(units)}"
            units.append(name)
            edits.append((match.start(), match.end(), f"void {name}()"))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    body = ["void main(string[] rewardgateArgs)", "{"]
    if tests.test_code:
        body += [f"    {name}();" for name in units]
        if mains:
            name, takes_args = mains[-1]  # the suite's, which comes last
            body.append(f"    {name}({'rewardgateArgs[0 .. 1]' if takes_args else ''});")
    else:
        body += ["    switch (rewardgateArgs[1])", "    {"]
        body += [f'    case "{i}": {{\n{t}\n    }} break;' for i, t in enumerate(tests.asserts)]
        body += ["    default: break;", "    }"]
    body += [
        '    core.stdc.stdio.printf("\\n%.*s\\n", cast(int) rewardgateArgs[2].length,',
        "        rewardgateArgs[2].ptr);",
        "    core.stdc.stdio.fflush(null);",
        "}",
    ]
    return "static import core.stdc.stdio;\n" + source + "\n" + "\n".join(body) + "\n"
