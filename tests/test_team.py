"""HQ is a team: dashboards on one data directory share one outbox and one live picture."""

from __future__ import annotations

import time
from pathlib import Path

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LocationReceived
from mwm_tui.ui.app import MwmApp
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import driven, log_text, send_from_prompt, wait_for


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
        # What became of it, as the leader wrote it, is in the sender's log too.
        await wait_for(pilot2, lambda: f"{line} sending" in log_text(d2), 5, "d1's sending line")
        assert seen_after < 1.0, seen_after
