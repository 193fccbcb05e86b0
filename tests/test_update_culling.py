"""Partial updates render only the panes they touch, and the terminal is sent the same bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.console import Console
from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.ui.update_culling import install, touching
from tests.support.links import recording_links

CONSOLE = Console(force_terminal=True, color_system="truecolor", width=120, legacy_windows=False)


def test_only_entries_whose_visible_part_meets_a_dirty_region_are_kept() -> None:
    column = Region(0, 0, 40, 30)
    widgets = {
        "status": (Region(0, 0, 120, 1), Region(0, 0, 120, 40)),
        "row": (Region(0, 5, 40, 1), column),
        "pane below": (Region(0, 20, 40, 10), column),
        # Scrolled: most of it lies outside its clip, where a dirty region is.
        "scrolled": (Region(0, 25, 40, 20), column),
    }
    kept = touching(widgets, [Region(0, 0, 120, 1), Region(10, 5, 3, 1), Region(0, 35, 40, 2)])
    assert list(kept) == ["status", "row"]
    assert kept["row"] == widgets["row"]
    assert touching(widgets, []) == {}


def _counting(widget: Widget, rendered: list[str]) -> None:
    render_lines: Callable[[Region], list[Strip]] = widget.render_lines

    def counted(crop: Region) -> list[Strip]:
        rendered.append(widget.id or type(widget).__name__)
        return render_lines(crop)

    widget.render_lines = counted  # type: ignore[method-assign]


async def test_a_status_tick_and_a_list_row_render_their_panes_and_send_the_same_bytes() -> None:
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    assert install()
    culled = Compositor.render_partial_update
    whole = getattr(culled, "__wrapped__", None)
    assert whole is not None
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        rendered: list[str] = []
        for widget in app.screen.walk_children(with_self=True):
            _counting(widget, rendered)
        compositor = app.screen._compositor
        row = app.device_list.content_region
        dirty = {app.status_bar.region, Region(row.x + 10, row.y + 2, 6, 1)}

        compositor._dirty_regions = set(dirty)
        compositor._cuts = None  # the culled update is the first to need the cuts
        update = culled(compositor)
        touched = set(rendered)
        after = [strip.text for strip in compositor.render_strips()]
        compositor._cuts = compositor._visible_widgets = None
        assert after == [strip.text for strip in compositor.render_strips()]
        assert "Quit" in after[-1]
        rendered.clear()
        compositor._dirty_regions = set(dirty)
        reference = whole(compositor)
        everything = set(rendered)

        assert update is not None and reference is not None
        assert update.render_segments(CONSOLE) == reference.render_segments(CONSOLE)
        assert {"status", "devices"} <= touched
        assert not touched & {"map", "motion", "log", "composer", "KeyFooter"}
        assert {"map", "motion", "log", "KeyFooter"} <= everything


def test_installing_twice_wraps_once() -> None:
    assert install()
    patched = Compositor.render_partial_update
    assert install()
    assert Compositor.render_partial_update is patched


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_culled_screen_ends_as_a_full_render_draws_it(size: tuple[int, int]) -> None:
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        full = compositor.render_strips()
        compositor._dirty_regions = {app.status_bar.region, app.device_list.region}
        update = compositor.render_partial_update()
        assert update is not None
        compared = 0
        for y, x1, x2 in update.spans:
            for x, strip in update.chops[y].items():
                if strip is None or x >= x2 or x + strip.cell_length <= x1:
                    continue
                start, end = max(x, x1), min(x + strip.cell_length, x2)
                assert strip.crop(start - x, end - x).text == full[y].crop(start, end).text
                compared += end - start
        assert compared == sum(x2 - x1 for _, x1, x2 in update.spans)
