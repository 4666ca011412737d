"""ChartMimic's own colour log, for the `chartmimic` colour reading; runs in the sandbox.

Shipped as text beside instrument.py and loaded into the same namespace by runner.py
(it must not import rewardgate). It carries over, fact by fact, what ChartMimic's
`color_evaluator_prefix.py` (github ChartMimic/ChartMimic, chart2code/utils/evaluator/)
does, which differs from rewardgate's own reading (`colours.py`) in three ways:

* Colours are grouped by the matplotlib function that logged them, not by the chart
  type the script called: ChartMimic wraps `_process_plot_var_args._makeline` (every
  line `plot` makes, and an `errorbar`'s data line), `bar` (so `barh`, which calls it,
  lands in the same group), `hlines`/`vlines` (an `errorbar`'s bars), ... and not
  `plot`, `barh` or `errorbar` themselves. Only the outermost logged call counts
  (its `in_decorator` flag): the bars `hist` draws are `hist`'s.
* One entry per (function, colour at call time): a later call with the same key
  replaces the kept artist, so artists drawn in one colour and recoloured afterwards
  (box plots whose boxes get `set_facecolor`) collapse to one entry.
* When the figure is saved, each kept artist's colour is read again
  (`update_drawed_colors`), as `#RRGGBB` (a `#RRGGBBAA` string the script gave stays
  as it is) or a colormap's name.

Group names are ChartMimic's (`<file>/<function>` and its `_polar`/`_3d` suffixes)
without the directory. The third-party charts ChartMimic also logs (networkx,
squarify, matplotlib_venn) are not installed in the sandbox and are left out. A
colour ChartMimic cannot convert crashes its logged script, which leaves it no
colours at all; here the log is then emptied (`failed`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

MAX_LOGGED = 20000
# ChartMimic's wrapped Axes methods (the 2-D `log_function`); `_makeline` and the patch
# constructors are handled in `install_chartmimic`.
CM_AXES = (
    "bar", "scatter", "axhline", "axvline", "_fill_between_x_or_y", "pie", "axvspan",
    "axhspan", "hlines", "vlines", "boxplot", "violinplot", "hist", "quiver", "imshow",
    "pcolor", "contour", "contourf", "fill", "broken_barh", "tripcolor",
)  # fmt: skip
CM_3D = ("scatter", "plot", "plot_surface", "bar3d", "bar", "add_collection3d")


def cm_hex(color: Any) -> str:
    """ChartMimic's `convert_color_to_hex`; ValueError where it returns None."""
    import matplotlib.colors as mcolors
    import numpy as np

    if isinstance(color, str):
        if color.startswith("#") and len(color) in (7, 9):
            return color.upper()
        return str(mcolors.to_hex(mcolors.to_rgba(color))).upper()
    if isinstance(color, (list, tuple, np.ndarray)) and len(color) in (3, 4):
        rgba: Any = color
        return str(mcolors.to_hex(rgba)).upper()
    raise ValueError("Unsupported color format")


def _cmap(value: Any) -> str:
    return value if isinstance(value, str) else str(value.name)


class ColourLog:
    """`drawed_objects`: the kept artist per (group, colour at call time)."""

    def __init__(self) -> None:
        self.busy = False  # ChartMimic's `in_decorator`
        self.objects: dict[tuple[str, str], Any] = {}
        self.failed = False
        self.unavailable = False  # its hooks could not be installed (not the script's doing)

    def keep(self, group: str, colour: str, obj: Any) -> None:
        if len(self.objects) < MAX_LOGGED:
            self.objects[(group, colour)] = obj

    def log(self, group: str, name: str, result: Any, args: Any, kwargs: Any) -> None:
        """ChartMimic's `log_function` / `log_function_for_3d` branch for `name`."""
        from matplotlib.image import NonUniformImage
        from matplotlib.patches import Circle, Ellipse, PathPatch
        from matplotlib.projections.polar import PolarAxes

        cmap = kwargs.get("cmap")
        owner: Any = args[0] if args else None
        polar = type(owner) is PolarAxes
        if group.endswith("_3d"):
            self._log_3d(group, name, result, cmap)
        elif name == "_makeline":
            self.keep(group, cm_hex(result[1]["color"]), result[0])
        elif name in ("axhline", "axvline"):
            self.keep(group, cm_hex(result.get_color()), result)
        elif name == "_fill_between_x_or_y":
            self.keep(group, cm_hex(list(result.get_facecolors()[0])), result)
        elif name == "bar":
            for item in result:
                self.keep(group, cm_hex(list(item._original_facecolor)), item)
        elif name == "scatter":
            group = group + "_polar" if polar else group
            if cmap is not None:
                self.keep(group, _cmap(cmap), result)
            elif len(result.get_facecolor()) != 0:
                self.keep(group, cm_hex(list(result.get_facecolor()[0])), result)
        elif name == "pie":
            for item in result[0]:
                self.keep(group, cm_hex(item.get_facecolor()), item)
        elif name in ("axvspan", "axhspan"):
            self.keep(group, cm_hex(result.get_facecolor()), result)
        elif name in ("hlines", "vlines", "quiver", "broken_barh"):
            colours = (
                result.get_facecolors().tolist()
                if name in ("quiver", "broken_barh")
                else list(result.get_edgecolors())
            )
            if not len(colours):
                raise ValueError("no colour to log")  # ChartMimic: an unbound name
            self.keep(group, cm_hex(list(colours[-1])), result)  # the last one keys it
        elif name == "boxplot":
            for item in result["boxes"]:
                if type(item) is PathPatch:
                    self.keep(group, cm_hex(list(item.get_facecolor())), item)
        elif name == "violinplot":
            for item in result["bodies"]:
                self.keep(group, cm_hex(list(item.get_facecolor()[0])), item)
        elif name == "hist":
            patches = result[2]
            containers = [patches] if not _nested(patches) else list(patches)
            for container in containers:
                for item in container:
                    self.keep(group, cm_hex(list(item.get_facecolor())), item)
        elif name == "plot" and polar:
            for line in result:
                self.keep(group + "_polar", cm_hex(line.get_color()), line)
        elif name in ("imshow", "pcolor", "contour", "contourf", "tripcolor"):
            self.keep(group, _cmap(result.get_cmap()), result)
        elif name == "fill":
            for patch in result:
                self.keep(group, cm_hex(list(patch.get_facecolor())), patch)
        elif name == "__init__" and type(owner) is NonUniformImage:
            self.keep(group, _cmap(owner.get_cmap()), owner)
        elif name == "__init__" and type(owner) in (Ellipse, Circle):
            self.keep(group, cm_hex(owner.get_facecolor()), owner)

    def _log_3d(self, group: str, name: str, result: Any, cmap: Any) -> None:
        if name in ("scatter", "plot_surface") and cmap is not None:
            self.keep(group, _cmap(cmap), result)
        elif name == "scatter":
            colours = result.get_facecolors().tolist()
            if not colours:
                raise ValueError("no colour to log")
            self.keep(group, cm_hex(colours[-1]), result)
        elif name == "plot":
            for line in result:
                self.keep(group, cm_hex(line.get_color()), line)
        elif name in ("plot_surface", "bar3d"):
            self.keep(group, cm_hex(result.get_facecolors().tolist()[0]), result)
        elif name == "bar":
            for item in result:
                self.keep(group, cm_hex(item.get_facecolor()), item)
        elif name == "add_collection3d":
            colours = result.get_facecolors().tolist()
            if not colours:
                raise ValueError("no colour to log")
            self.keep(group, cm_hex(colours[-1]), result)

    def colours(self) -> list[list[str]]:
        """ChartMimic's `update_drawed_colors`: each kept artist's colours read now."""
        if self.failed:
            return []
        found: set[tuple[str, str]] = set()
        try:
            for (group, colour), obj in self.objects.items():
                found.update(_reread(group, colour, obj))
        except Exception:  # ChartMimic's logged script would have crashed: no colours
            return []
        return sorted([g, c] for g, c in found)


def _nested(patches: Any) -> bool:
    """`hist` of several data sets: a list of containers (ChartMimic: a silent_list)."""
    import matplotlib.cbook

    return type(patches) is matplotlib.cbook.silent_list


def _reread(group: str, colour: str, obj: Any) -> list[tuple[str, str]]:
    name = group.rpartition("/")[2]
    if group.endswith("_3d"):
        base = name[: -len("_3d")]
        if base in ("scatter", "plot_surface") and not colour.startswith("#"):
            return [(group + "_3d", colour)]
        if base in ("scatter", "add_collection3d"):
            return [(group + "_3d", cm_hex(c)) for c in obj.get_facecolors().tolist()]
        if base in ("plot_surface", "bar3d"):
            return [(group + "_3d", cm_hex(obj.get_facecolors().tolist()[0]))]
        if base == "plot":
            return [(group + "_3d", cm_hex(obj.get_color()))]
        return [(group + "_3d", cm_hex(obj.get_facecolor()))]  # bar
    if name.endswith("_polar"):
        base = name[: -len("_polar")]
        if base == "scatter" and not colour.startswith("#"):
            return [(group + "_polar", colour)]
        if base == "scatter":
            faces = obj.get_facecolor()
            return [(group + "_polar", cm_hex(list(faces[0])))] if len(faces) else []
        return [(group + "_polar", cm_hex(obj.get_color()))]  # plot
    if name in ("_makeline", "axhline", "axvline"):
        return [(group, cm_hex(obj.get_color()))]
    if name == "_fill_between_x_or_y":
        return [(group, cm_hex(list(obj.get_facecolors()[0])))]
    if name == "bar":
        return [(group, cm_hex(list(obj._original_facecolor)))]
    if name == "scatter":
        if not colour.startswith("#"):
            return [(group, colour)]
        faces = obj.get_facecolor()
        return [(group, cm_hex(list(faces[0])))] if len(faces) else []
    if name == "__init__":
        from matplotlib.image import NonUniformImage

        if type(obj) is NonUniformImage:
            return [(group, _cmap(obj.get_cmap()))]
        return [(group, cm_hex(obj.get_facecolor()))]  # Ellipse, Circle
    if name in ("pie", "axvspan", "axhspan"):
        return [(group, cm_hex(obj.get_facecolor()))]
    if name in ("hlines", "vlines"):
        return [(group, cm_hex(list(c))) for c in obj.get_edgecolors()]
    if name in ("boxplot", "hist", "fill"):
        return [(group, cm_hex(list(obj.get_facecolor())))]
    if name == "violinplot":
        return [(group, cm_hex(list(obj.get_facecolor()[0])))]
    if name in ("quiver", "broken_barh"):
        return [(group, cm_hex(c)) for c in obj.get_facecolors().tolist()]
    if name in ("imshow", "pcolor", "contour", "contourf", "tripcolor"):
        return [(group, _cmap(obj.get_cmap()))]
    return []


def _group(func: Any, name: str) -> str:
    """ChartMimic's `inspect.getfile(func) + "/" + func.__name__`, directory dropped."""
    import os

    return f"{os.path.basename(func.__code__.co_filename)}/{name}"


def install_chartmimic(log: ColourLog) -> None:
    """Wrap what ChartMimic wraps; each wrapper logs into `log` (outermost call only)."""
    from matplotlib import patches
    from matplotlib.axes import Axes, _base
    from matplotlib.image import NonUniformImage
    from matplotlib.projections.polar import PolarAxes
    from mpl_toolkits.mplot3d import Axes3D

    def wrap(func: Any, name: str, group: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if log.busy:
                return func(*args, **kwargs)
            log.busy = True
            try:
                result = func(*args, **kwargs)
                if not log.failed:
                    try:
                        log.log(group, name, result, args, kwargs)
                    except Exception:
                        log.failed = True
            finally:
                log.busy = False
            return result

        wrapper.__name__ = getattr(func, "__name__", name)
        wrapper.__doc__ = getattr(func, "__doc__", None)
        return wrapper

    lines = getattr(_base, "_process_plot_var_args")  # noqa: B009  (private: no stub)
    makeline = lines._makeline
    setattr(lines, "_makeline", wrap(makeline, "_makeline", _group(makeline, "_makeline")))  # noqa: B010
    for name in CM_AXES:
        func = getattr(Axes, name)
        original = getattr(func, "__wrapped_original__", func)
        setattr(Axes, name, wrap(func, name, _group(original, name)))
    polar_plot = wrap(PolarAxes.plot, "plot", _group(Axes.__dict__["plot"], "plot"))
    setattr(PolarAxes, "plot", polar_plot)  # noqa: B010  (a method: mypy forbids assigning)
    for name in CM_3D:
        func = Axes3D.__dict__[name]
        original = getattr(func, "__wrapped_original__", func)
        setattr(Axes3D, name, wrap(func, name, _group(original, name) + "_3d"))
    for cls in (NonUniformImage, patches.Ellipse, patches.Circle):
        init = cls.__init__
        original = getattr(init, "__wrapped_original__", init)
        setattr(cls, "__init__", wrap(init, "__init__", _group(original, "__init__")))  # noqa: B010
