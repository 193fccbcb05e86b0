"""mwm-tui replay: a record file through in-process links, keys to pause, step, speed and jump."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mwm_tui.adapters.recording import RecordReader, encode_payload, record_line
from mwm_tui.adapters.replay import (
    NOT_SENT,
    ReplayClock,
    ReplayMqttLink,
    ReplayPlayer,
    ReplayStompLink,
    parse_jump,
    record_event,
)
from mwm_tui.composition import create_app, create_replay_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    DeviceNotice,
    Event,
    Failure,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    OrderOutcome,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.ui.replay import REFUSED, ReplayApp
from mwm_tui.ui.screens import HelpScreen, help_table
from mwm_tui.ui.widgets.replay_bar import ReplayBar, replay_stamp
from tests.support.ui import driven, list_text, screen_text, type_text, wait_for

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 30, 14, 0, tzinfo=UTC).timestamp()


def location(truck: str, at: float, lat: float) -> dict[str, Any]:
    fix = Position(truck, lat, 2.35, datetime.fromtimestamp(at, UTC).replace(microsecond=0))
    return {
        "at": at,
        "kind": "message",
        "link": "STOMP",
        "source": ids.location_destination(truck),
        **encode_payload(codecs.encode_location(fix)),
    }


def motion(truck: str, at: float) -> dict[str, Any]:
    payload = codecs.encode_motion(Motion(0.1, 0.2, at - START))
    return {
        "at": at,
        "kind": "message",
        "link": "MQTT",
        "source": ids.motion_topic(truck),
        **encode_payload(payload),
    }


def shift_records() -> list[dict[str, Any]]:
    """rp-a and rp-b drive for 10 minutes; rp-c only from 0:30 to 2:00; rp-b dies at 7:00."""
    records: list[dict[str, Any]] = []
    for second in range(0, 600, 2):
        at = START + second
        records.append(location("rp-a", at, 48.80 + second * 1e-4))
        records.append(motion("rp-a", at + 0.5))
        if second <= 420:
            records.append(location("rp-b", at + 0.1, 48.90 - second * 1e-4))
        if 30 <= second <= 120:
            records.append(location("rp-c", at + 0.2, 48.85))
    will = codecs.encode_will("rp-b")
    records.append(
        {"at": START + 421, "kind": "message", "link": "MQTT", "source": ids.WILL_TOPIC}
        | encode_payload(will)
    )
    records += [
        {"at": START + 200, "kind": "sent", "what": "order", "device": "rp-a", "body": "depot"}
        | {"id": "order-1", "dispatch": "d1"},
        {"at": START + 200.05, "kind": "outcome", "id": "order-1", "device": "rp-a"}
        | {"delivery": "confirmed", "detail": "receipt"},
    ]
    return sorted(records, key=lambda record: record["at"])


def write_shift(path: Path) -> Path:
    path.write_text("".join(record_line(record) for record in shift_records()), encoding="ascii")
    return path


def test_jump_times_read_as_offsets_clock_times_and_iso() -> None:
    now = START + 100
    assert parse_jump("+90s", now) == now + 90
    assert parse_jump("-5m", now) == now - 300
    assert parse_jump("+1h", now) == now + 3600
    local = datetime.fromtimestamp(now).astimezone()
    expected = local.replace(hour=9, minute=5, second=30, microsecond=0).timestamp()
    assert parse_jump("09:05:30", now) == expected
    assert parse_jump("2026-11-30T14:05:00+00:00", now) == START + 300
    with pytest.raises(ValueError, match="is not"):
        parse_jump("\x1b[2J soon", now)


def test_records_decode_through_the_live_path() -> None:
    records = shift_records()
    first = record_event(records[0])
    assert isinstance(first, LocationReceived) and first.position.device_id == "rp-a"
    moved = record_event(next(r for r in records if r["link"] == "MQTT"))
    assert isinstance(moved, MotionReceived) and moved.motion == Motion(0.1, 0.2, 0.5)
    hostile = {"at": START, "kind": "message", "link": "MQTT", "source": "/mwm/x/motion"}
    rejected = record_event(hostile | encode_payload(b"\xff\x1b[2J"))
    assert isinstance(rejected, MessageRejected) and rejected.reason is RejectReason.WRONG_LENGTH
    assert record_event({"at": START, "kind": "message", "link": "MQTT", "b64": "!!"}) is None
    sent = record_event(next(r for r in records if r["kind"] == "sent"))
    assert sent == DeviceNotice("rp-a", "HQ sent order: depot")


def test_the_clock_pauses_runs_at_speed_and_pins() -> None:
    real = [0.0]
    clock = ReplayClock(START, monotonic=lambda: real[0])
    assert clock.paused and clock() == START
    clock.resume()
    real[0] = 2.0
    assert clock() == START + 2
    clock.set_speed(30)
    real[0] = 3.0
    assert clock() == START + 32
    with clock.pinned(START + 1):
        assert clock() == START + 1
        assert clock.running() == START + 32
    clock.pause()
    real[0] = 10.0
    assert clock() == START + 32


def test_replay_links_send_nothing_and_say_so() -> None:
    events: list[Event] = []
    player = ReplayPlayer(shift_records(), "shift.jsonl")
    order_id = ReplayStompLink(player, events.append).send_order("rp-a", "go")
    alert_id = ReplayMqttLink(player, events.append).send_alert("rp-a", "red")
    assert events == [
        OrderOutcome(order_id, "rp-a", Delivery.FAILED, NOT_SENT, Failure.NOT_SENT),
        AlertOutcome(alert_id, "rp-a", "red", Delivery.FAILED, NOT_SENT, Failure.NOT_SENT),
    ]


def test_stepping_plays_one_record_at_its_time() -> None:
    events: list[Event] = []
    player = ReplayPlayer(shift_records(), "shift.jsonl")
    player.start_paused = True
    player.attach(ReplayStompLink.name, events.append)
    try:
        assert player.step_message()
        assert len(events) == 1 and player.clock() == START and player.clock.paused
        played = player.step_seconds(1.0)
        assert played == 2 and player.clock() == START + 1  # rp-b at 0.1 s, rp-a motion 0.5 s
        assert isinstance(events[-1], MotionReceived)
    finally:
        player.attach(ReplayStompLink.name, None)


def bar_text(app: ReplayApp) -> str:
    return app.query_one(ReplayBar).line().plain


def status(app: ReplayApp, truck: str) -> DeviceStatus | None:
    device = app.fleet.devices.get(truck)
    return device.status if device is not None else None


async def test_a_shift_replays_with_pause_step_speed_and_jumps(tmp_path: Path) -> None:
    path = write_shift(tmp_path / "shift.jsonl")
    reader = RecordReader.load([path])
    app = create_replay_app(Settings(), [path], reader, tune_gc=False)
    app.player.start_paused = True
    async with driven(app, notifications=True) as pilot:
        await wait_for(pilot, lambda: "REPLAY" in bar_text(app), 5, "the replay line")
        assert "PAUSED" in bar_text(app) and replay_stamp(START) in bar_text(app)
        assert app.fleet.devices == {}

        await pilot.press("full_stop")
        await wait_for(pilot, lambda: "rp-a" in app.fleet.devices, 5, "one record stepped")
        assert list(app.fleet.devices) == ["rp-a"]

        await pilot.press("J")
        await type_text(pilot, "+300s")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.fleet.devices) == 3, 5, "the jump to 5:00")
        assert app.player.clock() == START + 300
        assert status(app, "rp-a") is DeviceStatus.ONLINE
        assert status(app, "rp-b") is DeviceStatus.ONLINE
        assert status(app, "rp-c") is DeviceStatus.OFFLINE, "silent since 2:00"
        assert replay_stamp(START + 300) in bar_text(app)
        fix = app.fleet.devices["rp-a"].position
        assert fix is not None and fix.lat == pytest.approx(48.80 + 300 * 1e-4)

        await pilot.press("J")
        await type_text(pilot, "-299s")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.player.clock() == START + 1, 5, "the jump back")
        assert sorted(app.fleet.devices) == ["rp-a", "rp-b"], "rp-c was not heard of yet"
        assert status(app, "rp-a") is DeviceStatus.ONLINE

        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        assert app.player.clock.speed == 10 and "x10" in bar_text(app)
        await pilot.press("left_square_bracket")
        assert app.player.clock.speed == 5
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await pilot.press("right_square_bracket")
        assert app.player.clock.speed == 60

        await pilot.press("left_square_bracket")
        assert app.player.clock.speed == 30
        await pilot.press("right_square_bracket")
        assert app.player.clock.speed == 60

        await pilot.press("space")
        await wait_for(pilot, lambda: app.player.clock() > START + 130, 10, "playing at x60")
        await wait_for(pilot, lambda: status(app, "rp-c") is DeviceStatus.STALE, 10, "rp-c stale")
        await pilot.press("space")
        assert app.player.clock.paused and "PAUSED" in bar_text(app)

        await pilot.press("J")
        await type_text(pilot, time.strftime("%H:%M:%S", time.localtime(START + 450)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.player.clock() == START + 450, 5, "a clock-time jump")
        assert status(app, "rp-b") is DeviceStatus.OFFLINE, "its will at 7:01"
        retold = [e for e in app.event_log.entries if "HQ sent order" in e]
        assert retold == [], "a jump applies records, it does not retell them"

        orders_before = app.dispatcher.outcomes.total()
        await pilot.press("o")
        await pilot.press("a")
        await pilot.pause(0.2)
        refused = [n for n in app._notifications if n.message == REFUSED]
        assert len(refused) == 2
        assert app.dispatcher.unsettled() == 0 and app.dispatcher.outcomes.total() == orders_before
        assert app.focused is app.device_list


async def test_notices_of_orders_sent_then_show_in_the_log_while_playing(tmp_path: Path) -> None:
    path = write_shift(tmp_path / "shift.jsonl")
    app = create_replay_app(Settings(), [path], RecordReader.load([path]), tune_gc=False)
    app.player.clock.set_speed(60)
    async with driven(app) as pilot:
        await wait_for(
            pilot,
            lambda: any("rp-a: HQ sent order: depot" in e for e in app.event_log.entries),
            15,
            "the order sent at 3:20",
        )
        await wait_for(
            pilot,
            lambda: any(
                "rp-a: broker's answer: confirmed (receipt)" in e for e in app.event_log.entries
            ),
            5,
            "its outcome",
        )
        assert app.player.clock() >= START + 200
        stamp = time.strftime("%H:%M:", time.localtime(START + 200))
        assert any(e.startswith(stamp) for e in app.event_log.entries), "log times are replay times"


async def test_replay_keys_are_in_the_help_and_only_active_in_a_replay(tmp_path: Path) -> None:
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(help_table())
    shown = console.export_text()
    assert "Replay (mwm-tui replay)" in shown and "Space  " in shown
    assert "Pause or resume the replay" in shown and "Jump to a time" in shown
    path = write_shift(tmp_path / "shift.jsonl")
    app = create_replay_app(Settings(), [path], RecordReader.load([path]), tune_gc=False)
    async with driven(app) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
        assert app.check_action("replay_pause", ()) is False, "not over the help"
        await pilot.press("escape")
        assert app.check_action("replay_pause", ()) is True
        assert not app.player.clock.paused
        await pilot.press("ctrl+p")
        await type_text(pilot, "pause")
        await wait_for(pilot, lambda: "Pause or resume the" in screen_text(app), 5, "the palette")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.player.clock.paused, 5, "paused from the palette")
    live = create_app(Settings(demo=True, devices=2), tune_gc=False)
    async with driven(live):
        assert live.check_action("replay_pause", ()) is False
        offered = [command.title for command in live.get_system_commands(live.screen)]
        assert "Quit" in offered and "Pause" not in offered and "Jump" not in offered


def test_replay_of_a_missing_or_empty_file_is_one_clear_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n", encoding="ascii")
    for target, said in (
        (tmp_path / "missing.jsonl", "cannot read the record"),
        (empty, "nothing to replay in"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "mwm_tui.cli", "replay", str(target)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 2
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mwm-tui replay: error: ")
        assert said in lines[0]


async def test_a_replay_in_ascii_draws_ascii_only_jump_screen_included(tmp_path: Path) -> None:
    path = write_shift(tmp_path / "shift.jsonl")
    settings = Settings(ascii=True)
    app = create_replay_app(settings, [path], RecordReader.load([path]), tune_gc=False)
    app.player.clock.set_speed(10)
    async with driven(app, (100, 30)) as pilot:
        await wait_for(
            pilot,
            lambda: "x10  playing" in screen_text(app) and "rp-b" in list_text(app),
            10,
            "the replayed fleet, on screen",
        )
        screen = screen_text(app)
        assert screen.isascii(), screen
        assert " REPLAY  2026-11-30 " in screen and "* online  rp-b" in screen, screen
        await pilot.press("J")
        await wait_for(pilot, lambda: "+- jump to -" in screen_text(app), 5, "the jump screen")
        await type_text(pilot, "+5x")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is not +90s" in screen_text(app), 5, "the problem shown")
        screen = screen_text(app)
        assert screen.isascii(), screen
        assert "'+5x' is not +90s" in screen, screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 5, "jump cancelled")


def fleet_after_jump(records: list[dict[str, Any]], target: float, horizon: float) -> Fleet:
    player = ReplayPlayer(records, "shift.jsonl")
    fleet = Fleet(clock=player.clock)

    def apply(at: float, event: Event) -> None:
        with player.clock.pinned(at):
            fleet.apply(event)

    player.jump(target, apply, horizon=horizon)
    fleet.sweep()
    return fleet


def test_a_jump_applies_only_what_a_fleet_keeps_and_ends_in_the_same_state(tmp_path: Path) -> None:
    path = write_shift(tmp_path / "shift.jsonl")
    lines = RecordReader.load([path]).records
    for records in (shift_records(), lines):
        player = ReplayPlayer(records, "shift.jsonl", lines.times)
        applied = player.jump(START + 500, lambda at, event: None, horizon=120)
        assert applied < len(lines.times) / 2
    full = fleet_after_jump(shift_records(), START + 500, horizon=10_000)
    quick = fleet_after_jump(shift_records(), START + 500, horizon=60)
    assert sorted(full.devices) == sorted(quick.devices) == ["rp-a", "rp-b", "rp-c"]
    for truck, device in full.devices.items():
        other = quick.devices[truck]
        assert (device.status, device.last_location_at, device.last_motion_at) == (
            other.status,
            other.last_location_at,
            other.last_motion_at,
        )
        assert device.trail() == other.trail()
        assert device.yaw.values() == other.yaw.values()
    assert quick.devices["rp-b"].status is DeviceStatus.OFFLINE  # its will, before the horizon


async def test_the_composer_of_a_replay_says_nothing_can_be_sent(tmp_path: Path) -> None:
    path = write_shift(tmp_path / "shift.jsonl")
    app = create_replay_app(Settings(), [path], RecordReader.load([path]), tune_gc=False)
    async with driven(app) as pilot:
        await wait_for(pilot, lambda: app.device_list.selected is not None, 10, "a truck")
        await pilot.pause(0.2)
        shown = screen_text(app)
        assert "a replay: nothing can be sent from here" in shown, shown
        assert "press o to write an order" not in shown
        await pilot.press("o")
        await pilot.pause(0.1)
        assert not app.composer.order_input.has_focus
        assert "a replay: nothing can be sent from here" in screen_text(app)
