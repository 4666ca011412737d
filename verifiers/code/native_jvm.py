"""Function tests in Kotlin and Scala: the response and its tests as one program.

MultiPL-E's Kotlin suites are a `fun main() { assert(...) }` after the function; its
Scala suites close the function the prompt opened in `object Problem` and add
`def main(args: Array[String])` of `assert(...)` calls. Here every `main` the response
or the suite declares is renamed, and a `main` of ours runs the suite's (`test_code`)
or test INDEX's statements (Kotlin `asserts`), then prints the per-request nonce: a
response that calls `exitProcess(0)` / `System.exit(0)` ends the run before it.

The suite's `assert(` calls are pointed at asserts the response cannot replace: in
Kotlin a top-level function of ours (a response declaring the same one does not
compile), in Scala `_root_.scala.Predef.assert` by its full name (a response's own
`def assert` in `object Problem` would otherwise shadow Predef's). Neither depends on
the JVM's `-ea`. A failed assert throws `java.lang.AssertionError`: a wrong answer.
"""

from __future__ import annotations

import re
from typing import Protocol

from rewardgate.verifiers.code.braces import blank_with, brace_depths

__all__ = ["SCANNER", "assemble_kotlin", "assemble_scala", "guard_asserts"]

# Comments and literals, raw triple-quoted strings first (both languages have them).
SCANNER = re.compile(
    r'"""[\s\S]*?(?:"""|\Z)|//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
    re.DOTALL,
)
_ASSERT = re.compile(r"(?<![\w.`])assert(?=\s*[({])")
_KOTLIN_MAIN = re.compile(r"\bfun\s+(main)\s*\(([^)]*)\)")
_SCALA_MAIN = re.compile(r"\bdef\s+(main)\s*\(")
_SCALA_OBJECT = re.compile(r"\bobject\s+(\w+)")

KOTLIN_ASSERT = "rewardgateAssert"
_KOTLIN_SUPPORT = f"""
fun {KOTLIN_ASSERT}(value: Boolean, lazyMessage: () -> Any = {{ "Assertion failed" }}) {{
    if (!value) throw java.lang.AssertionError(lazyMessage())
}}
"""


class _Tests(Protocol):
    setup: str
    asserts: tuple[str, ...]
    test_code: str


def blank_jvm(source: str) -> str:
    """`source` with every comment and literal replaced by spaces (newlines kept)."""
    return blank_with(SCANNER, source)


def guard_asserts(tests: str, replacement: str) -> str:
    """The tests' `assert(` calls (outside comments and literals) renamed."""
    code = blank_jvm(tests)
    for match in reversed(list(_ASSERT.finditer(code))):
        tests = tests[: match.start()] + replacement + tests[match.end() :]
    return tests


def assemble_kotlin(tests: _Tests, program: str) -> str:
    """One Kotlin file: the response, then the setup and suite (asserts guarded), then
    our `main(args)` (args: INDEX NONCE). Top-level `main`s of the response are renamed
    `rewardgateProgramMain`, the suite's `rewardgateTestsMain`."""
    suite = guard_asserts(f"{tests.setup}\n{tests.test_code}", KOTLIN_ASSERT)
    source = f"{program}\n{suite}"
    code = blank_jvm(source)
    depths = brace_depths(code)
    suite_main: tuple[int, bool] | None = None
    for match in reversed(list(_KOTLIN_MAIN.finditer(code))):
        if depths[match.start()] != 0:
            continue
        in_suite = match.start() >= len(program)
        name = "rewardgateTestsMain" if in_suite else "rewardgateProgramMain"
        if in_suite and suite_main is None:
            suite_main = (match.start(), bool(match.group(2).strip()))
        source = source[: match.start(1)] + name + source[match.end(1) :]
    body = ["fun main(rewardgateArgs: Array<String>) {"]
    if tests.test_code:
        if suite_main is not None:
            body.append(f"    rewardgateTestsMain({'arrayOf()' if suite_main[1] else ''})")
    else:
        body.append("    when (rewardgateArgs[0]) {")
        asserts = [guard_asserts(t, KOTLIN_ASSERT) for t in tests.asserts]
        body += [f'    "{i}" -> {{\n{t}\n    }}' for i, t in enumerate(asserts)]
        body.append("    }")
    body += [
        '    print("\\n" + rewardgateArgs[1] + "\\n")',
        "    System.out.flush()",
        "}",
    ]
    return source + "\n" + _KOTLIN_SUPPORT + "\n".join(body) + "\n"


def assemble_scala(tests: _Tests, program: str) -> str:
    """One Scala file: our entry object first (the build runs the first object that
    declares `main`), then the response and the suite, their `def main`s renamed
    (`rewardgateProgramMain`, `rewardgateTestsMain`) and the suite's asserts Predef's."""
    suite = guard_asserts(f"{tests.setup}\n{tests.test_code}", "_root_.scala.Predef.assert")
    source = f"{program}\n{suite}"
    code = blank_jvm(source)
    mains = list(_SCALA_MAIN.finditer(code))
    suite_mains = [m for m in mains if m.start() >= len(program)]
    if not suite_mains:
        raise ValueError("no def main in the Scala test program")
    owner = "Problem"
    objects = [m for m in _SCALA_OBJECT.finditer(code) if m.start() < suite_mains[-1].start()]
    if objects:
        owner = objects[-1].group(1)
    for match in reversed(mains):
        name = "rewardgateTestsMain" if match.start() >= len(program) else "rewardgateProgramMain"
        source = source[: match.start(1)] + name + source[match.end(1) :]
    entry = (
        "object RewardgateMain {\n"
        "  def main(rewardgateArgs: Array[String]): Unit = {\n"
        f"    {owner}.rewardgateTestsMain(Array[String]())\n"
        '    print("\\n" + rewardgateArgs(1) + "\\n")\n'
        "    System.out.flush()\n"
        "  }\n"
        "}\n"
    )
    return entry + source + "\n"
