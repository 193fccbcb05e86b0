"""The trucks on the map: clusters of healthy ones, lone markers, the selected one and its trail."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final, NamedTuple

import plotext
from rich.cells import cell_len

from mwm_tui.compat import plotext as plotext_parts
from mwm_tui.domain.geo import (
    Cluster,
    Point,
    Viewport,
    cell_of,
    cells_of,
    clip_lines,
    cluster_points,
)
from mwm_tui.domain.text import literal
from mwm_tui.ui.map_layout import SIMPLIFY_TOLERANCE, Layout, dots_per_degree, simplify
from mwm_tui.ui.map_looks import CLUSTER, LABEL_COLOUR, SELECTED, TRAIL, UNKNOWN_LOOK, Look, shorten

# Problems are drawn last so that they win a cell shared with a healthy truck.
DRAW_ORDER: Final = ("online", "unknown", "stale", "offline")
# Only healthy trucks are counted into clusters: a problem truck is always shown on its own.
CLUSTERED: Final = frozenset({"online"})
_CLUSTER_BUCKET: Final = (6, 3)
_CLUSTER_LEAST: Final = 4


class Marker(NamedTuple):
    """One device on the map (a tuple: the map makes one per device at every draw)."""

    device_id: str  # display text already made safe by the caller (no control chars)
    lon: float
    lat: float
    status: str  # "online" | "stale" | "offline" | "unknown"
    selected: bool = False


def markers_inside(markers: Sequence[Marker], view: Viewport) -> list[Marker]:
    """The markers within the view, borders included."""
    west, east, south, north = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    return [m for m in markers if west <= m.lon <= east and south <= m.lat <= north]


def split_clusters(
    group: list[Marker], view: Viewport, layout: Layout
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


def draw_counts(
    fig: Any,
    clusters: list[Cluster],
    view: Viewport,
    layout: Layout,
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
        plotext_parts.put(fig, plotext_parts.signal(fig, lons, lats, marks))


@cache
def _count_mark(text: str, align: str) -> Any:
    count = plotext.colorize(text, pixel=CLUSTER.pixel()).matrix()
    return plotext.marker(count, ha=align)


def taken_cells(
    by_status: dict[str, list[Marker]],
    clusters: list[Cluster],
    selected: list[Marker],
    view: Viewport,
    layout: Layout,
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
        taken |= label_cells(marker, view, layout, ascii_only=False)
    return taken


class SelectedTag(NamedTuple):
    """Where the selected truck's label goes: its text (maybe shortened) and side."""

    label: str
    rightwards: bool


def selected_tag(
    marker: Marker, view: Viewport, canvas_width: int, ascii_only: bool
) -> SelectedTag:
    """The selected truck's label as drawn: to the right of its mark where it fits, else to
    the left, shortened to the wider side; "" when there is no room at all."""
    label = literal(marker.device_id).strip()
    if ascii_only:
        label = label.encode("ascii", "backslashreplace").decode("ascii")
    col = min(int((marker.lon - view.lon_min) / view.lon_span * canvas_width), canvas_width - 1)
    # One cell is kept free at each end, as the cell plotext picks may differ by one from ours.
    room_right = canvas_width - col - 4
    room_left = col - 3
    if label and cell_len(label) > max(room_right, room_left):
        label = shorten(label, max(room_right, room_left), ascii_only)
    if not label:
        return SelectedTag("", col + 1 < canvas_width)
    return SelectedTag(label, cell_len(label) <= room_right)


def label_cells(
    marker: Marker, view: Viewport, layout: Layout, *, ascii_only: bool
) -> set[tuple[int, int]]:
    """The cells the selected truck's mark and label cover, and one more at each end (plotext
    may place a mark one cell off ours)."""
    columns, rows = layout.canvas_width, layout.canvas_height
    col, row = cell_of(view, columns, rows, marker.lon, marker.lat)
    tag = selected_tag(marker, view, columns, ascii_only)
    length = 2 + (cell_len(tag.label) + 1 if tag.label else 0)
    first = col if tag.rightwards else col - length + 1
    return {(first + i, row) for i in range(-1, length + 1)}


def draw_trail(
    fig: Any, trail: Sequence[Point], view: Viewport, layout: Layout, ascii_only: bool
) -> None:
    """The selected truck's recent fixes as a line, simplified to what the canvas shows."""
    if len(trail) < 2:
        return
    sx, sy = dots_per_degree(view, layout, ascii_only)
    look = plotext.marker(TRAIL.symbol(ascii_only), pixel=TRAIL.pixel())
    for line in clip_lines([list(trail)], view):
        kept = simplify(line, sx, sy, SIMPLIFY_TOLERANCE)
        plotext_parts.put(
            fig,
            plotext_parts.signal(fig, [p[0] for p in kept], [p[1] for p in kept], look, lines=()),
        )


def draw_selected(
    fig: Any,
    marker: Marker,
    view: Viewport,
    layout: Layout,
    ascii_only: bool,
    *,
    looks: dict[str, Look],
) -> None:
    """The selected marker with its own status glyph beside it and its label."""
    status_look = looks.get(marker.status, UNKNOWN_LOOK)
    glyph = plotext.colorize(SELECTED.symbol(ascii_only), pixel=SELECTED.pixel()).matrix()
    status = plotext.colorize(status_look.symbol(ascii_only), pixel=status_look.pixel()).matrix()
    label_pixel = plotext.pixel(foreground=LABEL_COLOUR, style="bold")
    tag = selected_tag(marker, view, layout.canvas_width, ascii_only)
    if tag.label:
        shown = plotext.colorize(tag.label, pixel=label_pixel).matrix()
        if tag.rightwards:
            joined, align = glyph + status + " " + shown, "left"
        else:
            joined, align = shown + " " + status + glyph, "right"
        # The glyph travels inside the tag, as a later point on the same cell replaces it.
        tag_marker = plotext.marker(joined, ha=align)
        plotext_parts.put(fig, plotext_parts.signal(fig, [marker.lon], [marker.lat], tag_marker))
        return
    right = tag.rightwards
    alone = plotext.marker(
        glyph + status if right else status + glyph, ha="left" if right else "right"
    )
    plotext_parts.put(fig, plotext_parts.signal(fig, [marker.lon], [marker.lat], alone))
