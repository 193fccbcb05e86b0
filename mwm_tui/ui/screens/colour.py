"""The alert colour picker."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mwm_tui.domain.alerts import ALERT_COLOURS


class ColourPicker(ModalScreen[str | None]):
    """Choose the colour a device flashes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, device_label: str) -> None:
        super().__init__()
        self._device_label = device_label

    def compose(self) -> ComposeResult:
        options = [
            Option(Text(f"■ {name}", style=name if name != "black" else "white on black"), id=name)
            for name in ALERT_COLOURS
        ]
        picker = OptionList(*options, id="colour-picker")
        picker.border_title = Text(f"alert colour for {self._device_label}")  # not markup
        yield picker

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
