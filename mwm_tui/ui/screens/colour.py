"""The alert prompt: the truck, each colour a swatch with its name; Enter sends the chosen one."""

from __future__ import annotations

from typing import ClassVar

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from mwm_tui.domain.alerts import ALERT_COLOURS
from mwm_tui.ui.screens.send_prompt import SendPrompt

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


class ColourList(OptionList, can_focus=False):
    """The colours; the prompt moves the highlight and its Enter alerts with that colour."""


class ColourPicker(SendPrompt[str]):
    """Alert one truck: red first, another colour with the arrows, Enter sends."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k,down,j", "move", "Colour", key_display="↑↓"),
        *SendPrompt.BINDINGS,
    ]
    OWN_KEYS = frozenset({"up", "k", "down", "j"})
    WHAT = "alert"

    def own_key(self, key: str) -> None:
        picker = self.query_one(ColourList)
        if key in ("down", "j"):
            picker.action_cursor_down()
        else:
            picker.action_cursor_up()

    def title_text(self) -> str:
        return f"alert {self.device_label} with"

    def body(self) -> ComposeResult:
        ascii_only = bool(getattr(self.app, "ascii_only", False))
        options = [Option(swatch(name, ascii_only=ascii_only), id=name) for name in ALERT_COLOURS]
        yield ColourList(*options, id="colour-picker")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.changed()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A click picks a colour; only Enter sends it."""
        event.stop()
        self.changed()

    def result(self) -> str | None:
        picker = self.query_one(ColourList)
        if picker.highlighted is None:
            return None
        return picker.get_option_at_index(picker.highlighted).id
