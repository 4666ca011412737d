"""The first lines every trusted script runs in a sandbox: this package, from memory.

The host starts each trusted script as `python3 -I -c SOURCE [args]`, SOURCE being this
file followed by one call, `start(SOURCES, TARGET)` (composed by
`rewardgate.sandbox.host_shipping`): SOURCES maps every module name of
`rewardgate.sandbox.inside` to its text. `start` puts a finder serving them first on
`sys.meta_path`, so `import rewardgate.sandbox.inside.channel` works in a sandbox that
holds no file of rewardgate, whatever its work dir holds (a program's files never
shadow it), in any image with a python3; then it runs TARGET:

- "module:NAME": `NAME.main()`, a server (`zygote`, `docker_launcher`, ...);
- "entry": the entry script named by the first argument, as `loader.run_entry` runs it
  (the way a warm server's fork runs it, so both paths behave the same).

Standard library only, and nothing else of this package: it is what makes it importable.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs milliseconds at start-up; only mypy needs it
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType


class ShippedModules:
    """A meta-path finder and loader of modules whose sources are held in memory."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name not in self.sources:
            return None
        from importlib.machinery import ModuleSpec

        package = any(other.startswith(name + ".") for other in self.sources)
        origin = "<shipped>/" + name.replace(".", "/") + ("/__init__.py" if package else ".py")
        spec = ModuleSpec(name, self, origin=origin, is_package=package)  # type: ignore[arg-type]
        spec.has_location = True  # __file__ set, so tracebacks show the lines
        return spec

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self.sources[module.__name__], module.__file__ or "", "exec"), module.__dict__)

    def get_source(self, name: str) -> str | None:
        return self.sources.get(name)


def install(sources: dict[str, str]) -> None:
    sys.meta_path.insert(0, ShippedModules(sources))


def start(sources: dict[str, str], target: str) -> None:
    """Make `sources` importable, run `target` (see the module docstring), exit."""
    install(sources)
    kind, _, name = target.partition(":")
    if kind == "module":
        import importlib

        code = importlib.import_module(name).main()
    else:
        from rewardgate.sandbox.inside import loader

        code = loader.run_entry(sys.argv[1])
    raise SystemExit(code)
