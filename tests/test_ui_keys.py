"""Keys and rendering with links that connect at once and record what they send."""

from __future__ import annotations

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived, WillReceived
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker, HelpScreen
from mwm_tui.ui.widgets.composer import OrderInput
from mwm_tui.ui.widgets.motion_panel import MotionPanel
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import list_text, log_text, send_from_prompt, type_text, wait_for, write_order

HOSTILE_MARKUP = "[red]x[/red]"
HOSTILE_ESCAPE = "evil\x1b[2J"


def make_app() -> MwmApp:
    return create_app(Settings(), links=recording_links, tune_gc=False)


def feed(app: MwmApp, *device_ids: str) -> None:
    for number, device_id in enumerate(device_ids):
        app.inbox.put(LocationReceived(Position(device_id, 48.85 + number / 100, 2.35)))
        app.inbox.put(MotionReceived(device_id, Motion(0.1, -0.2, 0.3)))


def sent(app: MwmApp) -> list[tuple[str, str, str]]:
    stomp = app.stomp_link
    mqtt = app.mqtt_link
    assert isinstance(stomp, RecordingLink) and isinstance(mqtt, RecordingLink)
    return stomp.sent + mqtt.sent


async def test_list_moves_with_j_and_k_and_motion_follows() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "AAA", "BBB", "CCC")
        await wait_for(pilot, lambda: "CCC" in list_text(app), 2.0, "three rows")
        assert app.device_list.selected == "AAA"
        await pilot.press("j", "j")
        assert app.device_list.selected == "CCC"
        await pilot.press("k")
        assert app.device_list.selected == "BBB"
        panel = app.query_one(MotionPanel)
        assert panel.device_id == "BBB"
        shown = panel.render().plain
        assert "pitch" in shown and "+5.7°" in shown and "-11.5°" in shown and "+17.2°" in shown


async def test_order_from_composer_goes_to_the_selected_device_only() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "AAA", "BBB")
        await wait_for(pilot, lambda: "BBB" in list_text(app), 2.0, "two rows")
        await pilot.press("j", "o")
        await type_text(pilot, "qa? go north")  # letters that are keys elsewhere are text here
        await pilot.press("enter")
        await send_from_prompt(pilot, app)
        await wait_for(pilot, lambda: bool(sent(app)), 2.0, "the order to be sent")
        assert sent(app) == [("/queue/device.BBB.text", "BBB", "qa? go north")]
        assert app.is_running
        await pilot.press("up")
        assert app.query_one(OrderInput).value == "qa? go north"


async def test_the_alert_prompt_sends_red_or_the_picked_colour() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "AAA")
        await wait_for(pilot, lambda: "AAA" in list_text(app), 2.0, "a row")
        await pilot.press("a")
        assert isinstance(app.screen, ColourPicker)
        await send_from_prompt(pilot, app)
        await wait_for(pilot, lambda: len(sent(app)) == 1, 2.0, "the red alert")
        await pilot.press("a")
        assert isinstance(app.screen, ColourPicker)
        await pilot.press("down", "down")  # red, orange, yellow
        await send_from_prompt(pilot, app)
        await wait_for(pilot, lambda: len(sent(app)) == 2, 2.0, "the picked alert")
        assert sent(app) == [
            ("/mwm/AAA/alert", "AAA", "red"),
            ("/mwm/AAA/alert", "AAA", "yellow"),
        ]


async def test_filter_keeps_matches_and_escape_clears_it() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, "alpha-1", "bravo-2", "alpha-3")
        await wait_for(pilot, lambda: "alpha-3" in list_text(app), 2.0, "three rows")
        await pilot.press("j", "/")
        await type_text(pilot, "alpha")
        await pilot.press("enter")
        assert app.device_list.row_ids == ["alpha-1", "alpha-3"]
        assert app.device_list.selected == "alpha-1"
        assert app.focused is app.device_list
        await pilot.press("/", "escape")
        assert len(app.device_list.row_ids) == 3

        app.inbox.put(WillReceived("bravo-2"))
        bravo = app.fleet.devices["bravo-2"]
        await wait_for(pilot, lambda: bravo.status is DeviceStatus.OFFLINE, 5.0, "its will")
        await pilot.press("/")
        await type_text(pilot, "offline")
        await pilot.press("enter")
        assert app.device_list.row_ids == ["bravo-2"]


async def test_help_lists_the_keys_and_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_hostile_ids_render_literally_and_cannot_be_addressed() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        feed(app, HOSTILE_MARKUP, HOSTILE_ESCAPE)
        await wait_for(pilot, lambda: HOSTILE_MARKUP in list_text(app), 2.0, "hostile rows")
        screen = list_text(app)
        assert "evil\\x1b[2J" in screen
        assert "\x1b" not in screen
        assert app.device_list.selected == HOSTILE_MARKUP
        await pilot.press("a")
        await pilot.pause(0.2)
        assert sent(app) == []  # '/' in the id: refused before anything is sent
        await write_order(pilot, "x")
        await pilot.pause(0.2)
        assert sent(app) == []
        assert "evil\\x1b[2J" in log_text(app)


async def test_every_keyed_action_is_in_the_command_palette() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)):
        titles = {command.title for command in app.get_system_commands(app.screen)}
    for expected in ("Order", "Alert…", "Filter", "Fit", "Zoom in", "Follow", "Help"):
        assert expected in titles
