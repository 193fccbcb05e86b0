"""HQ is a team: dashboards on one data directory share one outbox and one live picture."""

from __future__ import annotations

import time
from pathlib import Path

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged, LocationReceived
from mwm_tui.domain.leaving import quit_question
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens.quit_prompt import QuitPrompt
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import driven, log_text, screen_text, send_from_prompt, wait_for


def dashboard(data_dir: Path, name: str) -> MwmApp:
    settings = Settings(data_dir=str(data_dir))
    return create_app(settings, links=recording_links, tune_gc=False, dispatcher_name=name)


def orders_sent(app: MwmApp) -> list[tuple[str, str, str]]:
    link = app.stomp_link
    assert isinstance(link, RecordingLink)
    return link.sent


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
        await pilot2.press("o", *"go to Orly, not Rungis", "enter")
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
        leader.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.DOWN, "refused"))
        await wait_for(pilot2, lambda: "STOMP ▼" in screen_text(leader), 5, "STOMP down")
        async with driven(d1) as pilot1:
            assert leader.dispatcher.leading and not d1.dispatcher.leading
            d1.inbox.put(LocationReceived(Position("truck-07", 48.85, 2.35)))
            await wait_for(pilot1, lambda: d1.device_list.selected == "truck-07", 5, "a truck")
            await pilot1.press("o", *"Call HQ", "enter")
            await send_from_prompt(pilot1, d1)
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
