"""The dashboard application and the one factory that the command line and the tests use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.filter import LineFilter
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from mwm_tui.adapters.base import AlertLink, OrderLink
from mwm_tui.domain.events import (
    TELEMETRY_TYPES,
    AlertOutcome,
    DeviceNotice,
    Event,
    LinkState,
    LinkStateChanged,
    MessageRejected,
    OrderOutcome,
    QueueConsumers,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.intent import ARM_DELAY
from mwm_tui.domain.text import literal
from mwm_tui.services.dispatcher import Dispatcher
from mwm_tui.ui import crop_updates, gc_policy, update_culling
from mwm_tui.ui.copy_actions import CopyActions
from mwm_tui.ui.dispatch_actions import DispatchActions
from mwm_tui.ui.empty_list import why_empty
from mwm_tui.ui.glyphs import AsciiFilter, ascii_key
from mwm_tui.ui.keymap import SCOPE_OF_ACTION, Scope, bindings, palette_actions
from mwm_tui.ui.pacing import RefreshPacer
from mwm_tui.ui.pane_actions import FilterInput
from mwm_tui.ui.pane_widths import fit_left_pane
from mwm_tui.ui.readable_greys import readable_filters
from mwm_tui.ui.screens import DeviceDetail, HelpScreen
from mwm_tui.ui.screens.once import OncePalette
from mwm_tui.ui.screens.quit_prompt import QuitPrompt
from mwm_tui.ui.screenshot import save_svg, screenshot_folder
from mwm_tui.ui.team_actions import TeamActions
from mwm_tui.ui.widgets.composer import Composer, OrderInput
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.event_log import EventLog
from mwm_tui.ui.widgets.key_footer import KeyFooter
from mwm_tui.ui.widgets.motion_panel import MotionPanel
from mwm_tui.ui.widgets.position_map import PositionMap
from mwm_tui.ui.widgets.status_bar import StatusBar

DRAIN_INTERVAL = 0.05
DRAIN_BUDGET = 0.015
# Events taken at once: the budget is checked between batches, so a batch is a few ms at most.
DRAIN_BATCH = 512
LIST_INTERVAL = 1 / 3
# Rows are redrawn for new values once a second (ages tick each second; a truck heard at 1 Hz
# has its row drawn once, not thrice); a new device or status shows at the next tick.
LIST_VALUES_EVERY = 0.9
# A fix reaches the map within a second: a link's read pause (0.1 s), a drain, this, a draw.
MAP_INTERVAL = 0.75
MOTION_INTERVAL = 0.1
REJECT_LOG_PER_SECOND = 5
LINK_STOP_GRACE = 1.5


def stylesheet() -> Path:
    """``styles/app.tcss``: inside the wheel as ``mwm_tui/styles``, or at the source tree's top."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "styles" / "app.tcss"
    return packaged if packaged.exists() else package.parent / "styles" / "app.tcss"


class MwmApp(DispatchActions, CopyActions):
    CSS_PATH = stylesheet()
    TITLE = "mwm-tui"
    BINDINGS = bindings()
    # The screen's class by its rows, for styles/app.tcss: -short under 30 (80x24), -tall from 36.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-medium"), (36, "-tall")]

    def __init__(
        self,
        *,
        fleet: Fleet,
        inbox: EventInbox,
        stomp_link: OrderLink,
        mqtt_link: AlertLink,
        dispatcher: Dispatcher,
        demo: bool = False,
        ascii_only: bool = False,
        tune_gc: bool = True,
        wall_clock: Callable[[], float] = time.time,
        screenshot_dir: str | None = None,
        extras: Sequence[Widget] = (),
    ) -> None:
        """``extras``: lines shown under the status bar (recording, replay)."""
        super().__init__()
        # Partial updates start at their first changed cell: fewer bytes to a remote terminal.
        crop_updates.install()
        # A partial update renders only the panes it touches.
        update_culling.install()
        self.screenshot_folder = screenshot_folder(screenshot_dir)
        self.extras = list(extras)
        self.wall_clock = wall_clock
        self.fleet = fleet
        self.inbox = inbox
        self.stomp_link = stomp_link
        self.mqtt_link = mqtt_link
        self.demo = demo
        # Panes draw with ASCII characters only (no braille, box drawing or symbols).
        self.ascii_only = ascii_only
        self._ascii_filter = [AsciiFilter()] if ascii_only else []
        self._tune_gc = tune_gc
        self.dispatcher = dispatcher
        # The prompts that send read this clock; Enter counts once one stood still this long.
        self.prompt_clock: Callable[[], float] = time.monotonic
        self.arm_delay = ARM_DELAY
        self._rejects_logged_this_second = 0
        self._list_dirty = True
        self._list_pacer = RefreshPacer(LIST_VALUES_EVERY)
        self._map_version_drawn = -1
        self._motion_shown: tuple[str | None, int] = (None, -1)
        self.first_paint_at: float | None = None
        # The panes, held here so timers never look them up (a lookup fails during shutdown).
        self.status_bar = StatusBar(demo=demo, wall_clock=wall_clock, id="status")
        self.filter_input = FilterInput(placeholder="filter: id or status", id="filter")
        self.device_list = DeviceList(
            fleet,
            wall_clock=wall_clock,
            claimant=dispatcher.team.whose,
            empty_reason=lambda: why_empty(
                self.status_bar.links, len(fleet.devices), self.device_list.filter_text
            ),
            id="devices",
        )
        self.composer = Composer(id="composer")
        self.position_map = PositionMap(fleet, id="map")
        self.position_map.shown_ids = lambda: (
            self.device_list.row_ids if self.device_list.filter_text.strip() else None
        )
        self.motion_panel = MotionPanel(fleet, ascii_only=ascii_only, id="motion")
        self.event_log = EventLog(wall_clock, id="log")
        self.reject_summary = self.event_log.rejects
        self.team = TeamActions(
            self,
            dispatcher.team,
            fleet,
            self.event_log,
            lambda: (self.prompt_clock, self.arm_delay),
        )
        self._claims_shown = -1

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.status_bar
        yield from self.extras
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.filter_input
                yield self.device_list
                yield self.composer
            with Vertical(id="right"):
                yield self.position_map
                yield self.motion_panel
                yield self.event_log
        yield KeyFooter()

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*readable_filters(list(super().get_line_filters())), *self._ascii_filter]

    def get_key_display(self, binding: Binding) -> str:
        shown = super().get_key_display(binding)
        return ascii_key(shown) if self.ascii_only else shown

    def on_mount(self) -> None:
        self.set_class(self.ascii_only, "-ascii")
        self.filter_input.display = False
        self.device_list.border_title = "devices"
        self.position_map.border_title = "map"
        self.motion_panel.border_title = "motion"
        self.event_log.border_title = "events"
        self.device_list.focus()
        self.set_interval(DRAIN_INTERVAL, self._drain, name="drain")
        self.set_interval(LIST_INTERVAL, self._refresh_list, name="list")
        self.set_interval(MAP_INTERVAL, self._refresh_map, name="map")
        self.set_interval(MOTION_INTERVAL, self._refresh_motion, name="motion")
        self.set_interval(1.0, self._every_second, name="every-second")
        if self._tune_gc:
            gc_policy.tune()
            self.set_interval(gc_policy.FULL_COLLECTION_INTERVAL, gc_policy.collect_full, name="gc")
        self.call_after_refresh(self._painted)
        taken_up = self.dispatcher.load()
        if taken_up:
            self.event_log.add(f"{taken_up} orders or alerts taken up from the outbox", "cyan")
        self._show_dispatches()
        for link in (self.stomp_link, self.mqtt_link):
            self.event_log.add(f"{link.name} link: connecting to {link.label}")
            link.start()

    def _painted(self) -> None:
        self.first_paint_at = time.monotonic()

    def on_unmount(self) -> None:
        """Say goodbye to both brokers at once, but never hold the dispatcher's exit for it."""
        stoppers = [
            threading.Thread(target=link.stop, name=f"stop-{link.name}", daemon=True)
            for link in (self.stomp_link, self.mqtt_link)
        ]
        for stopper in stoppers:
            stopper.start()
        deadline = time.monotonic() + LINK_STOP_GRACE
        for stopper in stoppers:
            stopper.join(max(deadline - time.monotonic(), 0.0))
        # Outcomes that arrived before the links stopped are kept; the rest stay open.
        left = self.inbox.stats().pending  # a link that would not stop adds no more to look at
        while left > 0 and (batch := self.inbox.drain(DRAIN_BATCH)):
            left -= len(batch)
            for event in batch:
                if isinstance(event, OrderOutcome | AlertOutcome):
                    self.dispatcher.observe(event)
        self.dispatcher.close()

    # ---- the data path: broker threads -> inbox -> this timer -> fleet -> dirty panes ------

    def _drain(self) -> None:
        deadline = time.perf_counter() + DRAIN_BUDGET
        fleet = self.fleet
        while True:
            batch = self.inbox.drain(DRAIN_BATCH)
            if not batch:
                break
            for event in batch:
                if isinstance(event, TELEMETRY_TYPES):
                    fleet.apply(event)
                else:
                    self._handle(event)
            if time.perf_counter() > deadline:
                break
        changes = fleet.take_changes()
        self.dispatcher.record_changes(changes)
        self.event_log.log_changes(changes)
        wills = fleet.wills.take_notes()
        if wills:
            self.dispatcher.record_wills(wills)
            self.event_log.log_wills(wills)
        self.dispatcher.tick()
        self._show_dispatches()
        if fleet.has_dirty:  # the list takes them when it next syncs
            self._list_dirty = True
        if self.dispatcher.team.version != self._claims_shown:
            self._claims_shown = self.dispatcher.team.version
            self.device_list.claims_changed()
            self._aim_composer(self.composer.device_id)
        for device_id, line in self.position_map.geofence_lines(fleet.take_moved()):
            self.event_log.add(line, "yellow", devices=[device_id])
            self.dispatcher.record_geofence(device_id, line)
        if fleet.map_version != self._map_version_drawn:
            self._map_version_drawn = fleet.map_version
            self.position_map.dirty = True

    def _handle(self, event: Event) -> None:
        self.dispatcher.observe(event)
        if isinstance(event, OrderOutcome | AlertOutcome | QueueConsumers):
            return
        if isinstance(event, MessageRejected):
            self.fleet.apply(event)
            if self._rejects_logged_this_second < REJECT_LOG_PER_SECOND:
                self._rejects_logged_this_second += 1
                more = f" and {event.count - 1} more like it" if event.count > 1 else ""
                self.event_log.add(
                    f"{event.link} rejected a message on {literal(event.source, 60)}: "
                    f"{event.reason} ({literal(event.detail, 80)}){more}",
                    "yellow",
                )
        elif isinstance(event, LinkStateChanged):
            self._link_changed(event)
        elif isinstance(event, DeviceNotice):
            self.event_log.add(f"{literal(event.device_id, 40)}: {literal(event.text)}", "cyan")
        else:
            self.fleet.apply(event)

    def _link_changed(self, event: LinkStateChanged) -> None:
        self.fleet.link_changed(event.link, event.state)
        self.status_bar.link_changed(event)
        self.event_log.link_changed(event)

    def _every_second(self) -> None:
        self.fleet.sweep()
        self._rejects_logged_this_second = 0
        self.status_bar.following = self.dispatcher.following()
        self.status_bar.tick(
            self.fleet,
            self.inbox.stats().coalesced,
            self.dispatcher.outbox_size(),
            self.dispatcher.store_problem,
        )
        self.event_log.show_rejects(self.fleet.rejects_by_reason)
        self.event_log.device_limit(self.fleet)
        self._list_dirty = True  # ages keep ticking

    def _refresh_list(self) -> None:
        if self._list_dirty and self._list_pacer.due(self.fleet.version, time.monotonic()):
            self._list_dirty = False
            self.device_list.sync()
        # In the same frame as the rows: a longer id widens the pane as it widens the list.
        fit_left_pane(self.device_list, self.size.width)

    def _refresh_map(self) -> None:
        self.position_map.redraw_if_dirty()

    def _refresh_motion(self) -> None:
        selected = self.device_list.selected
        device = self.fleet.devices.get(selected) if selected is not None else None
        shown = (selected, device.motion_count if device is not None else -1)
        if shown != self._motion_shown:
            self._motion_shown = shown
            self.motion_panel.repaint()

    # ---- selection ---------------------------------------------------------------------------

    @on(DeviceList.SelectionChanged)
    def _selection_changed(self, event: DeviceList.SelectionChanged) -> None:
        self.motion_panel.show(event.device_id)
        self.position_map.select(event.device_id)
        self._aim_composer(event.device_id)

    def _aim_composer(self, device_id: str | None) -> None:
        """The composer names ``device_id``, why it cannot be addressed, and who claims it."""
        device = self.fleet.devices.get(device_id) if device_id else None
        problem = device.address_problem if device else None
        claimant = self.dispatcher.team.whose(device_id) if device_id else None
        self.composer.set_target(device_id, problem, claimant)

    # ---- actions (keys, palette) -------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key acts only in its scope: the main screen, and what has focus there."""
        scope = SCOPE_OF_ACTION.get(action)
        if scope is None or scope is Scope.REPLAY:
            return scope is None  # replay keys: ReplayApp's alone
        if self.screen is not self.screen_stack[0]:
            return False
        focused = self.focused
        if scope is Scope.APP:
            return not isinstance(focused, Input)
        if scope is Scope.LIST:
            return isinstance(focused, DeviceList) and (
                action != "drop_filter" or bool(self.device_list.filter_text.strip())
            )
        if scope is Scope.MAP:
            return isinstance(focused, PositionMap)
        if scope is Scope.FILTER:
            return isinstance(focused, FilterInput)
        if scope is Scope.LOG:
            return isinstance(focused, EventLog)
        return isinstance(focused, OrderInput)

    def action_claim(self) -> None:
        if (device_id := self._selected("claim")) is not None:
            self.team.claim(device_id)

    def action_note(self) -> None:
        if (device_id := self._selected("note")) is not None:
            self.team.note(device_id)

    def action_acknowledge(self) -> None:
        """From the log showing one truck's lines, that truck; else the selected truck."""
        shown = self.event_log.device_filter if self.focused is self.event_log else None
        device_id = shown or self._selected("acknowledge")
        if device_id is not None:
            self.team.acknowledge(device_id)

    def _selected(self, what: str) -> str | None:
        device_id = self.device_list.selected
        if device_id is None:
            self.notify(f"Select a truck first to {what} it.", severity="warning")
        return device_id

    def action_details(self) -> None:
        device_id = self.device_list.selected
        if device_id is not None and device_id in self.fleet.devices:
            self.push_screen(DeviceDetail(self.fleet, self.dispatcher, device_id, self.team))

    def action_reconnect(self) -> None:
        if all(event.state is LinkState.UP for event in self.status_bar.links.values()):
            self.notify("Both links are up; nothing to reconnect.")
            return
        for link in (self.stomp_link, self.mqtt_link):
            link.reconnect_now()

    async def action_quit(self) -> None:
        """Quit, asking once first when orders of this dispatcher's are still in the outbox."""
        question = self.dispatcher.quit_question()
        if question is None:
            self.exit()
            return

        def answered(leave: bool | None) -> None:
            if leave:
                self.exit()

        self.push_screen(QuitPrompt(question), answered)

    def action_command_palette(self) -> None:
        """The palette, as Textual's own action opens it, but one that closes once."""
        if self.use_command_palette and not isinstance(self.screen, OncePalette):
            self.push_screen(OncePalette(id="--command-palette"))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        folder = Path(path).expanduser() if path else self.screenshot_folder
        saved, message = save_svg(self, folder, filename)
        self.notify(message, severity="information" if saved else "error", markup=False)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":
                yield command
        yield SystemCommand(
            "Screenshot",
            f"Save an SVG picture of the screen in {self.screenshot_folder}",
            lambda: self.set_timer(0.1, self.action_screenshot),  # once the palette is gone
        )
        for action in palette_actions():
            callback: Callable[[], object] = partial(self.run_action, action.action)
            yield SystemCommand(action.description, action.help, callback)
