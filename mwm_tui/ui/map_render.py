"""The fleet map drawn with plotext: land outlines behind, device markers on top, as rich Text."""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Final

import plotext
from rich.text import Text

from mwm_tui.compat import plotext as plotext_parts
from mwm_tui.domain.geo import Cluster, Point, Viewport
from mwm_tui.domain.overlay import Overlay
from mwm_tui.ui.ansi_text import to_text
from mwm_tui.ui.map_base import base_signals, place_signals
from mwm_tui.ui.map_layout import Layout, canvas_layout
from mwm_tui.ui.map_legend import legend_line
from mwm_tui.ui.map_looks import NO_COLOUR_LOOK, STATUS_LOOK, TICK_COLOUR, UNKNOWN_LOOK, Look
from mwm_tui.ui.map_markers import (
    CLUSTERED,
    DRAW_ORDER,
    Marker,
    draw_counts,
    draw_selected,
    draw_trail,
    label_cells,
    markers_inside,
    split_clusters,
    taken_cells,
)

__all__ = ["PLOTEXT_LOCK", "Marker", "render_map"]

_log = logging.getLogger(__name__)

PLOTEXT_LOCK: Final = threading.Lock()
"""Held for every use of plotext: its figure, themes and colour cycler are process-wide state."""

# Below this many cells a map says nothing useful; a short message is shown instead.
MIN_WIDTH: Final = 12
MIN_HEIGHT: Final = 4

# The legend and scale line needs this many rows in all, so the map keeps most of them.
_LEGEND_MIN_HEIGHT: Final = 8

_THEME: Final = "mwm-map"


def render_map(
    width: int,
    height: int,
    view: Viewport,
    markers: Sequence[Marker],
    *,
    coastline: bool = True,
    context: bool = True,
    legend: bool = True,
    trail: Sequence[Point] = (),
    ascii_only: bool = False,
    no_color: bool = False,
    overlay: Overlay | None = None,
) -> Text:
    """The map as exactly ``height`` lines of ``width`` cells; safe to call from any thread.

    x is longitude and y latitude, their limits exactly the view; markers outside it are left
    out. ``context`` adds country borders and place names, ``legend`` a first line with the
    marker legend and a scale bar, ``trail`` (lon, lat points, oldest first) a line behind
    the selected marker, ``overlay`` the operator's zones and routes (under the trucks) and
    depots (over them). ``no_color`` picks marks that stay apart when the terminal shows greys
    only. Below MIN_WIDTH x MIN_HEIGHT a short message is returned instead.
    """
    width, height = max(width, 0), max(height, 0)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _message("map too small", width, height)
    top = 1 if legend and height >= _LEGEND_MIN_HEIGHT else 0
    layout = canvas_layout(width, height - top, view, ascii_only=ascii_only)
    inside = markers_inside(markers, view)
    looks = NO_COLOUR_LOOK if no_color else STATUS_LOOK
    with PLOTEXT_LOCK, _silenced():
        ansi = _plot(
            view,
            inside,
            layout,
            coastline=coastline,
            context=context,
            trail=trail,
            ascii_only=ascii_only,
            looks=looks,
            overlay=overlay,
        )
    if not top:
        return to_text(ansi, width, height)
    indent = width - layout.canvas_width
    line = legend_line(width, indent, layout.canvas_width, view, ascii_only, looks=looks)
    return to_text(ansi, width, height - top, head=line)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Keep plotext's notes off the terminal, which Textual owns; they go to the log instead."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield
    if sink.getvalue():
        _log.debug("plotext said: %s", sink.getvalue().strip())


@cache
def _theme() -> str:
    plotext.add_theme(_THEME, text=plotext.pixel(foreground=TICK_COLOUR))
    return _THEME


def _plot(
    view: Viewport,
    markers: list[Marker],
    layout: Layout,
    *,
    coastline: bool,
    context: bool,
    trail: Sequence[Point],
    ascii_only: bool,
    looks: dict[str, Look],
    overlay: Overlay | None,
) -> str:
    width, height = layout.width, layout.height
    # Unlimited: plotext would otherwise shrink the plot to the terminal size less two rows.
    plotext.terminal.limit(False, False)
    fig = plotext.figure
    fig.interactive(False)
    fig.clear()
    fig.theme(_theme())
    fig.canvas("default")
    fig.axes(False)
    fig.plot_size(width, height)
    for axis, lower, upper, ticks in (
        ("x", view.lon_min, view.lon_max, layout.x_ticks),
        ("y", view.lat_min, view.lat_max, layout.y_ticks),
    ):
        ruler = fig.ruler(axis)
        ruler.lim(lower, upper)
        ruler.alignment(lim="edge")
        if ticks is None:
            ruler.ticks([])
        else:
            ruler.ticks(*ticks)

    by_status: dict[str, list[Marker]] = {}
    selected: list[Marker] = []
    for marker in markers:
        (selected if marker.selected else by_status.setdefault(marker.status, [])).append(marker)
    clusters: list[Cluster] = []
    for status in CLUSTERED & by_status.keys():
        found, by_status[status] = split_clusters(by_status[status], view, layout)
        clusters += found

    base = base_signals(
        fig,
        view,
        layout,
        coastline=coastline,
        context=context,
        ascii_only=ascii_only,
        overlay=overlay,
    )
    for signal in base.outlines:
        plotext_parts.put(fig, signal)
    # The trail goes under the names: a few hidden fixes matter less than a city's name.
    draw_trail(fig, trail, view, layout, ascii_only)
    lone = taken_cells(by_status, [], selected, view, layout)
    if context:
        taken = lone | taken_cells({}, clusters, [], view, layout)
        # No place name covers the selected truck's label or a depot, a capital's neither.
        clear = base.depot_cells.union(
            *(label_cells(m, view, layout, ascii_only=ascii_only) for m in selected)
        )
        signals, named = place_signals(fig, view, layout, taken, ascii_only, keep_clear=clear)
        for signal in signals:
            plotext_parts.put(fig, signal)
        lone |= named

    draw_counts(fig, clusters, view, layout, lone)
    statuses = [s for s in by_status if s not in DRAW_ORDER]
    statuses = [s for s in DRAW_ORDER if s in by_status] + statuses
    for status in statuses:
        group = by_status[status]
        if not group:
            continue
        look = looks.get(status, UNKNOWN_LOOK)
        shape = plotext.marker(look.symbol(ascii_only), pixel=look.pixel())
        plotext_parts.put(
            fig, plotext_parts.signal(fig, [m.lon for m in group], [m.lat for m in group], shape)
        )
    for marker in selected:
        draw_selected(fig, marker, view, layout, ascii_only, looks=looks)
    # The operator's depots go over the trucks: a fleet in the yard must not hide the yard.
    for signal in base.depots:
        plotext_parts.put(fig, signal)

    matrix = fig.build()
    if matrix.size() != (width, height):
        _log.warning("plotext drew %s cells, not %s", matrix.size(), (width, height))
    text: str = matrix.string()
    fig.clear()
    return text


def _message(message: str, width: int, height: int) -> Text:
    """A short dim note filling width x height cells (nothing at all for a zero size)."""
    if width == 0 or height == 0:
        return Text("\n" * max(height - 1, 0), end="")
    lines = [Text(message, style="dim")] + [Text() for _ in range(height - 1)]
    for line in lines:
        line.truncate(width, overflow="crop", pad=True)
    return Text("\n", no_wrap=True, overflow="crop", end="").join(lines)
