"""The order composer: a draft addressed to the selected truck, with order history, and a line
saying what became of the newest order or alert.

It takes keys only once ``o`` (or a click) gives it focus, and says so: unfocused, it invites
``o``; focused, it names the truck Enter would review an order for. Each truck keeps its own
draft (``domain/intent.py``): a change of selection never carries text to another truck.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from mwm_tui.domain.dispatch import Dispatch, Tone, describe, tone_of_line
from mwm_tui.domain.intent import Drafts
from mwm_tui.domain.text import literal

# The line above the input names the truck; the input says whether it takes keys.
FOCUSED = "type the order, Enter to review it"
UNFOCUSED = "press o to write an order"
NO_TARGET = "select a truck to write an order"
REPLAY = "a replay: nothing can be sent from here"
TONE_STYLE = {Tone.GOOD: "green", Tone.WAIT: "yellow", Tone.BAD: "bold red", Tone.BUSY: "cyan"}


def dispatch_line(dispatch: Dispatch, *, whole: bool = False) -> Text:
    """What became of an order or alert, coloured by how well it went; ``whole``: the order's
    text uncut."""
    line, tone = describe(dispatch, None) if whole else describe(dispatch)
    return Text(line, style=TONE_STYLE[tone])


def team_line(line: str) -> Text:
    """Another dashboard's dispatch line, as it wrote it (shown literally: the file is shared),
    coloured the same way."""
    return Text(literal(line, 300), style=TONE_STYLE[tone_of_line(line)])


class OrderInput(Input):
    """An Input that remembers the orders sent from it."""

    # Enter stays the input's own key, so it acts after the letters typed before it; shown.
    BINDINGS = [Binding("enter", "submit", "Review")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=NO_TARGET, id=id)
        self.history: list[str] = []
        self._recall = 0
        self._draft = ""

    async def action_submit(self) -> None:
        """Enter reviews the draft; not again while a review of it is already open above."""
        if self.screen is self.app.screen:
            await super().action_submit()

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
        self.device_id: str | None = None
        self.drafts = Drafts()
        # Set when nothing can be sent from here (a replay): the input says so and takes no keys.
        self.read_only: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="composer-target")
        yield self.order_input
        yield Static(id="composer-status")

    def on_mount(self) -> None:
        self.set_target(None, None)

    def set_target(
        self, device_id: str | None, problem: str | None, claimant: str | None = None
    ) -> None:
        """Address the composer to ``device_id``; its draft replaces the one shown.

        ``claimant``: the dispatcher who claims the truck, named beside it."""
        if device_id != self.device_id:
            draft = self.drafts.switch(self.device_id, self.order_input.value, device_id)
            self.order_input.value = draft
            self.order_input.cursor_position = len(draft)
            self.device_id = device_id
        target = Text("order to ", style="bold")
        if device_id is None:
            target.append("(no device selected)", style="dim")
        else:
            target.append(literal(device_id, 48), style="bold cyan")
            if claimant:
                target.append(f"  {literal(claimant, 24)}'s", style="magenta")
            if problem:
                target.append(f"  cannot be addressed: {problem}", style="red")
        line = self.query_one("#composer-target", Static)
        # One line before and after: no other pane moves, so the screen needs no new layout.
        stays_one_line = line.size.height == 1 and target.cell_len <= line.size.width
        line.update(target, layout=not stays_one_line)
        self._name_target()

    def sent(self, device_id: str, text: str) -> None:
        """``text`` went to ``device_id``: remember it, and that truck's draft is done."""
        self.order_input.remember(text)
        if device_id == self.device_id:
            self.order_input.value = ""
        else:
            self.drafts.keep(device_id, "")

    def on_descendant_focus(self) -> None:
        self._name_target()

    def on_descendant_blur(self) -> None:
        self._name_target()

    def _name_target(self) -> None:
        """The input says whether it takes keys now."""
        if self.read_only is not None:
            self.order_input.placeholder = self.read_only
            self.order_input.disabled = True
            return
        if self.device_id is None:
            self.order_input.placeholder = NO_TARGET
            return
        self.order_input.placeholder = FOCUSED if self.order_input.has_focus else UNFOCUSED

    def set_status(self, text: Text) -> None:
        self.query_one("#composer-status", Static).update(text)
