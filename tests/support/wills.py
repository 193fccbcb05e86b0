"""Scenes on a stopped clock that need a truck offline by its will."""

from __future__ import annotations

from mwm_tui.domain.events import WillReceived
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.freshness import LinkView


def believe_will(fleet: Fleet, device_id: str) -> None:
    """Apply ``device_id``'s will as one believed at once.

    On a clock that stands still, a will always comes "within a second" of the truck's data
    and is held (``domain/wills.py``); with HQ's links seen down for that one call, the data
    proves nothing and the will is believed, as after a silence. The links are then as before.
    """
    views = dict(fleet.links)
    fleet.links = {name: LinkView(False, view.since) for name, view in views.items()}
    fleet.apply(WillReceived(device_id))
    fleet.links = views
