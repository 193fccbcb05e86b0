"""Pitch, roll and yaw of the selected device as sparklines on a fixed -π..π range."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.text import literal
from mwm_tui.ui.format import sparkline

SERIES = (("pitch", "red"), ("roll", "green"), ("yaw", "blue"))


class MotionPanel(Widget):
    """Redrawn only when the selected device's motion changed."""

    def __init__(self, fleet: Fleet, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fleet = fleet
        self.device_id: str | None = None

    def show(self, device_id: str | None) -> None:
        self.device_id = device_id
        self.border_subtitle = ""
        # A Text, not a str: a str title is parsed as markup, and the id comes from the network.
        self.border_title = Text(f"motion · {literal(device_id, 40)}") if device_id else "motion"
        self.refresh()

    def render(self) -> Text:
        device = self._fleet.devices.get(self.device_id) if self.device_id else None
        if device is None:
            return Text("Select a device to see its motion.", style="dim")
        if device.motion is None:
            return Text("No motion from this device yet (MQTT).", style="dim")
        # Same value as before is no change, so this cannot loop.
        self.border_subtitle = "last known, age unknown" if device.motion_is_retained else ""
        width = max(self.size.width - 15, 4)
        text = Text(no_wrap=True, overflow="crop")
        for index, (name, colour) in enumerate(SERIES):
            values = getattr(device, name).values()
            current = getattr(device.motion, name)
            if index:
                text.append("\n")
            text.append(f"{name:<6}", style=f"bold {colour}")
            text.append(sparkline(values, width), style=colour)
            text.append(f" {math.degrees(current):+7.1f}°")
        return text
