"""Place names chosen for the map: in rank order, each where it fits without covering another."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from .cells import cell_of
from .places import Place
from .viewport import Viewport


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    """A place chosen for the map: its cell and whether its name reads leftwards."""

    place: Place
    col: int
    row: int
    leftwards: bool


def pick_places(
    ranked: Iterable[Place],
    view: Viewport,
    columns: int,
    rows: int,
    *,
    most: int,
    name_width: Callable[[str], int] = len,
    avoid: Collection[tuple[int, int]] = (),
    keep_clear: Collection[tuple[int, int]] = (),
) -> list[PlacedLabel]:
    """Names for the places in rank order, as long as each fits without touching another.

    Each name takes its dot's cell plus one blank cell and the name, to the right of the dot
    or else to its left; labels on one row keep a blank cell between them. A name may not
    cover a cell in ``avoid`` (the trucks), except a capital's, which takes the side that
    covers fewer. No name covers a cell in ``keep_clear`` (the selected truck's label, the
    operator's depots), a capital's neither.
    """
    chosen: list[PlacedLabel] = []
    # Per row, 1 where a label (or the blank cell kept beside it) or a truck already is.
    labels = [bytearray(columns + 2) for _ in range(rows)]
    trucks = [bytearray(columns + 2) for _ in range(rows)]
    for col, row in avoid:
        if 0 <= row < rows and 0 <= col < columns:
            trucks[row][col + 1] = 1
    # Taken as if by a label: nothing may cover it.
    for col, row in keep_clear:
        if 0 <= row < rows and -1 <= col <= columns:
            labels[row][col + 1] = 1
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
