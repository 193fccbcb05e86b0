"""The alert colour picker: each colour a swatch with its name, its keys in the footer."""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option

from mwm_tui.domain.alerts import ALERT_COLOURS

# What each alert colour looks like (the CSS colour of that name).
SWATCH = {
    "red": "#ff0000",
    "orange": "#ffa500",
    "yellow": "#ffff00",
    "green": "#008000",
    "cyan": "#00ffff",
    "blue": "#0000ff",
    "magenta": "#ff00ff",
    "purple": "#800080",
    "brown": "#a52a2a",
    "white": "#ffffff",
    "gray": "#808080",
    "black": "#000000",
}
SWATCH_WIDTH = 10


def swatch(name: str, *, ascii_only: bool = False) -> Text:
    """``name`` written on its colour, in black or white, whichever reads better on it."""
    colour = Color.parse(SWATCH.get(name, "#808080"))
    red, green, blue = colour.get_truecolor()
    brightness = (299 * red + 587 * green + 114 * blue) / 1000
    ink = "#000000" if brightness > 128 else "#ffffff"
    text = Text(f" {name}".ljust(SWATCH_WIDTH), style=Style(color=ink, bgcolor=colour, bold=True))
    # A frame of plain cells around it: black and white swatches stay visible on any background.
    left, right = ("|", "|") if ascii_only else ("▕", "▏")
    return Text(left, style="bright_black") + text + Text(right, style="bright_black")


class ColourList(OptionList):
    """The colours; Enter alerts with the highlighted one."""

    BINDINGS = [
        Binding("enter", "select", "Alert with it"),
        Binding("down", "cursor_down", "Next"),
        Binding("up", "cursor_up", "Previous"),
    ]


class ColourPicker(ModalScreen[str | None]):
    """Choose the colour a device flashes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, device_label: str) -> None:
        super().__init__()
        self._device_label = device_label

    def compose(self) -> ComposeResult:
        ascii_only = bool(getattr(self.app, "ascii_only", False))
        options = [Option(swatch(name, ascii_only=ascii_only), id=name) for name in ALERT_COLOURS]
        picker = ColourList(*options, id="colour-picker")
        picker.border_title = Text(f"alert colour for {self._device_label}")  # not markup
        yield picker
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
