"""What lies under the trucks: coast, borders, place names and the operator's overlay.

Made once per view and size and kept: a redraw with moved trucks takes them from the caches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection
from typing import Any, Final, NamedTuple

import plotext
from rich.cells import cell_len

from mwm_tui.compat import plotext as plotext_parts
from mwm_tui.domain.geo import (
    Point,
    Viewport,
    cell_of,
    clip_lines,
    clip_rings,
    load_border_lines,
    load_land_rings,
    pick_places,
    place_index,
)
from mwm_tui.domain.overlay import Overlay
from mwm_tui.domain.text import literal
from mwm_tui.ui.map_layout import SIMPLIFY_TOLERANCE, Layout, dots_per_degree, simplify
from mwm_tui.ui.map_looks import (
    BORDER_ASCII,
    BORDER_COLOUR,
    COAST_ASCII,
    COAST_COLOUR,
    DEPOT,
    DEPOT_NAME_COLOUR,
    GEOFENCE_COLOUR,
    PLACE_COLOUR,
    PLACE_DOT,
    ROUTE_ASCII,
    ROUTE_COLOUR,
    ZONE_ASCII,
    ZONE_COLOUR,
    ascii_name,
    shorten,
)

# At most one place name per this many canvas cells, and never more than _MOST_PLACES.
_CELLS_PER_PLACE: Final = 150
_MOST_PLACES: Final = 40
_BASE_CACHE_SIZE: Final = 8
_base_cache: OrderedDict[tuple[Any, ...], Base] = OrderedDict()
_label_cache: dict[tuple[Any, ...], list[Any]] = {}
_PLACE_TAG_CACHE_SIZE: Final = 512
_place_tags: dict[tuple[str, bool, bool], Any] = {}


def clear_caches() -> None:
    """Forget every base layer and place name made so far: the next draw makes them again."""
    _base_cache.clear()
    _label_cache.clear()
    _place_tags.clear()


class Base(NamedTuple):
    """The map's fixed layers for one view and size."""

    outlines: list[Any]  # the borders, the coast and the operator's zones and routes
    depots: list[Any]  # the operator's depots and their names, drawn over the trucks
    depot_cells: frozenset[tuple[int, int]]  # the cells those take, kept clear of place names


def base_signals(
    fig: Any,
    view: Viewport,
    layout: Layout,
    *,
    coastline: bool,
    context: bool,
    ascii_only: bool,
    overlay: Overlay | None,
) -> Base:
    """The map's fixed layers, made once per view and size."""
    key = (view, layout.canvas_width, layout.canvas_height, coastline, context, ascii_only, overlay)
    cached = _base_cache.get(key)
    if cached is not None:
        _base_cache.move_to_end(key)
        return cached
    scale = dots_per_degree(view, layout, ascii_only)
    line_symbol = "braille" if not ascii_only else None
    layers: list[tuple[list[list[Point]], int, str]] = []
    if context:
        layers.append((clip_lines(load_border_lines(), view), BORDER_COLOUR, BORDER_ASCII))
    if coastline:
        layers.append((clip_rings(load_land_rings(), view), COAST_COLOUR, COAST_ASCII))
    depots: list[Any] = []
    depot_cells: frozenset[tuple[int, int]] = frozenset()
    if overlay is not None:
        for geofence in (False, True):
            rings = [r for z in overlay.zones if z.geofence == geofence for r in z.rings]
            colour = GEOFENCE_COLOUR if geofence else ZONE_COLOUR
            layers.append((clip_rings(rings, view), colour, ZONE_ASCII))
        routes = [route.points for route in overlay.routes]
        layers.append((clip_lines(routes, view), ROUTE_COLOUR, ROUTE_ASCII))
        depots, depot_cells = _depot_signals(fig, overlay, view, layout, ascii_only)
    signals = []
    for lines, colour, ascii_symbol in layers:
        signal = _outline_signal(fig, lines, scale, colour, line_symbol or ascii_symbol)
        signals += [signal] if signal is not None else []
    base = _base_cache[key] = Base(signals, depots, depot_cells)
    if len(_base_cache) > _BASE_CACHE_SIZE:
        _base_cache.popitem(last=False)
    return base


def _depot_signals(
    fig: Any, overlay: Overlay, view: Viewport, layout: Layout, ascii_only: bool
) -> tuple[list[Any], frozenset[tuple[int, int]]]:
    """The operator's points with their names, in one signal, and the cells they take (one
    more at each end); a name reads leftwards where the right edge is near, as plotext
    leaves out a mark that does not fit."""
    shown = [d for d in overlay.depots if view.contains(d.lon, d.lat)]
    if not shown:
        return [], frozenset()
    columns, rows = layout.canvas_width, layout.canvas_height
    cells: set[tuple[int, int]] = set()
    mark = plotext.colorize(DEPOT.symbol(ascii_only), pixel=DEPOT.pixel()).matrix()
    name_pixel = plotext.pixel(foreground=DEPOT_NAME_COLOUR)
    marks = []
    for depot in shown:
        name = literal(depot.name, 40)
        if ascii_only and name:
            name = ascii_name(name)
        col, row = cell_of(view, columns, rows, depot.lon, depot.lat)
        room = max(columns - col - 2, col - 1)
        if name and cell_len(name) > room:
            name = shorten(name, room, ascii_only)
        if not name:
            marks.append(plotext.marker(mark, ha="left"))
            cells.update((col + i, row) for i in (-1, 0, 1))
            continue
        shown_name = plotext.colorize(name, pixel=name_pixel).matrix()
        length = cell_len(name) + 2
        if col + length <= columns:
            marks.append(plotext.marker(mark + " " + shown_name, ha="left"))
            first = col
        else:
            marks.append(plotext.marker(shown_name + " " + mark, ha="right"))
            first = col - length + 1
        cells.update((first + i, row) for i in range(-1, length + 1))
    lons, lats = [d.lon for d in shown], [d.lat for d in shown]
    return [plotext_parts.signal(fig, lons, lats, marks)], frozenset(cells)


def _outline_signal(
    fig: Any, lines: list[list[Point]], scale: tuple[float, float], colour: int, symbol: str
) -> Any:
    """Polylines as one plotext signal, simplified to what the canvas can show."""
    xs: list[float] = []
    ys: list[float] = []
    starts: list[int] = []
    for line in lines:
        kept = simplify(line, *scale, SIMPLIFY_TOLERANCE)
        starts.append(len(xs))
        xs.extend(p[0] for p in kept)
        ys.extend(p[1] for p in kept)
    if not xs:
        return None
    look = plotext.marker(symbol, pixel=plotext.pixel(foreground=colour))
    return plotext_parts.signal(fig, xs, ys, look, lines=starts)


def place_signals(
    fig: Any,
    view: Viewport,
    layout: Layout,
    taken: set[tuple[int, int]],
    ascii_only: bool,
    *,
    keep_clear: Collection[tuple[int, int]] = (),
) -> tuple[list[Any], set[tuple[int, int]]]:
    """A dot and a name for each place that fits, capitals and large places first.

    Names go to the side of their dot that no truck covers, where there is one, and never
    over ``keep_clear``. Also returns the cells the names take, for the cluster counts.
    """
    columns, rows = layout.canvas_width, layout.canvas_height
    most = min(max(2, columns * rows // _CELLS_PER_PLACE), _MOST_PLACES)
    labels = pick_places(
        place_index().ranked(view),
        view,
        columns,
        rows,
        most=most,
        name_width=cell_len,
        avoid=taken,
        keep_clear=keep_clear,
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
        signals.append(plotext_parts.signal(fig, lons, lats, marks))
    _label_cache.clear()
    _label_cache[key] = signals
    return signals, cells


def _place_tag(name: str, leftwards: bool, ascii_only: bool) -> Any:
    """A place's dot and name as one marker, the name on the side ``leftwards`` says."""
    key = (name, leftwards, ascii_only)
    tag = _place_tags.get(key)
    if tag is None:
        dot = plotext.colorize(PLACE_DOT.symbol(ascii_only), pixel=PLACE_DOT.pixel()).matrix()
        shown_name = ascii_name(name) if ascii_only else name
        pixel = plotext.pixel(foreground=PLACE_COLOUR)
        shown = plotext.colorize(shown_name, pixel=pixel).matrix()
        joined = shown + " " + dot if leftwards else dot + " " + shown
        tag = plotext.marker(joined, ha="right" if leftwards else "left")
        if len(_place_tags) >= _PLACE_TAG_CACHE_SIZE:
            _place_tags.clear()
        _place_tags[key] = tag
    return tag
