"""The device list: one row per device, drawn line by line so only visible rows cost anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mwm_tui.domain.codecs import Position
from mwm_tui.domain.fleet import Device, Fleet
from mwm_tui.domain.list_order import ListOrder, SortKey
from mwm_tui.domain.text import literal
from mwm_tui.ui.format import STATUS_GLYPH, STATUS_STYLE, age, age_since, degrees, sparkline
from mwm_tui.ui.widgets.list_columns import Column, column_at, fit, header, layout
from mwm_tui.ui.widgets.repaint import changed_region, forget_dirty_regions

__all__ = ["RETAINED_AGE", "DeviceList", "SortKey"]

_EMPTY = Style(dim=True, italic=True)
_CURSOR_FOCUSED = Style(reverse=True, bold=True)
_CURSOR = Style(bgcolor="grey30")
_DIM = Style(dim=True)
_STATUS = {status: Style.parse(style) for status, style in STATUS_STYLE.items()}


# The motion column of a device whose only motion came retained: last known, age unknown.
RETAINED_AGE = "?"


class DeviceList(ScrollView, can_focus=True):
    """Sorted, filterable view of the fleet with a selection that follows its device."""

    class SelectionChanged(Message):
        def __init__(self, device_id: str | None) -> None:
            super().__init__()
            self.device_id = device_id

    def __init__(
        self,
        fleet: Fleet,
        *,
        wall_clock: Callable[[], float] = time.time,
        claimant: Callable[[str], str | None] = lambda device_id: None,
        empty_reason: Callable[[], str] = lambda: "",
        id: str | None = None,
    ) -> None:
        """``claimant``: the dispatcher who claims a device, shown in the ``by`` column;
        ``empty_reason``: the line shown while no row is (why the list is empty)."""
        super().__init__(id=id)
        self._fleet = fleet
        self._wall_clock = wall_clock
        self._claimant = claimant
        self._empty_reason = empty_reason
        self._order = ListOrder(fleet.devices, claimant=claimant)
        self._selected: str | None = None
        self._id_width = 2
        # Whether someone claims a truck of the fleet: if not, the empty claimant column goes.
        self._claims = False
        # The widget's own style, looked up once per repaint rather than once per row.
        self._base_style = Style()
        # What each line of the widget shows, and the view (scroll, size, focus) it was drawn in.
        self._drawn: dict[int, Strip] = {}
        self._drawn_view: tuple[object, ...] = ()
        # The view during one render_lines pass, worked out once rather than once per line.
        self._pass_view: tuple[object, ...] | None = None

    @property
    def selected(self) -> str | None:
        return self._selected

    @property
    def sort_key(self) -> SortKey:
        return self._order.key

    @property
    def sort_reversed(self) -> bool:
        return self._order.reverse

    @property
    def shows_claims(self) -> bool:
        """Whether the claimant's column is wanted: someone claims a truck of the fleet."""
        return self._claims

    def columns(self, width: int | None = None) -> tuple[Column, ...]:
        """The columns shown in ``width`` cells (the list's own width by default)."""
        shown = self.size.width if width is None else width
        return layout(shown, self._id_width, self._claims)

    @property
    def id_width(self) -> int:
        """Cells the widest shown id takes, as the columns were last laid out for."""
        return self._id_width

    @property
    def filter_text(self) -> str:
        return self._order.filter_text

    @property
    def row_ids(self) -> list[str]:
        """Ids in display order (after filter and sort)."""
        return self._order.ids()

    def sync(self, *, force: bool = False) -> None:
        """Re-place the devices that changed (all of them with ``force``) and repaint."""
        if force:
            self._fleet.take_dirty()
            self._order.rebuild()
            self._reordered()
            self.refresh()
            return
        if self._catch_up():
            self._reordered()
        self._repaint_changes()

    def _view(self) -> tuple[object, ...]:
        """What every line depends on besides the devices: drawn lines are kept while it holds."""
        offset = self.scroll_offset
        empty = "" if len(self._order) else self._empty_reason()
        view = (offset.x, offset.y, self.size, self.has_focus, self.rich_style, self._id_width)
        return (*view, empty, self._claims)

    def _repaint_changes(self) -> None:
        """Repaint only the cells whose text or style changed since they were drawn."""
        if self._view() != self._drawn_view or not self._drawn:
            self.refresh()
            return
        self._base_style = self.rich_style
        for y in range(self.size.height):
            line = self._line(y)
            drawn = self._drawn.get(y)
            if drawn is None:
                self._drawn[y] = line
                self.refresh(Region(0, y, self.size.width, 1))
                continue
            region = changed_region(drawn, line, y)
            if region is not None:
                self._drawn[y] = line
                self.refresh(region)

    def _catch_up(self) -> bool:
        """Re-place the devices that changed since the last look; True when any had."""
        changed = self._fleet.take_dirty()
        if changed:
            self._order.update(changed)
            # A truck claimed before HQ heard of it shows its claimant once it is heard.
            self._claims = self._claims or any(self._claimant(i) for i in changed)
        return bool(changed)

    def _reordered(self) -> None:
        order = self._order
        self._id_width = order.id_width
        self.virtual_size = Size(self.size.width, len(order) + 1)
        if self._selected not in self._fleet.devices or (
            order.filter_text.strip() and self._selected not in order
        ):
            self._select(order[0] if order else None)
        elif self._selected is None and order:
            self._select(order[0])
        self._scroll_to_cursor()

    def set_filter(self, text: str) -> None:
        self._catch_up()
        self._order.set_filter(text)
        self._reordered()
        self.refresh()

    def select_first(self) -> None:
        self._select(self._order[0] if self._order else None)
        self._scroll_to_cursor()

    def select(self, device_id: str) -> None:
        if device_id in self._fleet.devices:
            self._select(device_id)
            self._scroll_to_cursor()

    def cycle_sort(self) -> SortKey:
        """Sort by the next column on screen (the first after the last)."""
        shown = [column.sort for column in self.columns()]
        at = shown.index(self.sort_key) if self.sort_key in shown else -1
        self.sort_by(shown[(at + 1) % len(shown)])
        return self.sort_key

    def sort_by(self, key: SortKey) -> None:
        """Sort ascending by ``key``; by the key already sorted by, the other way round."""
        if key is self.sort_key:
            self.reverse_sort()
            return
        self._fleet.take_dirty()  # the new key places every device afresh
        self._order.reverse = False
        self._order.set_key(key)
        self._reordered()
        self.refresh()

    def claims_changed(self) -> None:
        """Someone claimed or released a truck: the claimant's column and its order change."""
        self._claims = any(self._claimant(device_id) for device_id in self._fleet.devices)
        if self.sort_key is SortKey.BY:
            self._order.rebuild()
            self._reordered()
        self.refresh()

    def reverse_sort(self) -> None:
        self._catch_up()
        self._order.reverse = not self._order.reverse
        self._reordered()
        self.refresh()

    def _select(self, device_id: str | None) -> None:
        if device_id == self._selected:
            return
        before = self._cursor()
        self._selected = device_id
        self.post_message(self.SelectionChanged(device_id))
        # Only the rows the cursor left and reached change, when both are in view.
        rows = [self._cursor(), before]
        top = round(self.scroll_offset.y)
        visible = max(self.size.height - 1, 1)
        if all(top <= row < top + visible for row in rows):
            width = max(self.virtual_size.width, self.size.width)
            for row in rows:
                self._drawn.pop(row - top + 1, None)
            self.refresh(*(Region(0, row - top + 1, width, 1) for row in rows))
        else:
            self.refresh()

    def _cursor(self) -> int:
        return self._order.index(self._selected)

    def _move(self, delta: int) -> None:
        order = self._order
        if not order:
            return
        index = min(max(self._cursor() + delta, 0), len(order) - 1)
        self._select(order[index])
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        index = self._cursor()
        visible = max(self.size.height - 1, 1)
        top = round(self.scroll_offset.y)
        if index < 0:
            return
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False, immediate=True)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def action_page_down(self) -> None:
        self._move(max(self.size.height - 2, 1))

    def action_page_up(self) -> None:
        self._move(-max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self._move(-len(self._order))

    def action_last(self) -> None:
        self._move(len(self._order))

    def on_click(self, event: events.Click) -> None:
        """A click on a row selects it; on a column's title, sorts by it (again: reversed)."""
        at = event.get_content_offset(self)
        if at is None:
            return
        if at.y == 0:
            column = column_at(self.columns(), at.x)
            if column is not None:
                self.sort_by(column.sort)
            return
        index = round(self.scroll_offset.y) + at.y - 1
        if 0 <= index < len(self._order):
            self._select(self._order[index])

    def on_resize(self, event: events.Resize) -> None:
        # The same width as _reordered gives it: a second, different one would repaint it all.
        self.virtual_size = Size(self.size.width, len(self._order) + 1)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        if not regions:
            self._drawn.clear()
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base_style = self.rich_style
        self._pass_view = self._view()
        try:
            return super().render_lines(crop)
        finally:
            self._pass_view = None
            forget_dirty_regions(self)

    def render_line(self, y: int) -> Strip:
        """The line as last drawn; a line not drawn in this view is drawn now."""
        view = self._pass_view or self._view()
        if view != self._drawn_view:
            self._drawn.clear()
            self._drawn_view = view
        line = self._drawn.get(y)
        if line is None:
            line = self._drawn[y] = self._line(y)
        return line

    def _line(self, y: int) -> Strip:
        width = self.size.width
        columns = self.columns(width)
        if y == 0:
            return self._header(columns, width)
        index = round(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self._order):
            if y == 1 and not len(self._order):
                reason = fit(f" {self._empty_reason()}", width)
                return Strip([Segment(reason, self._base_style + _EMPTY)])
            return Strip.blank(width, self._base_style)
        device = self._fleet.devices.get(self._order[index])
        if device is None:
            return Strip.blank(width, self._base_style)
        strip = self._row(device, columns, width)
        if device.device_id == self._selected:
            cursor = _CURSOR_FOCUSED if self.has_focus else _CURSOR
            strip = strip.apply_style(cursor)
        return strip

    def _header(self, columns: tuple[Column, ...], width: int) -> Strip:
        line = header(columns, width, self.sort_key, self.sort_reversed)
        return line.apply_style(self._base_style)

    def _row(self, device: Device, columns: tuple[Column, ...], width: int) -> Strip:
        now = self._fleet.clock()
        position = device.position
        motion = device.motion
        segments: list[tuple[str, Style | None]] = []
        for column in columns:
            style: Style | None = None
            title = column.title
            if title == "status":
                text = f"{STATUS_GLYPH[device.status]} {device.status.value}"
                style = _STATUS[device.status]
            elif title == "id":
                text = literal(device.device_id)
            elif title == "fix":
                text = age_since(now, device.last_location_at)
            elif title == "mot":
                if device.motion_is_retained:
                    text, style = RETAINED_AGE, _DIM
                else:
                    text = age_since(now, device.last_motion_at)
            elif title == "dev ts":
                text = self._device_clock_age(position)
            elif title == "lat":
                text = f"{position.lat:.4f}" if position else "—"
            elif title == "lng":
                text = f"{position.lng:.4f}" if position else "—"
            elif title == "by":
                text = literal(self._claimant(device.device_id) or "")
            elif title in ("pitch", "roll", "yaw"):
                text = degrees(getattr(motion, title) if motion else None)
            else:
                text = sparkline(device.pitch.values(), column.width)
                style = _DIM
            if column.right:
                text = text.rjust(column.width)
            # Neighbours in one style are one segment: fewer segments, less work per frame.
            if segments and segments[-1][1] is style:
                segments[-1] = (segments[-1][0] + fit(text, column.width), style)
            else:
                segments.append((fit(text, column.width), style))
            if style is None:
                segments[-1] = (segments[-1][0] + " ", None)
            else:
                segments.append((" ", None))
        strip = Strip([Segment(text, style) for text, style in segments])
        return strip.adjust_cell_length(width).apply_style(self._base_style)

    def _device_clock_age(self, position: Position | None) -> str:
        """Age of the newest fix by the device's own ``ts`` (HQ's wall clock); ``—`` unread."""
        stamp = position.ts if position is not None else None
        if stamp is None:
            return "—"
        if stamp.tzinfo is None:
            return "?"
        return age(self._wall_clock() - stamp.timestamp())
