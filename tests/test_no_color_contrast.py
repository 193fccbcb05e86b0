"""NO_COLOR is readable everywhere: every text on every screen stands at least 4.5:1 from its
background (WCAG's contrast ratio), as drawn in true colour and as a 256-colour terminal shows
it. The ratios are computed from the compositor's segments, line filters applied."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.pilot import Pilot

from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker, DeviceDetail, HelpScreen, OrderPrompt
from tests.support.ui import driven, screen_text, type_text, wait_for, write_order
from tests.test_snapshots import settled, still_app
from tests.test_ui_screen import rows

READABLE = 4.5
BLANK = set(" \u2800")  # a space, an empty braille cell


def luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def rgb(color: RichColor, system: ColorSystem, *, foreground: bool) -> tuple[int, int, int]:
    shown = color.downgrade(system)
    triplet = shown.get_truecolor(foreground=foreground)
    return (triplet.red, triplet.green, triplet.blue)


def ratio(style: Style, system: ColorSystem) -> float:
    """The contrast of a segment's ink on its paper, as the terminal shows it (dim: halfway)."""
    assert style.color is not None and style.bgcolor is not None, style
    ink = rgb(style.color, system, foreground=True)
    paper = rgb(style.bgcolor, system, foreground=False)
    if style.reverse:
        ink, paper = paper, ink
    if style.dim:
        ink = (
            (ink[0] + paper[0]) // 2,
            (ink[1] + paper[1]) // 2,
            (ink[2] + paper[2]) // 2,
        )
    lighter, darker = sorted((luminance(ink), luminance(paper)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def unreadable(app: MwmApp, where: str) -> list[str]:
    """Every text segment under READABLE:1, named with its row, text and ratio."""
    found = []
    for y, row in enumerate(rows(app)):
        for segment in row:
            text, style = segment.text, segment.style
            if set(text) <= BLANK or style is None:
                continue
            for system in (ColorSystem.TRUECOLOR, ColorSystem.EIGHT_BIT):
                contrast = ratio(style, system)
                if contrast < READABLE:
                    found.append(f"{where} row {y} {system.name}: {text!r} {contrast:.2f}:1")
    return found


async def main_screen(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)


async def help_screen(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")


async def details(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5, "the details")


async def filter_field(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)
    await pilot.press("/")
    await type_text(pilot, "truck")


async def order_review(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)
    await write_order(pilot, "go north")
    await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the review")


async def alert_prompt(pilot: Pilot[None], app: MwmApp) -> None:
    await settled(pilot)
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5, "the alert prompt")


Scene = Callable[[Pilot[None], MwmApp], Awaitable[None]]


SCENES: tuple[Scene, ...] = (
    main_screen,
    help_screen,
    details,
    filter_field,
    order_review,
    alert_prompt,
)


async def back_to_the_list(pilot: Pilot[None], app: MwmApp) -> None:
    """Esc until the dashboard alone is on screen with the list focused, as before a scene."""
    for _ in range(4):
        if app.screen is app.screen_stack[0] and app.focused is app.device_list:
            return
        await pilot.press("escape")
        await pilot.pause(0.1)
    assert app.focused is app.device_list, screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_every_text_is_readable_without_colour(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    """Every scene in turn in one dashboard: its screen, then Esc back to the list."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = still_app()
    problems: list[str] = []
    async with driven(app, size) as pilot:
        assert app.no_color
        for scene in SCENES:
            await scene(pilot, app)
            await pilot.pause(0.3)
            texts = sum(1 for row in rows(app) for s in row if not set(s.text) <= BLANK)
            assert texts > 50, f"{scene.__name__}:\n{screen_text(app)}"
            found = unreadable(app, scene.__name__)
            if found:
                problems += [*found[:40], screen_text(app)]
            await back_to_the_list(pilot, app)
    assert not problems, "\n".join(problems)


def test_the_measure_tells_the_reported_greys_apart() -> None:
    """Grey 237 on 233, as a 256-colour terminal drew the pitch label, is far from readable."""
    grey = Style(color=RichColor.from_ansi(237), bgcolor=RichColor.from_ansi(233))
    assert ratio(grey, ColorSystem.EIGHT_BIT) < 2.0
    assert ratio(Style(color="#ffffff", bgcolor="#000000"), ColorSystem.TRUECOLOR) == 21.0
    segment = Segment("x", Style(color="#767676", bgcolor="#ffffff"))
    assert segment.style is not None and ratio(segment.style, ColorSystem.TRUECOLOR) >= 4.5
