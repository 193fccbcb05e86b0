"""What the device list repaints: nothing when nothing changed, a few cells when an age ticks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived
from mwm_tui.domain.fleet import Fleet
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.format import age
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.motion_panel import MotionPanel
from mwm_tui.ui.widgets.position_map import PositionMap
from mwm_tui.ui.widgets.repaint import changed_region, changed_runs
from tests.support.links import recording_links
from tests.support.ui import driven, list_text, wait_for

RED = Style(color="red")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def strip(*parts: tuple[str, Style | None]) -> Strip:
    return Strip([Segment(text, style) for text, style in parts])


def test_an_unchanged_line_has_no_changed_cells() -> None:
    line = strip(("online ", RED), ("truck-1   3s", None))
    assert changed_runs(line, strip(("online ", RED), ("truck-1   3s", None))) == []


def test_a_ticking_age_changes_one_cell() -> None:
    before = strip(("online ", RED), ("truck-1   3s  48.8500", None))
    after = strip(("online ", RED), ("truck-1   4s  48.8500", None))
    assert changed_runs(before, after) == [(17, 18)]


def test_a_style_change_alone_is_a_change() -> None:
    before = strip(("online", RED), (" truck-1", None))
    after = strip(("online", Style(color="green")), (" truck-1", None))
    assert changed_runs(before, after) == [(0, 6)]


def test_close_changes_merge_and_distant_ones_stay_apart() -> None:
    before = strip(("a b c" + " " * 20 + "z", None))
    after = strip(("A B C" + " " * 20 + "Z", None))
    assert changed_runs(before, after) == [(0, 5), (25, 26)]


def test_a_run_never_cuts_a_wide_character() -> None:
    before = strip(("ab車d", None))
    after = strip(("ab車e", None))
    assert changed_runs(before, after) == [(4, 5)]
    assert changed_runs(strip(("ab車d", None)), strip(("abxyd", None))) == [(2, 4)]
    # A wide character replaced by one half of another: both of its cells are repainted.
    assert changed_runs(strip(("a車b", None)), strip(("aa車", None))) == [(1, 4)]


def test_a_shorter_line_repaints_the_cells_it_no_longer_covers() -> None:
    assert changed_runs(strip(("abcdef", None)), strip(("abc", None))) == [(3, 6)]


def record_refreshes(
    monkeypatch: pytest.MonkeyPatch, widget_type: type[Widget]
) -> list[tuple[Region, ...]]:
    """Every refresh widgets of this type ask for, as its regions (empty: the whole widget)."""
    calls: list[tuple[Region, ...]] = []
    original = widget_type.refresh

    def recording(self: Widget, *regions: Region, **options: bool) -> Widget:
        calls.append(regions)
        return original(self, *regions, **options)

    monkeypatch.setattr(widget_type, "refresh", recording)
    return calls


def test_an_age_counts_whole_seconds_so_a_truck_reporting_each_second_stays_at_0s() -> None:
    assert [age(seconds) for seconds in (0.0, 0.6, 0.99, 1.0, 59.9, 60.0, 119.9)] == [
        "0s",
        "0s",
        "0s",
        "1s",
        "59s",
        "1m",
        "1m",
    ]


def test_one_region_a_line_covers_every_changed_run() -> None:
    before = strip(("a b c" + " " * 20 + "z", None))
    after = strip(("A B C" + " " * 20 + "Z", None))
    assert changed_region(before, after, 7) == Region(0, 7, 26, 1)
    assert changed_region(before, before, 7) is None


@pytest.fixture
def refreshed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Region, ...]]]:
    yield record_refreshes(monkeypatch, DeviceList)


def feed(app: MwmApp) -> None:
    for number in range(5):
        device_id = f"truck-{number}"
        app.inbox.put(LocationReceived(Position(device_id, 48.85 + number / 100, 2.35)))
        app.inbox.put(MotionReceived(device_id, Motion(0.1, -0.2, 0.3)))


async def test_idle_and_ticking_list_repaint_nothing_or_only_the_ages(
    refreshed: list[tuple[Region, ...]],
) -> None:
    clock = Clock()
    app = create_app(Settings(), links=recording_links, fleet=Fleet(clock=clock), tune_gc=False)
    async with driven(app) as pilot:
        feed(app)
        await wait_for(pilot, lambda: "truck-4" in list_text(app), 5.0, "five trucks listed")
        devices = app.device_list
        await pilot.pause(0.5)

        # Nothing changed: the list's own ticks ask for no repaint at all.
        refreshed.clear()
        for _ in range(3):
            devices.sync()
            await pilot.pause()
        assert refreshed == []

        # An age ticks: only the age cells of each row, never a whole row.
        clock.now += 1
        devices.sync()
        await pilot.pause()
        regions = [region for call in refreshed for region in call]
        assert refreshed and all(call for call in refreshed), refreshed
        assert all(region.height == 1 and region.width <= 8 for region in regions), regions
        assert sum(region.area for region in regions) <= 5 * 8, regions
        assert "1s" in list_text(app), list_text(app)


async def test_map_and_motion_repaint_nothing_for_the_same_picture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    map_refreshes = record_refreshes(monkeypatch, PositionMap)
    motion_refreshes = record_refreshes(monkeypatch, MotionPanel)
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    async with driven(app) as pilot:
        feed(app)
        panel, area = app.motion_panel, app.position_map
        await wait_for(pilot, lambda: area.redraws >= 1, 5.0, "the first map")
        await wait_for(pilot, lambda: panel.device_id is not None, 5.0, "a selected device")
        await pilot.pause(0.5)

        map_refreshes.clear()
        motion_refreshes.clear()
        drawn = area.redraws
        area.dirty = True
        await wait_for(pilot, lambda: area.redraws > drawn, 5.0, "the map drawn again")
        panel.repaint()
        await pilot.pause()
        assert map_refreshes == [] and motion_refreshes == []

        # A new sample moves the chart: some cells repainted, never the whole pane.
        app.inbox.put(MotionReceived(panel.device_id or "", Motion(2.5, -2.5, 1.0)))
        await wait_for(pilot, lambda: motion_refreshes != [], 5.0, "the new sample drawn")
        assert all(call for call in motion_refreshes), motion_refreshes
        width, height = panel.content_size
        regions = [region for call in motion_refreshes for region in call]
        assert sum(region.area for region in regions) < width * height, regions


@pytest.mark.parametrize("pane", ["device_list", "position_map", "motion_panel"])
async def test_partial_refreshes_leave_nothing_behind_once_painted(pane: str) -> None:
    """Soak: every distinct changed span of a line is a new Region; painted, none may be kept."""
    app = create_app(Settings(), links=recording_links, fleet=Fleet(clock=Clock()), tune_gc=False)
    async with driven(app) as pilot:
        feed(app)
        await wait_for(pilot, lambda: "truck-4" in list_text(app), 5.0, "five trucks listed")
        await wait_for(pilot, lambda: app.position_map.redraws >= 1, 5.0, "the first map")
        widget = getattr(app, pane)
        width, height = widget.size
        refreshed = 0
        for x in range(width - 1):
            widget.refresh(*(Region(x, y, width - x, 1) for y in range(height)))
            refreshed += height
            await pilot.pause()
        # Textual's own set of the widget's dirty regions (it clears it only in render_line).
        pending = widget._dirty_regions
        assert refreshed >= 20 * height and len(pending) <= height, (refreshed, len(pending))
