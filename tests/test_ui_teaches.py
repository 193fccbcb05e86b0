"""The dashboard says why: an empty list's reason, `r` with nothing to reconnect, and the
broker a lost link was on."""

from __future__ import annotations

import re

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged, LocationReceived
from mwm_tui.ui.app import MwmApp
from tests.support.links import recording_links
from tests.support.ui import driven, list_text, screen_text, wait_for


def first_row(app: MwmApp) -> str:
    return list_text(app).splitlines()[1].strip()


def lost(name: LinkName, broker: str) -> LinkStateChanged:
    return LinkStateChanged(name, LinkState.DOWN, "connection refused", 2.0, broker)


async def test_an_empty_list_says_why_and_r_with_both_links_up_says_so() -> None:
    app = create_app(Settings(), links=recording_links, tune_gc=False)
    async with driven(app, (160, 40), notifications=True) as pilot:
        waiting = "no trucks yet: waiting for the first message on STOMP and MQTT"
        await wait_for(pilot, lambda: first_row(app) == waiting, 5, "the wait said")
        await pilot.press("r")
        said = "Both links are up; nothing to reconnect."
        await wait_for(pilot, lambda: said in screen_text(app), 5, "r answered")

        app.inbox.put(lost(LinkName.STOMP, "stomp://hq@b.example:61613"))
        app.inbox.put(lost(LinkName.MQTT, "mqtt://c.example:1883"))
        down = "no trucks yet: no broker link is up (r retries now); the status bar says more"
        await wait_for(pilot, lambda: first_row(app) == down, 5, "no link said")
        app.status_bar.styles.width = 400  # wide enough for every detail
        await pilot.pause(0.1)
        bar = app.status_bar.render().plain
        lost_at = r"▼ lost \d\d:\d\d:\d\d at"
        assert re.search(rf"STOMP {lost_at} b\.example:61613, positions as of then", bar), bar
        assert re.search(rf"MQTT {lost_at} c\.example:1883, motion as of then", bar), bar
        # Trying again, the bar names the broker it tries; a connecting event may name none.
        app.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.CONNECTING, "connecting"))
        await wait_for(
            pilot,
            lambda: "as of then trying b.example:61613" in app.status_bar.render().plain,
            5,
            "the broker kept while connecting",
        )

        app.inbox.put(LinkStateChanged(LinkName.STOMP, LinkState.UP, "connected", None, "s://b"))
        app.inbox.put(LocationReceived(Position("truck-1", 48.85, 2.35)))
        await wait_for(pilot, lambda: first_row(app).startswith("●"), 5, "truck-1 listed")
        await pilot.press("slash", "z", "z", "z", "enter")
        nothing = "no truck matches “zzz” (Esc clears the filter)"
        await wait_for(pilot, lambda: first_row(app) == nothing, 5, "the filter said")
