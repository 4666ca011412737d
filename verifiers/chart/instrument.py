"""Matplotlib instrumented as ChartMimic's evaluators instrument it; runs inside the sandbox.

Shipped as text and loaded by runner.py into one namespace with `colours.py` (how
each chart type's colours are read) and `startup.py`; never imported by the service,
it must not import rewardgate. It runs in the chart script's own process, so what it
records is the script's to tamper with: the host treats the record as untrusted data.

What is recorded, after ChartMimic (github.com/ChartMimic/ChartMimic,
chart2code/utils/evaluator/):

* texts (`text_evaluator.py`): every string the renderer draws (ChartMimic wraps
  `RendererPdf.draw_text`; here `RendererAgg.draw_text`, the figure is saved as PNG),
  one entry per drawn line, with its kind: "text", or for tick labels "tick" (labels
  the script fixed) or "auto" (a locator's numbers, and axis offset texts). ChartMimic
  deletes the ticks before saving (`use_axs=False`); the host decides which kinds count.
* layout (`layout_evaluator.py`): for each axes with a subplot spec, its grid's rows and
  columns and the rows and columns it spans (axes placed by `add_axes` have none).
* chart types (`chart_type_evaluator_prefix.py`): how often each plotting function is
  called, the outermost call only (`hist` drawing bars counts as `hist`). Polar `plot`
  and the 3-D methods are told apart (ChartMimic keys them by their source file).
  Beyond ChartMimic's list: `pcolormesh`, `hexbin`, `hist2d`, `streamplot`, `barbs`,
  `eventplot`, `stairs` (ChartMimic's list misses them entirely); a colorbar's own
  drawing is not a chart.
* colours (`color_evaluator_prefix.py`): per plotting call, the colours of what it
  drew, read when the figure is saved (ChartMimic's `update_drawed_colors`), as
  `#RRGGBB` (alpha dropped) or a colormap's name where a colormap paints it; the
  pairs (type, colour) are de-duplicated. Filtering and matching happen on the host.
  Beside it, `cm_colors`: ChartMimic's own log (`chartmimic.py`: grouped by the
  function that logged the colour, one entry per function and colour at call time).

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

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

    # At run time colours.py shares this namespace (runner.py loads both into one).
    from rewardgate.verifiers.chart.chartmimic import ColourLog, install_chartmimic
    from rewardgate.verifiers.chart.colours import SHAPE_TYPES, colours_of

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
# ... 3-D axes' own methods (key "3d.<name>") and polar plot ("polar.plot"); the patches
# whose construction ChartMimic counts are colours.SHAPE_TYPES (key: the class name).
AXES3D_TYPES = ("scatter", "plot", "plot_surface", "bar3d", "bar", "add_collection3d")


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
        self.cm = ColourLog()  # ChartMimic's own colour log (chartmimic.py)

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
        wrapper.__wrapped_original__ = func  # type: ignore[attr-defined]  # chartmimic.py
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
    # setattr: these patch methods, which type checkers rightly frown on elsewhere.
    setattr(PolarAxes, "plot", recorder.wrap("polar.plot", Axes.plot))  # noqa: B010
    for name in AXES3D_TYPES:
        setattr(Axes3D, name, recorder.wrap(f"3d.{name}", Axes3D.__dict__[name]))
    for name in SHAPE_TYPES:
        cls = getattr(patches, name)
        setattr(cls, "__init__", recorder.wrap(name, cls.__init__, patch_init=True))  # noqa: B010
    setattr(  # noqa: B010
        NonUniformImage,
        "__init__",
        recorder.wrap("NonUniformImage", NonUniformImage.__init__, patch_init=True),
    )
    # A colorbar paints itself with pcolormesh: part of the colorbar, not a chart.
    setattr(Colorbar, "_draw_all", recorder.silence(getattr(Colorbar, "_draw_all")))  # noqa: B009, B010
    try:  # over these wrappers: its flag is its own
        install_chartmimic(recorder.cm)
    except Exception:  # a matplotlib without ChartMimic's hooks: the host's error
        recorder.cm.failed = recorder.cm.unavailable = True

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

    setattr(RendererAgg, "draw_text", logged_draw_text)  # noqa: B010

    def savefig(self: Any, *args: Any, **kwargs: Any) -> None:
        recorder.capture(self)  # the harness saves it; the script writes no file

    def show(*args: Any, **kwargs: Any) -> None:
        if plt.get_fignums():
            recorder.capture(plt.gcf())

    setattr(Figure, "savefig", savefig)  # noqa: B010
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


def tick_text_kinds(figure: Any) -> dict[int, str]:
    """Kind of each tick label and axis offset text: "tick" where the script fixed the
    labels (`set_xticklabels`, category names), "auto" where a locator chose them."""
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.ticker import FixedFormatter

    kinds: dict[int, str] = {}
    for ax in figure.get_axes():
        for name in ("xaxis", "yaxis", "zaxis"):
            axis = getattr(ax, name, None)
            if axis is None:
                continue
            kinds[id(axis.offsetText)] = "auto"
            for ticks, formatter in (
                (axis.majorTicks, axis.get_major_formatter()),
                (axis.minorTicks, axis.get_minor_formatter()),
            ):
                fixed = _fixed(formatter, (FixedFormatter, StrCategoryFormatter))
                for tick in ticks:
                    for label in (tick.label1, tick.label2):
                        kinds[id(label)] = "tick" if fixed else "auto"
    return kinds


def _fixed(formatter: Any, fixed_types: tuple[type, ...]) -> bool:
    """Whether the labels are the script's: a fixed or category formatter, or the
    formatter `set_ticklabels` makes over fixed tick positions (a dict of labels)."""
    if isinstance(formatter, fixed_types):
        return True
    func = getattr(getattr(formatter, "func", None), "func", None)
    return getattr(func, "__name__", "") == "_format_with_dict"


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
    kinds = tick_text_kinds(figure)
    texts = [
        [s, round(x, 4), round(y, 4), kinds.get(mid, "text")]
        for s, x, y, mid in recorder.texts
        if s
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
        "cm_colors": recorder.cm.colours(),
        "cm_installed": not recorder.cm.unavailable,
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
