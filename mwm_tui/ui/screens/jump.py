"""Replay: ask for the time to jump to; the caller's ``parse`` says whether it is one."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from mwm_tui.domain.text import literal
from mwm_tui.ui.screens.once import OnceModal


class JumpScreen(OnceModal[float | None]):
    """Dismissed with the epoch time to jump to, or None when cancelled."""

    DEFAULT_CSS = """
    JumpScreen {
        align: center middle;
    }
    JumpScreen #jump {
        width: 64;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    JumpScreen.-ascii #jump {
        border: ascii $accent;
    }
    JumpScreen #jump-input {
        border: none;
        height: 1;
        padding: 0;
    }
    JumpScreen #jump-problem {
        color: $error;
    }
    """
    SCOPED_CSS = False
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, span: str, parse: Callable[[str], float]) -> None:
        """``span``: the record's first and last time, shown as a hint."""
        super().__init__()
        self._span = span
        self._parse = parse
        self.problem = Static("", id="jump-problem")

    def compose(self) -> ComposeResult:
        with Vertical(id="jump") as box:
            box.border_title = "jump to"
            yield Static(Text(f"record {self._span}", style="dim"))
            yield Static(Text("14:05 or 14:05:30, +5m or -90s, 2026-11-30T14:05", style="dim"))
            yield Input(placeholder="time, Enter jumps, Esc cancels", id="jump-input")
            yield self.problem

    def on_mount(self) -> None:
        self.set_class(bool(getattr(self.app, "ascii_only", False)), "-ascii")
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            target = self._parse(event.value)
        except ValueError as error:
            self.problem.update(Text(literal(str(error), 60)))
            return
        self.dismiss(target)

    def action_cancel(self) -> None:
        self.dismiss(None)
