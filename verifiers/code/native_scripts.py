"""Function tests for the scripted languages: bash, PHP, Lua, Perl, Ruby, R and Racket.

As for the compiled languages (native.py), the response and its tests are one program,
run with `INDEX NONCE` as arguments: `asserts` runs the statements of test INDEX,
`test_code` (MultiPL-E's test suites) runs as written, and the program passes only when
it exits 0 *and* prints the nonce after the tests' last statement, so a response that
exits early scores 0. The arguments are read, and what the tests rely on (Lua's
`assert` and `os.exit`, R's `stopifnot` and friends, PHP's assertion settings) is taken,
before the response runs or restored after it, so a response that redefines `assert`
does not disarm the tests.

MultiPL-E's suites end their own way; each is kept and its verdict read:
- bash (`set -e` and `[[ ... ]]`), Perl (`exit 1`) and R (`quit('no', 1)`) fail silently
  with exit 1: a wrong answer (`SILENT_FAILURES`); R's `stopifnot` says "is not TRUE".
- PHP throws `Exception("Test failed!")`; PHP asserts run enabled, and the response
  cannot turn them off (`ini_set` and `assert_options` are disabled in test runs).
- Lua calls `os.exit(lu.LuaUnit.run())`: that call is pointed at a finisher that
  prints the nonce when the suite passed (luaunit itself: sandbox/luaunit.py).
- Ruby's test-unit runs at exit; here it runs at the end of the program instead, with
  no arguments, and a failed assertion ("Failure:") is a wrong answer.
- Racket's rackunit only prints a failed check and goes on: its check handler is set to
  report an `AssertionError` and exit 1, and the suite's `(check-...)` calls are
  rackunit's own (imported under a prefix), whatever the response defines.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["RUNTIME_FLAGS", "SCRIPTED", "SILENT_FAILURES", "assemble_script"]

# Exit 1 with nothing on stderr: how these languages' test suites say a test failed.
SILENT_FAILURES = frozenset({"bash", "perl", "r"})

# Flags for function-test runs, after the interpreter (Java's `-ea` is in native.py).
RUNTIME_FLAGS: dict[str, tuple[str, ...]] = {
    "php": (
        "-d",
        "zend.assertions=1",
        "-d",
        "assert.exception=1",
        "-d",
        "display_errors=stderr",
        "-d",
        "disable_functions=ini_set,ini_alter,ini_restore,assert_options",
    ),
}


def _dispatch(asserts: tuple[str, ...], case: Callable[[int, str], str], tail: str) -> str:
    return "".join(case(i, test) for i, test in enumerate(asserts)) + tail


def _bash(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = 'declare -r rewardgate_test="$1" rewardgate_nonce="$2"\nset --\n'
    # What the response may have redefined that the tests run: functions named like
    # builtins, aliases, an EXIT trap.
    reset = (
        "\nunset -f exit return set echo printf test '[' true false command builtin "
        "unset shopt trap eval source . 2>/dev/null\n"
        "shopt -u expand_aliases; unalias -a 2>/dev/null; trap - EXIT\n"
    )
    done = '\nprintf "\\n%s\\n" "$rewardgate_nonce"\n'
    if test_code:
        return f"{head}{program}{reset}{setup}\n{test_code}{done}"
    cases = _dispatch(asserts, lambda i, t: f"{i})\n{t}\n;;\n", "esac\n")
    return f'{head}{program}{reset}{setup}\nset -e\ncase "$rewardgate_test" in\n{cases}{done}'


_PHP_OPEN = re.compile(r"^\s*<\?php\b", re.I)
_PHP_CLOSE_AT_END = re.compile(r"\?>\s*$")


def _php(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = (
        "define('REWARDGATE_TEST', (int)($argv[1] ?? -1));\n"
        "define('REWARDGATE_NONCE', (string)($argv[2] ?? ''));\n"
    )
    match = _PHP_OPEN.match(program)
    body = program[match.end() :] if match else program
    body = _PHP_CLOSE_AT_END.sub("", body)
    test_code = _PHP_OPEN.sub("", test_code, count=1)
    done = '\necho "\\n" . REWARDGATE_NONCE . "\\n";\n'
    if test_code:
        tests = test_code
    else:
        tests = _dispatch(asserts, lambda i, t: f"case {i}: {{\n{t}\n}} break;\n", "}\n")
        tests = f"switch (REWARDGATE_TEST) {{\n{tests}"
    return f"<?php\n{head}{body}\n;\n{setup}\n{tests}{done}"


_LUA_EXIT = re.compile(r"\bos\.exit\s*\(")


def _lua(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = (
        "local rewardgate_test <const>, rewardgate_nonce <const> = tonumber(arg[1]), arg[2]\n"
        "local rewardgate_assert <const>, rewardgate_exit <const> = assert, os.exit\n"
        "local rewardgate_stdout <const>, rewardgate_loaded <const> = io.stdout, package.loaded\n"
        "local rewardgate_require <const> = require\n"
        "local function rewardgate_finish(code, ...)\n"
        "  if code == nil or code == true or code == 0 then\n"
        "    rewardgate_stdout:write('\\n' .. rewardgate_nonce .. '\\n')\n"
        "    rewardgate_stdout:flush()\n"
        "  end\n"
        "  rewardgate_exit(code, ...)\n"
        "end\n"
    )
    opening = (
        "\ndo\nlocal assert <const>, require <const> = rewardgate_assert, rewardgate_require\n"
        "rewardgate_loaded.luaunit = nil\n"
    )
    if test_code:
        tests = _LUA_EXIT.sub("rewardgate_finish(", test_code)
    else:
        branches = [
            f"{'if' if i == 0 else 'elseif'} rewardgate_test == {i} then\n{t}\n"
            for i, t in enumerate(asserts)
        ]
        tests = "".join(branches) + "end\n"
    return f"{head}{program}\n{opening}{setup}\n{tests}\nrewardgate_finish(0)\nend\n"


def _perl(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = (
        "use constant REWARDGATE_TEST => $ARGV[0];\n"
        "use constant REWARDGATE_NONCE => $ARGV[1];\n"
        "BEGIN { @ARGV = (); }\n"
    )
    done = '\nprint STDOUT "\\n" . REWARDGATE_NONCE . "\\n";\n'
    if test_code:
        tests = test_code
    else:
        tests = "".join(
            f"{'if' if i == 0 else 'elsif'} (REWARDGATE_TEST == {i}) {{\n{t}\n}}\n"
            for i, t in enumerate(asserts)
        )
    return f"{head}{program}\n;\npackage main;\n{setup}\n{tests}{done}"


def _ruby(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = "rewardgate_args = ARGV.dup.freeze\nARGV.clear\n"
    done = '\n$stdout.write("\\n#{rewardgate_args[1]}\\n")\n$stdout.flush\n'
    # test-unit would run at exit, after the nonce: run it here, with no arguments.
    unit = (
        "\nif defined?(Test::Unit::AutoRunner)\n"
        "  Test::Unit::AutoRunner.need_auto_run = false\n"
        "  exit(1) unless Test::Unit::AutoRunner.run(false, nil, [])\n"
        "end\n"
    )
    if test_code:
        tests = test_code + unit
    else:
        tests = "".join(
            f"{'if' if i == 0 else 'elsif'} rewardgate_args[0] == '{i}'\n{t}\n"
            for i, t in enumerate(asserts)
        )
        tests += "end\n"
    return f"{head}{program}\n{setup}\n{tests}{done}"


# R functions MultiPL-E's suites call, taken back from base after the response.
_R_TRUSTED = ("stopifnot", "isTRUE", "isFALSE", "all.equal", "identical", "quit", "q", "cat")


def _r(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    head = (
        '.rewardgate <- commandArgs(trailingOnly = TRUE)\nlockBinding(".rewardgate", globalenv())\n'
    )
    names = ", ".join(f'"{name}"' for name in _R_TRUSTED)
    reset = (
        f"\nfor (.rewardgate_name in c({names})) "
        "assign(.rewardgate_name, get(.rewardgate_name, envir = baseenv()), envir = globalenv())\n"
    )
    done = '\ncat("\\n", .rewardgate[2], "\\n", sep = "")\n'
    if test_code:
        tests = test_code
    else:
        tests = "".join(
            f'{"if" if i == 0 else "} else if"} (.rewardgate[1] == "{i}") {{\n{t}\n'
            for i, t in enumerate(asserts)
        )
        tests += "}\n"
    return f"{head}{program}\n{reset}{setup}\n{tests}{done}"


_RACKET_LANG = re.compile(r"^\s*#lang\s+[^\n]*\n?")
# rackunit's checks as the suite calls them; a module may define its own `check-equal?`,
# which would shadow the import, so the suite calls rackunit's under a prefix.
_RACKET_CHECK = re.compile(r"\((check(?:-[^\s()\[\]]*)?)(?=[\s)])")


def _racket(program: str, setup: str, asserts: tuple[str, ...], test_code: str) -> str:
    match = _RACKET_LANG.match(program)
    lang = match.group().rstrip("\n") if match else "#lang racket"
    body = program[match.end() :] if match else program
    head = f"{lang}\n(define rewardgate-args (current-command-line-arguments))\n"
    checks = (
        "\n(require (prefix-in rewardgate: rackunit))\n"
        "(require (only-in rackunit current-check-handler))\n"
        "(current-check-handler (lambda (e)\n"
        '  (eprintf "AssertionError: ~a\\n" (if (exn? e) (exn-message e) e)) (exit 1)))\n'
    )
    done = '\n(printf "\\n~a\\n" (vector-ref rewardgate-args 1))\n(flush-output)\n'
    test_code = _RACKET_CHECK.sub(r"(rewardgate:\1", _RACKET_LANG.sub("", test_code, count=1))
    asserts = tuple(_RACKET_CHECK.sub(r"(rewardgate:\1", test) for test in asserts)
    if test_code:
        tests = test_code
    else:
        tests = "(case (string->number (vector-ref rewardgate-args 0))\n"
        tests += "".join(f"  [({i}) {t}\n  ]\n" for i, t in enumerate(asserts)) + ")\n"
    return f"{head}{body}\n{checks}{setup}\n{tests}{done}"


SCRIPTED: dict[str, Callable[[str, str, tuple[str, ...], str], str]] = {
    "bash": _bash,
    "php": _php,
    "lua": _lua,
    "perl": _perl,
    "ruby": _ruby,
    "r": _r,
    "racket": _racket,
}


def assemble_script(
    language: str, program: str, setup: str, asserts: tuple[str, ...], test_code: str
) -> str:
    """One source holding the response and the tests, for a language in `SCRIPTED`."""
    return SCRIPTED[language](program, setup, asserts, test_code)
