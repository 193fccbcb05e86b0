"""Map geometry: bundled land outlines, the visible lon/lat window, and clipping to it.

Coordinates are plain (lon, lat) degrees in an unprojected (equirectangular) plane;
the antimeridian is a hard edge, so a view never wraps from 180 to -180.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Final, TypeVar

Point = tuple[float, float]
Ring = tuple[Point, ...]

LON_MIN: Final = -180.0
LON_MAX: Final = 180.0
LAT_MIN: Final = -90.0
LAT_MAX: Final = 90.0
WORLD_LON_SPAN: Final = LON_MAX - LON_MIN
WORLD_LAT_SPAN: Final = LAT_MAX - LAT_MIN
MIN_SPAN: Final = 0.001
"""Smallest width or height (degrees) a view can be zoomed to: about 100 m."""
REFIT_SHARE: Final = 0.75
"""An auto-fitted view is kept while a fresh fit fills at least this share of each span."""

_P = TypeVar("_P", bound=Point)


def _load_outlines(file_name: str, key: str) -> tuple[Ring, ...]:
    """The flat ``[lon1, lat1, lon2, lat2, ...]`` lists under ``key`` in a bundled data file."""
    resource = resources.files("mwm_tui") / "data" / file_name
    document = json.loads(resource.read_text(encoding="utf-8"))
    outlines: list[Ring] = []
    for flat in document[key]:
        if len(flat) % 2:
            raise ValueError(f"{file_name}: an outline has an odd number of coordinates")
        values = [float(v) for v in flat]
        outlines.append(tuple(zip(values[0::2], values[1::2], strict=True)))
    return tuple(outlines)


@cache
def load_land_rings() -> tuple[Ring, ...]:
    """Natural Earth 1:110m land outlines as closed rings of (lon, lat), loaded once."""
    return _load_outlines("land_110m.json", "rings")


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _require_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True)
class Viewport:
    """The lon/lat rectangle shown on the map; borders are inclusive."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    def __post_init__(self) -> None:
        _require_finite(
            lon_min=self.lon_min, lon_max=self.lon_max, lat_min=self.lat_min, lat_max=self.lat_max
        )
        if not (self.lon_min < self.lon_max and self.lat_min < self.lat_max):
            raise ValueError(f"empty viewport: {self}")

    @property
    def lon_span(self) -> float:
        return self.lon_max - self.lon_min

    @property
    def lat_span(self) -> float:
        return self.lat_max - self.lat_min

    @property
    def centre(self) -> Point:
        return ((self.lon_min + self.lon_max) / 2.0, (self.lat_min + self.lat_max) / 2.0)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether (lon, lat) is inside or on the border; NaN never is."""
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max

    @classmethod
    def around(cls, lon: float, lat: float, lon_span: float, lat_span: float) -> Viewport:
        """A view of the given size centred as close to (lon, lat) as the world allows.

        Spans are limited to MIN_SPAN..whole world; the view is shifted, not shrunk,
        to keep it inside lon -180..180 and lat -90..90.
        """
        _require_finite(lon=lon, lat=lat, lon_span=lon_span, lat_span=lat_span)
        lon_span = _clamp(lon_span, MIN_SPAN, WORLD_LON_SPAN)
        lat_span = _clamp(lat_span, MIN_SPAN, WORLD_LAT_SPAN)
        lon_min = _clamp(lon - lon_span / 2.0, LON_MIN, LON_MAX - lon_span)
        lat_min = _clamp(lat - lat_span / 2.0, LAT_MIN, LAT_MAX - lat_span)
        return cls(
            lon_min, min(lon_min + lon_span, LON_MAX), lat_min, min(lat_min + lat_span, LAT_MAX)
        )

    def zoomed(self, factor: float) -> Viewport:
        """Zoom about the centre: factor > 1 zooms in, < 1 zooms out.

        Zooming in keeps the aspect ratio and stops at MIN_SPAN on the narrower side;
        zooming out stops at the whole world on each axis separately.
        """
        _require_finite(factor=factor)
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor!r}")
        if factor > 1.0:
            narrower = min(self.lon_span, self.lat_span)
            if narrower <= MIN_SPAN * (1.0 + 1e-9):
                # Already fully zoomed in; recomputing would only add rounding drift.
                return self if narrower >= MIN_SPAN * (1.0 - 1e-9) else self.zoomed(1.0)
            factor = min(factor, narrower / MIN_SPAN)
        lon, lat = self.centre
        return Viewport.around(lon, lat, self.lon_span / factor, self.lat_span / factor)

    def panned(self, dx_fraction: float, dy_fraction: float) -> Viewport:
        """Move by fractions of the span (positive: east, north), stopping at the world's edge."""
        _require_finite(dx_fraction=dx_fraction, dy_fraction=dy_fraction)
        lon, lat = self.centre
        return Viewport.around(
            lon + dx_fraction * self.lon_span,
            lat + dy_fraction * self.lat_span,
            self.lon_span,
            self.lat_span,
        )

    def centred_on(self, lon: float, lat: float) -> Viewport:
        """Same size, centred on (lon, lat) or as near as the world's edge allows."""
        return Viewport.around(lon, lat, self.lon_span, self.lat_span)

    def refit(self, fitted: Viewport, least_share: float = REFIT_SHARE) -> Viewport:
        """This view while it holds ``fitted`` and ``fitted`` fills ``least_share`` of each
        span; otherwise ``fitted``. An auto-fit kept this way stands still while trucks move."""
        holds = (
            self.lon_min <= fitted.lon_min
            and fitted.lon_max <= self.lon_max
            and self.lat_min <= fitted.lat_min
            and fitted.lat_max <= self.lat_max
        )
        filled = (
            fitted.lon_span >= least_share * self.lon_span
            and fitted.lat_span >= least_share * self.lat_span
        )
        return self if holds and filled else fitted

    @classmethod
    def fit(
        cls,
        points: Iterable[Point],
        margin_fraction: float = 0.1,
        min_span: float = 0.01,
    ) -> Viewport:
        """The smallest view showing every point, plus a margin on each side.

        margin_fraction is of the points' extent, per side; each span is at least min_span
        (so one point gives a min_span square around it). Non-finite points are skipped,
        points beyond the world count as on its edge, and with no usable points the result
        is WORLD. A fleet straddling the antimeridian gets the whole width: the map does
        not wrap.
        """
        _require_finite(margin_fraction=margin_fraction, min_span=min_span)
        if margin_fraction < 0:
            raise ValueError(f"margin_fraction must not be negative, got {margin_fraction!r}")
        if min_span <= 0:
            raise ValueError(f"min_span must be positive, got {min_span!r}")
        lons, lats = _finite_columns(points)
        if not lons:
            return WORLD
        lon_lo, lon_hi, lat_lo, lat_hi = min(lons), max(lons), min(lats), max(lats)
        lon_lo, lon_hi = _clamp(lon_lo, LON_MIN, LON_MAX), _clamp(lon_hi, LON_MIN, LON_MAX)
        lat_lo, lat_hi = _clamp(lat_lo, LAT_MIN, LAT_MAX), _clamp(lat_hi, LAT_MIN, LAT_MAX)
        lon_span = max((lon_hi - lon_lo) * (1.0 + 2.0 * margin_fraction), min_span)
        lat_span = max((lat_hi - lat_lo) * (1.0 + 2.0 * margin_fraction), min_span)
        view = cls.around((lon_lo + lon_hi) / 2.0, (lat_lo + lat_hi) / 2.0, lon_span, lat_span)
        # Rounding in the centre/span arithmetic must not cut off an extreme point.
        return cls(
            min(view.lon_min, lon_lo),
            max(view.lon_max, lon_hi),
            min(view.lat_min, lat_lo),
            max(view.lat_max, lat_hi),
        )


WORLD: Final = Viewport(LON_MIN, LON_MAX, LAT_MIN, LAT_MAX)


def _finite_columns(points: Iterable[Point]) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes of the points whose both coordinates are finite."""
    pairs = list(points)
    lons = [lon for lon, _ in pairs]
    lats = [lat for _, lat in pairs]
    # A finite sum means no inf or NaN among the terms (one overflow sends it the slow way).
    if math.isfinite(sum(lons) + sum(lats)):
        return lons, lats
    kept = [(lon, lat) for lon, lat in pairs if math.isfinite(lon) and math.isfinite(lat)]
    return [lon for lon, _ in kept], [lat for _, lat in kept]


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
    x = _clamp(x0 + t * (x1 - x0), view.lon_min, view.lon_max)
    y = _clamp(y0 + t * (y1 - y0), view.lat_min, view.lat_max)
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
                end = (_clamp(x0 + dx, xmin, xmax), _clamp(y0 + dy, ymin, ymax))
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


@cache
def load_border_lines() -> tuple[Ring, ...]:
    """Natural Earth 1:110m land borders between countries as open lines of (lon, lat)."""
    return _load_outlines("borders_110m.json", "lines")


@dataclass(frozen=True, slots=True)
class Place:
    """A named place on the map; population in thousands."""

    name: str
    lon: float
    lat: float
    thousands: int
    capital: bool = False


@cache
def load_places() -> tuple[Place, ...]:
    """GeoNames places of 15,000 or more inhabitants, capitals first, then by population."""
    resource = resources.files("mwm_tui") / "data" / "places.tsv"
    places: list[Place] = []
    for line in resource.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (4, 5):
            raise ValueError(f"places.tsv: bad line {line[:40]!r}")
        name, lat, lon, thousands = fields[:4]
        places.append(Place(name, float(lon), float(lat), int(thousands), len(fields) == 5))
    # Ranked once here, so that the places of any view come out ranked and sort in one pass.
    places.sort(key=_rank)
    return tuple(places)


# plotext keeps its points this far (in cells) inside the first and last cell of each axis
# (rows counted from the top); so does cell_of, to name plotext's cell even at cell borders.
_CELL_INSET_LOW: Final = 1e-4 + 0.0016585662
_CELL_INSET_HIGH: Final = 1e-4 + 0.001516152


def cell_of(view: Viewport, columns: int, rows: int, lon: float, lat: float) -> tuple[int, int]:
    """The (column, row) of a point on a columns x rows grid over the view; row 0 is north."""
    east = (lon - view.lon_min) / view.lon_span
    south = (view.lat_max - lat) / view.lat_span
    inset = _CELL_INSET_LOW + _CELL_INSET_HIGH
    col = math.floor(_CELL_INSET_LOW + (columns - inset) * east)
    row = math.floor(_CELL_INSET_LOW + (rows - inset) * south)
    return min(max(col, 0), columns - 1), min(max(row, 0), rows - 1)


def cells_of(
    view: Viewport, columns: int, rows: int, points: Iterable[Point]
) -> list[tuple[int, int]]:
    """cell_of for each point, in order: the same arithmetic, done once for the view."""
    lon_min, lon_span = view.lon_min, view.lon_span
    lat_max, lat_span = view.lat_max, view.lat_span
    inset = _CELL_INSET_LOW + _CELL_INSET_HIGH
    low, across, down = _CELL_INSET_LOW, columns - inset, rows - inset
    last_col, last_row = columns - 1, rows - 1
    floor = math.floor
    cells: list[tuple[int, int]] = []
    for lon, lat in points:
        col = floor(low + across * ((lon - lon_min) / lon_span))
        row = floor(low + down * ((lat_max - lat) / lat_span))
        col = 0 if col < 0 else last_col if col > last_col else col
        row = 0 if row < 0 else last_row if row > last_row else row
        cells.append((col, row))
    return cells


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    """A place chosen for the map: its cell and whether its name reads leftwards."""

    place: Place
    col: int
    row: int
    leftwards: bool


def rank_places(places: Iterable[Place], view: Viewport) -> list[Place]:
    """The places inside the view, capitals first, then by population."""
    west, east, south, north = view.lon_min, view.lon_max, view.lat_min, view.lat_max
    inside = [p for p in places if west <= p.lon <= east and south <= p.lat <= north]
    inside.sort(key=_rank)
    return inside


def _rank(place: Place) -> tuple[bool, int]:
    return (not place.capital, -place.thousands)


# Cell sides (degrees) of the grids a PlaceIndex keeps, finest first; a view is looked up in
# the finest grid where it covers at most _MOST_GRID_CELLS cells.
_PLACE_GRID_DEGREES: Final = (1.0, 4.0, 16.0, 64.0)
_MOST_GRID_CELLS: Final = 64


def _grid_span(low: float, high: float, side: float) -> range:
    return range(math.floor(low / side), math.floor(high / side) + 1)


class PlaceIndex:
    """Places in rank order, with the ranks of the places in each cell of a few square grids.

    ``ranked(view)`` gives what ``rank_places`` gives, lazily: a caller that stops after the
    first few names pays for those and the places ranked between them, not for the whole view.
    """

    def __init__(self, places: Iterable[Place]) -> None:
        self.places: tuple[Place, ...] = tuple(sorted(places, key=_rank))
        self._grids: list[tuple[float, dict[tuple[int, int], list[int]]]] = []
        for side in _PLACE_GRID_DEGREES:
            grid: dict[tuple[int, int], list[int]] = {}
            for rank, place in enumerate(self.places):
                cell = (math.floor(place.lon / side), math.floor(place.lat / side))
                grid.setdefault(cell, []).append(rank)
            self._grids.append((side, grid))

    def ranked(self, view: Viewport) -> Iterator[Place]:
        """The places inside the view, capitals first, then by population."""
        west, east, south, north = view.lon_min, view.lon_max, view.lat_min, view.lat_max
        side, grid = next(
            (side, grid)
            for side, grid in self._grids
            if len(_grid_span(west, east, side)) * len(_grid_span(south, north, side))
            <= _MOST_GRID_CELLS
            or side == _PLACE_GRID_DEGREES[-1]
        )
        columns, rows = _grid_span(west, east, side), _grid_span(south, north, side)
        cells = [grid[(c, r)] for c in columns for r in rows if (c, r) in grid]
        places = self.places
        for rank in cells[0] if len(cells) == 1 else heapq.merge(*cells):
            place = places[rank]
            if west <= place.lon <= east and south <= place.lat <= north:
                yield place


@cache
def place_index() -> PlaceIndex:
    """The index of load_places(), built once."""
    return PlaceIndex(load_places())


def pick_places(
    ranked: Iterable[Place],
    view: Viewport,
    columns: int,
    rows: int,
    *,
    most: int,
    name_width: Callable[[str], int] = len,
    avoid: Collection[tuple[int, int]] = (),
) -> list[PlacedLabel]:
    """Names for the places in rank order, as long as each fits without touching another.

    Each name takes its dot's cell plus one blank cell and the name, to the right of the dot
    or else to its left; labels on one row keep a blank cell between them. A name may not
    cover a cell in ``avoid`` (the trucks), except a capital's, which takes the side that
    covers fewer.
    """
    chosen: list[PlacedLabel] = []
    # Per row, 1 where a label (or the blank cell kept beside it) or a truck already is.
    labels = [bytearray(columns + 2) for _ in range(rows)]
    trucks = [bytearray(columns + 2) for _ in range(rows)]
    for col, row in avoid:
        if 0 <= row < rows and 0 <= col < columns:
            trucks[row][col + 1] = 1
    for place in ranked:
        if len(chosen) >= most:
            break
        if not view.contains(place.lon, place.lat):
            continue
        col, row = cell_of(view, columns, rows, place.lon, place.lat)
        width = name_width(place.name) + 2
        best: tuple[int, bool, int] | None = None  # (trucks covered, leftwards, first column)
        for leftwards, first in ((False, col), (True, col - width + 1)):
            # Index i + 1 in the row arrays is column i; the label's cells are i = first..last.
            if (
                first < 0
                or first + width > columns
                or any(labels[row][first + 1 : first + width + 1])
            ):
                continue
            covered = sum(trucks[row][first + 1 : first + width + 1])
            if best is None or covered < best[0]:
                best = (covered, leftwards, first)
        if best is None or (best[0] and not place.capital):
            continue
        _, leftwards, first = best
        labels[row][first : first + width + 2] = b"\x01" * (width + 2)
        chosen.append(PlacedLabel(place, col, row, leftwards))
    return chosen


EARTH_KM_PER_DEGREE: Final = 111.32
_SCALE_STEPS: Final = (1.0, 2.0, 5.0)


def scale_bar(view: Viewport, columns: int, most_cells: int) -> tuple[float, int] | None:
    """(km, cells) of the longest round distance (1, 2 or 5 x 10^n km) at most most_cells long.

    Measured east-west at the view's middle latitude, where the plate carree is true to scale
    along the parallel. None when not even the shortest round distance fits.
    """
    if columns <= 0 or most_cells <= 0:
        return None
    middle = math.radians(view.centre[1])
    km_per_cell = view.lon_span / columns * EARTH_KM_PER_DEGREE * math.cos(middle)
    if km_per_cell <= 0:
        return None
    best: tuple[float, int] | None = None
    exponent = math.floor(math.log10(km_per_cell))
    for power in range(exponent - 1, exponent + 6):
        for step in _SCALE_STEPS:
            km = step * 10.0**power
            cells = round(km / km_per_cell)
            if 1 <= cells <= most_cells and (best is None or km > best[0]):
                best = (km, cells)
    return best


@dataclass(frozen=True, slots=True)
class Cluster:
    """Several points drawn as one count: where it sits and which points it stands for."""

    lon: float
    lat: float
    members: tuple[int, ...]


def cluster_points(
    points: Sequence[Point],
    view: Viewport,
    columns: int,
    rows: int,
    *,
    bucket: tuple[int, int] = (6, 3),
    least: int = 4,
) -> tuple[list[Cluster], list[int]]:
    """Group points by buckets of cells: buckets of ``least`` or more become a cluster.

    Returns the clusters (at their members' mean position) and the indices of the points
    left on their own, in their original order.
    """
    bucket_cols, bucket_rows = bucket
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (col, row) in enumerate(cells_of(view, columns, rows, points)):
        groups.setdefault((col // bucket_cols, row // bucket_rows), []).append(index)
    clusters: list[Cluster] = []
    alone: list[int] = []
    for members in groups.values():
        if len(members) >= least:
            lon = sum(points[i][0] for i in members) / len(members)
            lat = sum(points[i][1] for i in members) / len(members)
            clusters.append(Cluster(lon, lat, tuple(members)))
        else:
            alone.extend(members)
    alone.sort()
    return clusters, alone
