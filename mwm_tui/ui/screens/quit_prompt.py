"""Quitting with orders of one's own still in the outbox: asked once, answered by a key."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from mwm_tui.ui.screens.once import OnceModal
from mwm_tui.ui.widgets.key_footer import KeyFooter


class QuitPrompt(OnceModal[bool]):
    """``question`` (from ``domain/leaving.py``); q or Enter quits, anything else stays."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,enter", "leave", "Quit"),
        Binding("escape", "stay", "Stay"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-prompt") as box:
            box.border_title = "quit?"
            yield Static(Text(self.question))
            yield Static(Text("q or Enter quits · Esc stays", style="bold"), id="quit-hint")
        yield KeyFooter()

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key in ("q", "enter"))

    def action_leave(self) -> None:
        self.dismiss(True)

    def action_stay(self) -> None:
        self.dismiss(False)
