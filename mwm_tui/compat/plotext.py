"""plotext's private parts: signals made and added without plotext's work per point in Python.

``fig.signal`` copies the marker once per point, and ``fig.draw`` walks every point for its
colour cycler; at a thousand trucks and a coastline that is most of a frame. plotext offers no
public way round either, so ``signal`` and ``put`` use its kernel, marker and signal classes as
plotext 6.1 lays them out, and its public ``fig.signal`` and ``fig.draw`` when those are gone
or changed (or when ``SKIP_CYCLER`` is False).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Any

SKIP_CYCLER = True
"""Make and add signals directly (see signal, put); False takes plotext's public API."""

# (module, name, attributes it must have): the private parts the direct way takes.
_PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plotext._correct.marker", "marker", ()),
    ("plotext._kernel.clink", "clink", ("signal_append_point", "signal_set_connected")),
    ("plotext._signal.signal", "signal_class", ("_set_marker", "_set_xside", "_set_yside")),
)
# The figure's private parts: (attribute, its own attribute or "").
_FIGURE_PARTS: tuple[tuple[str, str], ...] = (("_next_marker", ""), ("_signals", "_add"))


def _part(module: str, name: str) -> Any:
    """``module.name``, or None when either is gone."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


@cache
def fast_path_problem() -> str | None:
    """None when plotext has the private parts ``signal`` uses; else which one is not there."""
    for module, name, attributes in _PARTS:
        found = _part(module, name)
        if found is None:
            return f"{module}.{name} is gone"
        for attribute in attributes:
            if not callable(getattr(found, attribute, None)):
                return f"{module}.{name}.{attribute} is gone"
    signal_class = _part("plotext._signal.signal", "signal_class")
    if not hasattr(signal_class(0), "_pointer"):
        return "plotext._signal.signal.signal_class()._pointer is gone"
    if not hasattr(importlib.import_module("plotext").marker("x"), "_pointer"):
        return "plotext.marker()._pointer is gone"
    return None


@cache
def _fast_parts() -> tuple[Any, Any, Any]:
    """plotext's marker check, kernel and signal class (after fast_path_problem said None)."""
    correct_marker, kernel, signal_class = (_part(module, name) for module, name, _ in _PARTS)
    return correct_marker, kernel, signal_class


def figure_problem(fig: Any) -> str | None:
    """None when ``fig`` has the private parts ``signal`` and ``put`` use; else which not."""
    for attribute, inner in _FIGURE_PARTS:
        found = getattr(fig, attribute, None)
        if inner:
            found = getattr(found, inner, None)
        if not callable(found):
            return f"plotext figure.{attribute}{'.' + inner if inner else ''} is gone"
    return None


def _direct(fig: Any) -> bool:
    return SKIP_CYCLER and fast_path_problem() is None and figure_problem(fig) is None


def signal(
    fig: Any,
    xs: Sequence[float],
    ys: Sequence[float],
    marker: Any,
    *,
    lines: Sequence[int] | None = None,
) -> Any:
    """fig.signal(xs, ys, marker=marker), without a Python copy of the marker per point.

    plotext's kernel copies a point's marker as it stores it, so one marker serves every
    point. With ``lines`` the points are joined, but for those at the indices it names, where
    a new line starts; without, they are scattered, as fig.signal makes them.
    """
    shapes = marker if isinstance(marker, list) else [marker]
    count = min(len(xs), len(ys))
    if not count or not shapes or not _direct(fig):
        made = fig.signal(list(xs), list(ys), marker=marker)
        if lines is not None:
            made.lines()
            for start in lines:
                made.line(start, False)
        return made
    correct_marker, kernel, signal_class = _fast_parts()
    # The same steps as plotext's signal(): markers fixed against one default, then repeated.
    default = fig._next_marker()
    shapes = [correct_marker(shape, default) for shape in shapes]
    made = signal_class(count)
    pointer = made._pointer
    append = kernel.signal_append_point
    if len(shapes) == 1:
        shape = shapes[0]._pointer
        for x, y in zip(xs[:count], ys[:count], strict=True):
            append(pointer, x, y, shape)
    else:
        kinds = len(shapes)
        for index in range(count):
            append(pointer, xs[index], ys[index], shapes[index % kinds]._pointer)
    made._set_marker(shapes[0])
    made._set_xside(0)._set_yside(0)
    if lines is not None:
        connect = kernel.signal_set_connected
        starts = set(lines)
        for index in range(count):
            connect(pointer, index, index not in starts)
    return made


def put(fig: Any, made: Any) -> None:
    """fig.draw less plotext's colour-cycler bookkeeping, which walks every point in Python.

    Every signal here has its colour set, so the cycler has nothing to learn from them.
    """
    if _direct(fig):
        fig._signals._add(made)
    else:
        fig.draw(made)
