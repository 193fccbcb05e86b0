"""The team's prompts: a note to leave on a truck, and "send anyway?" to a truck someone claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from mwm_tui.domain.claims import NOTE_MAX
from mwm_tui.ui.screens.once import OnceModal
from mwm_tui.ui.screens.send_prompt import SendPrompt
from mwm_tui.ui.widgets.key_footer import KeyFooter


class SendAnyway(SendPrompt[bool]):
    """Asked once before an order or alert to a truck another dispatcher claims: Enter (once
    the question stood still) goes on to the review or the alert prompt, Esc sends nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Yes"),
        Binding("escape", "cancel", "No"),
    ]
    WHAT = "send anyway"
    READY_HINT = "Enter: yes, go on · Esc: no, send nothing"
    WAITING_HINT = "read it first: Enter works in a moment · Esc: no"

    def __init__(
        self, device_label: str, question: str, clock: Callable[[], float], delay: float
    ) -> None:
        super().__init__(device_label, clock, delay)
        self.question = question

    def title_text(self) -> str:
        return "claimed truck"

    def body(self) -> ComposeResult:
        yield Static(Text(self.question, style="bold"), id="send-text")

    def result(self) -> bool | None:
        return True


class NotePrompt(OnceModal[str | None]):
    """A short note for a truck: Enter leaves it, Esc leaves none. Dismissed with the text."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, device_label: str) -> None:
        super().__init__()
        self.device_label = device_label
        self.field = Input(
            placeholder="note, Enter leaves it, Esc cancels", max_length=NOTE_MAX, id="note-input"
        )

    def compose(self) -> ComposeResult:
        with Vertical(id="send-prompt") as box:
            box.border_title = Text(f"note on {self.device_label}")  # not markup: a network id
            yield Static(Text(f"every dashboard sees it; up to {NOTE_MAX} characters", "dim"))
            yield self.field
        yield KeyFooter()

    def on_mount(self) -> None:
        self.field.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
