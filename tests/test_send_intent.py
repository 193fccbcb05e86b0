"""Nothing reaches a truck by accident: prose typed anywhere sends nothing; prompts name the truck.

The prompts read the app's ``prompt_clock``. In the prose tests it is the typist's clock: each
key the app takes moves it 120 ms on, however fast the test delivers the keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived
from mwm_tui.domain.intent import ARM_DELAY, Answer, Arming, Drafts
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker, DeviceDetail, HelpScreen, OrderPrompt
from mwm_tui.ui.widgets.composer import OrderInput
from mwm_tui.ui.widgets.device_list import DeviceList
from mwm_tui.ui.widgets.event_log import EventLog
from mwm_tui.ui.widgets.position_map import PositionMap
from tests.support.clock import FakeClock
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import (
    driven,
    key_of,
    screen_text,
    send_from_prompt,
    type_text,
    wait_for,
    write_order,
)

# Two paragraphs a dispatcher might type believing a text field has the keys. It holds the
# keys that open the composer (o), the alert prompt (a), the filter (/), the help (?), details
# (Enter), a blank line (two Enters) and a line ending in "a" then Enter. No q: q quits.
PROSE = (
    "Please wait at the depot for a new order, then take the A6/A10 to Orly.\n"
    "Any news? Call HQ at noon, as agreed with Sara\n"
    "\n"
    "Thanks, and drive safely: the road is icy today!\n"
)
# The same hazards, short enough to type key by key: o then text and Enter, a blank line, a
# line ending in "a" then Enter, the filter and the help.
SHORT_PROSE = "Go to Orly, not Rungis.\n\nAny news? Call Sara\nA6/A10 is icy!\n"
TYPING_GAP = 0.12


def make_app() -> MwmApp:
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    return app


def sent(app: MwmApp) -> list[tuple[str, str, str]]:
    stomp, mqtt = app.stomp_link, app.mqtt_link
    assert isinstance(stomp, RecordingLink) and isinstance(mqtt, RecordingLink)
    return stomp.sent + mqtt.sent


def feed(app: MwmApp, *device_ids: str) -> None:
    for number, device_id in enumerate(device_ids):
        app.inbox.put(LocationReceived(Position(device_id, 48.85 + number / 100, 2.35)))
        app.inbox.put(MotionReceived(device_id, Motion(0.1, -0.2, 0.3)))


async def type_burst(pilot: Pilot[None], app: MwmApp, text: str = PROSE) -> None:
    """``text`` arriving at once, as a paste or a stalled SSH link delivers it."""
    await type_text(pilot, text)
    await pilot.pause(0.3)  # and the screens they were forwarded to took them
    await wait_for(pilot, lambda: app.is_running, 1, "the app")


async def type_slowly(pilot: Pilot[None], clock: FakeClock, text: str = PROSE) -> None:
    """``text`` key by key, each the gap of a fast typist after the one before."""
    for character in text:
        clock.advance(TYPING_GAP)
        await pilot.press(key_of(character))


async def main_list(pilot: Pilot[None], app: MwmApp) -> None:
    assert isinstance(app.focused, DeviceList)


async def map_focused(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("m")
    assert isinstance(app.focused, PositionMap)


async def log_focused(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("e")
    assert isinstance(app.focused, EventLog)


async def filter_field(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("slash")
    assert app.focused is app.filter_input


async def composer(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("o")
    assert isinstance(app.focused, OrderInput)


async def details(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5, "the details")


async def help_screen(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("question_mark")
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")


async def alert_prompt(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5, "the alert prompt")


async def order_prompt(pilot: Pilot[None], app: MwmApp) -> None:
    await write_order(pilot, "Turn left")
    await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the order review")


async def palette(pilot: Pilot[None], app: MwmApp) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 5, "the palette")


SCREENS: dict[str, Callable[[Pilot[None], MwmApp], Awaitable[None]]] = {
    "list": main_list,
    "map": map_focused,
    "log": log_focused,
    "filter": filter_field,
    "composer": composer,
    "details": details,
    "help": help_screen,
    "alert prompt": alert_prompt,
    "order review": order_prompt,
    "command palette": palette,
}


@pytest.mark.parametrize("where", list(SCREENS))
async def test_prose_arriving_at_once_at_any_screen_sends_nothing_to_any_truck(where: str) -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        feed(app, "truck-01", "truck-02", "truck-03")
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 3, 5, "three trucks")
        await SCREENS[where](pilot, app)
        await pilot.pause(ARM_DELAY)  # however long the dispatcher looked at this screen first
        await type_burst(pilot, app)
        assert sent(app) == [] and app.dispatcher.unsettled() == 0, where
        # Then again from wherever the prose left the dashboard.
        await type_burst(pilot, app, SHORT_PROSE)
        assert sent(app) == [] and app.dispatcher.unsettled() == 0, where


async def test_prose_typed_at_the_start_screen_at_a_typists_pace_sends_nothing() -> None:
    app = make_app()
    clock = FakeClock()
    app.prompt_clock = clock
    async with driven(app, (120, 40)) as pilot:
        feed(app, "truck-01", "truck-02", "truck-03")
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 3, 5, "three trucks")
        await type_slowly(pilot, clock, SHORT_PROSE)
        assert app.is_running
        assert sent(app) == [] and app.dispatcher.unsettled() == 0


async def test_an_order_leaves_only_from_a_review_that_names_the_truck_and_the_text() -> None:
    app = make_app()
    clock = FakeClock()
    app.prompt_clock = clock
    async with driven(app, (120, 40)) as pilot:
        feed(app, "truck-01", "truck-02")
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 2, 5, "two trucks")
        await pilot.press("j", "o")
        await type_text(pilot, "Go to Orly, not Rungis")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the review")
        shown = screen_text(app)
        assert "send this order to truck-02?" in shown and "Go to Orly, not Rungis" in shown
        assert "read it first" in shown
        await pilot.press("enter")  # at once: typed ahead, not read
        await pilot.pause(0.1)
        assert isinstance(app.screen, OrderPrompt) and sent(app) == []
        clock.advance(ARM_DELAY)
        await wait_for(pilot, lambda: "Enter sends" in screen_text(app), 5, "the prompt armed")
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(sent(app)), 5, "the order")
        assert sent(app) == [("/queue/device.truck-02.text", "truck-02", "Go to Orly, not Rungis")]
        assert app.composer.order_input.value == ""
        assert isinstance(app.focused, OrderInput)


async def test_esc_or_a_typed_key_closes_the_review_and_keeps_the_draft() -> None:
    app = make_app()
    clock = FakeClock()
    app.prompt_clock = clock
    async with driven(app, (120, 40), notifications=True) as pilot:
        feed(app, "truck-01")
        await wait_for(pilot, lambda: app.device_list.selected == "truck-01", 5, "a truck")
        await write_order(pilot, "Call HQ")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the review")
        clock.advance(ARM_DELAY)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderPrompt), 5, "closed")
        assert app.composer.order_input.value == "Call HQ"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the review")
        clock.advance(ARM_DELAY)
        await pilot.press("x")
        await wait_for(pilot, lambda: not isinstance(app.screen, OrderPrompt), 5, "closed")
        assert "Nothing sent to truck-01" in screen_text(app)
        assert sent(app) == [] and app.composer.order_input.value == "Call HQ"


async def test_a_draft_stays_with_the_truck_it_was_written_for() -> None:
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        feed(app, "truck-01", "truck-02", "truck-03")
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 3, 5, "three trucks")
        await pilot.press("o")
        await type_text(pilot, "Turn left")
        await pilot.press("escape", "j", "j", "o")
        assert app.device_list.selected == "truck-03"
        assert app.composer.order_input.value == ""
        assert "order to truck-03" in screen_text(app)
        await pilot.press("enter")  # an empty draft opens no review
        await pilot.pause(0.1)
        assert app.screen is app.screen_stack[0]
        await pilot.press("escape", "k", "k")
        assert app.composer.order_input.value == "Turn left"
        await pilot.press("o", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, OrderPrompt), 5, "the review")
        assert "send this order to truck-01?" in screen_text(app)
        await send_from_prompt(pilot, app)
        await wait_for(pilot, lambda: bool(sent(app)), 5, "the order")
        assert sent(app) == [("/queue/device.truck-01.text", "truck-01", "Turn left")]


async def composer_names_its_truck_with_a_draft(pilot: Pilot[None], app: MwmApp) -> None:
    """With the composer focused: a draft typed, the composer still names its truck."""
    await type_text(pilot, "Turn left")
    await pilot.pause(0.1)
    shown = screen_text(app)
    assert "order to truck-01" in shown and "Turn left" in shown


async def test_the_composer_shows_it_has_no_keys_until_o_gives_it_them() -> None:
    """At 120x40; then a draft, as the test below at 80x24."""
    app = make_app()
    async with driven(app, (120, 40)) as pilot:
        feed(app, "truck-01")
        await wait_for(pilot, lambda: app.device_list.selected == "truck-01", 5, "a truck")
        await pilot.pause(0.1)
        assert not app.composer.order_input.has_focus
        shown = screen_text(app)
        assert "order to truck-01" in shown and "press o to write an order" in shown
        await pilot.press("o")
        assert app.composer.order_input.has_focus
        assert "type the order, Enter to review it" in screen_text(app)
        await composer_names_its_truck_with_a_draft(pilot, app)


async def test_the_composer_names_its_truck_with_a_draft_in_it_at_80x24() -> None:
    app = make_app()
    async with driven(app, (80, 24)) as pilot:
        feed(app, "truck-01")
        await wait_for(pilot, lambda: app.device_list.selected == "truck-01", 5, "a truck")
        await pilot.press("o")
        await composer_names_its_truck_with_a_draft(pilot, app)


async def test_an_alert_leaves_only_from_its_prompt_with_the_colour_named() -> None:
    app = make_app()
    clock = FakeClock()
    app.prompt_clock = clock
    async with driven(app, (120, 40), notifications=True) as pilot:
        feed(app, "truck-01", "truck-02")
        await wait_for(pilot, lambda: len(app.device_list.row_ids) == 2, 5, "two trucks")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5, "the prompt")
        assert "alert truck-01 with" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert sent(app) == [], "Enter before the prompt could be read"
        clock.advance(ARM_DELAY)
        await pilot.press("down", "j")  # red, orange, yellow: each move must be read again
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert sent(app) == []
        clock.advance(ARM_DELAY)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(sent(app)), 5, "the alert")
        assert sent(app) == [("/mwm/truck-01/alert", "truck-01", "yellow")]

        await pilot.press("j", "a")
        await wait_for(pilot, lambda: isinstance(app.screen, ColourPicker), 5, "the prompt")
        assert "alert truck-02 with" in screen_text(app)
        clock.advance(ARM_DELAY)
        await pilot.press("s")
        await wait_for(pilot, lambda: not isinstance(app.screen, ColourPicker), 5, "closed")
        assert "Nothing sent to truck-02" in screen_text(app)
        assert len(sent(app)) == 1


def test_arming_counts_enter_only_once_the_prompt_stood_still() -> None:
    clock = FakeClock()
    arming = Arming(clock)
    assert arming.answer() is Answer.TOO_SOON
    clock.advance(ARM_DELAY - 0.01)
    assert arming.answer() is Answer.TOO_SOON and arming.remaining() == pytest.approx(0.01)
    clock.advance(0.01)
    assert arming.answer() is Answer.SEND
    arming.changed()
    assert arming.answer() is Answer.TOO_SOON
    clock.advance(ARM_DELAY)
    assert arming.armed()


def test_drafts_are_kept_per_truck_and_an_empty_one_is_not_kept() -> None:
    drafts = Drafts()
    assert drafts.switch(None, "", "truck-01") == ""
    assert drafts.switch("truck-01", "Turn left", "truck-02") == ""
    assert drafts.held("truck-01") == "Turn left"
    assert drafts.switch("truck-02", "", "truck-01") == "Turn left"
    assert len(drafts) == 0, "the draft shown is the composer's, not a copy"
    assert drafts.switch("truck-01", "Turn left", "truck-01") == "Turn left"
    assert drafts.switch("truck-01", "Turn right", None) == ""
    assert drafts.held("truck-01") == "Turn right"
