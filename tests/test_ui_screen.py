"""The screen as a dispatcher reads it: loud offline without colour, panes that fit, keys shown."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from rich.segment import Segment
from rich.style import Style
from textual._compositor import LayoutUpdate
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot

from mwm_tui.adapters.demo import DemoFleet
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker, HelpScreen
from mwm_tui.ui.screens.colour import SWATCH, ColourList, swatch
from mwm_tui.ui.widgets.key_footer import KeyFooter
from mwm_tui.ui.widgets.status_bar import RATE_WINDOW, StatusBar
from tests.support.links import recording_links
from tests.support.ui import driven, log_rewraps_every_entry, screen_text, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(fleet: Fleet | None = None, **settings: object) -> MwmApp:
    return create_app(Settings(**settings), links=recording_links, fleet=fleet, tune_gc=False)  # type: ignore[arg-type]


def rows(app: MwmApp) -> list[list[Segment]]:
    """The screen as drawn, line filters (NO_COLOR's greys) applied, one segment list a row."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    assert isinstance(update, LayoutUpdate)
    return [[segment for strip in line for segment in strip] for line in update.strips]


def segment_with(app: MwmApp, region: Region, text: str) -> Segment:
    """The first drawn segment inside ``region`` whose text holds ``text``."""
    for y, row in enumerate(rows(app)):
        if not region.y <= y < region.bottom:
            continue
        x = 0
        for segment in row:
            if region.x <= x < region.right and text in segment.text:
                return segment
            x += segment.cell_length
    raise AssertionError(f"{text!r} not drawn in {region}:\n{screen_text(app)}")


def contrast(style: Style | None) -> float:
    """How far the ink stands from its background, 0 to 1 (dim text counts half)."""
    assert style is not None and style.color is not None and style.bgcolor is not None
    ink = Color.from_rich_color(style.color).brightness
    paper = Color.from_rich_color(style.bgcolor).brightness
    return abs(ink - paper) * (0.5 if style.dim else 1.0)


async def three_states(pilot: Pilot[None], app: MwmApp, clock: Clock) -> None:
    """truck-b stale, truck-c offline, truck-a online."""
    app.inbox.put(LocationReceived(Position("truck-b", 48.85, 2.35)))
    await wait_for(pilot, lambda: "truck-b" in app.fleet.devices, 5.0, "truck-b")
    clock.now += 30
    for device_id in ("truck-a", "truck-c"):
        app.inbox.put(LocationReceived(Position(device_id, 48.86, 2.36)))
    await wait_for(pilot, lambda: "truck-c" in app.fleet.devices, 5.0, "truck-c")
    clock.now += 2  # silent a while: its will is believed at once
    app.inbox.put(WillReceived("truck-c"))

    def settled() -> bool:
        counts = app.fleet.counts()
        drawn = app.status_bar.counts
        return all(counts[s] == 1 == drawn[s] for s in list(DeviceStatus)[:3])

    await wait_for(pilot, settled, 5.0, "one truck online, one stale, one offline")
    await pilot.pause(0.5)


@pytest.mark.parametrize("colour", ["colour", "NO_COLOR"])
async def test_offline_is_the_loudest_state_in_the_list_and_the_status_bar(
    colour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if colour == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    clock = Clock()
    app = make_app(Fleet(clock=clock))
    async with driven(app, (120, 40)) as pilot:
        assert app.no_color is (colour == "NO_COLOR")
        await three_states(pilot, app, clock)
        app.action_focus_map()  # no cursor row over the list
        await pilot.pause(0.3)
        for region, words in (
            (app.device_list.region, ("● online", "◐ stale", "✕ offline")),
            (app.status_bar.region, ("● 1 online", "◐ 1 stale", "✕ 1 offline")),
        ):
            online, stale, offline = (segment_with(app, region, word) for word in words)
            assert offline.style is not None and offline.style.bold
            loudest = max(contrast(online.style), contrast(stale.style))
            assert contrast(offline.style) > loudest, (words, offline.style, loudest)
            # A block of its own background, not ink on the pane's.
            assert offline.style.bgcolor != online.style.bgcolor  # type: ignore[union-attr]


async def test_event_log_wraps_again_on_resize_and_never_scrolls_sideways() -> None:
    app = make_app()
    long_line = " ".join(f"word{n:02d}" for n in range(40))  # 279 characters
    async with driven(app, (200, 60)) as pilot:
        app.event_log.add(long_line)
        await pilot.pause(0.3)
        log = app.event_log
        width = log.scrollable_content_region.width
        assert width > 70
        await pilot.resize_terminal(80, 24)
        await wait_for(
            pilot, lambda: log.scrollable_content_region.width < 40, 5.0, "the narrow log"
        )
        await pilot.pause(0.3)
        narrow = log.scrollable_content_region.width
        drawn = [strip.text.rstrip() for strip in log.lines]
        assert max(len(line) for line in drawn) <= narrow, drawn
        assert "word39" in "".join(drawn)
        assert not log.show_horizontal_scrollbar
        await pilot.resize_terminal(200, 60)
        await wait_for(pilot, lambda: log.scrollable_content_region.width > 70, 5.0, "wide")
        await pilot.pause(0.3)
        drawn = [strip.text.rstrip() for strip in log.lines]
        widest = max(len(line) for line in drawn)
        assert widest > 60, drawn  # the lines use the width again, not the 80-column wrap
        assert widest <= log.scrollable_content_region.width


async def test_a_full_log_wraps_again_newest_first_and_keeps_every_line_in_order() -> None:
    app = make_app()
    async with driven(app, (200, 60)) as pilot:
        await log_rewraps_every_entry(pilot, app)
        log = app.event_log
        assert log.is_vertical_scroll_end
        widest = max(len(strip.text.rstrip()) for strip in log.lines)
        assert widest <= log.scrollable_content_region.width


LONG_REASON = "connection refused by broker-primary.hq.example.com:61613 (TLS handshake failed)"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_fleet_counts_stay_on_the_status_bar_when_links_are_down(
    size: tuple[int, int],
) -> None:
    app = make_app()
    async with driven(app, size) as pilot:
        for number in range(3):
            app.inbox.put(LocationReceived(Position(f"truck-{number}", 48.85, 2.35)))
        app.inbox.put(WillReceived("truck-2"))
        for name in LinkName:
            app.inbox.put(LinkStateChanged(name, LinkState.UP, f"{name}://a"))
            app.inbox.put(LinkStateChanged(name, LinkState.DOWN, LONG_REASON, retry_in=30.0))
        await wait_for(pilot, lambda: len(app.status_bar.lost_at) == 2, 5.0, "both lost")
        await wait_for(
            pilot, lambda: app.status_bar.counts[DeviceStatus.UNKNOWN] == 2, 5.0, "the counts"
        )
        await pilot.pause(0.3)
        bar = screen_text(app).splitlines()[0]
        for words in ("● 0 online", "◐ 0 stale", "✕ 1 offline", "? 2 unknown"):
            assert words in bar, bar
        assert "▼" in bar and "STOMP" in bar and "MQTT" in bar  # and the links are down


def test_rates_are_steady_when_every_fix_of_a_round_lands_at_once() -> None:
    clock = Clock()
    fleet = Fleet(clock=clock)
    bar = StatusBar(demo=True)
    shown = []
    for second in range(30):
        if second % 2 == 0:  # 20 trucks, a fix each every 2 s, all in one tick
            for number in range(20):
                fleet.apply(LocationReceived(Position(f"truck-{number}", 48.85, 2.35)))
        bar.tick(fleet, 0)
        shown.append(round(bar.rates[LinkName.STOMP]))
        clock.now += 1.0
    assert shown[8:] == [10] * len(shown[8:]), shown


def test_the_demo_spreads_its_fixes_over_the_sending_period() -> None:
    arrivals: list[float] = []
    enough = threading.Event()

    def sink(event: object) -> None:
        arrivals.append(time.monotonic())
        if len(arrivals) >= 40:
            enough.set()

    demo = DemoFleet(20, incidents=False)
    demo.attach(LinkName.STOMP, sink)
    try:
        assert enough.wait(10.0), "the demo sent fewer than 40 fixes in 10 s"
    finally:
        demo.attach(LinkName.STOMP, None)
    start = arrivals[0]
    per_second = [sum(1 for at in arrivals[:40] if int(at - start) == s) for s in range(4)]
    assert max(per_second) <= 14, per_second  # about 10 a second, not 20 then none


async def test_help_shows_how_to_close_it_in_its_footer() -> None:
    app = make_app()
    async with driven(app, (80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5.0, "help")
        await pilot.pause(0.2)
        assert app.screen.query(KeyFooter)
        footer = screen_text(app).splitlines()[-1]
        assert "esc Close" in footer, footer


async def test_colour_picker_shows_how_to_pick_and_cancel_with_readable_swatches() -> None:
    app = make_app()
    async with driven(app, (80, 24)) as pilot:
        app.inbox.put(LocationReceived(Position("truck-1", 48.85, 2.35)))
        await wait_for(pilot, lambda: app.device_list.selected == "truck-1", 5.0, "a truck")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5.0, "the picker")
        await pilot.pause(0.2)
        footer = screen_text(app).splitlines()[-1]
        for words in ("Colour", "Send", "esc Cancel"):
            assert words in footer, footer
        picker = app.screen.query_one(ColourList)
        assert picker.highlighted == 0
        # The highlighted row keeps its swatch: "red" on red, not red ink on the cursor's blue.
        red = segment_with(app, picker.region, " red")
        assert red.style is not None and red.style.bgcolor is not None
        assert Color.from_rich_color(red.style.bgcolor) == Color.parse(SWATCH["red"])
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ColourPicker), 5.0, "closed")


@pytest.mark.parametrize("name", list(SWATCH))
def test_every_swatch_is_readable(name: str) -> None:
    text = swatch(name)
    assert name in text.plain
    assert swatch(name, ascii_only=True).plain.isascii()
    spans = [span for span in text.spans if name in text.plain[span.start : span.end]]
    assert len(spans) == 1
    style = spans[0].style
    assert isinstance(style, Style)
    assert contrast(style) >= 0.45, (name, style)


async def test_composer_footer_says_enter_reviews_and_esc_goes_back() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        await pilot.press("o")
        await pilot.pause(0.2)
        footer = screen_text(app).splitlines()[-1]
        assert "Review" in footer and "Back" in footer, footer


async def test_rejected_messages_are_counted_in_the_events_pane_title() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        app.inbox.put(
            MessageRejected(LinkName.MQTT, RejectReason.WRONG_LENGTH, "23 bytes", "/mwm/x/motion")
        )
        await wait_for(
            pilot, lambda: "rejected" in str(app.event_log.border_title), 5.0, "the summary"
        )
        title = str(app.event_log.border_title)
        assert title.startswith("events") and "wrong payload length 1" in title, title
        assert not app.query("#rejects")
        log_top = screen_text(app).splitlines()[app.event_log.region.y]
        assert "rejected: wrong payload length 1" in log_top, log_top


async def test_at_80x24_the_composer_is_its_truck_and_its_draft_and_the_map_gets_the_rows() -> None:
    app = make_app()
    async with driven(app, (80, 24)) as pilot:
        app.inbox.put(LocationReceived(Position("truck-1", 48.85, 2.35)))
        await wait_for(pilot, lambda: app.device_list.selected == "truck-1", 5.0, "a truck")
        await pilot.pause(0.3)
        assert app.composer.region.height == 2
        assert app.position_map.region.height >= 12
        lines = screen_text(app).splitlines()[app.composer.region.y :][:2]
        assert "order to truck-1" in lines[0] and "press o to write an order" in lines[1]
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: app.composer.region.height == 5, 5.0, "the full composer")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: app.composer.region.height == 2, 5.0, "two lines again")


async def test_screenshot_goes_to_the_current_directory_and_the_toast_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with driven(app, (80, 24), notifications=True) as pilot:
        commands = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        assert len(commands) == 1
        commands[0].callback()
        await wait_for(pilot, lambda: any(tmp_path.glob("*.svg")), 5.0, "the file")
        (saved,) = tmp_path.glob("*.svg")
        assert saved.read_text(encoding="utf-8").startswith("<svg")
        await wait_for(pilot, lambda: bool(app._notifications), 5.0, "the toast")
        (toast,) = list(app._notifications)
        assert str(saved) in toast.message and toast.severity == "information"


async def test_screenshot_to_a_missing_directory_says_why_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    app = make_app(screenshot_dir=str(missing))
    async with driven(app, (80, 24), notifications=True) as pilot:
        app.action_screenshot()
        await wait_for(pilot, lambda: bool(app._notifications), 5.0, "the toast")
        (toast,) = list(app._notifications)
        assert toast.severity == "error"
        assert str(missing) in toast.message and "No such file or directory" in toast.message
        assert "\n" not in toast.message
    configured = tmp_path / "shots"
    configured.mkdir()
    app = make_app(screenshot_dir=str(configured))
    async with driven(app, (80, 24)) as pilot:
        app.action_screenshot()
        assert len(list(configured.glob("mwm-tui_*.svg"))) == 1


async def test_a_status_bar_tick_that_changes_nothing_repaints_nothing() -> None:
    clock = Clock()
    app = make_app(Fleet(clock=clock))
    async with driven(app) as pilot:
        for name in LinkName:
            app.inbox.put(LinkStateChanged(name, LinkState.UP, f"{name}://a"))
        app.inbox.put(LocationReceived(Position("truck-1", 48.85, 2.35)))
        await wait_for(pilot, lambda: app.status_bar.counts[DeviceStatus.ONLINE] == 1, 5, "1 on")
        clock.now += RATE_WINDOW + 1  # the one message's rate goes to 0/s at the next tick
        rates = app.status_bar.rates
        await wait_for(pilot, lambda: not any(rates.values()), 5, "a tick that finds 0/s")
        repaints = 0
        repaint = app.status_bar.refresh

        def counted(*regions: Region, **options: bool) -> StatusBar:
            nonlocal repaints
            repaints += 1
            return repaint(*regions, **options)

        app.status_bar.refresh = counted  # type: ignore[method-assign]
        await pilot.pause(2.5)  # two ticks and more, nothing new
        assert repaints == 0
        app.inbox.put(LinkStateChanged(LinkName.MQTT, LinkState.DOWN, "gone", retry_in=5.0))
        await wait_for(pilot, lambda: repaints >= 1, 5, "a repaint for the lost link")
        assert "▼" in screen_text(app).splitlines()[0]
