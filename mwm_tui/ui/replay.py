"""The dashboard over a record file: replay keys, jumps, and refusing to send anything."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen
from textual.widgets import Input

from mwm_tui.adapters.replay import ReplayPlayer, parse_jump
from mwm_tui.domain.events import TELEMETRY_TYPES, Event, MessageRejected, WillReceived
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.keymap import SCOPE_OF_ACTION, Scope, palette_actions
from mwm_tui.ui.screens import JumpScreen
from mwm_tui.ui.widgets.composer import REPLAY
from mwm_tui.ui.widgets.replay_bar import ReplayBar, replay_stamp

REFUSED = "Replay: orders and alerts are not sent; nothing goes to a broker during a replay."
# What a jump applies to the fleet directly, at each record's own time.
FLEET_EVENTS = (*TELEMETRY_TYPES, WillReceived, MessageRejected)
_EVERYTHING = 10_000_000


class ReplayApp(MwmApp):
    """MwmApp whose links play a record file; ``player`` is set by the composition root."""

    player: ReplayPlayer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.composer.read_only = REPLAY

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if SCOPE_OF_ACTION.get(action) is Scope.REPLAY:
            return self.screen is self.screen_stack[0] and not isinstance(self.focused, Input)
        return super().check_action(action, parameters)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action in palette_actions(Scope.REPLAY):
            callback: Callable[[], object] = partial(self.run_action, action.action)
            yield SystemCommand(action.description, action.help, callback)

    # Nothing is sent during a replay.

    def _refuse(self) -> None:
        self.notify(REFUSED, severity="warning")

    def send_order(self, text: str, device_id: str | None = None) -> bool:
        self._refuse()
        return False

    def send_alert(self, colour: str, device_id: str | None = None) -> None:
        self._refuse()

    def action_compose(self) -> None:
        self._refuse()

    def action_alert(self) -> None:
        self._refuse()

    def action_reconnect(self) -> None:
        self.notify("Replay: there is no broker to reconnect to.")

    # Replay controls

    def action_replay_pause(self) -> None:
        paused = self.player.toggle_pause()
        if self.player.at_end:
            self.notify("Replay: at the end of the record (J jumps back).")
        self._changed("paused" if paused else "playing")

    def action_replay_step(self) -> None:
        if not self.player.step_message():
            self.notify("Replay: at the end of the record.")
        self._changed()

    def action_replay_step_second(self) -> None:
        self.player.step_seconds(1.0)
        self._changed()

    def action_replay_faster(self) -> None:
        self._changed(f"x{self.player.change_speed(faster=True)}")

    def action_replay_slower(self) -> None:
        self._changed(f"x{self.player.change_speed(faster=False)}")

    def action_replay_jump(self) -> None:
        player = self.player
        span = f"{replay_stamp(player.start)} to {replay_stamp(player.end)}"

        def parse(text: str) -> float:
            return min(max(parse_jump(text, player.clock()), player.start), player.end)

        def chosen(target: float | None) -> None:
            if target is not None:
                self.jump_to(target)

        self.push_screen(JumpScreen(span, parse), chosen)

    def jump_to(self, target: float) -> None:
        """Show the fleet as it was at ``target``: going back starts again from the first
        record; records up to ``target`` are applied at their own times (see ``jump``)."""
        player, fleet, clock = self.player, self.fleet, self.player.clock
        with player.lock:
            back = target < clock()
            for event in self.inbox.drain(_EVERYTHING):
                if not isinstance(event, FLEET_EVENTS):
                    self._handle(event)
                elif not back:
                    fleet.apply(event)
            if back:
                fleet.forget_devices()
                player.rewind()

            def apply(at: float, event: Event) -> None:
                if isinstance(event, FLEET_EVENTS):
                    with clock.pinned(at):
                        fleet.apply(event)

            player.jump(target, apply, horizon=fleet.offline_after)
            fleet.sweep()
        self.event_log.add(f"replay: jumped to {replay_stamp(target)}", "cyan")
        self._changed()

    def _changed(self, what: str = "") -> None:
        bar = self.query_one(ReplayBar)
        bar.show()
        self.fleet.sweep()
        self.device_list.sync(force=True)
        self.position_map.dirty = True
        if what:
            self.notify(f"Replay {what}.", timeout=1.5)
