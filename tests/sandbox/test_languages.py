"""Python, C and C++ programs: build, compile cache, compile errors as results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rewardgate.sandbox import BwrapBackend, Limits, Toolchain, get_language
from rewardgate.verifiers.errors import InvalidRequest, SandboxError

HELLO = {
    "python": "import sys\nprint('hello', sys.stdin.read().strip())\n",
    "c": '#include <stdio.h>\nint main(void){char s[64]; scanf("%63s", s);'
    ' printf("hello %s\\n", s); return 0;}\n',
    "cpp": "#include <iostream>\n#include <string>\nint main(){std::string s; std::cin >> s;"
    ' std::cout << "hello " << s << std::endl;}\n',
}


@pytest.fixture
def toolchain(backend: BwrapBackend, shared_dir: Path) -> Toolchain:
    return Toolchain(backend, shared_dir / "cache")


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("python", "python"),
        ("python3", "python"),
        ("py", "python"),
        ("c", "c"),
        ("cpp", "cpp"),
        ("c++", "cpp"),
        ("CXX", "cpp"),
    ],
)
def test_language_aliases(name: str, lang: str) -> None:
    assert get_language(name).id == lang


def test_unknown_language_lists_available() -> None:
    with pytest.raises(InvalidRequest, match=r"available: .*cpp.*python"):
        get_language("cobol")


@pytest.mark.parametrize("lang", ["python", "c", "cpp"])
def test_hello_world(toolchain: Toolchain, lang: str) -> None:
    program = toolchain.prepare(lang, HELLO[lang])
    assert program.ok
    r = program.run(stdin="world\n")
    assert (r.exit_code, r.stdout) == (0, b"hello world\n"), r
    assert program.run(stdin="again").stdout == b"hello again\n"


@pytest.mark.parametrize("lang", ["c", "cpp"])
def test_compile_error_is_a_result(toolchain: Toolchain, lang: str) -> None:
    program = toolchain.prepare(lang, "int main( {\n")
    assert not program.ok
    assert program.compile_result is not None
    assert program.compile_result.details == {"stage": "compile", "compile_error": True}
    assert b"error" in program.compile_result.stderr
    r = program.run()
    assert r is program.compile_result and not r.ok


def test_compile_reads_no_host_files(toolchain: Toolchain) -> None:
    program = toolchain.prepare("c", '#include "/etc/shadow"\nint main(void){return 0;}\n')
    assert not program.ok
    assert program.compile_result is not None
    assert b"No such file" in program.compile_result.stderr


@pytest.mark.parametrize("lang", ["c", "cpp"])
def test_compile_cache_hit(backend: BwrapBackend, shared_dir: Path, lang: str) -> None:
    first = Toolchain(backend, shared_dir / "cache")
    a = first.prepare(lang, HELLO[lang])
    b = first.prepare(lang, HELLO[lang])
    assert (a.cache_hit, b.cache_hit) == (False, True)
    assert (first.hits, first.misses) == (1, 1)
    assert b.compile_result is None
    # Another process (a fresh Toolchain on the same dir) hits the on-disk cache too.
    second = Toolchain(backend, shared_dir / "cache")
    c = second.prepare(lang, HELLO[lang])
    assert c.cache_hit and (second.hits, second.misses) == (1, 0)
    assert c.run(stdin="cached").stdout == b"hello cached\n"
    # A different source or flag set is a different key.
    assert not first.prepare(lang, HELLO[lang] + "\n").cache_hit
    assert len(list((shared_dir / "cache").iterdir())) == 2


def test_runtime_crash_and_limits_in_compiled_program(toolchain: Toolchain) -> None:
    crash = toolchain.prepare("c", "int main(void){volatile int *p = 0; return *p;}\n")
    assert crash.ok and crash.run().exit_code == -11
    loop = toolchain.prepare("c", "int main(void){for(;;);}\n")
    r = loop.run(limits=Limits(wall_s=0.5))
    assert r.timed_out


def test_run_one_shot(toolchain: Toolchain) -> None:
    r = toolchain.run("cpp", HELLO["cpp"], stdin="once")
    assert r.stdout == b"hello once\n"
    bad = toolchain.run("c", "nonsense")
    assert bad.details["stage"] == "compile" and not bad.ok


def test_untrusted_cache_dir_refused(backend: BwrapBackend, shared_dir: Path) -> None:
    cache = shared_dir / "open-cache"
    cache.mkdir()
    os.chmod(cache, 0o777)
    with pytest.raises(SandboxError, match="writable by no one else"):
        Toolchain(backend, cache).prepare("c", HELLO["c"])
    assert Toolchain(backend, cache).prepare("python", HELLO["python"]).ok  # nothing cached


def test_compile_cache_evicts_least_recently_used(backend: BwrapBackend, shared_dir: Path) -> None:
    cache = shared_dir / "small-cache"
    toolchain = Toolchain(backend, cache, max_cache_bytes=1)  # any second binary is too many
    old = toolchain.prepare("c", HELLO["c"])
    binary = cache / toolchain.cache_key(get_language("c"), HELLO["c"].encode())
    os.utime(binary, (0, 0))  # last used long ago, past the grace period
    new = toolchain.prepare("c", HELLO["c"] + "\n")
    assert old.ok and new.ok
    assert not binary.exists()
    assert [p.name for p in cache.iterdir()] == [
        toolchain.cache_key(get_language("c"), (HELLO["c"] + "\n").encode())
    ]
    # Binaries used within the grace period stay, even over the cap: one may be mounting.
    toolchain.prepare("c", HELLO["c"] + "\n\n")
    assert len(list(cache.iterdir())) == 2
    assert new.run(stdin="still").stdout == b"hello still\n"
