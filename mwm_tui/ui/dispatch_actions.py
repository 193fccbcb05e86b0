"""Orders and alerts from the keyboard: the prompts that name the truck, then the dispatcher.

No key sends alone. Enter in the composer opens the order's review, ``a`` the alert prompt;
either sends only on its own Enter (``screens/send_prompt.py``), and only to the truck it
named. While a prompt is up, the app hands it each key as the key arrives, in the order typed.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import events, on
from textual.widgets import Input

from mwm_tui.domain.dispatch import Kind
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.text import literal
from mwm_tui.services.dispatcher import Dispatcher
from mwm_tui.ui.pane_actions import PaneActions
from mwm_tui.ui.screens import ColourPicker, OrderPrompt, SendPrompt
from mwm_tui.ui.team_actions import TeamActions
from mwm_tui.ui.widgets.composer import dispatch_line, team_line


class DispatchActions(PaneActions):
    """The app's orders and alerts; the app composes the panes and the dispatcher."""

    fleet: Fleet
    dispatcher: Dispatcher
    team: TeamActions
    # The prompts that send read this clock; Enter counts once one stood still ``arm_delay``.
    prompt_clock: Callable[[], float]
    arm_delay: float

    async def on_event(self, event: events.Event) -> None:
        """A prompt that sends takes each key as it arrives, in the order typed."""
        if isinstance(event, events.Key) and not self.screen_stack:
            return  # closing: the last screen is gone, and a key has nowhere to go
        prompt = self.screen_stack[-1] if self.screen_stack else None
        if (
            isinstance(event, events.Key)
            and not event.is_forwarded
            and isinstance(prompt, SendPrompt)
            and prompt.take_key(event)
        ):
            return
        await super().on_event(event)

    def _target(self, what: str, device_id: str | None = None) -> str | None:
        """``device_id`` (else the selected device) if it can be addressed; else say why not."""
        device_id = device_id if device_id is not None else self.device_list.selected
        if device_id is None:
            self.notify(f"Select a device first to send an {what}.", severity="warning")
            return None
        device = self.fleet.devices.get(device_id)
        if device is not None and device.address_problem:
            self.notify(
                f"Cannot send an {what} to {literal(device_id, 40)}: {device.address_problem}",
                severity="error",
                markup=False,  # the id comes from the network
            )
            return None
        return device_id

    @on(Input.Submitted, "#order-input")
    def _review_order(self, event: Input.Submitted) -> None:
        """Enter in the composer opens the review of the order for the truck it names."""
        device_id = self.composer.device_id
        text = event.value
        if isinstance(self.screen, SendPrompt) or not text.strip() or device_id is None:
            return  # a review is open already: Enters typed ahead of it open no other
        if self._target("order") != device_id:
            return

        def reviewed(confirmed: str | None) -> None:
            if confirmed is not None and self.send_order(confirmed, device_id):
                self.composer.sent(device_id, confirmed)

        label = literal(device_id, 48)
        self.team.ask_first(
            device_id,
            lambda: self.push_screen(
                OrderPrompt(label, text, self.prompt_clock, self.arm_delay), reviewed
            ),
        )

    def send_order(self, text: str, device_id: str | None = None) -> bool:
        """Order ``device_id`` (the selected device by default); False when it cannot take it."""
        target = self._target("order", device_id)
        if target is not None:
            self.dispatcher.submit(Kind.ORDER, target, text)
            self._show_dispatches()
        return target is not None

    def send_alert(self, colour: str, device_id: str | None = None) -> None:
        target = self._target("alert", device_id)
        if target is not None:
            self.dispatcher.submit(Kind.ALERT, target, colour)
            self._show_dispatches()

    def _show_dispatches(self) -> None:
        for dispatch in self.dispatcher.take_reports():
            line = dispatch_line(dispatch)
            self.event_log.add(line)
            self.composer.set_status(line)
        for entry in self.dispatcher.take_news():
            line = team_line(entry.text)
            self.event_log.add(line, devices=[entry.device_id] if entry.device_id else [])
            if entry.dispatch_id in self.dispatcher.mine:
                self.composer.set_status(line)
        for notice in self.dispatcher.take_notices():
            self.event_log.add(notice, "cyan")
        for problem in self.dispatcher.take_problems():
            self.event_log.add(f"history database: {literal(problem, 200)}", "red")

    def action_alert(self) -> None:
        """Open the alert prompt for the selected truck; only its Enter sends."""
        device_id = self._target("alert")
        if device_id is None:
            return

        def chosen(colour: str | None) -> None:
            if colour:
                self.send_alert(colour, device_id)

        label = literal(device_id, 48)
        self.team.ask_first(
            device_id,
            lambda: self.push_screen(
                ColourPicker(label, self.prompt_clock, self.arm_delay), chosen
            ),
        )
