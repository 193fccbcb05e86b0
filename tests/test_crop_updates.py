"""Partial updates written from their first changed cell: fewer bytes, the same screen."""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate
from textual.strip import Strip

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.ui.crop_updates import crop_start, install, left_cropped
from tests.support.links import recording_links

BORDER = Style(color="yellow")
GREEN = Style(color="green")
CONSOLE = Console(force_terminal=True, color_system="256", width=80, legacy_windows=False)
WIDTH = 50


def strip(*parts: tuple[str, Style | None]) -> Strip:
    return Strip([Segment(text, style) for text, style in parts])


def row(fix_age: str, name: str = "truck-01") -> Strip:
    """A device-list line: border, status, then one segment to the pane's end."""
    rest = f" {name}  {fix_age}  48.8297    2.2356"
    return strip(("│", BORDER), ("● online", GREEN), (rest, None)).adjust_cell_length(WIDTH)


class Screen:
    """What a terminal shows: a character and the SGR in force for each cell."""

    TOKEN = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[([0-9;]*)m|(\r?\n)|(.)", re.DOTALL)

    def __init__(self) -> None:
        self.cells = [[(" ", "")] * WIDTH for _ in range(2)]

    def write(self, data: str) -> None:
        x = y = 0
        sgr = ""
        for token in self.TOKEN.finditer(data):
            move_y, move_x, codes, newline, char = token.groups()
            if move_y is not None:
                y, x = int(move_y) - 1, int(move_x) - 1
            elif codes is not None:
                sgr = "" if codes in ("", "0") else codes
            elif newline is not None:
                y, x = y + 1, 0
            else:
                width = get_character_cell_size(char)
                if width == 0:
                    before, style = self.cells[y][x - 1]
                    self.cells[y][x - 1] = (before + char, style)
                    continue
                self.cells[y][x] = (char, sgr)
                for extra in range(1, width):
                    self.cells[y][x + extra] = ("", sgr)
                x += width

    def show(self, line: Strip, y: int = 0) -> None:
        self.write(f"\x1b[{y + 1};1H" + line.render(CONSOLE))


def update(line: Strip, x1: int, x2: int, cropped: bool) -> str:
    chops = [{0: line, WIDTH: strip((" " * 10, None))}]
    ends = [[WIDTH, WIDTH + 10]]
    spans = [(0, x1, x2)]
    if cropped:
        return ChopsUpdate(left_cropped(chops, spans, ends), spans, ends).render_segments(CONSOLE)
    whole = ChopsUpdate.__new__(ChopsUpdate)
    whole.chops, whole.spans, whole.chop_ends = chops, spans, ends
    return whole.render_segments(CONSOLE)


def test_a_cut_never_falls_inside_a_wide_character_or_before_a_combining_mark() -> None:
    wide = strip(("ab", None), ("漢", GREEN), ("c", None))
    assert [crop_start(wide, cut) for cut in range(6)] == [0, 1, 2, 2, 4, 5]
    marked = strip(("ae\u0301x", None))
    assert [crop_start(marked, cut) for cut in range(4)] == [0, 1, 1, 3]
    assert crop_start(strip(("abc", None), ("\u0301d", None)), 3) == 2


def test_a_ticking_age_is_written_from_its_own_cell_and_the_screen_ends_the_same() -> None:
    before, after = row("1s"), row("2s")
    age = before.text.index("1s")
    cropped = update(after, age, age + 1, cropped=True)
    whole = update(after, age, age + 1, cropped=False)
    assert cropped.startswith(f"\x1b[1;{age + 1}H")
    assert "truck-01" not in cropped and "online" not in cropped
    assert len(cropped) * 3 < len(whole)

    expected, shown = Screen(), Screen()
    expected.show(after)
    shown.show(before)
    shown.write(cropped)
    assert shown.cells == expected.cells


def test_cropping_keeps_a_wide_character_whole_and_leaves_other_chops_alone() -> None:
    before, after = row("1s", name="漢字-01"), row("1s", name="漢字-02")
    text = before.text
    wide = cell_len(text[: text.index("字")])
    # A span from the right half of a wide character: the character is written whole.
    cropped = update(after, wide + 1, wide + 5, cropped=True)
    assert cropped.startswith(f"\x1b[1;{wide + 1}H字-02")
    expected, shown = Screen(), Screen()
    expected.show(after)
    shown.show(before)
    shown.write(cropped)
    assert shown.cells == expected.cells


def test_the_app_installs_the_crop_once() -> None:
    create_app(Settings(), links=recording_links, tune_gc=False)
    assert getattr(ChopsUpdate.__init__, "_crops_left", False)
    patched = ChopsUpdate.__init__
    assert install()
    assert ChopsUpdate.__init__ is patched
