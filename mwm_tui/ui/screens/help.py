"""The ? help: every key of the keymap, by scope."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mwm_tui.ui.keymap import KEYMAP, Scope
from mwm_tui.ui.screens.once import OnceModal
from mwm_tui.ui.widgets.key_footer import KeyFooter

_KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "pagedown": "PgDn",
    "pageup": "PgUp",
    "escape": "Esc",
    "space": "Space",
    "full_stop": ".",
    "comma": ",",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def key_label(keys: str) -> str:
    return " ".join(_KEY_NAMES.get(key, key) for key in keys.split(","))


def help_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
    table.add_column(style="bold cyan", no_wrap=True, min_width=10)
    table.add_column(ratio=1)
    for scope in Scope:
        table.add_row(Text(scope.value, style="bold underline"), "")
        for action in KEYMAP:
            if action.scope is scope:
                table.add_row(key_label(action.keys), action.help)
        table.add_row("", "")
    table.add_row("ctrl+p", "Command palette: every action by name")
    return table


class HelpScreen(OnceModal[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark,q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(Text("mwm-tui keys", style="bold"), id="help-title")
            yield Static(help_table())
            yield Static(
                Text(
                    "While the composer or the filter has focus, letters are text. "
                    "Ids and texts from the network are shown literally.",
                    style="dim",
                )
            )
        yield KeyFooter()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
