"""Which dashboard of a team should send the outbox: one whose links are up.

Each running dashboard tells the team which of its links are up (``LinkReport``). The leader
hands the lead over when it holds dispatches its link cannot take, that link has been down a
while, and another dashboard has it up; a follower asks for the lead unless another dashboard
has a link up that its own lacks (that one should lead). With every link down everywhere, the
leader keeps the lead: nobody could do better, and the lead does not bounce.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .events import LinkName

# How long the leader's link must have been down, with dispatches waiting, before it hands over.
HAND_OVER_AFTER = 3.0


@dataclass(frozen=True, slots=True)
class LinkReport:
    """One running dashboard's links, as it last told the team."""

    session: str
    by: str
    up: frozenset[LinkName]


def hand_over_reason(
    now: float,
    waiting: Collection[LinkName],
    down_since: dict[LinkName, float],
    others: Iterable[LinkReport],
) -> str | None:
    """Why the leader should hand the lead over now, or None to keep it.

    ``waiting``: the links that queued dispatches need; ``down_since``: when each of the
    leader's down links went down (absent: up)."""
    reports = list(others)
    for link in sorted(waiting):
        since = down_since.get(link)
        if since is None or now - since < HAND_OVER_AFTER:
            continue
        for report in reports:
            if link in report.up:
                name = report.by or "another dashboard"
                return f"its {link} link is down and {name}'s is up"
    return None


def should_ask_for_lead(own_up: Collection[LinkName], others: Iterable[LinkReport]) -> bool:
    """A follower asks for the lead unless another dashboard has a link up that it lacks."""
    return not any(report.up - set(own_up) for report in others)
