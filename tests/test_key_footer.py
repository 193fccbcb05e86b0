"""KeyFooter: the keys Textual's Footer shows, drawn as one line that changes only with them."""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Footer

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import HelpScreen
from mwm_tui.ui.widgets.key_footer import KeyFooter
from tests.support.links import recording_links
from tests.support.ui import driven, screen_text, wait_for

TRIED = Binding.Group("Tried")


class Keys(App[None]):
    """Keys of every kind the footer knows: shown, hidden, dimmed, two for one action, grouped."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("x,ctrl+x", "cut", "Cut"),
        Binding("h", "hidden", "Hidden", show=False),
        Binding("d", "greyed", "Greyed"),
        Binding("g", "gone", "Gone"),
        Binding("1", "one", "One", group=TRIED),
        Binding("2", "two", "Two", group=TRIED),
        Binding("r", "rename", "Rename"),
    ]

    def __init__(self, footer: type[Widget]) -> None:
        super().__init__()
        self.footer = footer
        self.cuts = self.bells = 0

    def compose(self) -> ComposeResult:
        yield self.footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return {"greyed": None, "gone": False}.get(action, True)

    def action_cut(self) -> None:
        self.cuts += 1

    def action_greyed(self) -> None:
        raise AssertionError("a greyed key ran")

    def bell(self) -> None:
        self.bells += 1


def footer_row(app: App[None]) -> list[Segment]:
    """The bottom row as drawn, one segment a cell; blanks by their background (ink and mouse
    offsets do not show)."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    cells = []
    for segment in (segment for strip in update.strips[-1] for segment in strip):
        for char in segment.text:
            style = segment.style.clear_meta_and_links() if segment.style else Style()
            if char == " ":  # blank: only the background shows
                style = Style(bgcolor=style.bgcolor)
            cells.append(Segment(char, style))
    return cells


async def drawn_by(footer: type[Widget], hovered: int | None = None) -> list[Segment]:
    """The footer row of ``Keys`` with ``footer``, the mouse over column ``hovered`` if given."""
    app = Keys(footer)
    async with app.run_test(size=(90, 5)) as pilot:
        await pilot.pause(0.2)
        if hovered is not None:
            await pilot.hover(offset=(hovered, 4))
            await pilot.pause(0.2)
        return footer_row(app)


async def test_the_line_reads_and_looks_as_textuals_footer_draws_it() -> None:
    theirs, ours = await drawn_by(Footer), await drawn_by(KeyFooter)
    text = "".join(cell.text for cell in ours)
    assert text.startswith(" q Quit  x Cut  d Greyed  1 2 Tried  r Rename "), text
    assert "Hidden" not in text and "Gone" not in text
    assert text.rstrip().endswith("▏^p palette"), text
    greyed, plain = ours[text.index("Greyed")].style, ours[text.index("Quit")].style
    assert greyed and plain and greyed.color != plain.color  # dimmed, as Footer dims it
    assert ours == theirs
    for hovered in (text.index("x Cut"), text.index("^p"), len(text) - 5):
        assert await drawn_by(KeyFooter, hovered) == await drawn_by(Footer, hovered), hovered


def make_app() -> MwmApp:
    return create_app(Settings(), links=recording_links, tune_gc=False)


def bottom_line(app: App[None]) -> str:
    return screen_text(app).splitlines()[-1]


async def test_it_shows_the_focused_panes_keys_and_follows_focus_and_screens() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: "o Order" in bottom_line(app), 5.0, "the list's keys")
        await pilot.press("o")
        await wait_for(pilot, lambda: "Review" in bottom_line(app), 5.0, "the composer's keys")
        assert "esc Back" in bottom_line(app) and "o Order" not in bottom_line(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "o Order" in bottom_line(app), 5.0, "the list's again")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5.0, "the help")
        await wait_for(pilot, lambda: "esc Close" in bottom_line(app), 5.0, "help's keys")
        assert "o Order" not in bottom_line(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "o Order" in bottom_line(app), 5.0, "the list's again")


async def test_it_repaints_only_when_the_keys_change() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        footer = app.screen.query_one(KeyFooter)
        await wait_for(pilot, lambda: "o Order" in bottom_line(app), 5.0, "the list's keys")
        await pilot.pause(0.2)
        renders, signature = footer.renders, footer.signature
        for _ in range(5):
            app.screen.refresh_bindings()
            await pilot.pause()
        await pilot.press("down", "up")
        await pilot.pause(0.2)
        assert footer.update_keys() is False
        assert (footer.renders, footer.signature) == (renders, signature)
        await pilot.press("o")
        await wait_for(pilot, lambda: "Review" in bottom_line(app), 5.0, "the composer's keys")
        assert footer.signature != signature and footer.renders == renders + 1


async def test_a_click_on_a_key_runs_it_and_on_a_greyed_key_does_nothing() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        await wait_for(pilot, lambda: "? Help" in bottom_line(app), 5.0, "the list's keys")
        await pilot.click(KeyFooter, offset=(bottom_line(app).index("? Help") + 3, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5.0, "the help")
    keys = Keys(KeyFooter)
    async with keys.run_test(size=(90, 5)) as pilot:
        await pilot.pause(0.2)
        line = bottom_line(keys)
        await pilot.click(KeyFooter, offset=(line.index("d Greyed") + 2, 0))
        await pilot.click(KeyFooter, offset=(line.index("x Cut") + 2, 0))
        await wait_for(pilot, lambda: keys.cuts == 1, 5.0, "the cut")
        assert keys.bells == 1
        await pilot.click(KeyFooter, offset=(line.index("▏") - 2, 0))  # between keys and palette
        await pilot.pause(0.2)
        assert (keys.cuts, keys.bells) == (1, 1) and keys.is_running
        await pilot.hover(KeyFooter, offset=(line.index("^p"), 0))
        assert keys.query_one(KeyFooter).tooltip == "Open the command palette"
