"""The order composer: a text input addressed to the selected device, with order history,
and a line saying what became of the newest order or alert.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from mwm_tui.domain.dispatch import Dispatch, Tone, describe
from mwm_tui.domain.text import literal

PLACEHOLDER = "type an order, Enter sends"
TONE_STYLE = {Tone.GOOD: "green", Tone.WAIT: "yellow", Tone.BAD: "bold red", Tone.BUSY: "cyan"}


def dispatch_line(dispatch: Dispatch) -> Text:
    """What became of an order or alert, coloured by how well it went."""
    line, tone = describe(dispatch)
    return Text(line, style=TONE_STYLE[tone])


class OrderInput(Input):
    """An Input that remembers the orders sent from it."""

    # Enter stays the input's own key, so it acts after the letters typed before it; shown.
    BINDINGS = [Binding("enter", "submit", "Send")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=PLACEHOLDER, id=id)
        self.history: list[str] = []
        self._recall = 0
        self._draft = ""

    def remember(self, text: str) -> None:
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self._recall = len(self.history)

    def history_back(self) -> None:
        if self._recall == len(self.history):
            self._draft = self.value
        if self._recall > 0:
            self._recall -= 1
            self.value = self.history[self._recall]
            self.cursor_position = len(self.value)

    def history_forward(self) -> None:
        if self._recall < len(self.history):
            self._recall += 1
            at_end = self._recall == len(self.history)
            self.value = self._draft if at_end else self.history[self._recall]
            self.cursor_position = len(self.value)


class Composer(Vertical):
    """Shows the target id, the input, and what became of the last order or alert."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_input = OrderInput(id="order-input")
        self._target = "no device selected"

    def compose(self) -> ComposeResult:
        yield Static(id="composer-target")
        yield self.order_input
        yield Static(id="composer-status")

    def on_mount(self) -> None:
        self.set_target(None, None)

    def set_target(self, device_id: str | None, problem: str | None) -> None:
        target = Text("order to ", style="bold")
        if device_id is None:
            target.append("(no device selected)", style="dim")
        else:
            target.append(literal(device_id, 48), style="bold cyan")
            if problem:
                target.append(f"  cannot be addressed: {problem}", style="red")
        line = self.query_one("#composer-target", Static)
        # One line before and after: no other pane moves, so the screen needs no new layout.
        stays_one_line = line.size.height == 1 and target.cell_len <= line.size.width
        line.update(target, layout=not stays_one_line)
        self._target = "no device selected" if device_id is None else literal(device_id, 48)
        self._name_target()

    def on_resize(self) -> None:
        self._name_target()

    def _name_target(self) -> None:
        """On a short screen the input is all there is of the composer: it names the target."""
        if self.screen.has_class("-short"):
            self.order_input.placeholder = f"order to {self._target}: type, Enter sends"
        else:
            self.order_input.placeholder = PLACEHOLDER

    def set_status(self, text: Text) -> None:
        self.query_one("#composer-status", Static).update(text)
