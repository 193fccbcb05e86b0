"""The whole screen at 80x24 and 120x40, drawn from a fixed fleet on a stopped clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    MotionReceived,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker
from mwm_tui.ui.screens.send_prompt import HINT_INTERVAL
from tests.support.links import recording_links
from tests.support.ui import draw_the_selection, wait_for
from tests.support.wills import believe_will

NOON = 1_764_072_000.0  # 2025-11-25 12:00:00 UTC
FLEET = [
    ("truck-01", 48.8584, 2.2945),
    ("truck-02", 48.8606, 2.3376),
    ("truck-03", 48.8530, 2.3499),
    ("truck-04", 48.8867, 2.3431),
    ("2262EC25-E9FD-4578-BADE-4E113DE45934", 48.8738, 2.2950),
]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def still_app(*, ascii_only: bool = False) -> MwmApp:
    fleet = Fleet(clock=lambda: 5000.0)
    for number, (device_id, lat, lng) in enumerate(FLEET):
        fleet.apply(LocationReceived(Position(device_id, lat, lng)))
        for step in range(30):
            swing = (step - 15 + number) / 10
            fleet.apply(MotionReceived(device_id, Motion(swing / 2, -swing / 3, swing)))
    believe_will(fleet, "truck-03")
    app = create_app(
        Settings(ascii=ascii_only),
        links=recording_links,
        fleet=fleet,
        tune_gc=False,
        wall_clock=lambda: NOON,
    )
    app.inbox.put(
        MessageRejected(LinkName.MQTT, RejectReason.WRONG_LENGTH, "23 bytes", "/mwm/x/motion")
    )
    return app


async def settled(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, MwmApp)
    await wait_for(pilot, lambda: app.position_map.redraws >= 1, 5.0, "the first map")
    await pilot.press("j")
    await draw_the_selection(pilot, app)  # not on the map's timer: the picture is the same
    await wait_for(pilot, lambda: app.position_map.redraws >= 2, 5.0, "the map redrawn")
    # The status bar counts the fleet on its one-second tick.
    counted = len(FLEET)
    await wait_for(pilot, lambda: sum(app.status_bar.counts.values()) == counted, 5.0, "counts")
    await pilot.pause(0.4)


SnapCompare = Callable[..., Any]


def test_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(), terminal_size=(80, 24), run_before=settled)


def test_screen_at_120x40(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(), terminal_size=(120, 40), run_before=settled)


def test_ascii_screen_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(ascii_only=True), terminal_size=(80, 24), run_before=settled)


def test_ascii_screen_at_120x40(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(ascii_only=True), terminal_size=(120, 40), run_before=settled)


async def hq_outage(pilot: Pilot[None]) -> None:
    """The same fleet just after HQ lost both links (after they came up): unknown, not stale."""
    app = pilot.app
    assert isinstance(app, MwmApp)
    await wait_for(pilot, lambda: len(app.fleet.devices) == len(FLEET), 5.0, "the fleet")
    await wait_for(pilot, lambda: sum(app.fleet.rejected.values()) == 1, 5.0, "the first drain")
    for name in LinkName:
        app.inbox.put(LinkStateChanged(name, LinkState.DOWN, "connection lost", retry_in=9.0))
    await wait_for(pilot, lambda: bool(app.status_bar.lost_at), 5.0, "the loss")
    await settled(pilot)
    await pilot.pause(1.2)  # the status bar's counts tick once a second


def test_screen_during_hq_outage_at_120x40(snap_compare: SnapCompare) -> None:
    assert snap_compare(still_app(), terminal_size=(120, 40), run_before=hq_outage)


def test_screen_during_hq_outage_at_80x24(snap_compare: SnapCompare) -> None:
    """The fleet counts stay on the status bar; the links' words give way."""
    assert snap_compare(still_app(), terminal_size=(80, 24), run_before=hq_outage)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_screen_without_colour(
    snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """NO_COLOR: Textual draws in greys; offline (truck-03) must still be the loudest."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(still_app(), terminal_size=size, run_before=settled)


async def colour_picker(pilot: Pilot[None]) -> None:
    await settled(pilot)
    await pilot.press("a")
    app = pilot.app
    assert isinstance(app, MwmApp)
    await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5, "the alert prompt")
    await wait_for(pilot, app.screen.arming.armed, 5, "the prompt armed")
    await pilot.pause(2 * HINT_INTERVAL)


async def help_screen(pilot: Pilot[None]) -> None:
    await settled(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.4)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_colour_picker(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(still_app(), terminal_size=size, run_before=colour_picker)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(still_app(), terminal_size=size, run_before=help_screen)
