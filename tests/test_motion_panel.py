"""The motion panel: pitch, roll and yaw as line charts, repainted only when they change."""

from __future__ import annotations

import math
import re

import pytest
from rich.text import Text

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.widgets.motion_panel import ZERO_STYLE, line_chart
from tests.support.links import recording_links
from tests.support.ui import driven, screen_text, wait_for

BRAILLE = re.compile(r"[\u2801-\u28ff]")


def dots(char: str) -> int:
    return ord(char) - 0x2800


def test_a_full_history_spans_the_width_newest_at_the_right() -> None:
    lines = line_chart([0.0] * 50, capacity=50, cells=25, rows=1, style="red")
    assert [line.plain for line in lines] == ["⠤" * 25]  # dots 3 and 6: the row of zero
    assert all(span.style == "red" for span in lines[0].spans)


def test_a_short_history_starts_part_way_and_the_rest_is_the_dotted_zero_line() -> None:
    (line,) = line_chart([0.0] * 10, capacity=50, cells=25, rows=1, style="red")
    assert len(line.plain) == 25
    assert line.plain[-5:] == "⠤" * 5
    assert set(line.plain[:19]) == {"⠄"}  # one dot a cell: never mistaken for a value
    assert [span.style for span in line.spans if span.start < 19] == [ZERO_STYLE]


def test_the_range_is_fixed_at_minus_pi_to_pi_and_values_outside_clip() -> None:
    top, middle, bottom = line_chart([math.pi] * 50, capacity=50, cells=10, rows=3)
    assert top.plain == "⠉" * 10 and middle.plain == "⠄" * 10 and bottom.plain == " " * 10
    top, middle, bottom = line_chart([-9.0] * 50, capacity=50, cells=10, rows=3)
    assert top.plain == " " * 10 and bottom.plain == "⣀" * 10
    # A series that stays within a few degrees of zero is a flat line on the zero row.
    _, middle, _ = line_chart([-0.05] * 50, capacity=50, cells=10, rows=3)
    assert middle.plain == "⠤" * 10


def test_consecutive_values_are_joined_by_a_line() -> None:
    """From the top to the bottom in one step: every dot row between is set, in one column or
    the other."""
    lines = line_chart([math.pi, -math.pi], capacity=2, cells=1, rows=2)
    cells = [dots(line.plain[0]) for line in lines]
    dot_rows = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
    assert all(bits & (left | right) for bits in cells for left, right in dot_rows), cells
    assert cells[0] & 0x01 and cells[1] & 0x80  # starts top left, ends bottom right


def test_ascii_chart_has_three_heights_a_cell_and_a_dotted_zero_line() -> None:
    lines = line_chart(
        [math.pi, 0.0, -math.pi], capacity=5, cells=5, rows=1, ascii_only=True, style="blue"
    )
    assert [line.plain for line in lines] == ["..'-_"]
    chart = line_chart([0.3, -0.3] * 25, capacity=50, cells=30, rows=2, ascii_only=True)
    assert all(line.plain.isascii() and len(line.plain) == 30 for line in chart)


def test_a_value_that_is_not_a_number_is_left_out() -> None:
    with_gap = line_chart([0.0, math.nan, 0.0], capacity=3, cells=3, rows=1, ascii_only=True)
    assert [line.plain for line in with_gap] == ["---"]


def test_nothing_to_draw_in_no_room() -> None:
    assert [line.plain for line in line_chart([1.0], capacity=50, cells=0, rows=2)] == ["", ""]


def motion_app(*, ascii_only: bool = False) -> MwmApp:
    return create_app(Settings(ascii=ascii_only), links=recording_links, tune_gc=False)


def feed_motion(app: MwmApp, device_id: str, motion: Motion) -> None:
    app.inbox.put(MotionReceived(device_id, motion))


def panel_lines(app: MwmApp) -> list[str]:
    """The motion pane as drawn on screen, inside its border (round or ASCII)."""
    lines = screen_text(app).splitlines()
    title = re.compile(r"[╭+][─-] motion ")
    top = next(i for i, line in enumerate(lines) if title.search(line))
    left = title.search(lines[top])
    assert left is not None
    start = left.start()
    end = start + 1 + re.search(r"[╮+]", lines[top][start + 1 :]).start()  # type: ignore[union-attr]
    rows = []
    for line in lines[top + 1 :]:
        if line[start] in "╰+":
            break
        rows.append(line[start + 1 : end].strip())
    return rows


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_each_series_is_labelled_by_its_own_field_with_its_value_in_degrees(
    size: tuple[int, int],
) -> None:
    """Pitch, roll, yaw in the wire's order (docs/PROTOCOL.md): roll is never shown as yaw."""
    app = motion_app()
    async with driven(app, size) as pilot:
        app.inbox.put(LocationReceived(Position("AAA", 48.85, 2.35)))
        for step in range(50):
            feed_motion(app, "AAA", Motion(0.5, -1.0, 2.5 * math.sin(step / 5)))
        feed_motion(app, "AAA", Motion(0.5, -1.0, 3.0))
        await wait_for(pilot, lambda: app.motion_panel.device_id == "AAA", 3.0, "AAA selected")
        await wait_for(pilot, lambda: "+171.9°" in screen_text(app), 3.0, "the yaw drawn")
        rows = panel_lines(app)
        labelled = [row for row in rows if row.split()[0] in ("pitch", "roll", "yaw")]
        assert [row.split()[0] for row in labelled] == ["pitch", "roll", "yaw"], rows
        assert labelled[0].endswith("+28.6°") and labelled[1].endswith("-57.3°"), rows
        assert labelled[2].endswith("+171.9°"), rows
        # Two rows a series at 120x40, one at 80x24; every series has its chart.
        per_series = 2 if size == (120, 40) else 1
        assert len(rows) == 3 * per_series, rows
        bands = ["".join(rows[i : i + per_series]) for i in range(0, len(rows), per_series)]
        assert all(BRAILLE.search(band) for band in bands), rows
        # Pitch and roll are flat lines off the zero row, yaw swings: its chart has more shapes.
        pitch_cells = set(BRAILLE.findall(rows[0]))
        yaw_cells = set(BRAILLE.findall("".join(rows[len(rows) * 2 // 3 :])))
        assert len(yaw_cells) > len(pitch_cells), rows


async def test_the_panel_repaints_only_when_the_selected_devices_motion_changes() -> None:
    app = motion_app()
    async with driven(app) as pilot:
        for device_id in ("AAA", "BBB"):
            app.inbox.put(LocationReceived(Position(device_id, 48.85, 2.35)))
            feed_motion(app, device_id, Motion(0.1, 0.2, 0.3))
        await wait_for(pilot, lambda: app.motion_panel.device_id == "AAA", 3.0, "AAA selected")
        await wait_for(pilot, lambda: "+17.2°" in screen_text(app), 3.0, "AAA's motion")
        await pilot.pause(0.5)
        settled = app.motion_panel.renders
        for step in range(20):
            feed_motion(app, "BBB", Motion(step / 10, 0.0, 0.0))
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        assert app.motion_panel.renders == settled, "repainted for another device's motion"
        feed_motion(app, "AAA", Motion(0.1, 0.2, 0.4))
        await wait_for(pilot, lambda: "+22.9°" in screen_text(app), 3.0, "AAA's new yaw")
        assert app.motion_panel.renders > settled


async def test_ascii_panel_draws_its_chart_without_braille() -> None:
    app = motion_app(ascii_only=True)
    async with driven(app, (80, 24)) as pilot:
        app.inbox.put(LocationReceived(Position("AAA", 48.85, 2.35)))
        for step in range(50):
            feed_motion(app, "AAA", Motion(0.0, 0.0, 3.0 * math.sin(step / 4)))
        await wait_for(pilot, lambda: "motion - AAA" in screen_text(app), 3.0, "AAA selected")
        assert not BRAILLE.search(app.motion_panel.render().plain)
        rows = panel_lines(app)
        assert [row.split()[0] for row in rows] == ["pitch", "roll", "yaw"], rows
        assert all(row.isascii() for row in rows), rows
        assert re.fullmatch(r"yaw +[._'|:-]+ +[+-]\d+\.\dd", rows[2]), rows
        assert len(set(rows[2].split()[1])) >= 3, rows  # a wave, not a flat line


async def test_a_repaint_hands_textual_its_lines_and_another_device_is_drawn_whole() -> None:
    app = motion_app()
    async with driven(app) as pilot:
        for device_id, yaw in (("AAA", 0.3), ("BBB", -1.0)):
            app.inbox.put(LocationReceived(Position(device_id, 48.85, 2.35)))
            feed_motion(app, device_id, Motion(0.1, 0.2, yaw))
        await wait_for(pilot, lambda: "+17.2°" in screen_text(app), 3.0, "AAA's motion")
        panel = app.motion_panel
        rendered: list[int] = []
        render = panel.render

        def counted() -> Text:
            rendered.append(1)
            return render()

        panel.render = counted  # type: ignore[method-assign]
        feed_motion(app, "AAA", Motion(0.1, 0.2, 0.4))
        await wait_for(pilot, lambda: "+22.9°" in screen_text(app), 3.0, "AAA's new yaw")
        assert not rendered, "Textual rendered the picture again for a repaint"
        await pilot.press("j")
        await wait_for(pilot, lambda: "motion · BBB" in screen_text(app), 3.0, "BBB selected")
        await wait_for(pilot, lambda: "-57.3°" in screen_text(app), 3.0, "BBB's yaw")
        assert not any("+22.9°" in row for row in panel_lines(app))
