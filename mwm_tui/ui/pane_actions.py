"""The keys that move between panes, through the list, the log, the filter and the map."""

from __future__ import annotations

from textual import on
from textual.app import App
from textual.widget import Widget
from textual.widgets import Input

from mwm_tui.ui.widgets.composer import Composer
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.event_log import EventLog
from mwm_tui.ui.widgets.position_map import PositionMap


class FilterInput(Input):
    """The list filter: by id substring or by status name."""


class PaneActions(App[None]):
    """Actions that only move focus or pass a key on to one pane; the app composes the panes."""

    device_list: DeviceList
    position_map: PositionMap
    event_log: EventLog
    composer: Composer
    filter_input: FilterInput

    def _focus_now(self, widget: Widget) -> None:
        """Move focus before the next key is handled, so fast typing lands in the right place."""
        self.screen.set_focus(widget)

    def action_compose(self) -> None:
        self._focus_now(self.composer.order_input)

    def action_leave_composer(self) -> None:
        self._focus_now(self.device_list)

    def action_history_back(self) -> None:
        self.composer.order_input.history_back()

    def action_history_forward(self) -> None:
        self.composer.order_input.history_forward()

    def action_focus_list(self) -> None:
        self._focus_now(self.device_list)

    def action_focus_map(self) -> None:
        self._focus_now(self.position_map)

    def action_focus_log(self) -> None:
        self._focus_now(self.event_log)

    def action_log_truck(self) -> None:
        """Show only the selected truck's lines in the log, and give the log focus."""
        if self.device_list.selected is None:
            self.notify("Select a device first to see its events.", severity="warning")
            return
        self.event_log.filter_to(self.device_list.selected)
        self._focus_now(self.event_log)

    def action_log_all(self) -> None:
        """Esc in the log: every line again, or back to the list when nothing is filtered."""
        if self.event_log.device_filter is None:
            self._focus_now(self.device_list)
        else:
            self.event_log.filter_to(None)

    def action_cursor_down(self) -> None:
        self.device_list.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.device_list.action_cursor_up()

    def action_page_down(self) -> None:
        self.device_list.action_page_down()

    def action_page_up(self) -> None:
        self.device_list.action_page_up()

    def action_first(self) -> None:
        self.device_list.action_first()

    def action_last(self) -> None:
        self.device_list.action_last()

    def action_pan(self, direction: str) -> None:
        self.position_map.pan(direction)

    def action_filter(self) -> None:
        field = self.filter_input
        field.display = True
        self._focus_now(field)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.device_list.set_filter(event.value)
        self.position_map.redraw_soon()

    def action_keep_filter(self) -> None:
        field = self.filter_input
        self.device_list.set_filter(field.value)
        self.device_list.select_first()
        if not field.value:
            field.display = False
        self._focus_now(self.device_list)
        self.refresh_bindings()

    def action_clear_filter(self) -> None:
        field = self.filter_input
        field.value = ""
        field.display = False
        self.device_list.set_filter("")
        self._focus_now(self.device_list)
        self.refresh_bindings()

    def action_drop_filter(self) -> None:
        """Esc in the list: a kept filter goes, and every truck shows again."""
        if self.device_list.filter_text.strip():
            self.action_clear_filter()
            self.position_map.redraw_soon()

    def action_fit_map(self) -> None:
        self.position_map.fit()

    def action_zoom_in(self) -> None:
        self.position_map.zoom(1.5)

    def action_zoom_out(self) -> None:
        self.position_map.zoom(1 / 1.5)

    def action_toggle_follow(self) -> None:
        following = self.position_map.toggle_follow()
        self.notify("Map follows the selected device." if following else "Map stops following.")

    def action_sort_next(self) -> None:
        key = self.device_list.cycle_sort()
        self.notify(f"Sorted by {key}.")

    def action_sort_reverse(self) -> None:
        self.device_list.reverse_sort()
