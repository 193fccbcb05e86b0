"""Helpers for Pilot tests: wait on a condition, read panes as plain text."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot

from mwm_tui.ui.app import MwmApp
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


def log_text(app: MwmApp) -> str:
    """Every entry of the event log, one per line, as written (before wrapping)."""
    return "\n".join(app.query_one(EventLog).entries)


def list_text(app: MwmApp) -> str:
    """The device list as drawn: header and every visible row."""
    devices = app.query_one(DeviceList)
    return "\n".join(devices.render_line(y).text for y in range(devices.size.height))
