"""``y``: the selected truck's id to the terminal's clipboard (OSC 52), said on screen and in
the log."""

from __future__ import annotations

from textual.app import App

from mwm_tui.domain.text import literal
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.event_log import EventLog


class CopyActions(App[None]):
    """The copy key; the app composes the list and the log."""

    device_list: DeviceList
    event_log: EventLog

    def action_copy_id(self) -> None:
        """Copy the selected truck's id as it is (the screen shows it escaped, if need be)."""
        device_id = self.device_list.selected
        if device_id is None:
            self.notify("Select a truck first to copy its id.", severity="warning")
            return
        self.copy_to_clipboard(device_id)
        line = f"copied {literal(device_id, 60)}'s id to the clipboard"
        self.event_log.add(line, "cyan", devices=[device_id])
        self.notify(line.capitalize() + ".", markup=False)
