"""The view as a grid of terminal cells: the cell a point falls in, and distances across cells.

The cell arithmetic matches plotext's, which draws the map: a point named in a cell here is
drawn in that cell.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from .viewport import Point, Viewport

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
