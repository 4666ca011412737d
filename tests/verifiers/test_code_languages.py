"""Every language on every backend, through the code verifier's stdio format.

One table: for each language, a correct program, a wrong answer, a compile error, a
runtime error and a program past its time limit, each judged on bwrap and on docker;
then each language past its memory limit. Function tests per language are in
test_code_functions.py; Python's other formats (pytest, APPS calls) and the hack
suites (test_code_formats.py, test_code_hacks.py) run on both backends too.
"""

from __future__ import annotations

from typing import Any

import pytest

from rewardgate.verifiers.code import CodeVerifier
from rewardgate.verifiers.models import RewardRequest, RewardResult

VERIFIER = CodeVerifier()
TESTS = [
    {"stdin": "1 2\n", "expected_stdout": "3\n"},
    {"stdin": "40 2\n", "expected_stdout": "42\n"},
]

# language -> {case: source}; "sum" reads two integers and prints their sum.
PROGRAMS: dict[str, dict[str, str]] = {
    "python": {
        "correct": "a, b = map(int, input().split())\nprint(a + b)\n",
        "wrong": "a, b = map(int, input().split())\nprint(a - b)\n",
        "compile_error": "print(\n",
        "runtime_error": "raise SystemExit(3)\n",
        "time_limit": "while True:\n    pass\n",
    },
    "c": {
        "correct": '#include <stdio.h>\nint main(void){long a,b; scanf("%ld %ld",&a,&b);'
        ' printf("%ld\\n",a+b); return 0;}\n',
        "wrong": '#include <stdio.h>\nint main(void){long a,b; scanf("%ld %ld",&a,&b);'
        ' printf("%ld\\n",a*b); return 0;}\n',
        "compile_error": "int main(void){ return }\n",
        "runtime_error": "#include <stdlib.h>\nint main(void){ abort(); }\n",
        "time_limit": "int main(void){ volatile int x = 0; for(;;) x++; }\n",
    },
    "cpp": {
        "correct": "#include <iostream>\nint main(){long a,b; std::cin>>a>>b;"
        " std::cout<<a+b<<std::endl;}\n",
        "wrong": "#include <iostream>\nint main(){long a,b; std::cin>>a>>b;"
        " std::cout<<a<<std::endl;}\n",
        "compile_error": "int main(){ undefined_name(); }\n",
        "runtime_error": "#include <vector>\nint main(){ std::vector<int> v; return v.at(3); }\n",
        "time_limit": "int main(){ volatile long x = 0; while (true) x++; }\n",
    },
    "java": {
        "correct": "import java.util.*;\npublic class Main { public static void main(String[] a)"
        " { Scanner s = new Scanner(System.in); System.out.println(s.nextLong() + s.nextLong());"
        " } }\n",
        # Another class name: the file and main class follow the source.
        "wrong": "import java.util.*;\npublic class Solution { public static void main(String[] a)"
        " { Scanner s = new Scanner(System.in); System.out.println(s.nextLong()); } }\n",
        "compile_error": "public class Main {\n static void main(String[] a) { int x = ; }\n}\n",
        "runtime_error": "public class Main { public static void main(String[] a)"
        ' { throw new RuntimeException("boom"); } }\n',
        "time_limit": "public class Main { public static void main(String[] a)"
        " { long x = 0; while (true) { x++; } } }\n",
    },
    "nodejs": {
        "correct": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/)"
        ".map(Number);\nconsole.log(a + b);\n",
        "wrong": "console.log('7');\n",
        "compile_error": "function (\n",
        "runtime_error": "null.f();\n",
        "time_limit": "for (;;) {}\n",
    },
    "rust": {
        "correct": "use std::io::Read;\nfn main() { let mut s = String::new();"
        " std::io::stdin().read_to_string(&mut s).unwrap();"
        " let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();"
        ' println!("{}", v[0] + v[1]); }\n',
        "wrong": 'fn main() { println!("0"); }\n',
        "compile_error": 'fn main() { let x: i32 = "no"; }\n',
        "runtime_error": 'fn main() { panic!("boom"); }\n',
        "time_limit": "fn main() { let mut x: u64 = 0;"
        ' loop { x = x.wrapping_add(1); if x == 0 { println!("{}", x); } } }\n',
    },
    "go": {
        "correct": 'package main\nimport "fmt"\nfunc main() { var a, b int64;'
        " fmt.Scan(&a, &b); fmt.Println(a + b) }\n",
        "wrong": 'package main\nimport "fmt"\nfunc main() { fmt.Println(1) }\n',
        "compile_error": "package main\nfunc main() { x := 1 }\n",
        "runtime_error": 'package main\nfunc main() { panic("boom") }\n',
        "time_limit": "package main\nfunc main() { x := 0; for { x++ } }\n",
    },
}
EXPECTED = {
    "correct": (1.0, ["passed", "passed"]),
    "wrong": (0.0, ["wrong_answer", "wrong_answer"]),
    "compile_error": (0.0, ["compile_error", "compile_error"]),
    "runtime_error": (0.0, ["runtime_error", "runtime_error"]),
    "time_limit": (0.0, ["time_limit", "time_limit"]),
}
# Node has no compile step: a syntax error is its run's error.
EXPECTED_NODE_SYNTAX = (0.0, ["runtime_error", "runtime_error"])

CASES = [
    pytest.param(lang, case, backend, id=f"{lang}-{case}-{backend}")
    for backend in ("bwrap", "docker")
    for lang in PROGRAMS
    for case in EXPECTED
]


def judge(language: str, source: str, backend: str, **options: Any) -> RewardResult:
    request = RewardRequest(
        verifier="code",
        response=source,
        reference={"language": language, "tests": TESTS},
        options={"backend": backend, "time_limit_s": 2, **options},
    )
    return VERIFIER.verify(request)


@pytest.mark.parametrize(("language", "case", "backend"), CASES)
def test_language_table(language: str, case: str, backend: str) -> None:
    result = judge(language, PROGRAMS[language][case], backend)
    expected = EXPECTED[case]
    if language == "nodejs" and case == "compile_error":
        expected = EXPECTED_NODE_SYNTAX
    assert result.status == "ok", result
    assert (result.reward, [s.label for s in result.steps or []]) == expected, result.details


@pytest.mark.parametrize(
    ("alias", "language"),
    [("javascript", "nodejs"), ("js", "nodejs"), ("golang", "go"), ("rs", "rust")],
)
def test_aliases_name_the_same_language(alias: str, language: str) -> None:
    assert judge(alias, PROGRAMS[language]["correct"], "bwrap").reward == 1.0


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("language", ["java", "go", "nodejs"])
def test_heavy_runtimes_start_under_the_memory_limit(language: str, backend: str) -> None:
    """The JVM, Go and V8 reserve gigabytes of address space: an RLIMIT_AS of the
    test's memory would kill them at start; the cgroup bounds what they use instead."""
    result = judge(language, PROGRAMS[language]["correct"], backend, memory_mb=256)
    assert result.reward == 1.0, result.details


# Each holds about 1 GiB, past a 256 MB limit.
MEMORY_HOGS = {
    "python": "x = bytearray(1 << 30)\nprint(len(x))\n",
    "c": "#include <stdlib.h>\n#include <string.h>\n#include <stdio.h>\n"
    "int main(void){ char *p = malloc(1L << 30); if (!p) return 3; memset(p, 1, 1L << 30);"
    ' printf("%d\\n", p[5]); }\n',
    "cpp": "#include <vector>\n#include <iostream>\n"
    "int main(){ std::vector<char> v(1L << 30, 1); std::cout << (int)v[7] << std::endl; }\n",
    "java": "public class Main { public static void main(String[] a) {"
    " long[][] h = new long[1024][]; for (int i = 0; i < h.length; i++) h[i] = new long[1 << 17];"
    " System.out.println(h.length); } }\n",
    "nodejs": "const a = []; for (let i = 0; i < 1024; i++) a.push(Buffer.alloc(1 << 20, 1));\n"
    "console.log(a.length);\n",
    "rust": 'fn main() { let v = vec![1u8; 1 << 30]; println!("{}", v[9]); }\n',
    "go": 'package main\nimport "fmt"\nfunc main() { s := make([]byte, 1<<30);'
    " for i := range s { s[i] = 1 }; fmt.Println(s[3]) }\n",
}


@pytest.mark.parametrize("backend", ["bwrap", "docker"])
@pytest.mark.parametrize("language", list(MEMORY_HOGS))
def test_over_the_memory_limit_is_memory_limit(language: str, backend: str) -> None:
    """Whichever way the runtime fails (its own out-of-memory error, a null malloc the
    program reports, or the cgroup's OOM kill), past the limit is a memory verdict."""
    # Near its limit a cgroup reclaims page cache (the runtime's own code) before the OOM
    # kill, which can take seconds on a loaded machine: time enough not to read as slow.
    result = judge(language, MEMORY_HOGS[language], backend, memory_mb=256, time_limit_s=30)
    assert result.status == "ok", result
    labels = [s.label for s in result.steps or []]
    if language == "c":  # malloc fails under RLIMIT_AS: the program exits 3 by itself
        assert labels == ["runtime_error"] * 2, result.details
    else:
        assert labels == ["memory_limit"] * 2, result.details
