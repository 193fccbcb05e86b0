"""The fleet map drawn with plotext: land outlines behind, device markers on top, as rich Text."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import plotext
from rich.ansi import AnsiDecoder
from rich.cells import cell_len
from rich.style import Style
from rich.text import Span, Text

from mwm_tui.domain.geo import Point, Viewport, clip_rings, load_land_rings, visible_points
from mwm_tui.domain.text import literal

__all__ = ["PLOTEXT_LOCK", "Marker", "render_map"]

_log = logging.getLogger(__name__)

PLOTEXT_LOCK: Final = threading.Lock()
"""Held for every use of plotext: its figure, themes and colour cycler are process-wide state."""

# Below this many cells a map says nothing useful; a short message is shown instead.
MIN_WIDTH: Final = 12
MIN_HEIGHT: Final = 4

_TICKS_MIN_WIDTH: Final = 30
_TICKS_MIN_HEIGHT: Final = 8

# 256-colour palette indices: fixed greys for the background, bright ANSI colours for markers.
_COAST_COLOUR: Final = 241
_TICK_COLOUR: Final = 244
_LABEL_COLOUR: Final = 15
_SELECTED_COLOUR: Final = 14
_SELECTED_SYMBOL: Final = "◉"
# Each status has its own shape as well as its own colour, so colour is never the only cue.
_STATUS_LOOK: Final[dict[str, tuple[str, int]]] = {
    "online": ("●", 10),
    "stale": ("▲", 11),
    "offline": ("✕", 9),
    "unknown": ("?", 13),
}
_UNKNOWN_LOOK: Final = _STATUS_LOOK["unknown"]
# Problems are drawn last so that they win a cell shared with a healthy truck.
_DRAW_ORDER: Final = ("online", "unknown", "stale", "offline")

_THEME: Final = "mwm-map"
_TICK_STEPS: Final = (
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 180.0,
)  # fmt: skip
# Simplification tolerance, in braille dots: the drawn outline moves by less than this.
_COAST_TOLERANCE: Final = 0.5
_COAST_CACHE_SIZE: Final = 8
_coast_cache: OrderedDict[tuple[Viewport, int, int], Any] = OrderedDict()
_SGR: Final = re.compile(r"\x1b\[([0-9;]*)m")
_SGR_CACHE_SIZE: Final = 256
_sgr_styles: dict[tuple[str, ...], Style | None] = {}


@dataclass(frozen=True, slots=True)
class Marker:
    """One device on the map."""

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
) -> Text:
    """The map as exactly ``height`` lines of ``width`` cells; safe to call from any thread.

    x is longitude and y latitude, their limits exactly the view; markers outside it are left
    out. Below MIN_WIDTH x MIN_HEIGHT a short message of the same size is returned instead.
    """
    width, height = max(width, 0), max(height, 0)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return _message("map too small", width, height)
    layout = _layout(width, height, view)
    inside = _inside(markers, view)
    with PLOTEXT_LOCK, _silenced():
        ansi = _plot(view, inside, layout, coastline=coastline)
    return _to_text(ansi, width, height)


def _inside(markers: Sequence[Marker], view: Viewport) -> list[Marker]:
    points = [(marker.lon, marker.lat) for marker in markers]
    # visible_points hands back the very tuples it was given, so identity maps them back.
    kept = {id(point) for point in visible_points(points, view)}
    return [marker for marker, point in zip(markers, points, strict=True) if id(point) in kept]


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


def _plot(view: Viewport, markers: list[Marker], layout: _Layout, *, coastline: bool) -> str:
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

    if coastline:
        coast = _coast_signal(fig, view, layout.canvas_width, layout.canvas_height)
        if coast is not None:
            fig.draw(coast)

    by_status: dict[str, list[Marker]] = {}
    selected: list[Marker] = []
    for marker in markers:
        (selected if marker.selected else by_status.setdefault(marker.status, [])).append(marker)
    statuses = [s for s in by_status if s not in _DRAW_ORDER]
    statuses = [s for s in _DRAW_ORDER if s in by_status] + statuses
    for status in statuses:
        group = by_status[status]
        symbol, colour = _STATUS_LOOK.get(status, _UNKNOWN_LOOK)
        look = plotext.marker(symbol, pixel=plotext.pixel(foreground=colour))
        fig.draw(fig.signal([m.lon for m in group], [m.lat for m in group], marker=look))
    for marker in selected:
        _draw_selected(fig, marker, view, layout)

    matrix = fig.build()
    if matrix.size() != (width, height):
        _log.warning("plotext drew %s cells, not %s", matrix.size(), (width, height))
    text: str = matrix.string()
    fig.clear()
    return text


def _draw_selected(fig: Any, marker: Marker, view: Viewport, layout: _Layout) -> None:
    glyph = plotext.colorize(
        _SELECTED_SYMBOL, pixel=plotext.pixel(foreground=_SELECTED_COLOUR, style="bold")
    )
    label_pixel = plotext.pixel(foreground=_LABEL_COLOUR, style="bold")
    label = literal(marker.device_id).strip()
    canvas_width = layout.canvas_width
    col = min(int((marker.lon - view.lon_min) / view.lon_span * canvas_width), canvas_width - 1)
    # One cell is kept free at each end, as the cell plotext picks may differ by one from ours.
    room_right = canvas_width - col - 3
    room_left = col - 2
    if label:
        shown = plotext.colorize(label, pixel=label_pixel).matrix()
        if shown.width() > max(room_right, room_left):
            label = _shorten(label, max(room_right, room_left))
            shown = plotext.colorize(label, pixel=label_pixel).matrix() if label else None
        if shown is not None:
            if shown.width() <= room_right:
                tag, align = glyph.matrix() + " " + shown, "left"
            else:
                tag, align = shown + " " + glyph.matrix(), "right"
            # The glyph travels inside the tag, as a later point on the same cell replaces it.
            tag_marker = plotext.marker(tag, ha=align)
            fig.draw(fig.signal([marker.lon], [marker.lat], marker=tag_marker))
            return
    alone = plotext.marker(_SELECTED_SYMBOL, pixel=glyph.pixel())
    fig.draw(fig.signal([marker.lon], [marker.lat], marker=alone))


def _shorten(label: str, cells: int) -> str:
    """The label cut to at most ``cells`` cells, an ellipsis marking the cut."""
    if cells < 2:
        return ""
    out = ""
    for char in label:
        if cell_len(out + char) > cells - 1:
            break
        out += char
    return out + "…"


def _coast_signal(fig: Any, view: Viewport, canvas_width: int, canvas_height: int) -> Any:
    """The land outline as one plotext signal, simplified to the canvas' braille resolution."""
    key = (view, canvas_width, canvas_height)
    cached = _coast_cache.get(key)
    if cached is not None:
        _coast_cache.move_to_end(key)
        return cached
    xs: list[float] = []
    ys: list[float] = []
    starts: list[int] = []
    # Braille gives each cell 2 x 4 dots.
    sx = 2.0 * canvas_width / view.lon_span
    sy = 4.0 * canvas_height / view.lat_span
    for line in clip_rings(load_land_rings(), view):
        kept = _simplify(line, sx, sy, _COAST_TOLERANCE)
        starts.append(len(xs))
        xs.extend(p[0] for p in kept)
        ys.extend(p[1] for p in kept)
    signal = None
    if xs:
        look = plotext.marker("braille", pixel=plotext.pixel(foreground=_COAST_COLOUR))
        signal = fig.signal(xs, ys, marker=look).lines()
        for start in starts:
            signal.line(start, False)
    _coast_cache[key] = signal
    if len(_coast_cache) > _COAST_CACHE_SIZE:
        _coast_cache.popitem(last=False)
    return signal


def _simplify(line: Sequence[Point], sx: float, sy: float, tolerance: float) -> list[Point]:
    """Douglas-Peucker on the polyline scaled by (sx, sy): drop points the eye cannot see."""
    count = len(line)
    if count < 3:
        return list(line)
    scaled = [(x * sx, y * sy) for x, y in line]
    keep = [False] * count
    keep[0] = keep[-1] = True
    limit = tolerance * tolerance
    stack = [(0, count - 1)]
    while stack:
        first, last = stack.pop()
        ax, ay = scaled[first]
        dx, dy = scaled[last][0] - ax, scaled[last][1] - ay
        length2 = dx * dx + dy * dy
        worst, worst_at = -1.0, -1
        for i in range(first + 1, last):
            px, py = scaled[i][0] - ax, scaled[i][1] - ay
            if length2 == 0.0:
                distance2 = px * px + py * py
            else:
                cross = px * dy - py * dx
                distance2 = cross * cross / length2
            if distance2 > worst:
                worst, worst_at = distance2, i
        if worst > limit:
            keep[worst_at] = True
            stack.append((first, worst_at))
            stack.append((worst_at, last))
    return [point for point, k in zip(line, keep, strict=True) if k]


def _layout(width: int, height: int, view: Viewport) -> _Layout:
    if width < _TICKS_MIN_WIDTH or height < _TICKS_MIN_HEIGHT:
        return _Layout(width, height, width, height, None, None)
    canvas_height = height - 1
    y_positions, y_labels = _ticks(view.lat_min, view.lat_max, max(canvas_height // 4, 2), "NS")
    # A trailing space keeps the latitude labels off the map.
    y_labels = [label + " " for label in y_labels]
    label_width = max((len(label) for label in y_labels), default=0)
    y_labels = [label.rjust(label_width) for label in y_labels]
    canvas_width = width - label_width
    x_positions: list[float] = []
    x_labels: list[str] = []
    for count in range(max(canvas_width // 10, 2), 1, -1):
        x_positions, x_labels = _ticks(view.lon_min, view.lon_max, count, "EW")
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
    lower: float, upper: float, most: int, hemispheres: str
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
        labels.append(_degrees(k * step, decimals, step, hemispheres))
        k += 1
    return positions, labels


def _degrees(value: float, decimals: int, step: float, hemispheres: str) -> str:
    if abs(value) < step / 2:
        return "0°"
    side = hemispheres[0] if value > 0 else hemispheres[1]
    return f"{abs(value):.{decimals}f}°{side}"


def _to_text(ansi: str, width: int, height: int) -> Text:
    """Parse plotext's ANSI output; plain text in it, labels included, is never markup."""
    text = _from_sgr(ansi.rstrip("\n"))
    plain = text.plain.split("\n")
    if len(plain) == height and all(cell_len(line) == width for line in plain):
        return text
    # plotext and rich may disagree on the width of a rare character: rich is what draws.
    fixed = list(text.split("\n", allow_blank=True)[:height])
    fixed += [Text() for _ in range(height - len(fixed))]
    for line in fixed:
        line.truncate(width, overflow="crop", pad=True)
    return Text("\n", no_wrap=True, overflow="crop", end="").join(fixed)


def _from_sgr(ansi: str) -> Text:
    """Text.from_ansi, six times faster for plotext's output: colour codes and nothing else.

    plotext resets before each colour change, so few distinct code runs occur: rich decodes
    each once. Anything but colour codes falls back to Text.from_ansi.
    """
    parts = _SGR.split(ansi)
    chunks: list[str] = []
    spans: list[Span] = []
    active: list[str] = []
    position = 0
    for index, part in enumerate(parts):
        if index % 2:
            if part in ("", "0"):
                active.clear()
            else:
                active.append(part)
        elif part:
            style = _sgr_style(tuple(active)) if active else None
            if style is not None:
                spans.append(Span(position, position + len(part), style))
            chunks.append(part)
            position += len(part)
    plain = "".join(chunks)
    if "\x1b" in plain:
        return Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
    return Text(plain, no_wrap=True, overflow="crop", end="", spans=spans)


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
