"""A database the dashboard cannot write is on the status bar at once, and keeps no order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mwm_tui.adapters.store import Store, database_path
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LocationReceived
from tests.support.links import RecordingLink, recording_links
from tests.support.ui import driven, log_text, screen_text, send_from_prompt, wait_for, write_order


def read_only_store(data_dir: Path) -> Store:
    """The real file, opened read only: what a dispatcher without write access gets."""
    Store.open(data_dir).close()
    path = database_path(data_dir)
    connection = sqlite3.connect(
        f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
    )
    return Store(connection, path, None)


async def test_an_unwritable_outbox_shows_at_once_and_refuses_the_order(tmp_path: Path) -> None:
    store = read_only_store(tmp_path / "data")
    app = create_app(Settings(), links=recording_links, store=store, tune_gc=False)
    async with driven(app, (120, 40)) as pilot:
        await wait_for(
            pilot, lambda: "outbox cannot write" in screen_text(app), 3, "the status bar warning"
        )
        assert "readonly database" in log_text(app)
        app.inbox.put(LocationReceived(Position("truck-07", 48.85, 2.35)))
        await wait_for(pilot, lambda: app.device_list.selected == "truck-07", 5, "a truck")
        await write_order(pilot, "Go to Orly")
        await send_from_prompt(pilot, app)
        await wait_for(
            pilot, lambda: "the outbox cannot keep it" in log_text(app), 5, "the refusal"
        )
        stomp = app.stomp_link
        assert isinstance(stomp, RecordingLink) and stomp.sent == []
        assert app.dispatcher.unsettled() == 0
        assert "outbox cannot write" in screen_text(app)
