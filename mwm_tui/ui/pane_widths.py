"""The left pane as wide as the device list's columns need, within its share of the screen,
so the right one (map, motion, event log) gets every cell the list would leave empty."""

from __future__ import annotations

from typing import Final

from textual.widget import Widget

from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.list_columns import layout

# The left pane's share of the screen's width, as styles/app.tcss gives it (3fr of 5).
LEFT_SHARE: Final = 3 / 5
# The list's round border (two cells) and its scrollbar (one).
LIST_FRAME: Final = 3


def left_width(screen_width: int, id_width: int, claims: bool = True) -> int:
    """Its share of ``screen_width``, less the cells the list's columns would leave empty."""
    share = int(screen_width * LEFT_SHARE)
    columns = layout(max(share - LIST_FRAME, 0), id_width, claims)
    used = sum(column.width + 1 for column in columns)
    return min(share, used + LIST_FRAME)


def fit_left_pane(device_list: DeviceList, screen_width: int) -> None:
    """Size the pane holding ``device_list`` for its columns; nothing while the width stays."""
    pane = device_list.parent
    if not isinstance(pane, Widget):
        return
    wanted = left_width(screen_width, device_list.id_width, device_list.shows_claims)
    current = pane.styles.width
    if current is None or not current.is_cells or current.value != wanted:
        pane.styles.width = wanted
