"""The fleet map drawn with plotext: land outlines behind, device markers on top, as rich Text."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, NamedTuple

import plotext
from rich.ansi import AnsiDecoder
from rich.cells import cell_len, get_character_cell_size
from rich.color import Color
from rich.style import Style
from rich.text import Span, Text

from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.domain.geo import (
    Cluster,
    Point,
    Viewport,
    cell_of,
    cells_of,
    clip_lines,
    clip_rings,
    cluster_points,
    load_border_lines,
    load_land_rings,
    pick_places,
    place_index,
    scale_bar,
)
from mwm_tui.domain.overlay import Overlay
from mwm_tui.domain.text import literal
from mwm_tui.ui.format import STATUS_GLYPH

__all__ = ["PLOTEXT_LOCK", "Marker", "render_map"]

try:  # plotext's own parts, for signals made without a marker copy per point (see _signal)
    from plotext._correct import marker as plotext_marker
    from plotext._kernel.clink import clink as plotext_kernel
    from plotext._signal.signal import signal_class as plotext_signal
except ImportError:  # a plotext laid out otherwise: its public fig.signal serves
    plotext_marker = plotext_kernel = plotext_signal = None

_log = logging.getLogger(__name__)

PLOTEXT_LOCK: Final = threading.Lock()
"""Held for every use of plotext: its figure, themes and colour cycler are process-wide state."""

# Below this many cells a map says nothing useful; a short message is shown instead.
MIN_WIDTH: Final = 12
MIN_HEIGHT: Final = 4

_TICKS_MIN_WIDTH: Final = 30
_TICKS_MIN_HEIGHT: Final = 8
# The legend and scale line needs this many rows in all, so the map keeps most of them.
_LEGEND_MIN_HEIGHT: Final = 8


@dataclass(frozen=True, slots=True)
class _Look:
    """How one thing is drawn: its glyph in Unicode and in ASCII, colour and style."""

    glyph: str
    ascii_glyph: str
    colour: int
    style: str | None = None
    background: int | None = None

    def symbol(self, ascii_only: bool) -> str:
        return self.ascii_glyph if ascii_only else self.glyph

    def pixel(self) -> Any:
        return plotext.pixel(foreground=self.colour, background=self.background, style=self.style)

    def rich_style(self) -> Style:
        return Style(
            color=Color.from_ansi(self.colour),
            bgcolor=None if self.background is None else Color.from_ansi(self.background),
            bold=bool(self.style and "bold" in self.style),
        )


# 256-colour palette indices: fixed greys for the background, bright ANSI colours for markers.
_COAST_COLOUR: Final = 241
_BORDER_COLOUR: Final = 238
_TICK_COLOUR: Final = 244
_PLACE_COLOUR: Final = 250
_LABEL_COLOUR: Final = 15
_LEGEND_TEXT_COLOUR: Final = 250
_SELECTED: Final = _Look("◉", "@", 14, "bold")
_TRAIL: Final = _Look("braille", "*", 14)
_PLACE_DOT: Final = _Look("·", "+", 246)
_COAST_ASCII: Final = "."
_BORDER_ASCII: Final = ":"
# The operator's overlay: zones, geofences (brighter), routes and depots.
_ZONE_COLOUR: Final = 136
_GEOFENCE_COLOUR: Final = 214
_ROUTE_COLOUR: Final = 75
_ZONE_ASCII: Final = "="
_ROUTE_ASCII: Final = "~"
_DEPOT: Final = _Look("⌂", "H", 255, "bold")
_DEPOT_NAME_COLOUR: Final = 223
# Each status has its own shape as well as its own colour, so colour is never the only cue.
# Offline is a bold glyph on a block of its own: white on red in colour; without colour
# (Textual turns colours to greys) black on white, the brightest block on the dark map.
_STATUS_LOOK: Final[dict[str, _Look]] = {
    "online": _Look(STATUS_GLYPH[DeviceStatus.ONLINE], "o", 10),
    "stale": _Look(STATUS_GLYPH[DeviceStatus.STALE], "s", 11, "bold"),
    "offline": _Look(STATUS_GLYPH[DeviceStatus.OFFLINE], "X", 15, "bold", background=9),
    "unknown": _Look(STATUS_GLYPH[DeviceStatus.UNKNOWN], "?", 13, "bold"),
}
_NO_COLOUR_LOOK: Final[dict[str, _Look]] = {
    **_STATUS_LOOK,
    "offline": _Look(STATUS_GLYPH[DeviceStatus.OFFLINE], "X", 0, "bold", background=15),
}
_UNKNOWN_LOOK: Final = _STATUS_LOOK["unknown"]
_CLUSTER: Final = _Look("", "", 10, "bold")
# Problems are drawn last so that they win a cell shared with a healthy truck.
_DRAW_ORDER: Final = ("online", "unknown", "stale", "offline")
# Only healthy trucks are counted into clusters: a problem truck is always shown on its own.
_CLUSTERED: Final = frozenset({"online"})
_CLUSTER_BUCKET: Final = (6, 3)
_CLUSTER_LEAST: Final = 4
# At most one place name per this many canvas cells, and never more than _MOST_PLACES.
_CELLS_PER_PLACE: Final = 150
_MOST_PLACES: Final = 40

_THEME: Final = "mwm-map"
SKIP_CYCLER = True
"""Make and add signals directly (see _signal, _put); False takes plotext's public API."""
_TICK_STEPS: Final = (
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 180.0,
)  # fmt: skip
# Simplification tolerance, in braille dots: the drawn outline moves by less than this.
_COAST_TOLERANCE: Final = 0.5
_BASE_CACHE_SIZE: Final = 8
_base_cache: OrderedDict[tuple[Any, ...], tuple[list[Any], list[Any]]] = OrderedDict()
_label_cache: dict[tuple[Any, ...], list[Any]] = {}
_PLACE_TAG_CACHE_SIZE: Final = 512
_place_tags: dict[tuple[str, bool, bool], Any] = {}
_SGR: Final = re.compile(r"\x1b\[([0-9;]*)m")
_SGR_RESET: Final = "\x1b[0m"
# Zero width joiner and variation selector 16: rich measures a string with them by graphemes.
_JOINERS: Final = frozenset("\u200d\ufe0f")
_SGR_LEAD: Final = re.compile(r"(?:\x1b\[[0-9;]*m)*")
_SGR_CACHE_SIZE: Final = 256
_sgr_styles: dict[tuple[str, ...], Style | None] = {}
_sgr_lead_styles: dict[str, Style | None] = {}
_UNDECODED: Final = Style()


class Marker(NamedTuple):
    """One device on the map (a tuple: the map makes one per device at every draw)."""

    device_id: str  # display text already made safe by the caller (no control chars)
    lon: float
    lat: float
    status: str  # "online" | "stale" | "offline" | "unknown"
    selected: bool = False


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where the canvas sits inside the plot, and the tick labels around it."""

    width: int
    height: int
    canvas_width: int
    canvas_height: int
    x_ticks: tuple[list[float], list[str]] | None
    y_ticks: tuple[list[float], list[str]] | None


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
    the selected marker, ``overlay`` the operator's depots, zones and routes (under the
    trucks). ``no_color`` picks marks that stay apart when the terminal shows greys
    only. Below MIN_WIDTH x MIN_HEIGHT a short message is returned instead.
    """
    width, height = max(width, 0), max(height, 0)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _message("map too small", width, height)
    top = 1 if legend and height >= _LEGEND_MIN_HEIGHT else 0
    layout = _layout(width, height - top, view, ascii_only=ascii_only)
    inside = _inside(markers, view)
    looks = _NO_COLOUR_LOOK if no_color else _STATUS_LOOK
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
        return _to_text(ansi, width, height)
    indent = width - layout.canvas_width
    line = _legend_line(width, indent, layout.canvas_width, view, ascii_only, looks=looks)
    return _to_text(ansi, width, height - top, head=line)


def _inside(markers: Sequence[Marker], view: Viewport) -> list[Marker]:
    west, east, south, north = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    return [m for m in markers if west <= m.lon <= east and south <= m.lat <= north]


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
    plotext.add_theme(_THEME, text=plotext.pixel(foreground=_TICK_COLOUR))
    return _THEME


def _plot(
    view: Viewport,
    markers: list[Marker],
    layout: _Layout,
    *,
    coastline: bool,
    context: bool,
    trail: Sequence[Point],
    ascii_only: bool,
    looks: dict[str, _Look],
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
    for status in _CLUSTERED & by_status.keys():
        found, by_status[status] = _clusters(by_status[status], view, layout)
        clusters += found

    outlines, depots = _base_signals(
        fig,
        view,
        layout,
        coastline=coastline,
        context=context,
        ascii_only=ascii_only,
        overlay=overlay,
    )
    for signal in outlines:
        _put(fig, signal)
    # The trail goes under the names: a few hidden fixes matter less than a city's name.
    _draw_trail(fig, trail, view, layout, ascii_only)
    lone = _taken_cells(by_status, [], selected, view, layout)
    if context:
        taken = lone | _taken_cells({}, clusters, [], view, layout)
        signals, named = _place_signals(fig, view, layout, taken, ascii_only)
        for signal in signals:
            _put(fig, signal)
        lone |= named
    for signal in depots:
        _put(fig, signal)

    _draw_counts(fig, clusters, view, layout, lone)
    statuses = [s for s in by_status if s not in _DRAW_ORDER]
    statuses = [s for s in _DRAW_ORDER if s in by_status] + statuses
    for status in statuses:
        group = by_status[status]
        if not group:
            continue
        look = looks.get(status, _UNKNOWN_LOOK)
        shape = plotext.marker(look.symbol(ascii_only), pixel=look.pixel())
        _put(fig, _signal(fig, [m.lon for m in group], [m.lat for m in group], shape))
    for marker in selected:
        _draw_selected(fig, marker, view, layout, ascii_only, looks=looks)

    matrix = fig.build()
    if matrix.size() != (width, height):
        _log.warning("plotext drew %s cells, not %s", matrix.size(), (width, height))
    text: str = matrix.string()
    fig.clear()
    return text


def _signal(
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
    if not SKIP_CYCLER or plotext_kernel is None or not count or not shapes:
        signal = fig.signal(list(xs), list(ys), marker=marker)
        if lines is not None:
            signal.lines()
            for start in lines:
                signal.line(start, False)
        return signal
    # The same steps as plotext's signal(): markers fixed against one default, then repeated.
    default = fig._next_marker()
    shapes = [plotext_marker.marker(shape, default) for shape in shapes]
    signal = plotext_signal(count)
    pointer = signal._pointer
    append = plotext_kernel.signal_append_point
    if len(shapes) == 1:
        shape = shapes[0]._pointer
        for x, y in zip(xs[:count], ys[:count], strict=True):
            append(pointer, x, y, shape)
    else:
        kinds = len(shapes)
        for index in range(count):
            append(pointer, xs[index], ys[index], shapes[index % kinds]._pointer)
    signal._set_marker(shapes[0])
    signal._set_xside(0)._set_yside(0)
    if lines is not None:
        connect = plotext_kernel.signal_set_connected
        starts = set(lines)
        for index in range(count):
            connect(pointer, index, index not in starts)
    return signal


def _put(fig: Any, signal: Any) -> None:
    """fig.draw less plotext's colour-cycler bookkeeping, which walks every point in Python.

    Every signal here has its colour set, so the cycler has nothing to learn from them.
    """
    add = getattr(getattr(fig, "_signals", None), "_add", None) if SKIP_CYCLER else None
    if add is None:
        fig.draw(signal)
    else:
        add(signal)


def _clusters(
    group: list[Marker], view: Viewport, layout: _Layout
) -> tuple[list[Cluster], list[Marker]]:
    """The dense buckets of the group as clusters, and the markers left to draw one by one."""
    points = [(m.lon, m.lat) for m in group]
    clusters, alone = cluster_points(
        points,
        view,
        layout.canvas_width,
        layout.canvas_height,
        bucket=_CLUSTER_BUCKET,
        least=_CLUSTER_LEAST,
    )
    return clusters, [group[i] for i in alone]


def _draw_counts(
    fig: Any,
    clusters: list[Cluster],
    view: Viewport,
    layout: _Layout,
    lone: set[tuple[int, int]],
) -> None:
    """Each cluster's count at its place, or a row off it where a ``lone`` cell is there.

    plotext drops a whole multi-cell mark when a later point covers one of its cells.
    """
    columns, rows = layout.canvas_width, layout.canvas_height
    row_height = view.lat_span / rows
    lons: list[float] = []
    lats: list[float] = []
    marks: list[Any] = []
    for cluster in clusters:
        text = str(len(cluster.members))
        col, row = cell_of(view, columns, rows, cluster.lon, cluster.lat)
        lat = cluster.lat
        for shift in (0, 1, -1):
            cells = {
                (col - (len(text) - 1) // 2 + i, row - shift) for i in range(-1, len(text) + 1)
            }
            if 0 <= row - shift < rows and not cells & lone:
                lat = min(max(cluster.lat + shift * row_height, view.lat_min), view.lat_max)
                break
        # plotext leaves out a mark that does not fit: at an edge the count leans inwards.
        first = col - (len(text) - 1) // 2
        align = "left" if first < 0 else "right" if first + len(text) > columns else "center"
        lons.append(cluster.lon)
        lats.append(lat)
        marks.append(_count_mark(text, align))
    if marks:
        _put(fig, _signal(fig, lons, lats, marks))


@cache
def _count_mark(text: str, align: str) -> Any:
    count = plotext.colorize(text, pixel=_CLUSTER.pixel()).matrix()
    return plotext.marker(count, ha=align)


def _taken_cells(
    by_status: dict[str, list[Marker]],
    clusters: list[Cluster],
    selected: list[Marker],
    view: Viewport,
    layout: _Layout,
) -> set[tuple[int, int]]:
    """Canvas cells that trucks, cluster counts and the selected truck's label will cover."""
    columns, rows = layout.canvas_width, layout.canvas_height
    points = [(m.lon, m.lat) for group in by_status.values() for m in group]
    taken = set(cells_of(view, columns, rows, points))
    for cluster in clusters:
        col, row = cell_of(view, columns, rows, cluster.lon, cluster.lat)
        digits = len(str(len(cluster.members)))
        taken.update((col - (digits - 1) // 2 + i, row) for i in range(digits))
    for marker in selected:
        col, row = cell_of(view, columns, rows, marker.lon, marker.lat)
        # Mark, status, a space and the label, on whichever side it goes.
        length = cell_len(marker.device_id) + 3
        first = col if col + length + 1 <= columns else col - length + 1
        taken.update((first + i, row) for i in range(length))
    return taken


def _draw_trail(
    fig: Any, trail: Sequence[Point], view: Viewport, layout: _Layout, ascii_only: bool
) -> None:
    if len(trail) < 2:
        return
    sx, sy = _dots_per_degree(view, layout, ascii_only)
    look = plotext.marker(_TRAIL.symbol(ascii_only), pixel=_TRAIL.pixel())
    for line in clip_lines([list(trail)], view):
        kept = _simplify(line, sx, sy, _COAST_TOLERANCE)
        _put(fig, _signal(fig, [p[0] for p in kept], [p[1] for p in kept], look, lines=()))


def _draw_selected(
    fig: Any,
    marker: Marker,
    view: Viewport,
    layout: _Layout,
    ascii_only: bool,
    *,
    looks: dict[str, _Look],
) -> None:
    """The selected marker with its own status glyph beside it and its label."""
    status_look = looks.get(marker.status, _UNKNOWN_LOOK)
    glyph = plotext.colorize(_SELECTED.symbol(ascii_only), pixel=_SELECTED.pixel()).matrix()
    status = plotext.colorize(status_look.symbol(ascii_only), pixel=status_look.pixel()).matrix()
    label_pixel = plotext.pixel(foreground=_LABEL_COLOUR, style="bold")
    label = literal(marker.device_id).strip()
    if ascii_only:
        label = label.encode("ascii", "backslashreplace").decode("ascii")
    canvas_width = layout.canvas_width
    col = min(int((marker.lon - view.lon_min) / view.lon_span * canvas_width), canvas_width - 1)
    # One cell is kept free at each end, as the cell plotext picks may differ by one from ours.
    room_right = canvas_width - col - 4
    room_left = col - 3
    if label:
        shown = plotext.colorize(label, pixel=label_pixel).matrix()
        if shown.width() > max(room_right, room_left):
            label = _shorten(label, max(room_right, room_left), ascii_only)
            shown = plotext.colorize(label, pixel=label_pixel).matrix() if label else None
        if shown is not None:
            if shown.width() <= room_right:
                tag, align = glyph + status + " " + shown, "left"
            else:
                tag, align = shown + " " + status + glyph, "right"
            # The glyph travels inside the tag, as a later point on the same cell replaces it.
            tag_marker = plotext.marker(tag, ha=align)
            _put(fig, _signal(fig, [marker.lon], [marker.lat], tag_marker))
            return
    right = col + 1 < canvas_width
    tag = glyph + status if right else status + glyph
    alone = plotext.marker(tag, ha="left" if right else "right")
    _put(fig, _signal(fig, [marker.lon], [marker.lat], alone))


def _shorten(label: str, cells: int, ascii_only: bool = False) -> str:
    """The label cut to at most ``cells`` cells, an ellipsis marking the cut."""
    if cells < 2:
        return ""
    out = ""
    for char in label:
        if cell_len(out + char) > cells - 1:
            break
        out += char
    return out + ("~" if ascii_only else "…")


def _dots_per_degree(view: Viewport, layout: _Layout, ascii_only: bool) -> tuple[float, float]:
    """Plotted dots per degree on each axis: braille has 2 x 4 dots a cell, ASCII one."""
    across, down = (1.0, 1.0) if ascii_only else (2.0, 4.0)
    return (
        across * layout.canvas_width / view.lon_span,
        down * layout.canvas_height / view.lat_span,
    )


def _base_signals(
    fig: Any,
    view: Viewport,
    layout: _Layout,
    *,
    coastline: bool,
    context: bool,
    ascii_only: bool,
    overlay: Overlay | None,
) -> tuple[list[Any], list[Any]]:
    """What lies under the trucks, made once per view and size: (outlines, depot names).

    Outlines are the borders, the coast and the operator's zones and routes.
    """
    key = (view, layout.canvas_width, layout.canvas_height, coastline, context, ascii_only, overlay)
    cached = _base_cache.get(key)
    if cached is not None:
        _base_cache.move_to_end(key)
        return cached
    scale = _dots_per_degree(view, layout, ascii_only)
    line_symbol = "braille" if not ascii_only else None
    layers: list[tuple[list[list[Point]], int, str]] = []
    if context:
        layers.append((clip_lines(load_border_lines(), view), _BORDER_COLOUR, _BORDER_ASCII))
    if coastline:
        layers.append((clip_rings(load_land_rings(), view), _COAST_COLOUR, _COAST_ASCII))
    depots: list[Any] = []
    if overlay is not None:
        for geofence in (False, True):
            rings = [r for z in overlay.zones if z.geofence == geofence for r in z.rings]
            colour = _GEOFENCE_COLOUR if geofence else _ZONE_COLOUR
            layers.append((clip_rings(rings, view), colour, _ZONE_ASCII))
        routes = [route.points for route in overlay.routes]
        layers.append((clip_lines(routes, view), _ROUTE_COLOUR, _ROUTE_ASCII))
        depots = _depot_signals(fig, overlay, view, layout, ascii_only)
    signals = []
    for lines, colour, ascii_symbol in layers:
        signal = _outline_signal(fig, lines, scale, colour, line_symbol or ascii_symbol)
        signals += [signal] if signal is not None else []
    _base_cache[key] = (signals, depots)
    if len(_base_cache) > _BASE_CACHE_SIZE:
        _base_cache.popitem(last=False)
    return signals, depots


def _depot_signals(
    fig: Any, overlay: Overlay, view: Viewport, layout: _Layout, ascii_only: bool
) -> list[Any]:
    """The operator's points with their names, in one signal; a name reads leftwards where
    the right edge is near, as plotext leaves out a mark that does not fit."""
    shown = [d for d in overlay.depots if view.contains(d.lon, d.lat)]
    if not shown:
        return []
    columns, rows = layout.canvas_width, layout.canvas_height
    mark = plotext.colorize(_DEPOT.symbol(ascii_only), pixel=_DEPOT.pixel()).matrix()
    name_pixel = plotext.pixel(foreground=_DEPOT_NAME_COLOUR)
    marks = []
    for depot in shown:
        name = literal(depot.name, 40)
        if ascii_only and name:
            name = _ascii_name(name)
        col, _ = cell_of(view, columns, rows, depot.lon, depot.lat)
        room = max(columns - col - 2, col - 1)
        if name and cell_len(name) > room:
            name = _shorten(name, room, ascii_only)
        if not name:
            marks.append(plotext.marker(mark, ha="left"))
            continue
        shown_name = plotext.colorize(name, pixel=name_pixel).matrix()
        if col + cell_len(name) + 2 <= columns:
            marks.append(plotext.marker(mark + " " + shown_name, ha="left"))
        else:
            marks.append(plotext.marker(shown_name + " " + mark, ha="right"))
    return [_signal(fig, [d.lon for d in shown], [d.lat for d in shown], marks)]


def _outline_signal(
    fig: Any, lines: list[list[Point]], scale: tuple[float, float], colour: int, symbol: str
) -> Any:
    """Polylines as one plotext signal, simplified to what the canvas can show."""
    xs: list[float] = []
    ys: list[float] = []
    starts: list[int] = []
    for line in lines:
        kept = _simplify(line, *scale, _COAST_TOLERANCE)
        starts.append(len(xs))
        xs.extend(p[0] for p in kept)
        ys.extend(p[1] for p in kept)
    if not xs:
        return None
    look = plotext.marker(symbol, pixel=plotext.pixel(foreground=colour))
    return _signal(fig, xs, ys, look, lines=starts)


def _place_signals(
    fig: Any, view: Viewport, layout: _Layout, taken: set[tuple[int, int]], ascii_only: bool
) -> tuple[list[Any], set[tuple[int, int]]]:
    """A dot and a name for each place that fits, capitals and large places first.

    Names go to the side of their dot that no truck covers, where there is one. Also returns
    the cells the names take, for the cluster counts to keep off.
    """
    columns, rows = layout.canvas_width, layout.canvas_height
    most = min(max(2, columns * rows // _CELLS_PER_PLACE), _MOST_PLACES)
    labels = pick_places(
        place_index().ranked(view), view, columns, rows, most=most, name_width=cell_len, avoid=taken
    )
    cells: set[tuple[int, int]] = set()
    for label in labels:
        length = cell_len(label.place.name) + 2
        first = label.col - length + 1 if label.leftwards else label.col
        cells.update((first + i, label.row) for i in range(length))
    key = (view, columns, rows, ascii_only, tuple(labels))
    cached = _label_cache.get(key)
    if cached is not None:
        return cached, cells
    # Copies: making a signal fixes its markers' unset colours in place.
    marks = [_place_tag(label.place.name, label.leftwards, ascii_only).copy() for label in labels]
    signals = []
    if marks:
        lons = [label.place.lon for label in labels]
        lats = [label.place.lat for label in labels]
        signals.append(_signal(fig, lons, lats, marks))
    _label_cache.clear()
    _label_cache[key] = signals
    return signals, cells


def _place_tag(name: str, leftwards: bool, ascii_only: bool) -> Any:
    """A place's dot and name as one marker, the name on the side ``leftwards`` says."""
    key = (name, leftwards, ascii_only)
    tag = _place_tags.get(key)
    if tag is None:
        dot = plotext.colorize(_PLACE_DOT.symbol(ascii_only), pixel=_PLACE_DOT.pixel()).matrix()
        shown_name = _ascii_name(name) if ascii_only else name
        pixel = plotext.pixel(foreground=_PLACE_COLOUR)
        shown = plotext.colorize(shown_name, pixel=pixel).matrix()
        joined = shown + " " + dot if leftwards else dot + " " + shown
        tag = plotext.marker(joined, ha="right" if leftwards else "left")
        if len(_place_tags) >= _PLACE_TAG_CACHE_SIZE:
            _place_tags.clear()
        _place_tags[key] = tag
    return tag


def _ascii_name(name: str) -> str:
    """The name without accents, other letters as '?': "Creteil" for "Créteil"."""
    bare = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return bare if bare.strip() else "?"


# Legend entries: what each mark is, in full and in short.
_LEGEND: Final = (
    ("online", "online", "on"),
    ("stale", "stale", "stale"),
    ("offline", "offline", "OFF"),
    ("unknown", "unknown (HQ outage)", "unk"),
    ("selected", "selected", "sel"),
)


def _legend_line(
    width: int,
    indent: int,
    canvas_width: int,
    view: Viewport,
    ascii_only: bool,
    *,
    looks: dict[str, _Look],
) -> Text:
    """The marker legend, and a scale bar in km at the right end when there is room."""
    text_style = Style(color=Color.from_ansi(_LEGEND_TEXT_COLOUR))
    longest_bar = min(20, max(canvas_width // 4, 1))
    line = Text()
    # Wordings from the longest to none: full words, short words, short words packed tight.
    gaps = {1: (" ", "  "), 2: (" ", " "), 3: ("", " ")}
    for words, with_bar in ((1, True), (2, True), (3, True), (2, False), (3, False), (0, True)):
        line = Text(" " * indent, no_wrap=True, overflow="crop", end="")
        for key, *names in _LEGEND if words else ():
            look = _SELECTED if key == "selected" else looks[key]
            before, after = gaps[words]
            line.append(look.symbol(ascii_only), look.rich_style())
            line.append(f"{before}{names[min(words, 2) - 1]}{after}", text_style)
        line.rstrip()
        # Two cells apart from the legend, and room for " 5,000 km" after the bar.
        room = width - line.cell_len - 2
        bar = _scale_text(view, canvas_width, min(longest_bar, room - 9), ascii_only)
        if with_bar and bar.plain and bar.cell_len <= room:
            line.append(" " * (room + 2 - bar.cell_len))
            line.append_text(bar)
            break
        if not with_bar and room >= -2:
            break
    line.truncate(width, overflow="crop", pad=True)
    return line


def _scale_text(view: Viewport, canvas_width: int, most_cells: int, ascii_only: bool) -> Text:
    """``├────┤ 5 km``: a bar as long on the map as the distance it names."""
    found = scale_bar(view, canvas_width, most_cells)
    if found is None or found[1] < 3:  # shorter than three cells, a bar says nothing
        return Text()
    km, cells = found
    distance = f"{km * 1000:.0f} m" if km < 1 else f"{km:,.0f} km"
    ends, middle = ("|", "-") if ascii_only else ("├┤", "─")
    body = middle * max(cells - 2, 0)
    bar = f"{ends[0]}{body}{ends[-1]}"
    return Text(f"{bar} {distance}", style=Style(color=Color.from_ansi(_LEGEND_TEXT_COLOUR)))


def _simplify(line: Sequence[Point], sx: float, sy: float, tolerance: float) -> list[Point]:
    """Douglas-Peucker on the polyline scaled by (sx, sy): drop points the eye cannot see."""
    count = len(line)
    if count < 3:
        return list(line)
    xs = [x * sx for x, _ in line]
    ys = [y * sy for _, y in line]
    keep = [False] * count
    keep[0] = keep[-1] = True
    limit = tolerance * tolerance
    stack = [(0, count - 1)]
    while stack:
        first, last = stack.pop()
        ax, ay = xs[first], ys[first]
        dx, dy = xs[last] - ax, ys[last] - ay
        length2 = dx * dx + dy * dy
        worst, worst_at = -1.0, -1
        between = zip(
            range(first + 1, last), xs[first + 1 : last], ys[first + 1 : last], strict=True
        )
        if length2 == 0.0:
            for i, x, y in between:
                px, py = x - ax, y - ay
                distance2 = px * px + py * py
                if distance2 > worst:
                    worst, worst_at = distance2, i
        else:
            for i, x, y in between:
                cross = (x - ax) * dy - (y - ay) * dx
                distance2 = cross * cross / length2
                if distance2 > worst:
                    worst, worst_at = distance2, i
        if worst > limit:
            keep[worst_at] = True
            stack.append((first, worst_at))
            stack.append((worst_at, last))
    return [point for point, k in zip(line, keep, strict=True) if k]


def _layout(width: int, height: int, view: Viewport, *, ascii_only: bool = False) -> _Layout:
    if width < _TICKS_MIN_WIDTH or height < _TICKS_MIN_HEIGHT:
        return _Layout(width, height, width, height, None, None)
    canvas_height = height - 1
    y_positions, y_labels = _ticks(
        view.lat_min, view.lat_max, max(canvas_height // 4, 2), "NS", ascii_only
    )
    # A trailing space keeps the latitude labels off the map.
    y_labels = [label + " " for label in y_labels]
    label_width = max((len(label) for label in y_labels), default=0)
    y_labels = [label.rjust(label_width) for label in y_labels]
    canvas_width = width - label_width
    x_positions: list[float] = []
    x_labels: list[str] = []
    for count in range(max(canvas_width // 10, 2), 1, -1):
        x_positions, x_labels = _ticks(view.lon_min, view.lon_max, count, "EW", ascii_only)
        widest = max((len(label) for label in x_labels), default=0)
        if len(x_labels) * (widest + 2) <= canvas_width:
            break
    return _Layout(
        width,
        height,
        canvas_width,
        canvas_height,
        (x_positions, x_labels),
        (y_positions, y_labels) if y_labels else None,
    )


def _ticks(
    lower: float, upper: float, most: int, hemispheres: str, ascii_only: bool = False
) -> tuple[list[float], list[str]]:
    """Round degree positions within lower..upper, at most ``most`` of them, with labels."""
    span = upper - lower
    step = next((s for s in _TICK_STEPS if span / s <= most), _TICK_STEPS[-1])
    decimals = max(0, math.ceil(-math.log10(step) - 1e-9))
    positions: list[float] = []
    labels: list[str] = []
    k = math.ceil(lower / step - 1e-9)
    while k * step <= upper + step * 1e-9:
        value = min(max(k * step, lower), upper)
        positions.append(value)
        labels.append(_degrees(k * step, decimals, step, hemispheres, ascii_only))
        k += 1
    return positions, labels


def _degrees(
    value: float, decimals: int, step: float, hemispheres: str, ascii_only: bool = False
) -> str:
    sign = "" if ascii_only else "°"
    if abs(value) < step / 2:
        return f"0{sign}"
    side = hemispheres[0] if value > 0 else hemispheres[1]
    return f"{abs(value):.{decimals}f}{sign}{side}"


def _to_text(ansi: str, width: int, height: int, *, head: Text | None = None) -> Text:
    """Parse plotext's ANSI output; plain text in it, labels included, is never markup.

    ``head``, one line, goes above the picture, as if joined to it with a newline.
    """
    text = _from_sgr(ansi.rstrip("\n"), head)
    plain = text.plain.split("\n")[0 if head is None else 1 :]
    if len(plain) == height and _all_cell_lengths(plain, width):
        return text
    # plotext and rich may disagree on the width of a rare character: rich is what draws.
    picture = text if head is None else _from_sgr(ansi.rstrip("\n"))
    fixed = list(picture.split("\n", allow_blank=True)[:height])
    fixed += [Text() for _ in range(height - len(fixed))]
    for line in fixed:
        line.truncate(width, overflow="crop", pad=True)
    joined = Text("\n", no_wrap=True, overflow="crop", end="").join(fixed)
    return joined if head is None else _joined(head, joined)


def _joined(head: Text, picture: Text) -> Text:
    return Text("\n", no_wrap=True, overflow="crop", end="").join([head, picture])


def _all_cell_lengths(lines: list[str], width: int) -> bool:
    """Whether every line is ``width`` cells long; one cell a character where each is one."""
    characters = set().union(*lines)
    if not characters & _JOINERS and all(get_character_cell_size(c) == 1 for c in characters):
        return all(len(line) == width for line in lines)
    return all(cell_len(line) == width for line in lines)


def _from_sgr(ansi: str, head: Text | None = None) -> Text:
    """Text.from_ansi, many times faster for plotext's output: colour codes and nothing else.

    plotext resets before each colour change, so few distinct code runs occur: rich decodes
    each once. Anything but colour codes falls back to Text.from_ansi. A ``head`` goes first,
    a newline after it, as Text.join would put them (without making every span again).
    """
    chunks: list[str] = []
    spans: list[Span] = []
    if head is not None:
        chunks += [head.plain, "\n"]
        if head.style:
            spans.append(Span(0, len(head), head.style))
        spans += head.spans
    position = start = sum(map(len, chunks))
    lead, styles = _SGR_LEAD.match, _sgr_lead_styles
    # Split at plotext's resets: most pieces are then a run of codes and the text they colour.
    for piece in ansi.split(_SGR_RESET):
        codes, part = "", piece
        style = None
        if piece.startswith("\x1b["):
            found = lead(piece)
            end = found.end() if found else 0
            codes, part = piece[:end], piece[end:]
            style = styles.get(codes, _UNDECODED)
            if style is _UNDECODED:
                style = _lead_style(codes)
        if "\x1b" in part:
            active = _codes_in_effect(codes)
            position = _sgr_runs(part, active, position, chunks, spans)
        elif part:
            chunks.append(part)
            after = position + len(part)
            if style is not None:
                spans.append(Span(position, after, style))
            position = after
    plain = "".join(chunks)
    if "\x1b" in plain[start:]:
        picture = Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
        return picture if head is None else _joined(head, picture)
    return Text(plain, no_wrap=True, overflow="crop", end="", spans=spans)


def _sgr_runs(
    ansi: str, active: tuple[str, ...], position: int, chunks: list[str], spans: list[Span]
) -> int:
    """_from_sgr for a piece with codes inside its text; returns the position after it."""
    parts = _SGR.split(ansi)
    for index, part in enumerate(parts):
        if index % 2:
            active = () if part in ("", "0") else (*active, part)
        elif part:
            style = _sgr_style(active) if active else None
            if style is not None:
                spans.append(Span(position, position + len(part), style))
            chunks.append(part)
            position += len(part)
    return position


def _lead_style(codes: str) -> Style | None:
    """The style of text after a run of codes that follows a reset (or starts the output)."""
    active = _codes_in_effect(codes)
    style = _sgr_style(active) if active else None
    if len(_sgr_lead_styles) >= _SGR_CACHE_SIZE:
        _sgr_lead_styles.clear()
    _sgr_lead_styles[codes] = style
    return style


def _codes_in_effect(codes: str) -> tuple[str, ...]:
    """The codes a run of SGR codes leaves in effect, from none: those after its last reset."""
    active: tuple[str, ...] = ()
    for code in _SGR.findall(codes):
        active = () if code in ("", "0") else (*active, code)
    return active


def _sgr_style(codes: tuple[str, ...]) -> Style | None:
    style = _sgr_styles.get(codes)
    if style is None and codes not in _sgr_styles:
        sample = "".join(f"\x1b[{code}m" for code in codes) + "x"
        decoded = AnsiDecoder().decode_line(sample)
        style = Style.combine(span.style for span in decoded.spans if isinstance(span.style, Style))
        style = style or None
        if len(_sgr_styles) >= _SGR_CACHE_SIZE:
            _sgr_styles.clear()
        _sgr_styles[codes] = style
    return style


def _message(message: str, width: int, height: int) -> Text:
    """A short dim note filling width x height cells (nothing at all for a zero size)."""
    if width == 0 or height == 0:
        return Text("\n" * max(height - 1, 0), end="")
    lines = [Text(message, style="dim")] + [Text() for _ in range(height - 1)]
    for line in lines:
        line.truncate(width, overflow="crop", pad=True)
    return Text("\n", no_wrap=True, overflow="crop", end="").join(lines)
