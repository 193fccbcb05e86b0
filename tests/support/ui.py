"""Helpers for Pilot tests: wait on a condition, read panes as plain text, hold an invariant."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
from collections.abc import AsyncIterator, Callable

from rich.console import Console
from textual import events
from textual.app import App
from textual.pilot import Pilot

from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import SendPrompt
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.event_log import EventLog


async def wait_for(
    pilot: Pilot[None], predicate: Callable[[], bool], timeout: float, what: str
) -> None:
    """Let the app run until ``predicate`` holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


@contextlib.asynccontextmanager
async def driven(
    app: MwmApp, size: tuple[int, int] = (120, 40), *, notifications: bool = False
) -> AsyncIterator[Pilot[None]]:
    """``app.run_test`` that exits the app first, however the block ends.

    run_test alone prunes the widgets while the app's interval timers still tick; a timer that
    queries a widget then fails the test with NoMatches, masking the block's own failure.
    ``exit`` makes the timers stand still first.
    """
    async with app.run_test(size=size, notifications=notifications) as pilot:
        try:
            yield pilot
        finally:
            app.exit()


# The key a terminal names for each character that is not a letter or a digit.
KEY_NAMES = {
    "\n": "enter",
    " ": "space",
    ",": "comma",
    ".": "full_stop",
    "?": "question_mark",
    "!": "exclamation_mark",
    "/": "slash",
    ":": "colon",
    "-": "minus",
    "+": "plus",
    "'": "apostrophe",
}


def key_of(character: str) -> str:
    """The key a terminal sends for ``character``, as Textual names it (KEY_NAMES)."""
    key = KEY_NAMES.get(character, character)
    assert key.isalnum() or key != character, f"name the key for {character!r}"
    return key


async def type_text(pilot: Pilot[None], text: str) -> None:
    """``text`` as a terminal delivers typing that comes faster than the screen redraws: a key
    event a character, then one wait until the app and its screen have taken them all.
    ``pilot.press`` waits for the app to go idle after every key (some 90 ms each here)."""
    app = pilot.app
    for character in text:
        key = key_of(character)
        app.post_message(events.Key(key, None if key == "enter" else character))
    handled = asyncio.Event()
    app.call_later(handled.set)  # the app takes its messages in order
    await asyncio.wait_for(handled.wait(), 30)
    await pilot.pause()  # and the widgets it forwarded them to


async def write_order(pilot: Pilot[None], text: str) -> None:
    """``o``, the order's text as typed, then Enter: the order's review opens."""
    await pilot.press("o")
    await type_text(pilot, text)
    await pilot.press("enter")


async def draw_the_selection(pilot: Pilot[None], app: MwmApp) -> None:
    """Once the map has the list's selection, draw it now rather than on the map's timer."""
    chosen = app.device_list.selected
    map_ = app.position_map
    await wait_for(pilot, lambda: map_.selected == chosen, 5.0, "the selection on the map")
    map_.redraw_soon()


async def send_from_prompt(pilot: Pilot[None], app: MwmApp, timeout: float = 5.0) -> None:
    """Wait for the order or alert prompt to be up and armed, as a reader would, then Enter."""
    await wait_for(
        pilot,
        lambda: isinstance(app.screen, SendPrompt) and app.screen.arming.armed(),
        timeout,
        "the prompt to be ready for Enter",
    )
    await pilot.press("enter")


async def log_rewraps_every_entry(pilot: Pilot[None], app: MwmApp) -> None:
    """300 long entries, then a narrower screen: every one is wrapped again, in order."""
    log = app.event_log
    for number in range(300):
        log.add(f"entry {number:03d} " + "filler " * 12)
    await pilot.pause(0.3)
    await pilot.resize_terminal(120, 40)

    def numbers() -> list[int]:
        text = " ".join(strip.text for strip in log.lines)
        return [int(part[:3]) for part in text.split("entry ")[1:]]

    await wait_for(pilot, lambda: len(numbers()) == 300, 20.0, "every entry wrapped again")
    assert numbers() == list(range(300))


def log_text(app: MwmApp) -> str:
    """Every entry of the event log, one per line, as written (before wrapping)."""
    return "\n".join(app.query_one(EventLog).entries)


def list_text(app: MwmApp) -> str:
    """The device list as drawn: header and every visible row."""
    devices = app.query_one(DeviceList)
    return "\n".join(devices.render_line(y).text for y in range(devices.size.height))


def screen_text(app: App[None]) -> str:
    """The whole screen as plain text, as ``export_screenshot`` renders it (toasts included)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def screen_dump(app: MwmApp) -> str:
    """What a failing test shows: the screen, then the whole event log."""
    return f"screen:\n{screen_text(app)}\nlog:\n{log_text(app)}"


BAD_WORDS = re.compile(r"\b(stale|offline)\b")
# The status bar once both links are lost, in one second or in two (real brokers die one by one).
HQ_LOST_BOTH = re.compile(
    r"HQ lost (STOMP and MQTT \d\d:\d\d:\d\d|STOMP \d\d:\d\d:\d\d, MQTT \d\d:\d\d:\d\d), "
    r"positions and motion as of then"
)


def no_truck_stale_or_offline(app: MwmApp) -> None:
    """Neither the fleet, the list nor the log says any truck is stale or offline."""
    counts = app.fleet.counts()
    assert not counts[DeviceStatus.STALE] and not counts[DeviceStatus.OFFLINE], screen_dump(app)
    rows = list_text(app).splitlines()[1:]
    assert not any(BAD_WORDS.search(row) for row in rows), screen_dump(app)
    assert not BAD_WORDS.search(log_text(app)), screen_dump(app)


async def hold(pilot: Pilot[None], app: MwmApp, seconds: float) -> None:
    """Let the app run for ``seconds``, checking the invariant all along."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        no_truck_stale_or_offline(app)
        await pilot.pause(0.25)
