"""The prompts that send: an order to review, an alert colour to confirm.

Each names the truck and what goes. Enter sends only once the prompt has stood still long
enough to be read (``domain/intent.py``); Esc, or any typed key the prompt does not use,
closes it and nothing is sent. The prompt's result is what to send, or None.

The app hands each key to the prompt on top as the key arrives (``take_key``), before Textual
would queue it for the screen: keys typed in one burst are then taken in the order typed, and
the key after the one that closed a prompt goes to whatever is on top by then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from mwm_tui.domain.intent import Answer, Arming
from mwm_tui.ui.screens.once import OnceModal
from mwm_tui.ui.widgets.key_footer import KeyFooter

ResultT = TypeVar("ResultT")

READY = "Enter sends · Esc cancels"
WAITING = "read it first: Enter works in a moment · Esc cancels"
# How often the hint looks whether the prompt is armed yet.
HINT_INTERVAL = 0.1


class SendPrompt(OnceModal[ResultT | None], Generic[ResultT]):
    """A modal that names a truck and what it would send; subclasses say what that is."""

    # Shown in the footer; ``on_key`` acts on them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send"),
        Binding("escape", "cancel", "Cancel"),
    ]
    # Keys the prompt itself uses (``own_key``); any other printable key closes it unsent.
    OWN_KEYS: ClassVar[frozenset[str]] = frozenset()
    WHAT = "nothing"
    # The hint once Enter counts, and before.
    READY_HINT = READY
    WAITING_HINT = WAITING

    def __init__(self, device_label: str, clock: Callable[[], float], delay: float) -> None:
        super().__init__()
        self.device_label = device_label
        self.arming = Arming(clock, delay)
        self.hint = Static(id="send-hint")

    def body(self) -> ComposeResult:
        """The lines between the title and the hint."""
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(id="send-prompt") as box:
            box.border_title = Text(self.title_text())  # not markup: the id is the network's
            yield from self.body()
            yield self.hint
        yield KeyFooter()

    def title_text(self) -> str:
        return f"send to {self.device_label}"

    def on_mount(self) -> None:
        self._show_hint()
        self.set_interval(HINT_INTERVAL, self._show_hint)

    def _show_hint(self) -> None:
        armed = self.arming.armed()
        hint = self.READY_HINT if armed else self.WAITING_HINT
        self.hint.update(Text(hint, style="bold" if armed else "dim"))

    def changed(self) -> None:
        """What would be sent changed: Enter waits again."""
        self.arming.changed()
        self._show_hint()

    def result(self) -> ResultT | None:
        raise NotImplementedError

    def close(self, result: ResultT | None) -> bool:
        """Dismiss; False when the prompt was already closing."""
        if self.closing:
            return False
        self.dismiss(result)
        return True

    def action_send(self) -> None:
        if self.closing:
            return
        if self.arming.answer() is Answer.SEND:
            self.close(self.result())
        else:
            self.app.bell()
            self._show_hint()

    def action_cancel(self) -> None:
        self.close(None)

    def own_key(self, key: str) -> None:
        """One of ``OWN_KEYS`` was pressed."""

    def on_key(self, event: events.Key) -> None:
        if self.take_key(event):
            event.stop()
            event.prevent_default()

    def take_key(self, event: events.Key) -> bool:
        """Act on ``event``; False for a key the prompt leaves to the app (ctrl+q, tab)."""
        if event.key == "enter":
            self.action_send()
        elif event.key == "escape":
            self.action_cancel()
        elif event.key in self.OWN_KEYS:
            self.own_key(event.key)
        elif not event.is_printable:
            return False
        elif self.close(None):
            self.app.notify(
                f"Nothing sent to {self.device_label}: the {self.WHAT} prompt closed "
                f"on a typed key ({event.character!r}).",
                severity="warning",
                markup=False,
            )
        return True


class OrderPrompt(SendPrompt[str]):
    """Review an order before it goes: the truck, the whole text."""

    WHAT = "order"

    def __init__(
        self, device_label: str, text: str, clock: Callable[[], float], delay: float
    ) -> None:
        super().__init__(device_label, clock, delay)
        self.text = text

    def title_text(self) -> str:
        return f"send this order to {self.device_label}?"

    def body(self) -> ComposeResult:
        yield Static(Text.assemble(("to     ", "bold"), (self.device_label, "bold cyan")))
        yield Static(Text.assemble(("order  ", "bold"), self.text), id="send-text")

    def result(self) -> str | None:
        return self.text
