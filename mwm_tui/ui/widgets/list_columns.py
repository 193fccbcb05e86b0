"""The device list's columns: which fit a width, the header with its sort arrow, and which
column a click on the header lands on."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mwm_tui.domain.list_order import SortKey

__all__ = ["COLUMNS", "Column", "column_at", "fit", "header", "layout"]

_HEADER = Style(bold=True, underline=True)
_ID_MIN = 12
_ID_MAX = 36  # a UUID, the book's device ids


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    sort: SortKey
    right: bool = False


# Each column is wider than its title: the sort arrow fits beside any of them.
COLUMNS: tuple[Column, ...] = (
    Column("status", 9, SortKey.STATUS),
    Column("id", 10, SortKey.ID),
    Column("fix", 4, SortKey.AGE, right=True),
    Column("mot", 4, SortKey.MOTION_AGE, right=True),
    Column("lat", 8, SortKey.LAT, right=True),
    Column("lng", 9, SortKey.LNG, right=True),
    Column("pitch", 6, SortKey.PITCH, right=True),
    Column("roll", 5, SortKey.ROLL, right=True),
    Column("yaw", 5, SortKey.YAW, right=True),
    Column("by", 8, SortKey.BY),  # who claims the truck, on wide screens; the composer always
    Column("motion", 10, SortKey.MOTION),
    Column("dev ts", 7, SortKey.DEVICE_TS, right=True),
)


@functools.lru_cache(maxsize=32)
def layout(width: int, id_width: int, claims: bool = True) -> tuple[Column, ...]:
    """Columns that fit ``width`` cells in priority order; then the id column takes the rest.

    The id starts at most ``_ID_MIN`` wide so that positions fit before a long id is shown whole.
    Without ``claims`` (nobody claims a truck) the claimant's column, empty, is left out.
    """
    wanted = min(max(id_width, 2), _ID_MAX)
    chosen: list[Column] = []
    used = 0
    for candidate in COLUMNS:
        if candidate.sort is SortKey.BY and not claims:
            continue
        column = candidate
        if candidate.sort is SortKey.ID:
            column = Column("id", min(wanted, _ID_MIN), SortKey.ID)
        if used + column.width + 1 > width and len(chosen) >= 2:
            break
        chosen.append(column)
        used += column.width + 1
    spare = max(width - used, 0)
    return tuple(
        Column("id", min(c.width + spare, wanted), SortKey.ID) if c.sort is SortKey.ID else c
        for c in chosen
    )


def fit(text: str, width: int) -> str:
    """Pad or cut ``text`` to ``width`` cells, marking a cut with an ellipsis."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def header(columns: tuple[Column, ...], width: int, key: SortKey, reverse: bool) -> Strip:
    """The titles, the sorted one with ▲ (ascending) or ▼: before a right-aligned title, after
    a left-aligned one. A column too narrow for both (an id of one or two letters) cuts the
    title, never the arrow."""
    arrow = "▼" if reverse else "▲"
    cells: list[str] = []
    for column in columns:
        title, size = column.title, column.width
        if column.sort is key:
            if len(title) + 1 > size:
                title = set_cell_size(title, max(size - 1, 0))
            title = arrow + title if column.right else title + arrow
        text = title.rjust(size) if column.right else title.ljust(size)
        cells.append(set_cell_size(text, size) + " ")
    return Strip([Segment("".join(cells), _HEADER)]).adjust_cell_length(width)


def column_at(columns: tuple[Column, ...], x: int) -> Column | None:
    """The column whose cells (or the gap after them) hold ``x``."""
    start = 0
    for column in columns:
        if start <= x <= start + column.width:
            return column
        start += column.width + 1
    return None
