"""The map pane driven by keys: fit and zoom in any order and speed, the list filter, ASCII."""

from __future__ import annotations

import math
import re

from rich.style import Style
from textual.pilot import Pilot
from textual.strip import Strip

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LocationReceived, WillReceived
from mwm_tui.domain.geo import Viewport
from mwm_tui.ui.app import MAP_INTERVAL, MwmApp
from mwm_tui.ui.widgets.position_map import PositionMap
from mwm_tui.ui.widgets.repaint import _cells
from tests.support.links import recording_links
from tests.support.ui import list_text, type_text, wait_for

PARIS_TRUCKS = [(f"paris-{n}", 48.80 + n * 0.02, 2.25 + n * 0.03) for n in range(6)]
BERLIN_TRUCK = ("berlin-1", 52.52, 13.40)


def make_app(*, ascii_only: bool = False) -> MwmApp:
    return create_app(Settings(ascii=ascii_only), links=recording_links, tune_gc=False)


def feed(app: MwmApp, trucks: list[tuple[str, float, float]]) -> None:
    for device_id, lat, lng in trucks:
        app.inbox.put(LocationReceived(Position(device_id, lat, lng)))


def map_text(app: MwmApp) -> str:
    return app.position_map.render().plain


def spans(view: Viewport | None) -> tuple[float, float]:
    assert view is not None
    return view.lon_span, view.lat_span


def close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(a, b, strict=True))


async def paris_drawn(app: MwmApp, pilot: Pilot[None]) -> PositionMap:
    """The map once it has drawn the six Paris trucks (a first redraw may come before them)."""
    feed(app, PARIS_TRUCKS)

    def fitted_to_paris() -> bool:
        drawn = app.position_map.drawn_view
        return (
            drawn is not None
            and drawn.lon_max - drawn.lon_min < 1.0
            and all(drawn.contains(lng, lat) for _, lat, lng in PARIS_TRUCKS)
        )

    await wait_for(pilot, fitted_to_paris, 3.0, "the map fitted to the Paris trucks")
    return app.position_map


async def test_fit_then_zoom_pressed_fast_zooms_the_fitted_view() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, PARIS_TRUCKS)
        await wait_for(pilot, lambda: "paris-5" in list_text(app), 3.0, "six rows")
        await wait_for(pilot, lambda: app.position_map.redraws > 0, 3.0, "the first map")
        fitted = spans(app.position_map._current_view())
        await pilot.press(*["minus"] * 8)
        assert spans(app.position_map.view)[0] > fitted[0] * 20
        # Both keys in one go, before any map timer tick can redraw in between.
        await pilot.press("f", "plus")
        assert close(spans(app.position_map.view), (fitted[0] / 1.5, fitted[1] / 1.5))
        await pilot.press("plus", "f")
        assert close(spans(app.position_map.view), fitted)
        await pilot.press("minus", "f", "minus", "plus")
        assert close(spans(app.position_map.view), fitted)
        # What is drawn follows: the city view, its latitude ticks a tenth of a degree apart.
        await wait_for(
            pilot,
            lambda: app.position_map.drawn_view == app.position_map.view,
            3.0,
            "the fitted view drawn",
        )
        assert re.search(r"48\.\d+°N", map_text(app))


async def test_auto_fit_stands_still_while_trucks_move_inside_it() -> None:
    """A fix inside the view moves its marker, not the map; one beyond it refits the map."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        position_map = await paris_drawn(app, pilot)
        view = position_map.view
        assert view is not None
        for step in range(1, 4):
            before = position_map.redraws
            feed(app, [("paris-5", 48.90 - step * 0.01, 2.40 - step * 0.01)])
            await wait_for(pilot, lambda n=before: position_map.redraws > n, 3.0, "a redraw")
            assert position_map.drawn_view is view
        feed(app, [BERLIN_TRUCK])
        await wait_for(
            pilot,
            lambda: (
                position_map.drawn_view is not None
                and position_map.drawn_view.contains(13.40, 52.52)
            ),
            3.0,
            "the map refitted to take in Berlin",
        )


async def test_zoom_is_drawn_at_once_not_at_the_next_map_tick() -> None:
    """New fixes wait for the map's timer; the dispatcher's own keys do not."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        position_map = await paris_drawn(app, pilot)
        # Three zooms drawn in less than three ticks' time: none waited for a tick.
        for key in ("plus", "plus", "minus"):
            await pilot.press(key)
            await wait_for(
                pilot,
                lambda: position_map.drawn_view == position_map.view,
                MAP_INTERVAL / 2,
                f"the view after {key} drawn",
            )


async def test_list_filter_shows_only_the_matching_trucks_on_the_map() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, [*PARIS_TRUCKS, BERLIN_TRUCK])
        await wait_for(pilot, lambda: "berlin-1" in list_text(app), 3.0, "seven rows")
        await wait_for(
            pilot,
            lambda: (
                app.position_map.view is not None and app.position_map.view.contains(13.40, 52.52)
            ),
            3.0,
            "a map fitted to all seven",
        )
        await pilot.press("/")
        await type_text(pilot, "paris")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: not app.position_map._current_view().contains(13.40, 52.52),
            3.0,
            "the map fitted to the Paris trucks only",
        )
        await wait_for(
            pilot,
            lambda: app.position_map.drawn_view == app.position_map.view,
            3.0,
            "the filtered view drawn",
        )
        assert "Paris" in map_text(app) and "Berlin" not in map_text(app)
        await pilot.press("/", "escape")
        await wait_for(
            pilot,
            lambda: app.position_map._current_view().contains(13.40, 52.52),
            3.0,
            "the map fitted to all seven again",
        )


async def test_selected_offline_truck_shows_offline_on_the_map() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, PARIS_TRUCKS[:2])
        await wait_for(pilot, lambda: "paris-1" in list_text(app), 3.0, "two rows")
        await pilot.pause(1.2)  # silent a while: its will is believed at once
        app.inbox.put(WillReceived("paris-0"))
        await wait_for(pilot, lambda: "✕ paris-0" in map_text(app), 3.0, "the offline label")
        assert "◉✕ paris-0" in map_text(app) or "paris-0 ✕◉" in map_text(app)


async def test_ascii_map_has_only_ascii_characters() -> None:
    app = make_app(ascii_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, PARIS_TRUCKS)
        await wait_for(pilot, lambda: "paris-5" in list_text(app), 3.0, "six rows")
        await wait_for(pilot, lambda: "Paris" in map_text(app), 3.0, "the map with its places")
        text = map_text(app)
        assert text.isascii(), sorted({c for c in text if not c.isascii()})
        assert "@" in text and "km" in text


async def test_map_lines_are_what_textual_would_draw_from_the_picture() -> None:
    """The map hands Textual the lines made for the repaint; they match Textual's own."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, PARIS_TRUCKS)
        await wait_for(pilot, lambda: "Paris" in map_text(app), 3.0, "the map with its places")
        position_map = app.position_map
        height = position_map.size.height
        ours = [position_map.render_line(y) for y in range(height)]
        position_map._render_content()  # Textual's way: the whole picture made into lines
        textual = [position_map._render_cache.lines[y] for y in range(height)]
        assert [line.text for line in ours] == [line.text for line in textual]
        # Cell by cell the same look; Textual's own lines also carry text-selection offsets.
        assert [drawn_cells(line) for line in ours] == [drawn_cells(line) for line in textual]
        assert all(line.cell_length == position_map.size.width for line in ours)
        assert any(" Paris" in line.text for line in ours)


def drawn_cells(line: Strip) -> list[tuple[str, tuple[object, ...]]]:
    """Each cell's text and look: colours as the RGB they show (Textual makes 256-colour
    indices RGB; our lines keep the index), attributes as they are."""
    return [(text, look(style or Style())) for text, style in _cells(line)]


def look(style: Style) -> tuple[object, ...]:
    colours = tuple(
        None if colour is None else colour.get_truecolor()
        for colour in (style.color, style.bgcolor)
    )
    return (*colours, style.bold, style.dim, style.italic, style.underline, style.reverse)
