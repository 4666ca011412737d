"""Matplotlib instrumented as ChartMimic's evaluators instrument it; runs inside the sandbox.

Shipped as text and loaded by runner.py (never imported by the service; it must not
import rewardgate). It runs in the chart script's own process, so what it records is
the script's to tamper with: the host treats the record as untrusted plain data.

What is recorded, after ChartMimic (github.com/ChartMimic/ChartMimic,
chart2code/utils/evaluator/):

* texts (`text_evaluator.py`): every string the renderer draws (ChartMimic wraps
  `RendererPdf.draw_text`; here `RendererAgg.draw_text`, the figure is saved as PNG),
  one entry per drawn line. ChartMimic's scores delete the ticks before saving
  (`use_axs=False`), so tick labels and axis offset texts are left out here too.
* layout (`layout_evaluator.py`): for each axes with a subplot spec, its grid's rows and
  columns and the rows and columns it spans (axes placed by `add_axes` have none).
* chart types (`chart_type_evaluator_prefix.py`): how often each plotting function is
  called, the outermost call only (`hist` drawing bars counts as `hist`). Polar `plot`
  and the 3-D methods are told apart (ChartMimic keys them by their source file).
  Beyond ChartMimic's list: `pcolormesh`, `hexbin`, `hist2d`, `streamplot`, `barbs`,
  `eventplot`, `stairs` (ChartMimic's list misses them entirely).
* colours (`color_evaluator_prefix.py`): per plotting call, the colours of what it
  drew, read when the figure is saved (ChartMimic's `update_drawed_colors`), as
  `#RRGGBB` (alpha dropped) or a colormap's name where a colormap paints it; the
  pairs (type, colour) are de-duplicated. Filtering and matching happen on the host.

Only calls on the saved figure's axes count (ChartMimic counts every figure's).
The script's `savefig` and `show` write no file: the harness renders that figure as it
is at that moment (the last one wins, so a script may close or clear it after); a
script that never saves has its current figure rendered when it ends.
"""

from __future__ import annotations

import base64
import io
import os
import random
import sys

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

MAX_TEXTS = 5000
MAX_TEXT_CHARS = 300
MAX_CALLS = 20000
MAX_SIDE_PX = 4096  # a huge figure is saved at a lower dpi, not as a huge image

# ChartMimic's chart types: Axes methods (key: the method's name)...
AXES_TYPES = (
    "bar", "barh", "plot", "axhline", "axvline", "axvspan", "axhspan", "hlines", "vlines",
    "errorbar", "boxplot", "violinplot", "violin", "hist", "fill_between", "fill_betweenx",
    "scatter", "quiver", "pie", "fill", "imshow", "pcolor", "contour", "contourf",
    "broken_barh", "tripcolor",
)  # fmt: skip
# ... the ones ChartMimic misses (their drawing goes through no method above) ...
EXTRA_TYPES = ("pcolormesh", "hexbin", "hist2d", "streamplot", "barbs", "eventplot", "stairs")
# ... 3-D axes' own methods (key "3d.<name>"), polar plot ("polar.plot"), and patches
# whose construction ChartMimic counts (key: the class name).
AXES3D_TYPES = ("scatter", "plot", "plot_surface", "bar3d", "bar", "add_collection3d")
PATCH_TYPES = ("Ellipse", "Circle")
CMAP_TYPES = {"imshow", "pcolor", "contour", "contourf", "tripcolor", "pcolormesh", "hexbin"}


class Recorder:
    """The calls, texts and captured chart of one script run."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.depth = 0
        # (type key, figure or None, result, cmap given as an argument)
        self.calls: list[tuple[str, Any, Any, Any]] = []
        self.texts: list[tuple[str, float, float, int]] = []
        self.recording = False
        self.savefig: Any = None  # matplotlib's own, for the harness
        self.captured: dict[str, Any] | None = None  # the result to send

    def capture(self, figure: Any) -> None:
        """Render `figure` now and keep the result (a failure too): never raises."""
        self.depth += 1  # drawing is not the script's plotting
        try:
            png, dpi = save(self, figure)
            record = record_of(self, figure)
        except MemoryError:
            self.captured = {"error": "memory_limit", "message": "MemoryError while saving"}
        except Exception as exc:
            self.captured = {"error": "render_failed", "message": f"{type(exc).__name__}: {exc}"}
        else:
            record["dpi"] = dpi
            self.captured = {"png": base64.b64encode(png).decode(), "record": record}
        finally:
            self.depth -= 1

    def wrap(self, key: str, func: Any, patch_init: bool = False) -> Any:
        recorder = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if recorder.depth:
                return func(*args, **kwargs)
            recorder.depth += 1
            try:
                result = func(*args, **kwargs)
            finally:
                recorder.depth -= 1
            if len(recorder.calls) < MAX_CALLS:
                owner = args[0] if args else None
                figure = None if patch_init else getattr(owner, "figure", None)
                drawn = owner if patch_init else result
                recorder.calls.append((key, figure, drawn, kwargs.get("cmap")))
            return result

        wrapper.__name__ = getattr(func, "__name__", key)
        wrapper.__doc__ = getattr(func, "__doc__", None)
        return wrapper

    def silence(self, func: Any) -> Any:
        """`func` draws with plotting methods that are not the script's own calls."""
        recorder = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder.depth += 1
            try:
                return func(*args, **kwargs)
            finally:
                recorder.depth -= 1

        return wrapper


def install(recorder: Recorder) -> None:
    """Patch matplotlib for the script's run."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib import patches
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.colorbar import Colorbar
    from matplotlib.figure import Figure
    from matplotlib.image import NonUniformImage
    from matplotlib.projections.polar import PolarAxes
    from mpl_toolkits.mplot3d import Axes3D

    recorder.savefig = Figure.savefig
    for name in (*AXES_TYPES, *EXTRA_TYPES):
        setattr(Axes, name, recorder.wrap(name, getattr(Axes, name)))
    PolarAxes.plot = recorder.wrap("polar.plot", Axes.plot)
    for name in AXES3D_TYPES:
        setattr(Axes3D, name, recorder.wrap(f"3d.{name}", Axes3D.__dict__[name]))
    for name in PATCH_TYPES:
        cls = getattr(patches, name)
        cls.__init__ = recorder.wrap(name, cls.__init__, patch_init=True)
    NonUniformImage.__init__ = recorder.wrap(
        "NonUniformImage", NonUniformImage.__init__, patch_init=True
    )
    # A colorbar paints itself with pcolormesh: part of the colorbar, not a chart.
    Colorbar._draw_all = recorder.silence(Colorbar._draw_all)

    draw_text = RendererAgg.draw_text

    def logged_draw_text(
        self: Any, gc: Any, x: float, y: float, s: str, *args: Any, **kwargs: Any
    ) -> Any:
        if recorder.recording and len(recorder.texts) < MAX_TEXTS:
            mtext = kwargs.get("mtext", args[3] if len(args) > 3 else None)
            width, height = max(self.width, 1), max(self.height, 1)
            text = str(s)[:MAX_TEXT_CHARS]
            recorder.texts.append((text, x / width, y / height, id(mtext) if mtext else 0))
        return draw_text(self, gc, x, y, s, *args, **kwargs)

    RendererAgg.draw_text = logged_draw_text

    def savefig(self: Any, *args: Any, **kwargs: Any) -> None:
        recorder.capture(self)  # the harness saves it; the script writes no file

    def show(*args: Any, **kwargs: Any) -> None:
        if plt.get_fignums():
            recorder.capture(plt.gcf())

    Figure.savefig = savefig
    plt.show = show
    # The backend is the harness's: a script asking for another keeps Agg.
    matplotlib.use = lambda *args, **kwargs: None
    plt.switch_backend = lambda *args, **kwargs: None


def prepare(job: dict[str, Any]) -> None:
    """Fixed defaults for every run: Agg, the job's figure size and dpi, seeded RNGs."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    plt.switch_backend("Agg")  # resolved now: `install` turns switching off for the script
    plt.rcdefaults()
    matplotlib.rcParams["figure.figsize"] = list(job["figsize"])
    matplotlib.rcParams["figure.dpi"] = job["dpi"]
    matplotlib.rcParams["savefig.dpi"] = job["dpi"]
    random.seed(job["seed"])
    np.random.seed(job["seed"])


def to_hex(color: Any) -> str | None:
    """ChartMimic's `convert_color_to_hex`: `#RRGGBB`, alpha dropped; None if not a colour."""
    import matplotlib.colors as mcolors

    try:
        return str(mcolors.to_hex(mcolors.to_rgba(color))).upper()
    except (ValueError, TypeError):
        return None


def cmap_name(cmap: Any) -> str | None:
    if isinstance(cmap, str):
        return cmap
    name = getattr(cmap, "name", None)
    return name if isinstance(name, str) else None


def _facecolors(obj: Any) -> list[Any]:
    """Each face colour of a collection (an (N, 4) array), or of a single patch."""
    getter = getattr(obj, "get_facecolors", None) or obj.get_facecolor
    colors = getter()
    if len(colors) and not hasattr(colors[0], "__len__"):
        return [colors]  # one RGBA tuple
    return list(colors)


def _flatten_patches(items: Any) -> list[Any]:
    found: list[Any] = []
    for item in items:
        found += [item] if hasattr(item, "get_facecolor") else _flatten_patches(item)
    return found


def raw_colours(key: str, drawn: Any, cmap_arg: Any) -> tuple[list[Any], list[str]]:
    """What a recorded call drew, as ChartMimic reads it: (colours, colormap names)."""
    base = key.rpartition(".")[2]
    if cmap_arg is not None and base in ("scatter", "plot_surface"):
        return [], [cmap_name(cmap_arg) or ""]
    if base == "hist2d":
        return [], [cmap_name(drawn[3].get_cmap()) or ""]
    if base in CMAP_TYPES or key == "NonUniformImage":
        return [], [cmap_name(drawn.get_cmap()) or ""]
    if base in ("plot", "axhline", "axvline"):
        return [line.get_color() for line in (drawn if isinstance(drawn, list) else [drawn])], []
    if base == "errorbar":
        return ([] if drawn.lines[0] is None else [drawn.lines[0].get_color()]), []
    if base in ("fill_between", "fill_betweenx") or key in ("scatter", "polar.scatter"):
        return _facecolors(drawn)[:1], []
    if base in ("bar", "barh") and key != "3d.bar":  # the colour asked for, before alpha
        return [getattr(p, "_original_facecolor", p.get_facecolor()) for p in drawn], []
    if base == "pie":
        return [wedge.get_facecolor() for wedge in drawn[0]], []
    if base in ("axvspan", "axhspan") or key in PATCH_TYPES:
        return [drawn.get_facecolor()], []
    if base in ("hlines", "vlines"):
        return list(drawn.get_edgecolors()), []
    if base == "boxplot":  # boxes are patches only with patch_artist=True
        from matplotlib.patches import PathPatch

        return [b.get_facecolor() for b in drawn["boxes"] if isinstance(b, PathPatch)], []
    if base == "violinplot":
        return [_facecolors(body)[0] for body in drawn["bodies"]], []
    if base == "hist":
        return [p.get_facecolor() for p in _flatten_patches(drawn[2])], []
    if base in ("quiver", "broken_barh", "add_collection3d") or key == "3d.scatter":
        return _facecolors(drawn), []
    if base == "fill" or key == "3d.bar":
        return [p.get_facecolor() for p in drawn], []
    if key in ("3d.plot_surface", "3d.bar3d"):
        return _facecolors(drawn)[:1], []
    return [], []


def colours_of(key: str, drawn: Any, cmap_arg: Any) -> list[str]:
    """The call's colours as `#RRGGBB` strings and colormap names."""
    try:
        colours, cmaps = raw_colours(key, drawn, cmap_arg)
    except Exception:  # an artist the script mangled: no readable colour
        return []
    found = [name for name in cmaps if name]
    for colour in colours:
        value = to_hex(colour)
        if value is not None:
            found.append(value)
    return found


def tick_text_ids(figure: Any) -> set[int]:
    """Tick labels and axis offset texts of every axes (ChartMimic deletes the ticks)."""
    ids: set[int] = set()
    for ax in figure.get_axes():
        for name in ("xaxis", "yaxis", "zaxis"):
            axis = getattr(ax, name, None)
            if axis is None:
                continue
            ids.add(id(axis.offsetText))
            for tick in (*axis.majorTicks, *axis.minorTicks):
                ids.update((id(tick.label1), id(tick.label2)))
    return ids


def layout_of(figure: Any) -> list[list[int]]:
    layout = []
    for ax in figure.get_axes():
        get_spec = getattr(ax, "get_subplotspec", None)
        spec = get_spec() if get_spec is not None else None
        if spec is None:
            continue
        nrows, ncols = spec.get_gridspec().get_geometry()
        rows, cols = spec.rowspan, spec.colspan
        layout.append([nrows, ncols, rows.start, rows.stop - 1, cols.start, cols.stop - 1])
    return layout


def save(recorder: Recorder, figure: Any) -> Any:
    """Render `figure` to PNG at the job's dpi, recording the texts drawn: (png, dpi)."""
    width_in, height_in = (float(v) for v in figure.get_size_inches())
    if not (width_in > 0 and height_in > 0):
        raise ValueError(f"the figure has no area ({width_in} x {height_in} in)")
    dpi = min(float(recorder.job["dpi"]), MAX_SIDE_PX / max(width_in, height_in))
    buffer = io.BytesIO()
    recorder.texts.clear()
    recorder.recording = True
    try:
        recorder.savefig(figure, buffer, format="png", dpi=dpi)
    finally:
        recorder.recording = False
    return buffer.getvalue(), dpi


def record_of(recorder: Recorder, figure: Any) -> dict[str, Any]:
    ticks = tick_text_ids(figure)
    texts = [
        [s, round(x, 4), round(y, 4)] for s, x, y, mid in recorder.texts if s and mid not in ticks
    ]
    types: dict[str, int] = {}
    colours: set[tuple[str, str]] = set()
    for key, owner, drawn, cmap_arg in recorder.calls:
        if owner is not None and owner is not figure:
            continue
        types[key] = types.get(key, 0) + 1
        colours.update((key, colour) for colour in colours_of(key, drawn, cmap_arg))
    return {
        "texts": texts,
        "layout": layout_of(figure),
        "types": types,
        "colors": sorted([k, c] for k, c in colours),
    }


def run_script(source: str, job: dict[str, Any], send: Any) -> None:
    """Run the chart script, save its figure, `send` one result dict."""
    prepare(job)
    recorder = Recorder(job)
    install(recorder)
    try:
        code = compile(source, "chart.py", "exec")
    except (SyntaxError, ValueError) as exc:
        send({"error": "syntax_error", "message": f"{type(exc).__name__}: {exc}"})
        return
    namespace = {"__name__": "__main__", "__file__": os.path.abspath("chart.py")}
    try:
        exec(code, namespace)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            send({"error": "runtime_error", "message": f"SystemExit: {exc.code}"})
            return
    except MemoryError:
        send({"error": "memory_limit", "message": "MemoryError"})
        return
    except BaseException as exc:
        send({"error": "runtime_error", "message": _traceback(exc)})
        return
    if recorder.captured is None:
        import matplotlib.pyplot as plt

        if not plt.get_fignums():
            send({"error": "no_figure", "message": "the script drew no figure"})
            return
        recorder.capture(plt.gcf())
    send(recorder.captured or {})


def _traceback(exc: BaseException) -> str:
    """The script's own frames of the traceback (the harness's are noise)."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == "chart.py"]
    where = f"line {frames[-1].lineno}: " if frames else ""
    return f"{where}{type(exc).__name__}: {exc}"


def preload_modules(read_only: bool) -> None:
    """The imports every run needs. `read_only`: no directory is writable here (a warm
    sandbox's zygote), so matplotlib's config and font cache directories are faked
    for the import (`_import_read_only`); a cold run uses its work dir."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    os.environ["MPLBACKEND"] = "Agg"
    if read_only:
        _import_read_only()
    else:
        os.environ["MPLCONFIGDIR"] = os.path.join(os.getcwd(), ".matplotlib")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import mpl_toolkits.mplot3d  # noqa: F401

    # One drawing loads the fonts and fills the text and path caches every run reuses.
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="line")
    ax.bar([0.5], [0.5])
    ax.set_title("Title $x^2$")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png")
    plt.close("all")


def _import_read_only() -> None:
    """Import matplotlib where nothing is writable.

    Its import reads `matplotlibrc` (pointed at the packaged one, so the config dir
    is not looked up) and builds the font list, which it caches on disk: for that one
    import the cache and config dirs are a path that does not exist, the cache's lock
    is skipped and `font_manager` writes into memory. Everything is put back after.
    """
    import contextlib
    import importlib.util

    os.environ["MATPLOTLIBRC"] = os.path.join(_data_path(), "matplotlibrc")
    import matplotlib
    from matplotlib import cbook

    nowhere = "/nonexistent/matplotlib"
    saved = (matplotlib.get_cachedir, matplotlib.get_configdir, cbook._lock_path)
    matplotlib.get_cachedir = matplotlib.get_configdir = lambda: nowhere
    cbook._lock_path = lambda path: contextlib.nullcontext()

    def open_cache(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if any(flag in mode for flag in "wax+"):
            return io.StringIO()
        return open(file, mode, *args, **kwargs)

    try:
        spec = importlib.util.find_spec("matplotlib.font_manager")
        if spec is None or spec.loader is None:
            raise ImportError("matplotlib.font_manager not found")
        module = importlib.util.module_from_spec(spec)
        module.__dict__["open"] = open_cache
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[spec.name]
            raise
        del module.__dict__["open"]
        matplotlib.font_manager = module
        import matplotlib.pyplot  # style and tex paths read the dirs now
    finally:
        matplotlib.get_cachedir, matplotlib.get_configdir, cbook._lock_path = saved


def _data_path() -> str:
    """matplotlib's data dir, found without importing matplotlib (Debian's or a wheel's)."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    package = os.path.dirname(spec.origin) if spec and spec.origin else ""
    for candidate in (os.path.join(package, "mpl-data"), "/usr/share/matplotlib/mpl-data"):
        if os.path.exists(os.path.join(candidate, "matplotlibrc")):
            return candidate
    return package
