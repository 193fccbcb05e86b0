"""HQ is a team: dashboards on one data directory share one outbox and one live picture."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from mwm_tui.cli import main
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.domain.leaving import quit_question
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import ColourPicker, DeviceDetail, OrderPrompt
from mwm_tui.ui.screens.quit_prompt import QuitPrompt
from mwm_tui.ui.screens.team import NotePrompt, SendAnyway
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import (
    driven,
    list_text,
    log_text,
    screen_dump,
    screen_text,
    send_from_prompt,
    type_text,
    wait_for,
    write_order,
)


def dashboard(data_dir: Path, name: str) -> MwmApp:
    settings = Settings(data_dir=str(data_dir))
    return create_app(settings, links=recording_links, tune_gc=False, dispatcher_name=name)


def orders_sent(app: MwmApp) -> list[tuple[str, str, str]]:
    link = app.stomp_link
    assert isinstance(link, RecordingLink)
    return link.sent


async def stomp_down(pilot: Pilot[None], app: MwmApp) -> None:
    """The dashboard's STOMP link goes down, as its status bar shows."""
    app.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.DOWN, "refused"))
    await wait_for(pilot, lambda: "STOMP ▼" in screen_text(app), 5, "STOMP down")


async def order_to_truck_07(pilot: Pilot[None], app: MwmApp, text: str) -> None:
    """truck-07 is heard of and selected, and ``text`` sent to it from the review."""
    app.inbox.put(LocationReceived(Position("truck-07", 48.85, 2.35)))
    await wait_for(pilot, lambda: app.device_list.selected == "truck-07", 5, "a truck")
    await write_order(pilot, text)
    await send_from_prompt(pilot, app)


async def test_an_order_from_one_dashboard_shows_in_the_other_with_its_sender(
    tmp_path: Path,
) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    async with driven(d1) as pilot1, driven(d2) as pilot2:
        assert d1.dispatcher.leading and not d2.dispatcher.leading
        await wait_for(pilot2, lambda: "⇄ d1's dashboard sends" in screen_text(d2), 5, "d2's bar")
        assert "dashboard sends" not in screen_text(d1)
        await wait_for(pilot2, lambda: "the team's outbox is sent by d1's" in log_text(d2), 5, "")
        d2.inbox.put(LocationReceived(Position("truck-07", 48.85, 2.35)))
        await wait_for(pilot2, lambda: d2.device_list.selected == "truck-07", 5, "a truck")
        await write_order(pilot2, "go to Orly, not Rungis")
        await send_from_prompt(pilot2, d2)
        typed_at = time.monotonic()
        line = "d2: order to truck-07 (go to Orly, not Rungis)"
        await wait_for(pilot1, lambda: line in log_text(d1), 5, "the order in d1's log")
        seen_after = time.monotonic() - typed_at
        await wait_for(pilot1, lambda: bool(orders_sent(d1)), 5, "d1 sending it")
        assert orders_sent(d1) == [
            ("/queue/device.truck-07.text", "truck-07", "go to Orly, not Rungis")
        ]
        assert orders_sent(d2) == [], "only the leading dashboard sends"
        assert isinstance(d1.stomp_link, RecordingLink) and d1.stomp_link.senders == ["d2"]
        # What became of it, as the leader wrote it, is in the sender's log and composer too.
        await wait_for(pilot2, lambda: f"{line} sending" in log_text(d2), 5, "d1's sending line")
        status = str(d2.composer.query_one("#composer-status").render())
        assert f"{line} sending" in status, status
        assert seen_after < 1.0, seen_after


def test_the_quit_question_says_who_will_send_what_is_left() -> None:
    assert quit_question(0, alone=True, expiry=900) is None
    alone = quit_question(2, alone=True, expiry=900)
    assert alone is not None and alone.startswith("2 orders or alerts of yours are still")
    assert "no other dashboard is running" in alone and "expires 15 min after" in alone
    team = quit_question(1, alone=False, expiry=900)
    assert team == (
        "1 order or alert of yours is still in the outbox; "
        "the team's other dashboards will send them. Quit anyway?"
    )


async def test_quitting_with_an_order_queued_asks_once_and_the_team_sends_it(
    tmp_path: Path,
) -> None:
    leader, d1 = dashboard(tmp_path, "d2"), dashboard(tmp_path, "d1")
    async with driven(leader) as pilot2:
        await stomp_down(pilot2, leader)
        async with driven(d1) as pilot1:
            assert leader.dispatcher.leading and not d1.dispatcher.leading
            # d1's STOMP link down too: with it up, the lead would go to d1 (next test).
            await stomp_down(pilot1, d1)
            await order_to_truck_07(pilot1, d1, "Call HQ")
            await wait_for(pilot2, lambda: leader.dispatcher.unsettled() == 1, 5, "queued")
            await pilot1.press("escape", "q")
            await wait_for(pilot1, lambda: isinstance(d1.screen, QuitPrompt), 5, "the question")
            asked = d1.screen
            assert isinstance(asked, QuitPrompt)
            assert "the team's other dashboards will send them" in asked.question
            await pilot1.press("escape")
            await wait_for(pilot1, lambda: d1.screen is d1.screen_stack[0], 5, "staying")
            assert d1.is_running
            await pilot1.press("q")
            await wait_for(pilot1, lambda: isinstance(d1.screen, QuitPrompt), 5, "asked again")
            await pilot1.press("q")
            await wait_for(pilot1, lambda: not d1.is_running, 5, "d1 gone")
        assert orders_sent(leader) == []
        leader.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.UP, "back"))
        await wait_for(pilot2, lambda: bool(orders_sent(leader)), 5, "the order sent")
        assert orders_sent(leader) == [("/queue/device.truck-07.text", "truck-07", "Call HQ")]


async def test_a_leader_whose_link_is_down_hands_the_outbox_to_a_dashboard_whose_link_is_up(
    tmp_path: Path,
) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    async with driven(d1) as pilot1, driven(d2) as pilot2:
        assert d1.dispatcher.leading and not d2.dispatcher.leading
        await stomp_down(pilot1, d1)
        await order_to_truck_07(pilot2, d2, "Call HQ")
        queued_at = time.monotonic()
        await wait_for(pilot1, lambda: d1.dispatcher.unsettled() == 1, 10, "queued at d1")
        await wait_for(pilot2, lambda: bool(orders_sent(d2)), 8, "d2 sending it")
        taken_after = time.monotonic() - queued_at
        assert orders_sent(d2) == [("/queue/device.truck-07.text", "truck-07", "Call HQ")]
        assert orders_sent(d1) == []
        assert d2.dispatcher.leading and not d1.dispatcher.leading
        assert d1.dispatcher.unsettled() == 0
        handed = (
            "the team's outbox goes to another dashboard (its STOMP link is down and d2's is up)"
        )
        await wait_for(pilot1, lambda: handed in log_text(d1), 5, "d1 says why")
        await wait_for(pilot1, lambda: "⇄ d2's dashboard sends" in screen_text(d1), 5, "d1's bar")
        assert "leading: this dashboard now sends the team's outbox (1 taken up)" in log_text(d2)
        # Its STOMP link back, d1 follows on: the lead does not bounce back.
        d1.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.UP, "back"))
        await pilot1.pause(1.5)
        assert d2.dispatcher.leading and not d1.dispatcher.leading
        assert taken_after < 5.0, taken_after


def claimant_shown(app: MwmApp, device_id: str) -> str:
    """What the device list's ``by`` column shows for ``device_id`` ("" while nobody claims a
    truck: the list leaves the empty column out)."""
    header, *rows = list_text(app).splitlines()
    if " by " not in header and not app.device_list.shows_claims:
        return ""
    start = header.index(" by ") + 1
    for row in rows:
        if f" {device_id} " in row:
            return row[start : start + 8].strip()
    raise AssertionError(f"{device_id} not in the list:\n{list_text(app)}")


async def knows_truck_07(pilot: Pilot[None], app: MwmApp) -> None:
    app.inbox.put(LocationReceived(Position("truck-07", 48.85, 2.35)))
    await wait_for(pilot, lambda: app.device_list.selected == "truck-07", 5, "truck-07")


async def both_know_truck_07(
    pilot1: Pilot[None], d1: MwmApp, pilot2: Pilot[None], d2: MwmApp
) -> None:
    await knows_truck_07(pilot1, d1)
    await knows_truck_07(pilot2, d2)


async def test_a_claim_shows_in_the_other_dashboards_list_within_a_second(
    tmp_path: Path,
) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    # A wide screen: the list's by column comes after the angles.
    async with driven(d1) as pilot1, driven(d2, (160, 40)) as pilot2:
        await both_know_truck_07(pilot1, d1, pilot2, d2)
        assert claimant_shown(d2, "truck-07") == ""
        await pilot1.press("c")
        claimed_at = time.monotonic()
        await wait_for(pilot2, lambda: claimant_shown(d2, "truck-07") == "d1", 5, "d1 in d2's list")
        seen_after = time.monotonic() - claimed_at
        # On any width the composer names the claimant beside the truck.
        await wait_for(pilot2, lambda: "order to truck-07  d1's" in screen_text(d2), 5, "composer")
        assert "d1 claims truck-07" in log_text(d1)
        await wait_for(pilot2, lambda: "d1 claims truck-07" in log_text(d2), 5, "d2's log")
        assert seen_after < 1.0, seen_after
        # Pressed again by its claimant: released, everywhere.
        await pilot1.press("c")
        await wait_for(pilot2, lambda: claimant_shown(d2, "truck-07") == "", 5, "released")
        assert "d1 releases truck-07" in log_text(d2)


async def test_an_order_to_a_truck_another_claims_asks_once_and_esc_sends_nothing(
    tmp_path: Path,
) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    async with driven(d1) as pilot1, driven(d2) as pilot2:
        await both_know_truck_07(pilot1, d1, pilot2, d2)
        await pilot1.press("c")
        await wait_for(pilot2, lambda: d2.dispatcher.team.whose("truck-07") == "d1", 5, "claim")
        await write_order(pilot2, "go to Orly, not Rungis")
        await wait_for(pilot2, lambda: isinstance(d2.screen, SendAnyway), 5, "the question")
        assert "truck-07 is d1's: send anyway?" in screen_text(d2), screen_dump(d2)
        await pilot2.press("escape")
        await wait_for(pilot2, lambda: d2.screen is d2.screen_stack[0], 5, "the question gone")
        await pilot2.pause(0.5)
        assert d2.dispatcher.store.open_dispatches() == [] and orders_sent(d1) == []
        assert "order to truck-07" not in log_text(d1)
        # So does an alert: asked first, Esc, nothing.
        await pilot2.press("escape", "a")
        await wait_for(pilot2, lambda: isinstance(d2.screen, SendAnyway), 5, "asked for an alert")
        await pilot2.press("escape")
        await wait_for(pilot2, lambda: d2.screen is d2.screen_stack[0], 5, "the question gone")
        assert d2.dispatcher.store.open_dispatches() == []
        # Asked again, confirmed: the review opens, not a second question; its Enter sends.
        await pilot2.press("o")
        await pilot2.press("enter")
        await send_from_prompt(pilot2, d2)
        await wait_for(pilot2, lambda: isinstance(d2.screen, OrderPrompt), 5, "the review")
        await send_from_prompt(pilot2, d2)
        await wait_for(pilot1, lambda: bool(orders_sent(d1)), 5, "d1 sending it")
        assert orders_sent(d1) == [
            ("/queue/device.truck-07.text", "truck-07", "go to Orly, not Rungis")
        ]
        # Its claimant is not asked.
        await pilot1.press("a")
        await wait_for(pilot1, lambda: isinstance(d1.screen, ColourPicker), 5, "d1's alert prompt")


async def test_a_note_shows_in_the_other_dashboards_detail_and_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    async with driven(d1) as pilot1, driven(d2) as pilot2:
        await both_know_truck_07(pilot1, d1, pilot2, d2)
        await pilot1.press("enter")
        await wait_for(pilot1, lambda: isinstance(d1.screen, DeviceDetail), 5, "d1's details")
        assert "claimed by nobody" in screen_text(d1)
        await pilot2.press("n")
        await wait_for(pilot2, lambda: isinstance(d2.screen, NotePrompt), 5, "the note prompt")
        await type_text(pilot2, "gate 4 closed, use gate 6")
        await pilot2.press("enter")
        line = "d2's note on truck-07: gate 4 closed, use gate 6"
        await wait_for(pilot2, lambda: line in log_text(d2), 5, "the note in d2's log")
        await wait_for(pilot1, lambda: line in screen_text(d1), 5, "the note in d1's details")
        await wait_for(pilot1, lambda: line in log_text(d1), 5, "the note in d1's log")
    assert main(["history", "--data-dir", str(tmp_path), "--kind", "note", "--json"]) == 0
    records = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["by"], r["device"], r["text"]) for r in records] == [
        ("note", "d2", "truck-07", line)
    ]


async def test_an_offline_truck_acknowledged_from_the_log_tells_the_team(tmp_path: Path) -> None:
    d1, d2 = dashboard(tmp_path, "d1"), dashboard(tmp_path, "d2")
    async with driven(d1, notifications=True) as pilot1, driven(d2) as pilot2:
        await both_know_truck_07(pilot1, d1, pilot2, d2)
        await pilot1.press("e", "A")
        await wait_for(pilot1, lambda: "nothing to acknowledge" in screen_text(d1), 5, "refusal")
        d1.inbox.put(WillReceived("truck-07"))
        offline = DeviceStatus.OFFLINE
        await wait_for(pilot1, lambda: d1.fleet.devices["truck-07"].status is offline, 5, "")
        await pilot1.press("escape", "t", "A")
        line = "d1 is on it: truck-07 offline"
        await wait_for(pilot1, lambda: line in log_text(d1), 5, "the ack in d1's log")
        await wait_for(pilot2, lambda: line in log_text(d2), 5, "the ack in d2's log")
        # And from the other's detail screen, with who claims it and the lines of the team.
        await pilot2.press("c", "enter")
        await wait_for(pilot2, lambda: isinstance(d2.screen, DeviceDetail), 5, "d2's details")
        await wait_for(pilot2, lambda: "claimed by d2 since" in screen_text(d2), 5, "the claim")
        assert line in screen_text(d2), screen_dump(d2)
        # Acknowledged from the detail screen as well, once d2 too has it offline.
        d2.inbox.put(WillReceived("truck-07"))
        await wait_for(pilot2, lambda: d2.fleet.devices["truck-07"].status is offline, 5, "")
        await pilot2.press("A")
        from_d2 = "d2 is on it: truck-07 offline"
        await wait_for(pilot2, lambda: from_d2 in screen_text(d2), 5, "the ack in d2's details")
        await wait_for(pilot1, lambda: from_d2 in log_text(d1), 5, "d2's ack in d1's log")
