"""Where the map's canvas sits in the plot, its tick labels, and outlines simplified to it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mwm_tui.domain.geo import Point, Viewport

_TICKS_MIN_WIDTH: Final = 30
_TICKS_MIN_HEIGHT: Final = 8
_TICK_STEPS: Final = (
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 180.0,
)  # fmt: skip
# Simplification tolerance, in braille dots: the drawn outline moves by less than this.
SIMPLIFY_TOLERANCE: Final = 0.5


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the canvas sits inside the plot, and the tick labels around it."""

    width: int
    height: int
    canvas_width: int
    canvas_height: int
    x_ticks: tuple[list[float], list[str]] | None
    y_ticks: tuple[list[float], list[str]] | None


def canvas_layout(width: int, height: int, view: Viewport, *, ascii_only: bool = False) -> Layout:
    """The canvas and tick labels of a width x height plot of the view; no ticks when small."""
    if width < _TICKS_MIN_WIDTH or height < _TICKS_MIN_HEIGHT:
        return Layout(width, height, width, height, None, None)
    canvas_height = height - 1
    y_positions, y_labels = tick_marks(
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
        x_positions, x_labels = tick_marks(view.lon_min, view.lon_max, count, "EW", ascii_only)
        widest = max((len(label) for label in x_labels), default=0)
        if len(x_labels) * (widest + 2) <= canvas_width:
            break
    return Layout(
        width,
        height,
        canvas_width,
        canvas_height,
        (x_positions, x_labels),
        (y_positions, y_labels) if y_labels else None,
    )


def tick_marks(
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


def dots_per_degree(view: Viewport, layout: Layout, ascii_only: bool) -> tuple[float, float]:
    """Plotted dots per degree on each axis: braille has 2 x 4 dots a cell, ASCII one."""
    across, down = (1.0, 1.0) if ascii_only else (2.0, 4.0)
    return (
        across * layout.canvas_width / view.lon_span,
        down * layout.canvas_height / view.lat_span,
    )


def simplify(line: Sequence[Point], sx: float, sy: float, tolerance: float) -> list[Point]:
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
