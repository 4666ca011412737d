"""Verdict fingerprints: everything a verifier's verdict depends on besides the request.

A cached verdict is only as fresh as the code and tools that judged it. A hand-bumped
`version` misses most changes (a fix in a module, a sympy upgrade, a new compiler in
the sandbox image), so the cache keys on a fingerprint of:

- the verifier's `version`;
- a digest of its own source files, including the files it ships into sandboxes, and of
  the packages it names in `source_packages` (the sandbox package for code runs);
- the versions of the tools that judge, read the way the judge sees them: Python
  packages from their installed metadata, Debian packages with `dpkg-query` (the bwrap
  sandbox runs the host's toolchains read-only), the docker image id on the docker
  backend, Chromium's own `--version`.

Each part is computed on first use and memoised per process, so no compiler or browser
starts at boot; a fingerprint is a short hex digest, stable across processes and hosts
with the same install.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "combine",
    "debian_versions",
    "digest",
    "package_versions",
    "source_digest",
]

_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def digest(parts: Mapping[str, object]) -> str:
    """A short, stable hex digest of JSON-able parts (sorted, so order does not matter)."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:24]


def combine(fingerprints: Iterable[str]) -> str:
    """One fingerprint for several (a composite's children), in their order."""
    return hashlib.sha256("\n".join(fingerprints).encode()).hexdigest()[:24]


@lru_cache(maxsize=64)
def source_digest(module: str) -> str:
    """SHA-256 over the files of `module`: a package's whole folder, or one module's file.

    Every file counts, not only `.py`: a harness, a runner or a Dockerfile shipped into a
    sandbox changes verdicts as much as the code that ships it.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return "absent"
    origin = Path(spec.origin)
    if spec.submodule_search_locations:
        root = origin.parent
        files = sorted(
            path
            for path in root.rglob("*")
            if path.is_file()
            and "__pycache__" not in path.parts
            and not path.name.endswith(_SKIPPED_SUFFIXES)
        )
    else:
        root, files = origin.parent, [origin]
    sha = hashlib.sha256()
    for path in files:
        sha.update(str(path.relative_to(root)).encode() + b"\0")
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()[:24]


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of Python distributions ("absent" for one not installed)."""
    return {name: _package_version(name) for name in names}


@lru_cache(maxsize=256)
def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def debian_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of Debian packages, as the bwrap sandbox sees the host's /usr."""
    return dict(_debian_versions(tuple(sorted(set(names)))))


@lru_cache(maxsize=32)
def _debian_versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *names],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return tuple((name, "unknown") for name in names)
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    return tuple((name, found.get(name, "absent")) for name in names)


@lru_cache(maxsize=8)
def command_version(*argv: str) -> str:
    """The first line a tool prints for its version (`chromium --version`), or why not."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable: {type(exc).__name__}"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else f"exit {done.returncode}"
