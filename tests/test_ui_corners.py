"""The screen in its corners: live ages, whole orders, sorting, filters, copying, narrow
terminals, as a dispatcher would meet them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mwm_tui.cli import main
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived, WillReceived
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.list_order import SortKey
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import DeviceDetail
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.list_columns import COLUMNS
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import (
    draw_the_selection,
    driven,
    list_text,
    log_text,
    screen_text,
    send_from_prompt,
    type_text,
    wait_for,
    write_order,
)

# Past the live log's 40 characters, short enough for one line of the details at 160 columns.
LONG_ORDER = "unload at gate 7 then go to the north depot for the night"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(fleet: Fleet | None = None, **settings: object) -> MwmApp:
    return create_app(Settings(**settings), links=recording_links, fleet=fleet, tune_gc=False)  # type: ignore[arg-type]


def feed(app: MwmApp, *device_ids: str) -> None:
    for number, device_id in enumerate(device_ids):
        app.inbox.put(LocationReceived(Position(device_id, 48.85 + number / 100, 2.35)))
        app.inbox.put(MotionReceived(device_id, Motion(0.1, -0.2, 0.3)))


async def fleet_of(pilot: Pilot[None], app: MwmApp, *device_ids: str) -> None:
    feed(app, *device_ids)
    last = device_ids[-1]
    await wait_for(pilot, lambda: last in list_text(app), 5.0, f"{last} listed")


async def test_orders_are_whole_in_the_details_and_the_history(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = make_app()
    async with driven(app, (160, 50)) as pilot:
        await fleet_of(pilot, app, "AAA")
        await write_order(pilot, LONG_ORDER)
        await send_from_prompt(pilot, app)
        stomp = app.stomp_link
        assert isinstance(stomp, RecordingLink)
        await wait_for(pilot, lambda: bool(stomp.sent), 5.0, "the order sent")
        await wait_for(pilot, lambda: "order to AAA" in log_text(app), 5.0, "the log's line")
        assert LONG_ORDER not in screen_text(app), "the live log shortens it"
        await pilot.press("escape", "l", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5.0, "the details")
        await pilot.pause(0.2)
        assert f"order to AAA ({LONG_ORDER})" in screen_text(app)
    assert main(["history", "--kind", "order"]) == 0
    printed = capsys.readouterr().out
    assert f"order to AAA ({LONG_ORDER})" in printed, printed


async def test_y_copies_the_selected_trucks_id_and_says_so() -> None:
    app = make_app()
    async with driven(app, (160, 50)) as pilot:
        await fleet_of(pilot, app, "AAA", "BBB")
        assert "y Copy id" in screen_text(app).splitlines()[-1], "in the footer"
        await pilot.press("j", "y")
        assert app.clipboard == "BBB"
        await wait_for(pilot, lambda: "copied BBB's id" in log_text(app), 5.0, "the log's line")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: "Copy the selected truck's id" in screen_text(app), 5, "?")


async def test_both_ages_in_the_details_tick_while_they_are_open() -> None:
    clock = Clock()
    app = make_app(Fleet(clock=clock))
    async with driven(app, (160, 50)) as pilot:
        app.inbox.put(LocationReceived(Position("AAA", 48.85, 2.35)))
        await wait_for(pilot, lambda: "AAA" in list_text(app), 5.0, "AAA listed")
        clock.now += 30
        await wait_for(pilot, lambda: "stale" in list_text(app), 5.0, "AAA stale")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5.0, "the details")
        for silent in (30, 42, 96):
            clock.now = 1000.0 + silent
            ages = (f"stale  (silent for {silent} s)", f"received {silent} s ago")

            def both_shown(ages: tuple[str, str] = ages) -> bool:
                return all(age in screen_text(app) for age in ages)

            await wait_for(pilot, both_shown, 5.0, f"both ages at {silent} s")


async def test_esc_in_the_list_clears_a_kept_filter_and_no_match_says_so() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        await fleet_of(pilot, app, "alpha-1", "bravo-2", "alpha-3")
        await wait_for(pilot, lambda: app.position_map.redraws >= 1, 5.0, "the map")
        await pilot.press("/")
        await type_text(pilot, "alpha")
        await pilot.press("enter")
        assert app.device_list.row_ids == ["alpha-1", "alpha-3"]
        assert "esc Show all" in screen_text(app).splitlines()[-1]
        await pilot.press("escape")
        assert app.device_list.row_ids == ["alpha-1", "alpha-3", "bravo-2"]
        assert not app.filter_input.display and app.focused is app.device_list
        await pilot.pause(0.2)
        assert "Show all" not in screen_text(app).splitlines()[-1]

        await wait_for(pilot, lambda: "48.86°N" in screen_text(app), 5.0, "the map's ticks")
        view = app.position_map.view
        drawn = app.position_map.redraws
        await pilot.press("/")
        await type_text(pilot, "zulu")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.position_map.redraws > drawn, 5.0, "the map redrawn")
        shown = screen_text(app)
        assert "no truck matches “zulu”" in shown, shown
        assert app.position_map.view == view and "48.86°N" in shown, "the map keeps its view"
        await pilot.press("escape")
        await wait_for(pilot, lambda: "bravo-2" in list_text(app), 5.0, "every truck again")
        assert "no truck matches" not in screen_text(app)


def header_of(app: MwmApp) -> str:
    return list_text(app).splitlines()[0]


def arrow_on(header: str, title: str) -> str | None:
    """The arrow beside ``title`` in the list's header, if any."""
    found = re.search(rf"([▲▼]?)\b{re.escape(title)}\b([▲▼]?)", header)
    return (found.group(1) or found.group(2) or None) if found else None


@pytest.mark.parametrize("size", [(200, 50), (120, 40), (80, 24)], ids=["200", "120", "80"])
async def test_s_sorts_by_every_column_shown_with_its_arrow(size: tuple[int, int]) -> None:
    app = make_app()
    async with driven(app, size) as pilot:
        await fleet_of(pilot, app, "AAA", "BBB", "CCC")
        assert "by" not in header_of(app), "nobody claims a truck: no claimant's column"
        await pilot.press("c")  # one claimed: the column is wanted
        await wait_for(pilot, lambda: app.device_list.shows_claims, 5.0, "the claim")
        await pilot.pause(0.5)
        shown = app.device_list.columns()
        titles = [column.title for column in shown]
        if size[0] == 200:
            assert titles == [column.title for column in COLUMNS], "every column fits"
        for title in [*titles[1:], titles[0]]:
            await pilot.press("s")
            header = header_of(app)
            assert arrow_on(header, title) == "▲", header
            others = [other for other in titles if other != title]
            assert all(arrow_on(header, other) is None for other in others), header
        assert app.device_list.sort_key is SortKey.STATUS


async def test_a_click_on_a_title_sorts_by_it_and_again_reverses() -> None:
    app = make_app()
    async with driven(app, (200, 50)) as pilot:
        for number, device_id in enumerate(["AAA", "BBB", "CCC"]):
            app.inbox.put(LocationReceived(Position(device_id, 48.85, 2.35)))
            swing = (1 - number) * 0.4  # pitch, roll and yaw each rank the trucks differently
            app.inbox.put(MotionReceived(device_id, Motion(swing, -swing, abs(swing))))
        await wait_for(pilot, lambda: "CCC" in list_text(app), 5.0, "three trucks")
        expected = {
            "pitch": ["CCC", "BBB", "AAA"],
            "roll": ["AAA", "BBB", "CCC"],
            "yaw": ["BBB", "AAA", "CCC"],
        }
        for title, ascending in expected.items():
            x = header_of(app).index(title)
            await pilot.click(DeviceList, offset=(x + 2, 1))  # the border, then the header
            assert arrow_on(header_of(app), title) == "▲", header_of(app)
            assert app.device_list.row_ids == ascending, title
            rows = list_text(app).splitlines()[1:4]
            assert [row.split()[2] for row in rows] == ascending, "as drawn"
            await pilot.click(DeviceList, offset=(header_of(app).index(title) + 2, 1))
            assert arrow_on(header_of(app), title) == "▼", header_of(app)
            assert app.device_list.row_ids == ascending[::-1], title
        # A click on a row (the border, the header, then the rows) still selects that row.
        await pilot.click(DeviceList, offset=(3, 3))
        assert app.device_list.selected == app.device_list.row_ids[1]


DEPOT_NORD = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Depot Nord"},
                "geometry": {"type": "Point", "coordinates": [2.36, 48.90]},
            }
        ],
    }
)


async def test_depots_and_their_names_stay_above_200_trucks(tmp_path: Path) -> None:
    path = tmp_path / "depots.geojson"
    path.write_text(DEPOT_NORD, encoding="utf-8")
    app = make_app(overlay=str(path))
    async with driven(app, (120, 40)) as pilot:
        # A 20 x 10 grid of trucks around the depot, the depot's own cell and its name's too;
        # every other one is offline, and problem trucks are never folded into a cluster's count.
        for number in range(200):
            row, col = divmod(number, 20)
            fix = Position(f"t{number:03d}", 48.85 + row * 0.01, 2.30 + col * 0.006)
            app.inbox.put(LocationReceived(fix))
            if number % 2:
                app.inbox.put(WillReceived(fix.device_id))
        await wait_for(pilot, lambda: len(app.fleet.devices) == 200, 5.0, "200 trucks")
        await pilot.press("f")

        def depot_shown() -> bool:
            return "⌂ Depot Nord" in app.position_map.render().plain

        await wait_for(pilot, depot_shown, 5.0, "the depot over the trucks")
        assert "⌂ Depot Nord" in screen_text(app)


def selected_label(plain: str) -> str | None:
    """The selected truck's label on the map: after "◉● " or before " ●◉", up to a blank
    (another truck's mark right beside it is a truck, not a label running into it)."""
    found = re.search(r"◉\S (\S+)", plain) or re.search(r"(\S+) \S◉", plain)
    return found.group(1).strip("●◐✕") if found else None


def stands_alone(label: str | None, device_id: str) -> bool:
    """The label is the id, whole or shortened with an ellipsis, and nothing runs into it."""
    if label is None:
        return False
    return label == device_id or (label.endswith("…") and device_id.startswith(label[:-1]))


async def test_at_80x24_the_map_has_its_legend_and_labels_never_collide() -> None:
    """The demo's fleet around Paris: each truck in turn is selected, its label read whole."""
    app = create_app(Settings(demo=True), tune_gc=False)
    async with driven(app, (80, 24)) as pilot:
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 20, 10.0, "the fleet")
        for device_id in app.device_list.row_ids:
            app.device_list.select(device_id)
            await draw_the_selection(pilot, app)  # about the labels, not the map's timer

            def drawn(device_id: str = device_id) -> bool:
                plain = app.position_map.render().plain
                return stands_alone(selected_label(plain), device_id)

            await wait_for(pilot, drawn, 5.0, f"{device_id}'s label alone")
            plain = app.position_map.render().plain
            assert re.search(r"●\s*on\b.*\bstale\b.*\bOFF\b.*\bunk\b.*\bsel\b", plain), plain


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (160, 50)], ids=["120", "80", "160"])
async def test_the_event_log_takes_the_cells_the_list_leaves_empty(size: tuple[int, int]) -> None:
    app = make_app()
    async with driven(app, size) as pilot:
        await fleet_of(pilot, app, "AAA", "BBB")
        # Both panes keep their borders; the list's spare cells go to the right-hand panes.
        left = app.device_list.size.width
        used = sum(column.width + 1 for column in app.device_list.columns(left))
        await wait_for(pilot, lambda: app.device_list.size.width - used <= 1, 5.0, "the fit")
        header = header_of(app)
        assert len(header) - len(header.rstrip()) <= 2, header
        width = app.event_log.size.width
        assert width >= size[0] - app.device_list.size.width - 8
        line = "x" * (width - len("12:00:00 ") - 1) + "!"
        app.event_log.add(line)
        await wait_for(pilot, lambda: line in screen_text(app), 5.0, "the line on one row")
