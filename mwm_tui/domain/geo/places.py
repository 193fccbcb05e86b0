"""Named places: the bundled list, ranked (capitals, then population), and an index by area."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from .viewport import Viewport


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
