"""Languages a program may be written in: how to build it and how to run it.

Python, JavaScript (Node) and the scripted languages (bash, PHP, Lua, Perl, Ruby, R,
Racket, pytest files) run from source; C, C++, Java, Rust, Go, TypeScript, C#, D,
Scala, Kotlin, Verilog and Go test files compile in a sandbox of their own (compiling
hostile source is hostile too: `#include "/etc/shadow"`), the build output (a binary,
a jar, a JavaScript file, a Mono assembly or a vvp script) comes back over the channel
fd, and is cached on the host under the SHA-256 of (language, build command, source), so
the second compile of the same source is a cache hit. The cached output is mounted
read-only at `/prog` in each run. A compile error is a result
(`Program.compile_result`), never an exception.

Ids follow SandboxFusion's (`python`, `cpp`, `nodejs`, `java`, `rust`, `go`, `php`,
`R`, `D_ut`, ...) plus `c` and `d`, with common aliases; `canonical_language` is the
one table every endpoint reads, and names each of SandboxFusion's other ids (`julia`,
`swift`, `lean`, ...) as known here but without a toolchain, rather than as unknown.
`SANDBOX_FUSION` holds SandboxFusion's own build and run commands for `/run_code` (C++
`-std=c++17` without `-O2`, Rust without an edition flag or `-O`, Java saved as
`Main.java` and run with assertions on, Verilog's VerilogEval flags), so a program
answers there as it does on SandboxFusion; the verifiers
keep `LANGUAGES`' commands. Java's class-name convention: the source is saved as `X.java` when
it declares `public class X` (else `Main.java`), and the jar runs the class that
declares `main` (the last class opened before `static void main`, else `Main`). The
JVM, Go and Node reserve far more address space than they use, so their runs must not
get an RLIMIT_AS (`Language.address_space_limit` is False): the run's cgroup memory
limit bounds them instead.

Typical use by a verifier::

    toolchain = Toolchain(get_backend())
    program = toolchain.prepare("cpp", source)
    if not program.ok:
        ...  # program.compile_result.stderr says why
    for case in cases:
        result = program.run(stdin=case.input, limits=Limits(wall_s=2))
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.contract.errors import InvalidRequest, SandboxError
from rewardgate.sandbox import jest_runtime
from rewardgate.sandbox.api import Backend, ExecResult, Limits, Mount
from rewardgate.sandbox.luaunit import LUAUNIT

__all__ = [
    "COMPILE_LIMITS",
    "LANGUAGES",
    "LUAUNIT",
    "NODE_DECLARATIONS",
    "SANDBOX_FUSION",
    "SANDBOX_FUSION_IDS",
    "SCRIPT_TOOLCHAINS",
    "Language",
    "Program",
    "Toolchain",
    "canonical_language",
    "get_language",
    "toolchain_health",
]

COMPILE_LIMITS = Limits(
    wall_s=30.0,
    cpu_s=30.0,
    memory_mb=1024,
    processes=64,  # javac and go build run many threads
    open_files=256,
    file_size_mb=64,
    output_bytes=64 << 20,  # the binary travels over the channel
)
BINARY_PATH = "/prog"
# javatuples on Java's class path (MultiPL-E's Java tests import it; SandboxFusion has
# it): javac sees it, and the jar's manifest names it for the run.
JAVATUPLES = "/usr/share/java/javatuples.jar"
JUNIT = "/usr/share/java/junit-platform-console-standalone.jar"
JAVA_BUILD = (
    f"mkdir -p .classes && javac -J-XX:+UseSerialGC -encoding UTF-8 -nowarn -cp {JAVATUPLES} "
    "-d .classes {src} && "
    f"printf 'Class-Path: {JAVATUPLES}\\n' >.manifest && "
    "jar --create --file prog --main-class {main} --manifest .manifest -C .classes ."
)
SCALA_LIBRARY = "/usr/share/scala-2.11/lib/scala-library.jar"
LUA_SUPPORT = (("luaunit.lua", LUAUNIT),)
KOTLIN_SCRIPT_RUNTIME = (
    "/usr/share/java/kotlin-stdlib.jar /usr/share/java/kotlin-script-runtime.jar"
)
# A Verilog source whose first line is `// rewardgate-roots: tb other` elaborates only
# those root modules (`-s tb -s other`): the function tests' testbench, so that a
# response's own unused modules (an `initial $finish`) never run.
VERILOG_ROOTS = (
    "$(sed -nE '1s/^\\/\\/ rewardgate-roots:(( [A-Za-z_][A-Za-z0-9_]*)+)$/\\1/p' {src} "
    "| sed -E 's/[A-Za-z_][A-Za-z0-9_]*/-s &/g')"
)
# Node's globals for tsc, all `any`, and any module (`import * as fs from "fs"`) as `any`.
NODE_DECLARATIONS = """\
declare var require: any;
declare var process: any;
declare var module: any;
declare var exports: any;
declare var Buffer: any;
declare var __dirname: string;
declare var __filename: string;
declare var console: any;
declare var global: any;
declare function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function clearTimeout(handle: any): void;
declare function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): any;
declare function clearInterval(handle: any): void;
declare function setImmediate(callback: (...args: any[]) => void, ...args: any[]): any;
declare function queueMicrotask(callback: () => void): void;
declare module "*";
"""
# The Debian packages of the languages added after the first seven (their versions are
# part of the code verifier's verdict fingerprint on bwrap).
SCRIPT_TOOLCHAINS = (
    "bash",
    "php8.2-cli",
    "lua5.4",
    "perl",
    "libtest-deep-perl",
    "ruby3.1",
    "ruby-test-unit",
    "r-base-core",
    "node-typescript",
    "racket",
    "mono-mcs",
    "mono-runtime",
    "gdc-12",
    "scala",
    "kotlin",
    "iverilog",
    "python3-pytest",
    "golang-github-stretchr-testify-dev",
    "libjavatuples-java",
    "junit5",
)
# A binary used this recently is never evicted: a worker may be about to mount it.
EVICT_GRACE_S = 600.0


@dataclass(frozen=True)
class Language:
    id: str
    aliases: tuple[str, ...]
    source_name: str
    run_argv: tuple[str, ...]
    # The compiler and its flags; None for interpreted languages.
    compiler: tuple[str, ...] | None = None
    flags: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = ()
    # A shell build command instead of `compiler flags -o prog source link_flags`:
    # {src} is the source file, {main} Java's main class; it must leave `prog`.
    build: str = ""
    # False where RLIMIT_AS breaks the runtime (JVM, Go, V8): cgroup memory only.
    address_space_limit: bool = True
    # Java: name the file after its public class (else Main.java) and run the class
    # that declares main; False: always Main.java and class Main, as SandboxFusion does.
    name_by_class: bool = True
    # Files beside the source: of an interpreted program's run (Lua's luaunit, which
    # Debian lacks and MultiPL-E's Lua tests require), or of a build (TypeScript's
    # declarations of Node's globals: Debian has no @types/node).
    support: tuple[tuple[str, str], ...] = ()
    # At least this many open files: R refuses to start under about 170.
    open_files: int = 64
    # At least this many seconds for a build (scalac and kotlinc start a JVM and load
    # their compiler: tens of seconds on a busy machine).
    compile_wall_s: float = 0.0
    # Where runs see a read-only runtime directory (jest's packages): bwrap mounts the
    # host's (`runtime_source`), docker's image holds a copy at the same place.
    runtime_mount: str = ""


LANGUAGES: dict[str, Language] = {
    lang.id: lang
    for lang in (
        Language("python", ("python3", "py"), "main.py", ("python3", "main.py")),
        Language("c", (), "main.c", (BINARY_PATH,), ("gcc",), ("-O2", "-std=gnu17"), ("-lm",)),
        Language(
            "cpp", ("c++", "cxx"), "main.cpp", (BINARY_PATH,), ("g++",), ("-O2", "-std=gnu++17")
        ),
        Language(
            "java",
            (),
            "Main.java",
            ("java", "-XX:+UseSerialGC", "-Xss64m", "-jar", BINARY_PATH),
            ("javac",),
            build=JAVA_BUILD,
            address_space_limit=False,
        ),
        Language(
            "nodejs",
            ("javascript", "js", "node"),
            "main.js",
            ("node", "--stack-size=65500", "main.js"),
            address_space_limit=False,
        ),
        Language(
            "rust",
            ("rs",),
            "main.rs",
            (BINARY_PATH,),
            ("rustc",),
            build="rustc --edition 2021 -O -o prog {src}",
        ),
        Language(
            "go",
            ("golang",),
            "main.go",
            (BINARY_PATH,),
            ("go",),
            build="GOCACHE=$HOME/.gocache GO111MODULE=off go build -o prog {src}",
            address_space_limit=False,
        ),
        Language("bash", ("sh", "shell"), "main.sh", ("bash", "main.sh")),
        Language("php", (), "main.php", ("php", "main.php")),
        Language("lua", (), "main.lua", ("lua5.4", "main.lua"), support=LUA_SUPPORT),
        Language("perl", ("pl",), "main.pl", ("perl", "main.pl")),
        Language("ruby", ("rb",), "main.rb", ("ruby", "main.rb")),
        # R maps more than a small limit at start (readRDS fails): cgroup memory only.
        Language(
            "r",
            ("rscript",),
            "main.R",
            ("Rscript", "--vanilla", "main.R"),
            address_space_limit=False,
            open_files=256,
        ),
        # Debian's tsc 4.8; a type error fails the build, as in MultiPL-E.
        Language(
            "typescript",
            ("ts",),
            "main.ts",
            ("node", "--stack-size=65500", BINARY_PATH),
            ("tsc",),
            # tsc reports on stdout: moved to stderr, where a compile error is read.
            build=(
                "tsc --target es2022 --lib es2022 --module commonjs --outDir .out {src} "
                "rewardgate-node.d.ts 1>&2 && mv .out/main.js prog"
            ),
            address_space_limit=False,
            support=(("rewardgate-node.d.ts", NODE_DECLARATIONS),),
        ),
        # Racket CS maps its heap beyond what it uses: cgroup memory only.
        Language("racket", ("rkt",), "main.rkt", ("racket", "main.rkt"), address_space_limit=False),
        # Mono's C# compiler (SandboxFusion uses dotnet); mcs reports on stdout.
        Language(
            "csharp",
            ("cs", "c#"),
            "main.cs",
            ("mono", BINARY_PATH),
            ("mcs",),
            # DEBUG keeps Debug.Assert; a function test's program names its entry class.
            build=(
                "mcs -d:DEBUG -optimize+ $(grep -qx 'static class RewardgateEntry {{' {src} "
                "&& echo -main:RewardgateEntry) -out:prog.exe {src} 1>&2 && mv prog.exe prog"
            ),
            address_space_limit=False,
        ),
        Language(
            "d", ("dlang",), "main.d", (BINARY_PATH,), ("gdc",), build="gdc -O2 -o prog {src}"
        ),
        # SandboxFusion's D_ut: the unittest blocks run (and not main; -fmain adds one if none).
        Language(
            "d_ut",
            (),
            "main.d",
            (BINARY_PATH,),
            ("gdc",),
            build="gdc -funittest -fmain -o prog {src}",
        ),
        # Scala 2.11 on JDK 17: the jar's manifest puts the Scala library on the class path.
        Language(
            "scala",
            (),
            "main.scala",
            ("java", "-XX:+UseSerialGC", "-Xss64m", "-jar", BINARY_PATH),
            ("scalac",),
            build=(
                "mkdir -p .classes && scalac -J-XX:+UseSerialGC -d .classes {src} 1>&2 && "
                f"printf 'Class-Path: {SCALA_LIBRARY}\\n' >.manifest && "
                "jar --create --file prog --main-class {main} --manifest .manifest -C .classes ."
            ),
            address_space_limit=False,
            compile_wall_s=180.0,
        ),
        Language(
            "kotlin",
            ("kt",),
            "main.kt",
            ("java", "-XX:+UseSerialGC", "-Xss64m", "-jar", BINARY_PATH),
            ("kotlinc",),
            build="kotlinc {src} -include-runtime -d prog.jar 1>&2 && mv prog.jar prog",
            address_space_limit=False,
            compile_wall_s=180.0,
        ),
        # SandboxFusion's test-runner ids: a pytest file (Debian's pytest), and a Go test
        # file built by `go test -c` in GOPATH mode with Debian's testify.
        Language(
            "pytest",
            (),
            "test_main.py",
            ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_main.py"),
        ),
        Language(
            "go_test",
            (),
            "main_test.go",
            (BINARY_PATH,),
            ("go",),
            build=(
                "GOCACHE=$HOME/.gocache GOPATH=/usr/share/gocode GO111MODULE=off "
                "go test -c -o prog {src}"
            ),
            address_space_limit=False,
            compile_wall_s=120.0,  # testify and its dependencies build from source
        ),
        # SandboxFusion's junit: JUnit 5 test classes, run by Debian's console launcher,
        # which scans only class-path entries named *.jar (hence the link).
        Language(
            "junit",
            (),
            "Main.java",
            (
                "sh",
                "-c",
                f"ln -s {BINARY_PATH} tests.jar && exec java -XX:+UseSerialGC -jar {JUNIT} "
                f"-cp tests.jar:{JAVATUPLES} --scan-classpath tests.jar --disable-banner "
                "--details=summary --fail-if-no-tests",
            ),
            ("javac",),
            build=(
                "mkdir -p .classes && javac -J-XX:+UseSerialGC -encoding UTF-8 -nowarn "
                f"-cp {JUNIT}:{JAVATUPLES} -d .classes {{src}} && jar --create --file prog "
                "-C .classes ."
            ),
            address_space_limit=False,
        ),
        # SandboxFusion's kotlin_script (`kotlin main.kts`, which Kotlin 1.3's runner cannot
        # do): the script compiles to a class `Main` whose constructor runs it, and a
        # launcher's main constructs it; the jar's manifest names the Kotlin runtime.
        Language(
            "kotlin_script",
            ("kts",),
            "main.kts",
            ("java", "-XX:+UseSerialGC", "-Xss64m", "-jar", BINARY_PATH),
            ("kotlinc",),
            build=(
                "kotlinc {src} rewardgate_script.kt -d .classes 1>&2 && "
                f"printf 'Class-Path: {KOTLIN_SCRIPT_RUNTIME}\\n' >.manifest && "
                "jar --create --file prog --main-class Rewardgate_scriptKt --manifest .manifest "
                "-C .classes ."
            ),
            address_space_limit=False,
            support=(("rewardgate_script.kt", "fun main(args: Array<String>) { Main(args) }\n"),),
            compile_wall_s=180.0,
        ),
        # SandboxFusion's jest: a TypeScript test file run by jest (sandbox/jest_runtime.py).
        Language(
            "jest",
            (),
            "main.test.ts",
            ("sh", "-c", jest_runtime.RUN_SCRIPT),
            address_space_limit=False,
            support=jest_runtime.SUPPORT,
            open_files=256,
            runtime_mount=jest_runtime.JEST_MOUNT,
        ),
        # Icarus Verilog: the build is a vvp script, run non-interactively ($stop ends it).
        Language(
            "verilog",
            ("v", "iverilog"),
            "main.v",
            ("vvp", "-n", BINARY_PATH),
            ("iverilog",),
            build=f"iverilog -g2012 {VERILOG_ROOTS} -o prog {{src}}",
        ),
    )
}
# SandboxFusion's language ids (sandbox/runners/types.py `Language`, and the runner
# table's `js` and `ts`; its client package adds python2, gtest and react), case as it
# spells them: R and D_ut are capitalised there.
SANDBOX_FUSION_IDS: tuple[str, ...] = (
    "python", "cpp", "nodejs", "go", "go_test", "java", "php", "csharp", "bash",
    "typescript", "sql", "rust", "cuda", "lua", "R", "perl", "D_ut", "ruby", "scala",
    "julia", "pytest", "junit", "kotlin_script", "jest", "verilog", "python_gpu", "lean",
    "swift", "racket", "js", "ts", "python2", "gtest", "react",
)  # fmt: skip

# SandboxFusion's commands (sandbox/runners/major.py) where they differ from ours.
SANDBOX_FUSION: dict[str, Language] = {
    "cpp": Language(
        "cpp", LANGUAGES["cpp"].aliases, "main.cpp", (BINARY_PATH,), ("g++",), ("-std=c++17",),
        ("-lpthread",),
    ),
    "java": Language(
        "java",
        (),
        "Main.java",
        ("java", "-XX:+UseSerialGC", "-ea", "-jar", BINARY_PATH),
        ("javac",),
        build=JAVA_BUILD,
        address_space_limit=False,
        name_by_class=False,
    ),
    "rust": Language(
        "rust", LANGUAGES["rust"].aliases, "main.rs", (BINARY_PATH,), ("rustc",),
        build="rustc -o prog {src}",
    ),
    # VerilogEval's build (SandboxFusion's runner): SystemVerilog, the testbench `tb` the
    # only root; a program without a `tb` (which SandboxFusion fails) keeps its own roots.
    "verilog": Language(
        "verilog", LANGUAGES["verilog"].aliases, "main.v", ("vvp", "-n", BINARY_PATH),
        ("iverilog",),
        build=(
            "iverilog -Wall -Winfloop -Wno-timescale -g2012 "
            "$(grep -qE '^[[:space:]]*module[[:space:]]+tb[[:space:]]*[(;#]' {src} && echo -s tb) "
            "-o prog {src}"
        ),
    ),
}  # fmt: skip

_JAVA_PUBLIC = re.compile(r"^\s*public\s+(?:(?:final|abstract|strictfp)\s+)*class\s+(\w+)", re.M)
_JAVA_CLASS = re.compile(r"\b(?:class|interface|enum|record)\s+(\w+)")
_JAVA_MAIN = re.compile(r"\bstatic\s+(?:final\s+)?(?:public\s+)?void\s+main\s*\(")


def java_names(source: str) -> tuple[str, str]:
    """(source file name, main class) of a Java program, by the convention above."""
    public = _JAVA_PUBLIC.search(source)
    file_name = f"{public.group(1)}.java" if public else "Main.java"
    main = _JAVA_MAIN.search(source)
    classes = [m for m in _JAVA_CLASS.finditer(source) if main and m.start() < main.start()]
    main_class = classes[-1].group(1) if classes else "Main"
    return file_name, main_class


_SCALA_OBJECT = re.compile(r"\bobject\s+(\w+)")
_SCALA_MAIN = re.compile(r"\bdef\s+main\s*\(")


def scala_main(source: str) -> str:
    """The object whose `main` runs: the last one opened before `def main`, else Main."""
    main = _SCALA_MAIN.search(source)
    objects = [m for m in _SCALA_OBJECT.finditer(source) if main and m.start() < main.start()]
    return objects[-1].group(1) if objects else "Main"


_ALIASES: dict[str, str] = {
    name: lang.id for lang in LANGUAGES.values() for name in (lang.id, *lang.aliases)
} | {"py3": "python"}
_KNOWN = {name.lower(): name for name in SANDBOX_FUSION_IDS}


def canonical_language(name: str) -> str:
    """The id of the language called `name` or an alias (case-insensitive): one table
    for `/v1/rewards`, `/run_code` and the clients. A SandboxFusion id this server has
    no toolchain for, and an unknown name, raise `InvalidRequest` saying which it is."""
    key = name.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    available = ", ".join(sorted(LANGUAGES))
    if key in _KNOWN:
        raise InvalidRequest(
            f"language {_KNOWN[key]!r} (a SandboxFusion id) has no toolchain on this server; "
            f"available: {available} (aliases: {', '.join(sorted(set(_ALIASES) - set(LANGUAGES)))})"
        )
    raise InvalidRequest(f"unknown language {name!r}; available: {available}")


def runtime_source(lang: Language) -> Path:
    """The host directory bwrap mounts at `lang.runtime_mount`: jest's prefix, made by
    scripts/install-jest.sh (REWARDGATE_JEST_PREFIX, else build/jest in the checkout)."""
    configured = os.environ.get("REWARDGATE_JEST_PREFIX")
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "build/jest"


def toolchain_health() -> dict[str, str]:
    """`{"toolchain.<id>": "ok" or what is missing}` for bwrap, which runs each language's
    interpreter or compiler from the host's /usr (docker's are in its image), and mounts
    jest's prefix from the host."""
    report: dict[str, str] = {}
    for lang in LANGUAGES.values():
        if lang.runtime_mount:
            source = runtime_source(lang)
            installed = (source / "node_modules/jest/bin/jest.js").is_file()
            absent = f"{source} has no jest: run scripts/install-jest.sh"
            report[f"toolchain.{lang.id}"] = "ok" if installed else absent
            continue
        tool = (lang.compiler or lang.run_argv)[0]
        if tool.startswith("/"):  # a built program: the compiler is what must exist
            continue
        found = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin")
        missing = f"{tool} not found on the host (bwrap runs it from /usr)"
        report[f"toolchain.{lang.id}"] = "ok" if found else missing
    return report


def get_language(name: str, commands: str = "rewardgate") -> Language:
    """The language called `name` or one of its aliases (case-insensitive), with
    rewardgate's build commands or (`commands="sandbox_fusion"`) SandboxFusion's."""
    lang = LANGUAGES[canonical_language(name)]
    if commands == "sandbox_fusion":
        return SANDBOX_FUSION.get(lang.id, lang)
    return lang


@dataclass(frozen=True)
class Program:
    """A program ready to run: argv, the files it needs and the mounts of its build."""

    language: Language
    backend: Backend
    argv: tuple[str, ...]
    files: Mapping[str, bytes] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    compile_result: ExecResult | None = None
    cache_hit: bool = False

    @property
    def ok(self) -> bool:
        """False when the build failed; `compile_result` then says why."""
        return self.compile_result is None or self.compile_result.ok

    def run(
        self,
        stdin: bytes | str = b"",
        limits: Limits | None = None,
        *,
        files: Mapping[str, bytes | str] | None = None,
        args: Sequence[str] = (),
        channel: bool = False,
    ) -> ExecResult:
        """Run it once; a failed build returns the compile result (details: stage=compile)."""
        if not self.ok:
            assert self.compile_result is not None
            return self.compile_result
        merged: dict[str, bytes | str] = {**self.files, **(files or {})}
        return self.backend.run(
            [*self.argv, *args], merged, stdin, limits, mounts=self.mounts, channel=channel
        )


class Toolchain:
    """Builds programs on one backend, caching compiled binaries in `cache_dir`.

    `cache_dir` must be traversable by the sandbox uid (the default, under the system
    temp dir, is created 0755), since bwrap mounts the binary as that uid. Writes are
    atomic (temp file + rename), so worker processes can share the directory.
    `hits` and `misses` count this instance's cache lookups.

    The cache holds at most `max_cache_bytes`: after each build the least recently used
    binaries (a hit refreshes a binary's mtime) are removed, except those used in the
    last `EVICT_GRACE_S` seconds, which another worker may be about to mount.
    """

    def __init__(
        self,
        backend: Backend,
        cache_dir: Path | None = None,
        compile_limits: Limits = COMPILE_LIMITS,
        max_cache_bytes: int = 2 << 30,
    ) -> None:
        self.backend = backend
        self.max_cache_bytes = max_cache_bytes
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "rewardgate-compile-cache"
        self.compile_limits = compile_limits
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._checked = False

    def _check_cache_dir(self) -> None:
        """The cache is trusted: refuse one that someone else could have planted or edit."""
        if self._checked:
            return
        self.cache_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        st = self.cache_dir.stat()
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            raise SandboxError(
                f"compile cache {self.cache_dir} must be owned by uid {os.geteuid()} and "
                "writable by no one else; remove it or pick another cache_dir"
            )
        if not st.st_mode & 0o005:
            os.chmod(self.cache_dir, 0o755)  # the sandbox uid mounts binaries from it
        self._checked = True

    def cache_key(self, language: Language, source: bytes) -> str:
        h = hashlib.sha256()
        parts = (language.id, *(language.compiler or ()), *language.flags, language.build, "\0")
        parts = (*parts, *(text for _, text in language.support))
        if not language.name_by_class:  # same build, other file and main class
            parts = (*parts, "Main.java")
        for part in parts:
            h.update(part.encode() + b"\0")
        h.update(source)
        return h.hexdigest()

    def prepare(self, language: str | Language, source: str | bytes) -> Program:
        lang = language if isinstance(language, Language) else get_language(language)
        src = source.encode() if isinstance(source, str) else bytes(source)
        if lang.compiler is None:
            files = {name: text.encode() for name, text in lang.support}
            runtime: tuple[Mount, ...] = ()
            if lang.runtime_mount and self.backend.name != "docker":  # docker: in the image
                runtime = (Mount(runtime_source(lang), lang.runtime_mount),)
            return Program(
                lang, self.backend, lang.run_argv, {**files, lang.source_name: src}, runtime
            )
        self._check_cache_dir()
        key = self.cache_key(lang, src)
        binary = self.cache_dir / key
        mounts = (Mount(binary, BINARY_PATH),)
        if binary.exists():
            with contextlib.suppress(OSError):
                os.utime(binary)  # recently used: the last to be evicted
            with self._lock:
                self.hits += 1
            return Program(lang, self.backend, lang.run_argv, mounts=mounts, cache_hit=True)
        with self._lock:
            self.misses += 1
        result = self._compile(lang, src)
        if not result.ok:
            return Program(lang, self.backend, lang.run_argv, compile_result=result)
        self._store(binary, result.channel or b"")
        self._evict()
        result.channel = None  # the binary now lives in the cache
        return Program(lang, self.backend, lang.run_argv, mounts=mounts, compile_result=result)

    def run(
        self,
        language: str | Language,
        source: str | bytes,
        stdin: bytes | str = b"",
        limits: Limits | None = None,
        *,
        files: Mapping[str, bytes | str] | None = None,
        args: Sequence[str] = (),
    ) -> ExecResult:
        """Build (or reuse) and run once: the compile result if the build failed."""
        return self.prepare(language, source).run(stdin, limits, files=files, args=args)

    def _compile(self, lang: Language, src: bytes) -> ExecResult:
        assert lang.compiler is not None
        source_name, main = lang.source_name, "Main"
        if lang.id in ("java", "junit") and lang.name_by_class:
            source_name, main = java_names(src.decode("utf-8", "replace"))
        elif lang.id == "scala":
            main = scala_main(src.decode("utf-8", "replace"))
        if lang.build:
            script = lang.build.format(src=shlex.quote(source_name), main=shlex.quote(main))
        else:
            cmd = [*lang.compiler, *lang.flags, "-o", "prog", source_name, *lang.link_flags]
            script = " ".join(cmd)
        script += " && cat prog >&3"
        support = {name: text.encode() for name, text in lang.support}
        result = self.backend.run(
            ["sh", "-c", script],
            {**support, source_name: src},
            limits=self._compile_limits(lang),
            channel=True,
        )
        result.details["stage"] = "compile"
        if result.ok and (result.truncated or not result.channel):
            result.exit_code = 1
            result.stderr += b"\nrewardgate: compiled binary missing or over the size limit\n"
        if not result.ok:
            result.details["compile_error"] = True
        return result

    def _compile_limits(self, lang: Language) -> Limits:
        wall = max(self.compile_limits.wall_s, lang.compile_wall_s)
        cpu = max(self.compile_limits.cpu_s or wall, lang.compile_wall_s)
        return dataclasses.replace(self.compile_limits, wall_s=wall, cpu_s=cpu)

    def _evict(self) -> None:
        entries = []
        for entry in os.scandir(self.cache_dir):
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                entries.append((st.st_mtime, st.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_cache_bytes:
            return
        cutoff = time.time() - EVICT_GRACE_S
        for mtime, size, path in sorted(entries):
            if total <= self.max_cache_bytes * 0.8 or mtime > cutoff:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                total -= size

    def _store(self, binary: Path, data: bytes) -> None:
        tmp = self.cache_dir / f".{binary.name}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o755)
            os.replace(tmp, binary)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
