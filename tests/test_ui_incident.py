"""HQ's own outage on screen, with hand-fed inbox events and clocks the test moves.

The fleet's clock and the wall clock stand still unless the test advances them, so each
status change happens exactly when the test says.
"""

from __future__ import annotations

import re
import time

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MotionReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.widgets.event_log import EventLog
from tests.support.clock import FakeClock
from tests.support.links import recording_links
from tests.support.ui import driven, list_text, log_text, wait_for

NOON = 1_764_072_000.0


def make_app() -> tuple[MwmApp, FakeClock, FakeClock]:
    monotonic, wall = FakeClock(5000.0), FakeClock(NOON)
    fleet = Fleet(clock=monotonic, stale_after=15.0, offline_after=120.0)
    app = create_app(Settings(), links=recording_links, fleet=fleet, tune_gc=False, wall_clock=wall)
    return app, monotonic, wall


def truck(number: int) -> str:
    return f"truck-{number:03d}"


def feed(app: MwmApp, numbers: range | list[int]) -> None:
    for number in numbers:
        app.inbox.put(LocationReceived(Position(truck(number), 48.85 + number / 1000, 2.35)))
        app.inbox.put(MotionReceived(truck(number), Motion(0.1, -0.2, 0.3)))


def status_line(app: MwmApp) -> str:
    return app.status_bar.render().plain


def shown_log(app: MwmApp) -> list[str]:
    """The event log's entries as drawn now (a filter hides some), wrapped lines joined."""
    entries: list[str] = []
    for strip in app.event_log.lines:
        text = strip.text.rstrip()
        if re.match(r"\d\d:\d\d:\d\d ", text) or not entries:
            entries.append(text)
        else:
            entries[-1] += " " + text
    return entries


def stamp(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def down(name: LinkName, detail: str) -> LinkStateChanged:
    return LinkStateChanged(name, LinkState.DOWN, detail, retry_in=30.0, broker="b")


async def test_hq_outage_shows_unknown_not_stale_and_says_what_happened() -> None:
    app, monotonic, wall = make_app()
    fleet = app.fleet
    async with driven(app, (120, 40)) as pilot:
        feed(app, range(40))
        await wait_for(pilot, lambda: len(fleet.devices) == 40, 5, "40 trucks")
        wall.now += 61
        refused = "connection refused by a broker whose name is rather long:61613"
        app.inbox.put(down(LinkName.STOMP, refused))
        app.inbox.put(down(LinkName.MQTT, refused.replace("61613", "1883")))
        for _ in range(5):  # retries: one line for the loss, none per attempt
            for name in LinkName:
                app.inbox.put(LinkStateChanged(name, LinkState.CONNECTING, "connecting"))
                app.inbox.put(down(name, refused))
        await wait_for(
            pilot, lambda: fleet.counts() == {DeviceStatus.UNKNOWN: 40}, 5, "all unknown"
        )
        monotonic.now += 600  # ten minutes of silence while HQ cannot hear
        await pilot.pause(2.2)  # two sweeps
        assert fleet.counts() == {DeviceStatus.UNKNOWN: 40}
        log = log_text(app)
        assert not re.search(r"stale|offline", log), log
        assert log.count("▼") == 2, log
        assert "? 40 trucks are unknown (HQ's STOMP and MQTT links down): truck-000" in log, log
        assert "unknown" in list_text(app).splitlines()[1]

        line = status_line(app)
        when = stamp(NOON + 61)
        assert f"▼ HQ lost STOMP and MQTT {when}, positions and motion as of then" in line, line
        assert "● 0 online  ◐ 0 stale  ✕ 0 offline  ? 40 unknown" in line, line
        assert len(line) <= app.status_bar.size.width, line
        # Wide enough, it says what the loss means and how the retries go.
        app.status_bar.styles.width = 400
        await pilot.pause(0.1)
        wide = status_line(app)
        assert f"STOMP ▼ lost {when} at b, positions as of then" in wide, wide
        assert f"MQTT ▼ lost {when} at b, motion as of then" in wide, wide
        assert "6 tries" in wide, wide

        # HQ back: live trucks are online again at once, a silent one waits out the grace.
        wall.now += 30
        for name in LinkName:
            app.inbox.put(LinkStateChanged(name, LinkState.UP, "connected"))
        feed(app, range(39))
        await wait_for(
            pilot,
            lambda: fleet.counts() == {DeviceStatus.ONLINE: 39, DeviceStatus.UNKNOWN: 1},
            5,
            "39 online again",
        )
        assert "lost" not in status_line(app)
        assert "STOMP link up again after 30 s, 5 retries" in log_text(app)
        monotonic.now += 14
        feed(app, range(39))
        await pilot.pause(1.2)
        assert fleet.devices[truck(39)].status is DeviceStatus.UNKNOWN
        monotonic.now += 2
        feed(app, range(39))
        await wait_for(
            pilot, lambda: fleet.devices[truck(39)].status is DeviceStatus.STALE, 3, "stale"
        )
        await wait_for(pilot, lambda: "truck-039 is stale" in log_text(app), 3, "its line")
        assert not re.search(r"online", log_text(app)), log_text(app)


async def test_many_trucks_going_stale_at_once_are_one_line() -> None:
    app, monotonic, _wall = make_app()
    async with driven(app, (120, 40)) as pilot:
        feed(app, range(37))
        await wait_for(pilot, lambda: len(app.fleet.devices) == 37, 5, "37 trucks")
        monotonic.now += 15
        await wait_for(pilot, lambda: "went stale" in log_text(app), 3, "the stale line")
        stale_lines = [line for line in log_text(app).splitlines() if "stale" in line]
        assert len(stale_lines) == 1, stale_lines
        assert stale_lines[0].endswith(
            "◐ 37 trucks went stale (silent for 15 s): truck-000, truck-001, truck-002 and 34 more"
        ), stale_lines


async def test_log_focus_and_truck_filter_keys() -> None:
    app, monotonic, _wall = make_app()
    async with driven(app, (120, 40)) as pilot:
        feed(app, range(3))
        await wait_for(pilot, lambda: "truck-002" in list_text(app), 5, "three rows")
        monotonic.now += 15
        await wait_for(pilot, lambda: "truck-002 is stale" in log_text(app), 3, "stale lines")
        await pilot.press("j")  # truck-001
        await pilot.press("t")
        assert isinstance(app.focused, EventLog)
        shown = shown_log(app)
        assert shown and all("truck-001" in line for line in shown), shown
        assert not any("truck-000" in line or "truck-002" in line for line in shown), shown
        await pilot.press("escape")  # every line again, still in the log
        assert isinstance(app.focused, EventLog)
        assert any("truck-002" in line for line in shown_log(app))
        assert any("STOMP link up" in line for line in shown_log(app))
        await pilot.press("escape")  # back to the list
        assert app.focused is app.device_list
        await pilot.press("e")
        assert isinstance(app.focused, EventLog)


async def test_a_retained_motion_is_shown_as_last_known_age_unknown() -> None:
    app, monotonic, _wall = make_app()
    async with driven(app, (120, 40)) as pilot:
        app.inbox.put(MotionReceived("parked", Motion(0.1, 0.2, 0.3), retained=True))
        await wait_for(pilot, lambda: "parked" in list_text(app), 5, "its row")
        row = list_text(app).splitlines()[1]
        assert re.match(r"\? unknown +parked +— +\? ", row), row
        await wait_for(
            pilot,
            lambda: app.motion_panel.border_subtitle == "last known, age unknown",
            3,
            "the motion pane saying so",
        )
        monotonic.now += 1
        app.inbox.put(MotionReceived("parked", Motion(0.1, 0.2, 0.3)))
        await wait_for(pilot, lambda: "online" in list_text(app), 3, "online once heard live")
        assert re.match(r"● online +parked +— +0s ", list_text(app).splitlines()[1])
        await wait_for(pilot, lambda: not app.motion_panel.border_subtitle, 3, "no note")
        assert "online" not in log_text(app)


async def test_wide_list_shows_the_age_by_the_devices_own_clock() -> None:
    app, _monotonic, _wall = make_app()
    async with driven(app, (200, 30)) as pilot:
        fix = Position("clocked", 48.85, 2.35, raw_ts="2025-11-25T11:59:57Z")  # NOON - 3 s
        app.inbox.put(LocationReceived(fix))
        app.inbox.put(LocationReceived(Position("no-clock", 48.86, 2.35, raw_ts="soon")))
        await wait_for(pilot, lambda: "no-clock" in list_text(app), 5, "two rows")
        header, *rows = list_text(app).splitlines()
        assert header.rstrip().endswith("dev ts"), header
        by_id = {row.split()[2]: row.rstrip() for row in rows if row.strip()}
        assert by_id["clocked"].endswith(" 3s"), by_id
        assert by_id["no-clock"].endswith(" —"), by_id


async def test_status_bar_names_each_links_broker_and_the_outbox() -> None:
    app, _, _ = make_app()
    async with driven(app, (160, 40)) as pilot:
        feed(app, [1])
        await wait_for(pilot, lambda: app.device_list.selected is not None, 5, "a selection")
        for name, broker in (
            (LinkName.STOMP, "stomp+ssl://hq@standby.example:61612"),
            (LinkName.MQTT, "mqtt://10.0.0.7:1883"),
        ):
            app.inbox.put(LinkStateChanged(name, LinkState.UP, "connected", broker=broker))
        await wait_for(pilot, lambda: "standby.example" in status_line(app), 5, "the broker named")
        line = status_line(app)
        assert "on standby.example:61612" in line, line
        assert "on 10.0.0.7:1883" in line, line
        assert "hq@" not in line, line
        assert "outbox" not in line, line

        app.inbox.put(down(LinkName.STOMP, "connection refused"))
        await wait_for(pilot, lambda: "lost" in status_line(app), 5, "STOMP lost")
        app.send_order("where are you?")
        await wait_for(pilot, lambda: "⧗ 1 in outbox" in status_line(app), 5, "one queued")
        app.inbox.put(
            LinkStateChanged(LinkName.STOMP, LinkState.CONNECTING, "connecting", broker="s://b:1")
        )
        await wait_for(pilot, lambda: "trying b:1" in status_line(app), 5, "the next broker")
