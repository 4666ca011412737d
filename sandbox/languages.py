"""Languages a program may be written in: how to build it and how to run it.

Python and JavaScript (Node) run from source; C, C++, Java, Rust and Go compile in a
sandbox of their own (compiling hostile source is hostile too: `#include "/etc/shadow"`),
the build output (a binary, or for Java an executable jar) comes back over the channel
fd, and is cached on the host under the SHA-256 of (language, build command, source), so
the second compile of the same source is a cache hit. The cached output is mounted
read-only at `/prog` in each run. A compile error is a result
(`Program.compile_result`), never an exception.

Ids follow SandboxFusion's (`python`, `cpp`, `nodejs`, `java`, `rust`, `go`) plus `c`,
with common aliases; `canonical_language` is the one table every endpoint reads, and
names each of SandboxFusion's other ids (`go_test`, `junit`, `php`, `R`, `D_ut`, ...)
as known here but without a toolchain, rather than as unknown. `SANDBOX_FUSION` holds
SandboxFusion's own build and run commands for `/run_code` (C++ `-std=c++17` without
`-O2`, Rust without an edition flag or `-O`, Java saved as `Main.java` and run with
assertions on), so a program answers there as it does on SandboxFusion; the verifiers
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
import hashlib
import os
import re
import secrets
import shlex
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.sandbox.api import Backend, ExecResult, Limits, Mount
from rewardgate.verifiers.errors import InvalidRequest, SandboxError

__all__ = [
    "COMPILE_LIMITS",
    "LANGUAGES",
    "SANDBOX_FUSION",
    "SANDBOX_FUSION_IDS",
    "Language",
    "Program",
    "Toolchain",
    "canonical_language",
    "get_language",
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
            build=(
                "mkdir -p .classes && javac -J-XX:+UseSerialGC -encoding UTF-8 -nowarn "
                "-d .classes {src} && jar --create --file prog --main-class {main} "
                "-C .classes ."
            ),
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
        build=(
            "mkdir -p .classes && javac -J-XX:+UseSerialGC -encoding UTF-8 -nowarn "
            "-d .classes {src} && jar --create --file prog --main-class {main} "
            "-C .classes ."
        ),
        address_space_limit=False,
        name_by_class=False,
    ),
    "rust": Language(
        "rust", LANGUAGES["rust"].aliases, "main.rs", (BINARY_PATH,), ("rustc",),
        build="rustc -o prog {src}",
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
            return Program(lang, self.backend, lang.run_argv, {lang.source_name: src})
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
        if lang.id == "java" and lang.name_by_class:
            source_name, main = java_names(src.decode("utf-8", "replace"))
        if lang.build:
            script = lang.build.format(src=shlex.quote(source_name), main=shlex.quote(main))
        else:
            cmd = [*lang.compiler, *lang.flags, "-o", "prog", source_name, *lang.link_flags]
            script = " ".join(cmd)
        script += " && cat prog >&3"
        result = self.backend.run(
            ["sh", "-c", script],
            {source_name: src},
            limits=self.compile_limits,
            channel=True,
        )
        result.details["stage"] = "compile"
        if result.ok and (result.truncated or not result.channel):
            result.exit_code = 1
            result.stderr += b"\nrewardgate: compiled binary missing or over the size limit\n"
        if not result.ok:
            result.details["compile_error"] = True
        return result

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
