"""Who is on which truck: claims, notes and acknowledgements shared by the dispatchers of a team.

A truck is claimed by at most one dispatcher. Anyone may still order or alert a truck claimed
by someone else, but is asked once first (``send_question``). A note is a short line left on a
truck for the others; an acknowledgement says someone is on a truck gone stale or offline.
Every line names its dispatcher, so the history says who did what.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .fleet import DeviceStatus
from .text import literal

# The longest note kept: one line in the log, the detail screen and the history.
NOTE_MAX = 200
# Statuses that can be acknowledged: the truck needs someone.
NEEDS_SOMEONE = frozenset({DeviceStatus.STALE, DeviceStatus.OFFLINE})


class TeamKind(StrEnum):
    """History kinds of what the team did to a truck besides ordering and alerting it."""

    CLAIM = "claim"
    NOTE = "note"
    ACK = "ack"


@dataclass(frozen=True, slots=True)
class Claim:
    """``by`` has claimed ``device_id`` since ``at`` (wall clock)."""

    device_id: str
    by: str
    at: float


def whose(claims: Mapping[str, Claim], device_id: str) -> str | None:
    """The dispatcher who claims ``device_id``, or None when nobody does."""
    claim = claims.get(device_id)
    return claim.by if claim is not None else None


def send_question(claims: Mapping[str, Claim], device_id: str, me: str) -> str | None:
    """What to ask before ``me`` orders or alerts ``device_id``, or None: nothing to ask."""
    owner = whose(claims, device_id)
    if owner is None or owner == me:
        return None
    return f"{literal(device_id, 48)} is {literal(owner, 24)}'s: send anyway?"


def claim_after(claims: Mapping[str, Claim], device_id: str, me: str) -> str | None:
    """Who claims ``device_id`` once ``me`` presses claim: ``me``, or nobody if it was mine."""
    return None if whose(claims, device_id) == me else me


def claim_line(device_id: str, by: str, before: str | None, after: str | None) -> str:
    """The history line for a claim by ``by`` that took the truck from ``before`` to ``after``."""
    truck = literal(device_id, 48)
    if after is None:
        return f"{by} releases {truck}"
    if before is not None and before != after:
        return f"{by} claims {truck} (was {literal(before, 24)}'s)"
    return f"{by} claims {truck}"


def note_text(typed: str) -> str:
    """A note as kept: one line, spaces trimmed, at most ``NOTE_MAX`` characters ("" for none)."""
    return " ".join(typed.split())[:NOTE_MAX]


def note_line(device_id: str, by: str, text: str) -> str:
    return f"{by}'s note on {literal(device_id, 48)}: {literal(text, NOTE_MAX)}"


def ack_problem(device_id: str, status: DeviceStatus | None) -> str | None:
    """Why ``device_id`` cannot be acknowledged now, or None when it can."""
    if status is None:
        return f"HQ does not know {literal(device_id, 48)}"
    if status not in NEEDS_SOMEONE:
        return f"{literal(device_id, 48)} is {status}: nothing to acknowledge"
    return None


def ack_line(device_id: str, by: str, status: DeviceStatus) -> str:
    return f"{by} is on it: {literal(device_id, 48)} {status}"
