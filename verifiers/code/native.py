"""Function tests in C, C++, Java, JavaScript, TypeScript, Rust and Go, and (through
native_scripts.py, native_d.py, native_csharp.py, native_jvm.py and native_verilog.py)
the scripted languages, D, C#, Kotlin, Scala and Verilog: one program holds both.

Python's function formats call the program from a separate, trusted process. For the
other languages the tests are source in the program's own language, so they are
compiled into it, as MultiPL-E, HumanEval-X and SandboxFusion do:

- `asserts` (MBPP's shape): each entry is statements run as one test. The assembled
  program's `main` runs test `argv[1]` alone, so one build serves every test and a
  crash in one test costs only that test.
- `test_code` (HumanEval's shape): a whole test program with its own `main` (Go's may
  instead hold `TestXxx(t *testing.T)` functions, MultiPL-E's Go tests, which run
  under `testing.Main` as `go test` would), run as one test.

The response's own `main` is renamed out of the way (C and C++ by the preprocessor),
imports are merged at the top where the language wants them there (Java, Go), and
Java's top-level `public` is dropped from the response so that the test class may be
the file's public one.

A test passes only when the process exits 0 *and* prints the per-request nonce that
the generated `main` writes after the test's last statement: a program that calls
`exit(0)` (or `process.exit`, `System.exit`, `os.Exit`) inside the function under
test ends the run before the nonce and fails. The nonce arrives in argv at run time,
never in the source, so builds stay cached. In-process tests can still be subverted
by a program written against this harness (it shares the process); the Python
formats, whose tests run in another process, cannot.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any

from rewardgate.sandbox.languages import java_names
from rewardgate.verifiers.code.braces import blank_with, brace_depths
from rewardgate.verifiers.code.models import CodeOptions, HumanEvalReference, MbppReference
from rewardgate.verifiers.code.native_csharp import assemble_csharp, guard_suite
from rewardgate.verifiers.code.native_d import assemble_d
from rewardgate.verifiers.code.native_jvm import SCANNER as JVM_SCANNER
from rewardgate.verifiers.code.native_jvm import assemble_kotlin, assemble_scala
from rewardgate.verifiers.code.native_scripts import (
    RUNTIME_FLAGS,
    SCRIPTED,
    SILENT_FAILURES,
    assemble_script,
)
from rewardgate.verifiers.code.native_verilog import (
    NONCE_PLUSARG,
    assemble_verilog,
    verilog_failure,
    with_header,
)
from rewardgate.verifiers.code.native_verilog import (
    SCANNER as VERILOG_SCANNER,
)
from rewardgate.verifiers.code.run import sandbox_s, select_tests
from rewardgate.verifiers.code.stdio import (
    out_of_memory,
    run_program,
    skip_after_first_failure,
    unreported,
)
from rewardgate.verifiers.errors import InvalidRequest

__all__ = ["NativeTests", "assemble", "judge_native", "native_label"]

OUTPUT_CAP = 256 << 10  # per test: what the program prints, then the nonce
# With a prompt, the response (after the prompt) and the suite are assembled apart, so
# that what guards the suite (its asserts made ours) does not touch the response.
SUITE_APART = frozenset({"csharp", "kotlin", "scala"})

# A failed assertion: C and C++'s assert, Java's, Node's and PHP's AssertionError, Rust's
# assert! and assert_eq! (both wordings), Lua's assert, R's stopifnot, MultiPL-E's PHP
# suites, D's AssertError. Go has no assert: see `go_assert`, and a failed `go test`
# function says "--- FAIL:" on stdout.
ASSERT_SIGNS = (
    "Assertion `",
    "AssertionError",
    "assertion failed",
    "assertion `left",
    "is not TRUE",
    "are not all TRUE",
    "Exception: Test failed!",
    "core.exception.AssertError@",
)


@dataclass(frozen=True)
class NativeTests:
    """What is compiled with the response: statement tests or one test program."""

    language: str
    setup: str = ""
    asserts: tuple[str, ...] = ()
    test_code: str = ""


# --- scanning: comments and literals blanked, so braces and keywords are real code ----
# An unclosed block comment or raw string runs to the end of the text, as a compiler
# reads it; matched only when closed, each unclosed opening made the scan quadratic
# (50 KB of `/* ` took 10 s).

_C_LIKE = re.compile(
    r"""//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""",
    re.DOTALL,
)
_RUST = re.compile(
    r"//[^\n]*|/\*.*?(?:\*/|\Z)|r(#*)\"(?:.*?\"\1|.*\Z)|b?\"(?:\\.|[^\"\\])*\""
    r"|b?'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^'\\\n])'",
    re.DOTALL,
)
_GO = re.compile(
    r"""//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`[^`]*`""", re.DOTALL
)
_JS = re.compile(
    r"""//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`""",
    re.DOTALL,
)
_SCANNERS = {
    "c": _C_LIKE,
    "cpp": _C_LIKE,
    "java": _C_LIKE,
    "rust": _RUST,
    "go": _GO,
    "kotlin": JVM_SCANNER,
    "scala": JVM_SCANNER,
    "verilog": VERILOG_SCANNER,
}


def blank(source: str, language: str) -> str:
    """`source` with every comment and literal replaced by spaces (newlines kept)."""
    return blank_with(_SCANNERS.get(language, _JS), source)


def _closing_brace(code: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(code)  # unbalanced: the compiler will say so


# --- per language -------------------------------------------------------------------


def _c_family(tests: NativeTests, program: str, nonce_print: str) -> str:
    header = "#include <stdio.h>\n#include <stdlib.h>\n"
    # A response may define NDEBUG or its own assert; including assert.h again resets both.
    reset = "#undef NDEBUG\n#include <assert.h>\n"
    parts = [
        reset + header,
        "#define main rewardgate_program_main\n",
        program,
        "\n#undef main\n",
        reset,
        tests.setup,
        "\n",
    ]
    if tests.test_code:
        code, call = _c_test_main(tests.test_code, tests.language)
        parts += [code, f"\nint main(int argc, char **argv) {{\n    int rc = {call};\n"]
        parts.append("    if (rc != 0) return rc;\n")
    else:
        parts.append("int main(int argc, char **argv) {\n    switch (atoi(argv[1])) {\n")
        parts += [f"    case {i}: {{\n{t}\n    }} break;\n" for i, t in enumerate(tests.asserts)]
        parts.append("    }\n")
    parts.append(f"    {nonce_print}\n    return 0;\n}}\n")
    return "".join(parts)


_MAINS = {
    "c": re.compile(r"\bmain\s*\(([^)]*)\)\s*\{"),
    "cpp": re.compile(r"\bmain\s*\(([^)]*)\)\s*\{"),
    "java": re.compile(r"\bstatic\s+(?:final\s+)?(?:public\s+)?void\s+main\s*\("),
    "rust": re.compile(r"\bfn\s+main\s*\("),
    # Go: a main, or `go test` functions (MultiPL-E's Go tests), run by testing.RunTests.
    "go": re.compile(r"\bfunc\s+(?:main|Test\w*)\s*\("),
    "csharp": re.compile(
        r"\bstatic\s+(?:(?:public|private|internal|async)\s+)*(?:void|int)\s+Main\s*\("
    ),
    "kotlin": re.compile(r"\bfun\s+main\s*\("),
    "scala": re.compile(r"\bdef\s+main\s*\("),
    "verilog": re.compile(r"\bmodule\s+\w+"),
}


def check_test_program(language: str, test_code: str) -> None:
    """Refuse a test program without the `main` it must have (Node's needs none), or
    with braces that do not balance, before it costs a build. Raises ValueError."""
    pattern = _MAINS.get(language)
    if pattern is None:
        return
    match = pattern.search(blank(test_code, language))
    if match is None:
        hint = " (nor a TestXxx(t *testing.T) function)" if language == "go" else ""
        what = "module (a testbench)" if language == "verilog" else "main"
        raise ValueError(f"no {what} in the {language} test program{hint}")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def with_prompt(prompt: str, response: str, test_code: str, language: str) -> str:
    """`prompt_parts` as one text."""
    program, tests = prompt_parts(prompt, response, test_code, language)
    return f"{program}\n{tests}"


def prompt_parts(prompt: str, response: str, test_code: str, language: str) -> tuple[str, str]:
    """(program, tests) as MultiPL-E runs them: prompt + completion, then the tests,
    whose first line closes the function the completion left open (and, in Java, whose
    last closes the class the prompt opened).

    A response that restates the prompt's last line (the signature) is the whole
    function: it replaces the prompt from there, and the tests lose the leading `}`
    it closed itself. One that also restates an enclosing block the prompt opens (Java's
    `class Problem {`) replaces the prompt from that line, and loses its own closing
    brace of each such block: the tests, which close it, go inside.
    """
    lines = [line for line in prompt.splitlines() if line.strip()]
    said = _squeeze(response)
    if not lines or _squeeze(lines[-1]) not in said:
        return f"{prompt}{response}", test_code
    start = len(lines) - 1
    for k, line in enumerate(lines[:-1]):
        if line.rstrip().endswith("{") and _squeeze(line) in said:
            start = k
            break
    # Only Java's tests close a block the prompt opened (the class); a scripted
    # language's prompt opens the function alone (Perl's `sub f {` + `my(...) = @_;`).
    outer = sum(line.rstrip().endswith("{") for line in lines[start:-1])
    if language in SCRIPTED:
        outer = 0
    head = prompt[: prompt.index(lines[start])]  # includes and imports, kept
    for _ in range(outer):  # the tests go inside the block: its closing brace is theirs
        end = blank(response, language).rfind("}")
        response = response[:end] + response[end + 1 :] if end >= 0 else response
    tests = re.sub(r"^\s*}", "", test_code, count=1)
    return f"{head}{response}", tests


def _c_test_main(test_code: str, language: str) -> tuple[str, str]:
    """The test program with its main renamed and made to return 0 at its end (C++ UB
    otherwise, since a renamed main no longer returns 0 implicitly); the call to it."""
    code = blank(test_code, language)
    match = _MAINS[language].search(code)
    assert match is not None  # check_test_program
    end = _closing_brace(code, match.end() - 1)
    renamed = (
        test_code[: match.start()]
        + "rewardgate_tests_main"
        + test_code[match.start() + 4 : end]
        + "\nreturn 0;\n"
        + test_code[end:]
    )
    params = match.group(1).strip()
    call = "rewardgate_tests_main()" if params in ("", "void") else "rewardgate_tests_main(1, argv)"
    return renamed, call


_JAVA_TOP = re.compile(r"^[ \t]*(package|import)\b[^;]*;[ \t]*\n?", re.M)
_JAVA_PUBLIC_TYPE = re.compile(
    r"\bpublic(\s+(?:(?:final|abstract|strictfp|sealed|non-sealed)\s+)*"
    r"(?:class|interface|enum|record|@interface)\b)"
)


def _java_split(source: str) -> tuple[list[str], str]:
    """(import lines, the rest without package or imports, top-level `public` dropped)."""
    code = blank(source, "java")
    depths = brace_depths(code)
    imports: list[str] = []
    pieces: list[str] = []
    last = 0
    for match in _JAVA_TOP.finditer(code):
        if depths[match.start()] != 0:
            continue
        if match.group(1) == "import":
            imports.append(source[match.start() : match.end()].strip())
        pieces.append(source[last : match.start()])
        last = match.end()
    pieces.append(source[last:])
    rest = "".join(pieces)
    code, depths = blank(rest, "java"), brace_depths(blank(rest, "java"))
    starts = [m.start() for m in _JAVA_PUBLIC_TYPE.finditer(code) if depths[m.start()] == 0]
    for start in reversed(starts):
        rest = rest[:start] + rest[start + len("public") :]
    return imports, rest


def _java(tests: NativeTests, program: str) -> str:
    imports, body = _java_split(program)
    setup_imports, setup = _java_split(tests.setup) if tests.setup else ([], "")
    lines = ["public class RewardgateMain {", setup]
    if tests.test_code:
        test_imports, test_body = _java_split(tests.test_code)
        _, test_class = java_names(tests.test_code)
        lines.append("    public static void main(String[] args) throws Throwable {")
        lines.append(f"        {test_class}.main(new String[0]);")
    else:
        test_imports, test_body = [], ""
        lines.append("    public static void main(String[] args) throws Throwable {")
        lines.append("        switch (Integer.parseInt(args[0])) {")
        lines += [
            f"        case {i}: {{\n{t}\n        }} break;" for i, t in enumerate(tests.asserts)
        ]
        lines.append("        }")
    lines.append('        System.out.print("\\n" + args[1] + "\\n");')
    lines.append("        System.out.flush();\n    }\n}")
    # The test class first: the build runs the first class that declares main.
    merged = list(dict.fromkeys(imports + setup_imports + test_imports))
    return "\n".join([*merged, "\n".join(lines), test_body, body]) + "\n"


# ES module syntax a CommonJS program cannot hold: `export` before a declaration, and
# `export { names };` lists (the declarations are visible to the tests either way).
_ESM_EXPORT = re.compile(
    r"^[ \t]*export[ \t]+(?:default[ \t]+)?"
    r"(?=(?:async[ \t]+)?function\b|class\b|const\b|let\b|var\b)"
    r"|^[ \t]*export[ \t]*\{[^}]*\}[ \t]*;?",
    re.M,
)


def _node(tests: NativeTests, program: str) -> str:
    program = _ESM_EXPORT.sub("", program)
    # `assert` is taken before the response runs and frozen, so it cannot be disarmed.
    prelude = (
        "const rewardgateAssert = require('node:assert');\n"
        "Object.freeze(rewardgateAssert); Object.freeze(rewardgateAssert.strict);\n"
    )
    done = "process.stdout.write('\\n' + process.argv[3] + '\\n');\n"
    # The tests in a block of their own, inside the one that binds `assert`: a test
    # program may bind it again itself (MultiPL-E's `const assert = require(...)`).
    parts = [prelude, program, "\n;\n{\nconst assert = rewardgateAssert;\n", tests.setup, "\n"]
    if tests.test_code:
        parts += ["{\n", tests.test_code, "\n}\n", done, "}\n"]
    else:
        parts.append("switch (Number(process.argv[2])) {\n")
        parts += [f"case {i}: {{\n{t}\n}} break;\n" for i, t in enumerate(tests.asserts)]
        parts += ["}\n", done, "}\n"]
    return "".join(parts)


# TypeScript: Node's globals are declared beside the source (sandbox/languages.py);
# MultiPL-E's suites declare `require` themselves, which TypeScript allows only at the
# top level, so their declarations move there.
_TS_DECLARE = re.compile(r"^[ \t]*declare[ \t]+(?:var|let|const)[ \t]+\w+[^;\n]*;?[ \t]*$", re.M)


def _typescript(tests: NativeTests, program: str) -> str:
    declared = _TS_DECLARE.findall(tests.test_code) + _TS_DECLARE.findall(tests.setup)
    stripped = NativeTests(
        tests.language,
        _TS_DECLARE.sub("", tests.setup),
        tests.asserts,
        _TS_DECLARE.sub("", tests.test_code),
    )
    return "\n".join(line.strip() for line in declared) + "\n" + _node(stripped, program)


def _rename_fn(source: str, language: str, keyword: str, new: str) -> str:
    code = blank(source, language)
    pattern = re.compile(rf"\b{keyword}\s+main\s*\(")
    for match in reversed(list(pattern.finditer(code))):
        start = match.start() + code[match.start() :].index("main")
        source = source[:start] + new + source[start + 4 :]
    return source


def _rust(tests: NativeTests, program: str) -> str:
    parts = [_rename_fn(program, "rust", "fn", "rewardgate_program_main"), "\n", tests.setup, "\n"]
    nonce = '    print!("\\n{}\\n", std::env::args().nth(2).unwrap_or_default());\n'
    if tests.test_code:
        parts.append(_rename_fn(tests.test_code, "rust", "fn", "rewardgate_tests_main"))
        parts.append("\nfn main() {\n    rewardgate_tests_main();\n")
    else:
        parts.append("fn main() {\n    let rewardgate_test: usize = ")
        parts.append("std::env::args().nth(1).unwrap().parse().unwrap();\n")
        parts.append("    match rewardgate_test {\n")
        parts += [f"    {i} => {{\n{t}\n    }}\n" for i, t in enumerate(tests.asserts)]
        parts.append("    _ => {}\n    }\n")
    parts += [nonce, "}\n"]
    return "".join(parts)


_GO_PACKAGE = re.compile(r"^[ \t]*package[ \t]+\w+[ \t]*;?[ \t]*$\n?", re.M)
_GO_IMPORT = re.compile(
    r"^[ \t]*import[ \t]*(\((?P<block>[^)]*)\)|(?P<one>[^\n;]*))[ \t;]*\n?", re.M
)
_GO_SPEC = re.compile(r'(?:[\w.]+[ \t]+)?"[^"\n]*"')


def _go_split(source: str) -> tuple[list[str], str]:
    """(import specs, the rest without package clause or imports)."""
    code = blank(source, "go")
    depths = brace_depths(code)
    specs: list[str] = []
    cut: list[tuple[int, int]] = []
    for match in _GO_PACKAGE.finditer(code):
        if depths[match.start()] == 0:
            cut.append(match.span())
    for match in _GO_IMPORT.finditer(code):
        if depths[match.start()] != 0:
            continue
        text = source[match.start() : match.end()]
        text = re.sub(r"//[^\n]*|/\*.*?(?:\*/|\Z)", " ", text, flags=re.DOTALL)
        specs += [spec.strip() for spec in _GO_SPEC.findall(text.split("import", 1)[1])]
        cut.append(match.span())
    rest, last = [], 0
    for start, end in sorted(cut):
        rest.append(source[last:start])
        last = end
    rest.append(source[last:])
    return specs, "".join(rest)


_GO_TEST_FUNC = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)


_GO_NONCE = '\trewardgateFmt.Print("\\n" + rewardgateOs.Args[2] + "\\n")\n'


def _go_main(test_body: str) -> str:
    """main for a test program: its own main, or its `TestXxx(t *testing.T)` functions run
    as `go test` would (testing.Main: every test, exit 1 when one fails), the nonce
    printed by a last test of our own, which runs only if none ended the process."""
    head = "func main() {\n\t_, _ = rewardgateStrconv.Atoi(rewardgateOs.Args[1])\n"
    if re.search(r"\bfunc\s+main\s*\(", blank(test_body, "go")):
        return f"{head}\trewardgateTestsMain()\n{_GO_NONCE}}}\n"
    names = _GO_TEST_FUNC.findall(blank(test_body, "go"))
    tests = [f'{{Name: "{name}", F: {name}}},' for name in names]
    tests.append(f'{{Name: "RewardgateDone", F: func(*rewardgateTesting.T) {{\n{_GO_NONCE}\t}}}},')
    table = "".join(f"\t\t{test}\n" for test in tests)
    return (
        f"{head}\tmatch := func(pat, str string) (bool, error) {{ return true, nil }}\n"
        f"\tall := []rewardgateTesting.InternalTest{{\n{table}\t}}\n"
        "\trewardgateTesting.Main(match, all, nil, nil)\n}\n"
    )


def _go(tests: NativeTests, program: str) -> str:
    specs, body = _go_split(program)
    setup_specs, setup = _go_split(tests.setup) if tests.setup else ([], "")
    test_specs, test_body = _go_split(tests.test_code) if tests.test_code else ([], "")
    ours = ['rewardgateOs "os"', 'rewardgateFmt "fmt"', 'rewardgateStrconv "strconv"']
    if tests.test_code and not re.search(r"\bfunc\s+main\s*\(", blank(test_body, "go")):
        ours.append('rewardgateTesting "testing"')
    merged = list(dict.fromkeys(ours + specs + setup_specs + test_specs))
    parts = ["package main\n\nimport (\n", *[f"\t{s}\n" for s in merged], ")\n\n"]
    parts += [_rename_fn(body, "go", "func", "rewardgateProgramMain"), "\n", setup, "\n"]
    if tests.test_code:
        parts += [_rename_fn(test_body, "go", "func", "rewardgateTestsMain"), "\n"]
        parts.append(_go_main(test_body))
        return "".join(parts)
    else:
        parts.append(
            "func main() {\n\trewardgateTest, _ := rewardgateStrconv.Atoi(rewardgateOs.Args[1])\n"
        )
        parts.append("\tswitch rewardgateTest {\n")
        parts += [f"\tcase {i}:\n\t\t{{\n{t}\n\t\t}}\n" for i, t in enumerate(tests.asserts)]
        parts.append("\t}\n")
    parts += [_GO_NONCE, "}\n"]
    return "".join(parts)


def assemble(tests: NativeTests, program: str) -> str:
    """One source holding the response and the tests: run with `INDEX NONCE` as argv."""
    language = tests.language
    if language in ("c", "cpp"):
        return _c_family(tests, program, 'printf("\\n%s\\n", argv[2]); fflush(stdout);')
    if language == "java":
        return _java(tests, program)
    if language == "nodejs":
        return _node(tests, program)
    if language == "typescript":
        return _typescript(tests, program)
    if language in SCRIPTED:
        return assemble_script(language, program, tests.setup, tests.asserts, tests.test_code)
    if language == "rust":
        return _rust(tests, program)
    if language == "go":
        return _go(tests, program)
    if language == "d":
        source = f"{program}\n{tests.setup}\n{tests.test_code}"
        return assemble_d(tests, source, blank(source, "c"))
    if language == "csharp":
        source = f"{program}\n{tests.setup}\n{guard_suite(tests.test_code)}"
        return assemble_csharp(source, blank(source, "java"))
    if language == "kotlin":
        return assemble_kotlin(tests, program)
    if language == "scala":
        return assemble_scala(tests, program)
    if language == "verilog":
        return assemble_verilog(program, f"{tests.setup}\n{tests.test_code}")
    raise InvalidRequest(f"no native function tests for {language!r}")


_GO_TEST_FRAME = re.compile(r"goroutine 1 \[running\]:\n(?:main\.main|main\.rewardgateTestsMain)\(")


def go_assert(stderr: str) -> bool:
    """A panic raised by a test's own statements (its frame is the tests' function), not
    by the program or the runtime."""
    return "panic: runtime error" not in stderr and bool(_GO_TEST_FRAME.search(stderr))


def native_label(
    exit_code: int, stdout: str, stderr: str, nonce: str, language: str = ""
) -> tuple[str, str]:
    """(label, why) of a test that did not time out."""
    if exit_code == 0:
        failure = verilog_failure(stdout) if language == "verilog" else ""
        if failure:  # a testbench reports failures on stdout and exits 0
            return "wrong_answer", failure
        if nonce in stdout.splitlines():
            return "passed", ""
        return "runtime_error", "the program ended the process before the test finished"
    if out_of_memory(exit_code, stderr):
        return "memory_limit", stderr
    if "--- FAIL:" in stdout:  # `go test` functions say why on stdout
        return "wrong_answer", stdout[stdout.index("--- FAIL:") :]
    if language == "ruby" and exit_code == 1 and "Failure:" in stdout:  # test-unit
        return "wrong_answer", stdout[stdout.index("Failure:") :]
    if language in SILENT_FAILURES and exit_code == 1 and not stderr.strip():
        return "wrong_answer", "a test failed (exit 1)"
    if go_assert(stderr) or any(sign in stderr for sign in ASSERT_SIGNS):
        return "wrong_answer", stderr
    return "runtime_error", stderr


def judge_native(
    program: str, ref: HumanEvalReference | MbppReference, options: CodeOptions
) -> list[dict[str, Any]]:
    """Build the response with its tests and run each test; a verdict per test."""
    if isinstance(ref, MbppReference):
        chosen = select_tests(len(ref.asserts), [len(a) for a in ref.asserts], options.max_tests)
        # Only the chosen tests are compiled in; argv names their position.
        tests = NativeTests(
            ref.language, ref.setup_code, asserts=tuple(ref.asserts[i] for i in chosen)
        )
    elif ref.prompt is not None and ref.language == "verilog":
        program = with_header(ref.prompt, program)
        tests, chosen = NativeTests(ref.language, test_code=ref.test_code), [0]
    elif ref.prompt is not None and (ref.language in SUITE_APART or ref.language in SCRIPTED):
        # The suite kept apart from the response: what guards it goes between the two.
        program, suite = prompt_parts(ref.prompt, program, ref.test_code, ref.language)
        tests, chosen = NativeTests(ref.language, test_code=suite), [0]
    elif ref.prompt is not None:
        whole = with_prompt(ref.prompt, program, ref.test_code, ref.language)
        tests, program, chosen = NativeTests(ref.language, test_code=whole), "", [0]
    else:
        tests = NativeTests(ref.language, test_code=ref.test_code)
        chosen = [0]
    source = assemble(tests, program)
    nonce = secrets.token_hex(16)
    args = [[str(position), nonce] for position in range(len(chosen))]
    if ref.language == "verilog":  # vvp passes only plusargs to the design
        args = [[f"+{NONCE_PLUSARG}={nonce}"]]
    run_s, _ = sandbox_s(ref, options)
    # Java ignores assert without -ea; PHP's asserts are compiled out without its flags.
    flags = ("-ea",) if ref.language == "java" else RUNTIME_FLAGS.get(ref.language, ())
    runs = run_program(
        source,
        ref.language,
        chosen,
        [""] * len(chosen),
        [OUTPUT_CAP] * len(chosen),
        options,
        run_s,
        args,
        flags,
    )
    if runs.failed is not None:
        return runs.failed
    outcomes: list[dict[str, Any]] = []
    for position, index in enumerate(chosen):
        report = runs.reports.get(position)
        if report is None:
            outcomes.append(unreported(index, outcomes, runs, options))
            continue
        outcome: dict[str, Any] = {"test": index, "ms": report["ms"]}
        if report["timed_out"]:
            outcome["label"] = "time_limit"
        else:
            stdout = base64.b64decode(report["stdout"]).decode("utf-8", "replace")
            label, why = native_label(report["exit"], stdout, report["stderr"], nonce, ref.language)
            outcome["label"] = label
            if label != "passed":
                outcome.update(exit=report["exit"], message=why[:500])
        outcomes.append(outcome)
    if options.stop_on_first_failure:
        skip_after_first_failure(outcomes)
    return outcomes
