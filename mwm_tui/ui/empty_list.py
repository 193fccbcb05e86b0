"""Why the device list shows no truck: no link up, no message yet, or the filter."""

from __future__ import annotations

from collections.abc import Mapping

from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.text import literal


def why_empty(links: Mapping[LinkName, LinkStateChanged], known: int, filter_text: str) -> str:
    """One line for an empty list; ``known`` trucks are in the fleet, ``filter_text`` hides
    the ones that do not match it."""
    if known and filter_text.strip():
        shown = literal(filter_text.strip(), 40)
        return f"no truck matches “{shown}” (Esc clears the filter)"
    up = [name for name, event in links.items() if event.state is LinkState.UP]
    if not up:
        trying = any(event.state is LinkState.CONNECTING for event in links.values())
        doing = "connecting to the brokers" if trying else "no broker link is up (r retries now)"
        return f"no trucks yet: {doing}; the status bar says more"
    return f"no trucks yet: waiting for the first message on {' and '.join(up)}"
