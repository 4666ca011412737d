"""The colours a plotting call drew, read as ChartMimic reads them; runs in the sandbox.

Shipped as text beside instrument.py and loaded into the same namespace by runner.py
(it must not import rewardgate). After ChartMimic's `color_evaluator_prefix.py`
(`log_function` and `update_drawed_colors`): per chart type, the artist property
that holds the colour the script asked for (a bar's original face colour, a line's
colour, the first face colour of a scatter or a filled area, each wedge of a pie...),
or the colormap's name where a colormap paints it (images, contours, a scatter or
surface given `cmap`). Colours are `#RRGGBB`, alpha dropped.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds per sandbox run; only mypy needs it
if TYPE_CHECKING:
    from typing import Any

# Keys whose colour is their colormap's name.
CMAP_TYPES = {"imshow", "pcolor", "contour", "contourf", "tripcolor", "pcolormesh", "hexbin"}
SHAPE_TYPES = ("Ellipse", "Circle")  # patches counted when the script builds them


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
    if base in ("axvspan", "axhspan") or key in SHAPE_TYPES:
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
