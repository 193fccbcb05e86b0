"""--ascii: every character on screen is ASCII, and the states stay distinct."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.dispatch import Kind, Stage, describe, new_dispatch
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.format import STATUS_GLYPH
from mwm_tui.ui.glyphs import SYMBOLS, AsciiFilter, ascii_key, to_ascii
from mwm_tui.ui.screens import ColourPicker, DeviceDetail, HelpScreen
from tests.support.ui import driven, list_text, screen_text, type_text, wait_for


def test_each_state_has_its_own_ascii_mark() -> None:
    marks = {status: to_ascii(STATUS_GLYPH[status]) for status in DeviceStatus}
    assert marks == {
        DeviceStatus.ONLINE: "*",
        DeviceStatus.STALE: "~",
        DeviceStatus.OFFLINE: "X",
        DeviceStatus.UNKNOWN: "?",
    }
    assert to_ascii("◉") == "@"  # the selected truck on the map
    assert to_ascii("▲ up") == "^ up" and to_ascii("▼ down") == "v down"


def test_outcome_marks_stay_distinct_in_ascii() -> None:
    marks = set()
    queued = new_dispatch("d1", 1, Kind.ORDER, "AAA", "go", now=0.0)
    for stage in Stage:
        text, _ = describe(replace(queued, stage=stage))
        shown = to_ascii(text)
        assert shown.isascii(), shown
        marks.add((shown[0], text[0]))
    # One ASCII mark per symbol, and no two symbols share one.
    assert len({ascii for ascii, _ in marks}) == len({symbol for _, symbol in marks}) >= 4


@pytest.mark.parametrize(
    "block",
    [
        range(0x2500, 0x2580),  # box drawing
        range(0x2580, 0x25A0),  # blocks
        range(0x2800, 0x2900),  # braille
        range(0x00A0, 0x0180),  # Latin-1 and accented letters
        range(0x4E00, 0x4E40),  # wide CJK
        range(0x0300, 0x0310),  # combining marks
    ],
)
def test_every_character_becomes_ascii_of_the_same_width(block: range) -> None:
    for code in block:
        char = chr(code)
        shown = to_ascii(char)
        assert shown.isascii() and cell_len(shown) == cell_len(char), (hex(code), shown)


def test_each_symbol_becomes_ascii_of_its_own_width() -> None:
    for symbol, ascii in SYMBOLS.items():
        assert len(symbol) == 1 and cell_len(symbol) == len(ascii) and ascii.isascii(), symbol
    assert to_ascii("\U0001f50e Search") == ">  Search"  # the command palette's prompt


def test_text_keeps_letters_and_drops_accents() -> None:
    assert to_ascii("Camión · 7 — 12°") == "Camion - 7 - 12d"
    assert to_ascii("plain") == "plain"
    assert ascii_key("⏎") == "enter" and ascii_key("↑") == "up"


def test_filter_rewrites_only_segments_that_need_it() -> None:
    style = Style(color="red")
    plain = [Segment("abc", style), Segment(" ")]
    assert AsciiFilter().apply(plain, Color(0, 0, 0)) is plain
    mixed = AsciiFilter().apply([Segment("╭─ x", style), Segment("ok")], Color(0, 0, 0))
    assert mixed == [Segment("+- x", style), Segment("ok")]


def demo_app() -> MwmApp:
    return create_app(Settings(demo=True, ascii=True), tune_gc=False)


def not_ascii(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line with a character outside ASCII."""
    return [(number, line) for number, line in enumerate(text.splitlines()) if not line.isascii()]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_demo_screen_is_ascii_only_with_every_screen_open(size: tuple[int, int]) -> None:
    """Main screen, a toast, the palette, the detail screen, help and the colour picker, map
    included."""
    app = demo_app()
    async with driven(app, size, notifications=True) as pilot:
        await wait_for(pilot, lambda: "truck-01" in list_text(app), 5.0, "the demo fleet")
        await wait_for(pilot, lambda: app.position_map.redraws >= 1, 5.0, "the map")
        await wait_for(pilot, lambda: "motion - truck-01" in screen_text(app), 5.0, "motion")
        await pilot.pause(1.2)  # counts, ages and charts tick
        screen = screen_text(app)
        assert not not_ascii(screen), screen
        assert "* online" in screen and "+- devices" in screen and "pitch" in screen, screen
        assert app.export_screenshot().isascii()  # the screenshot (SVG) too

        await pilot.press("s")  # a toast: "Sorted by ..."
        await wait_for(pilot, lambda: "Sorted by" in screen_text(app), 3.0, "the toast")
        assert not not_ascii(screen_text(app)), screen_text(app)
        await pilot.press("ctrl+p")
        await type_text(pilot, "zoom")
        await wait_for(pilot, lambda: "Zoom the map in" in screen_text(app), 3.0, "the palette")
        assert not not_ascii(screen_text(app)), screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 3.0, "palette closed")

        for key, screen_type, marker in (
            ("enter", DeviceDetail, "status history"),
            ("question_mark", HelpScreen, "mwm-tui keys"),
            ("a", ColourPicker, "alert truck-"),
        ):
            await pilot.press(key)
            await wait_for(pilot, lambda t=screen_type: isinstance(app.screen, t), 3.0, key)
            await wait_for(pilot, lambda m=marker: m in screen_text(app), 3.0, marker)
            screen = screen_text(app)
            assert not not_ascii(screen), screen
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 3.0, "main screen")


async def test_without_ascii_the_panes_keep_their_symbols() -> None:
    app = create_app(Settings(demo=True), tune_gc=False)
    async with driven(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: "truck-01" in list_text(app), 5.0, "the demo fleet")
        screen = screen_text(app)
        assert "● online" in screen and "╭─ devices" in screen, screen
        assert not app.export_screenshot().isascii()
