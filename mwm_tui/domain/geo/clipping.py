"""Outlines clipped to the view: closed rings and open lines, cut exactly at its borders."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Final, TypeVar

from .viewport import Point, Ring, Viewport, clamp

_P = TypeVar("_P", bound=Point)

_BBox = tuple[float, float, float, float]
_bbox_cache: dict[int, tuple[Ring, _BBox]] = {}
_BBOX_CACHE_LIMIT: Final = 20_000


def _ring_bbox(ring: Sequence[Point]) -> _BBox:
    """(lon_min, lon_max, lat_min, lat_max) of a ring; remembered for tuple rings."""
    key = id(ring)
    cached = _bbox_cache.get(key)
    # The entry holds the ring itself, so its id cannot be reused while cached.
    if cached is not None and cached[0] is ring:
        return cached[1]
    lons = [p[0] for p in ring]
    lats = [p[1] for p in ring]
    if math.isfinite(sum(lons) + sum(lats)):
        bbox = (min(lons), max(lons), min(lats), max(lats))
    else:
        # min/max ignore NaN, so such a ring must always take the point-by-point path.
        bbox = (-math.inf, math.inf, -math.inf, math.inf)
    if isinstance(ring, tuple):
        if len(_bbox_cache) >= _BBOX_CACHE_LIMIT:
            _bbox_cache.clear()
        _bbox_cache[key] = (ring, bbox)
    return bbox


_Window = tuple[float, int, float, int]
"""(t_enter, border_entered, t_leave, border_left); border -1 means the segment's own end."""


def _segment_window(x0: float, y0: float, x1: float, y1: float, view: Viewport) -> _Window | None:
    """Liang-Barsky: the parameter range of the segment inside the view, or None.

    Ties go to the border, so an end outside the view always names the border it is beyond.
    """
    t0, t1 = 0.0, 1.0
    e0 = e1 = -1
    dx, dy = x1 - x0, y1 - y0
    if not (math.isfinite(dx) and math.isfinite(dy)):
        return None
    for border, p, q in (
        (0, -dx, x0 - view.lon_min),
        (1, dx, view.lon_max - x0),
        (2, -dy, y0 - view.lat_min),
        (3, dy, view.lat_max - y0),
    ):
        if p == 0.0:
            if q < 0.0:
                return None
        elif p < 0.0:
            r = q / p
            if r > t1:
                return None
            if r >= t0:
                t0, e0 = r, border
        else:
            r = q / p
            if r < t0:
                return None
            if r <= t1:
                t1, e1 = r, border
    return t0, e0, t1, e1


def _on_border(
    view: Viewport, x0: float, y0: float, x1: float, y1: float, *, t: float, border: int
) -> Point:
    """The segment's point at t, set exactly onto the border it crosses there."""
    x = clamp(x0 + t * (x1 - x0), view.lon_min, view.lon_max)
    y = clamp(y0 + t * (y1 - y0), view.lat_min, view.lat_max)
    if border == 0:
        x = view.lon_min
    elif border == 1:
        x = view.lon_max
    elif border == 2:
        y = view.lat_min
    elif border == 3:
        y = view.lat_max
    return (x, y)


def _clip_ring(ring: Sequence[Point], view: Viewport, out: list[list[Point]]) -> None:
    """Append the inside runs of one closed ring to out."""
    xmin, xmax, ymin, ymax = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    first = ring[0]
    count = len(ring) + (1 if ring[-1] != first else 0)
    runs_before = len(out)
    px, py = first
    first_in = p_in = xmin <= px <= xmax and ymin <= py <= ymax
    run: list[Point] | None = [first] if p_in else None
    if run is not None:
        out.append(run)
    for i in range(1, count):
        q = ring[i] if i < len(ring) else first
        qx, qy = q
        q_in = xmin <= qx <= xmax and ymin <= qy <= ymax
        if q_in and run is not None:
            # p is inside too, so the whole segment is.
            run.append(q)
        else:
            window = _segment_window(px, py, qx, qy, view)
            if run is None:
                if window is not None and (q_in or window[0] < window[2]):
                    run = [_on_border(view, px, py, qx, qy, t=window[0], border=window[1])]
                    out.append(run)
                elif q_in:
                    run = []
                    out.append(run)
            if run is not None:
                end = q if q_in else None
                if end is None and window is not None:
                    end = _on_border(view, px, py, qx, qy, t=window[2], border=window[3])
                if end is not None and (not run or run[-1] != end):
                    run.append(end)
                if not q_in:
                    run = None
        px, py, p_in = qx, qy, q_in
    # A run through the ring's start was split at the seam; rejoin it into one line.
    if first_in and len(out) - runs_before > 1:
        head = out.pop(runs_before)
        out[-1].extend(head[1:])
    # A vertex that only touches the border leaves a one-point run: nothing to draw.
    out[runs_before:] = [run for run in out[runs_before:] if len(run) > 1]


def clip_rings(rings: Iterable[Sequence[Point]], view: Viewport) -> list[list[Point]]:
    """The parts of the rings inside the view, as polylines ready to draw.

    Each ring is taken as closed (its last point joins its first). Inside points are kept
    as they are; where a segment crosses the border the exact crossing point is added,
    so lines run up to the edge. Segments with both ends outside that pass through the
    view are kept as their inside part. Segments touching a NaN or infinite point are
    dropped. No returned point lies outside the view, and every line has at least two
    points; rings with fewer than two points are skipped.
    """
    xmin, xmax, ymin, ymax = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    out: list[list[Point]] = []
    for ring in rings:
        if len(ring) < 2:
            continue
        rx0, rx1, ry0, ry1 = _ring_bbox(ring)
        if rx1 < xmin or rx0 > xmax or ry1 < ymin or ry0 > ymax:
            continue
        if xmin <= rx0 and rx1 <= xmax and ymin <= ry0 and ry1 <= ymax:
            line = list(ring)
            if line[-1] != line[0]:
                line.append(line[0])
            out.append(line)
            continue
        _clip_ring(ring, view, out)
    return out


def visible_points(points: Iterable[_P], view: Viewport) -> list[_P]:
    """The points inside the view (border included), in order; the rest are left out."""
    return [p for p in points if view.contains(p[0], p[1])]


def _crosses_no_border(a0: float, delta: float, a1: float, low: float, high: float) -> bool:
    """Whether a segment from a0 to a1 = a0 + delta lies strictly inside low..high on one axis
    with Liang-Barsky's exit parameter past 1 (never exactly 1 by rounding) on both borders."""
    if not (low < a0 < high and low < a1 < high):
        return False
    if delta > 0.0:
        return (high - a0) / delta > 1.0
    if delta < 0.0:
        return (a0 - low) / -delta > 1.0
    return True


def clip_lines(lines: Iterable[Sequence[Point]], view: Viewport) -> list[list[Point]]:
    """The parts of open polylines inside the view, each at least two points long."""
    xmin, xmax, ymin, ymax = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    out: list[list[Point]] = []
    for line in lines:
        if len(line) < 2:
            continue
        rx0, rx1, ry0, ry1 = _ring_bbox(line)
        if rx1 < xmin or rx0 > xmax or ry1 < ymin or ry0 > ymax:
            continue
        run: list[Point] = []
        for (x0, y0), (x1, y1) in pairwise(line):
            dx, dy = x1 - x0, y1 - y0
            if _crosses_no_border(x0, dx, x1, xmin, xmax) and _crosses_no_border(
                y0, dy, y1, ymin, ymax
            ):
                # What _segment_window and _on_border give such a segment, t from 0 to 1.
                start = (x0 + 0.0 * dx, y0 + 0.0 * dy)
                end = (clamp(x0 + dx, xmin, xmax), clamp(y0 + dy, ymin, ymax))
                leaves = False
            else:
                window = _segment_window(x0, y0, x1, y1, view)
                if window is None or window[0] > window[2]:
                    if len(run) > 1:
                        out.append(run)
                    run = []
                    continue
                start = _on_border(view, x0, y0, x1, y1, t=window[0], border=window[1])
                end = _on_border(view, x0, y0, x1, y1, t=window[2], border=window[3])
                leaves = window[3] != -1
            if not run or run[-1] != start:
                if len(run) > 1:
                    out.append(run)
                run = [start]
            run.append(end)
            if leaves:  # the segment leaves the view
                if len(run) > 1:
                    out.append(run)
                run = []
        if len(run) > 1:
            out.append(run)
    return out
