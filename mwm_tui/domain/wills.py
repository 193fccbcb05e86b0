"""How much a last will on ``/mwm/lastWill`` is believed: any client may publish one.

A will names a truck, nothing more: no signature, no time. HQ weighs it against what the truck
itself says (docs/PROTOCOL.md#weighing-a-last-will):

- a will for an id HQ has never heard live is ignored: it adds no truck;
- a live will that finds the truck silent for the last ``SPOKE_BEFORE`` seconds (on every link
  that is up) takes it offline at once;
- a live will within ``SPOKE_BEFORE`` of the truck's own data is disputed and held: it takes
  the truck offline only once the truck has stayed silent ``HOLD`` seconds after it;
- the truck's own live data within ``HOLD`` after a will disputes it: the truck stays (or is
  again) online;
- a retained will has no time: it explains only a silence HQ already sees, so it takes
  offline only a truck remembered from an earlier run, silent since HQ started and for at
  least ``stale_after`` before that.

Pure: the fleet hands in its times (one monotonic clock) and keeps the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .device import Device

__all__ = [
    "HOLD",
    "SPOKE_BEFORE",
    "LiveData",
    "WillBook",
    "WillNote",
    "WillVerdict",
    "disputed_after",
    "weigh_live_will",
    "weigh_retained_will",
]

# Seconds: the truck's own data this close before a will disputes it.
SPOKE_BEFORE = 1.0
# Seconds a disputed will waits for silence, and after which the truck's data no longer disputes.
HOLD = 3.0


class WillVerdict(StrEnum):
    OFFLINE = "offline"  # believed: the truck goes offline now
    HELD = "held"  # disputed by data just before it: offline only after HOLD s of silence
    DISPUTED = "disputed"  # the truck's own data contradicts it: it changes nothing
    IGNORED = "ignored"  # no truck HQ has heard live: nothing to take offline


@dataclass(frozen=True, slots=True)
class LiveData:
    """When HQ last received the truck's fix and live motion (clock time, None: never) and
    whether the link each came on is up now."""

    fix_at: float | None
    motion_at: float | None
    stomp_up: bool
    mqtt_up: bool

    def newest_on_up_links(self) -> float | None:
        heard = [
            at
            for at, up in ((self.fix_at, self.stomp_up), (self.motion_at, self.mqtt_up))
            if at is not None and up
        ]
        return max(heard, default=None)


@dataclass(frozen=True, slots=True)
class WillNote:
    """A will HQ weighed, for the log and the history: the truck, the verdict and why."""

    device_id: str
    verdict: WillVerdict
    text: str


def weigh_live_will(now: float, data: LiveData) -> tuple[WillVerdict, str]:
    """The verdict on a will received live at ``now`` for a truck HQ has heard live, and why."""
    if data.fix_at is None and data.motion_at is None:
        return WillVerdict.IGNORED, "will for a truck never heard live: ignored"
    newest = data.newest_on_up_links()
    if newest is not None and now - newest <= SPOKE_BEFORE:
        ago = max(now - newest, 0.0)
        return (
            WillVerdict.HELD,
            f"disputed will: the truck spoke {ago:.1f} s before it; "
            f"offline only if silent for {HOLD:.0f} s",
        )
    return WillVerdict.OFFLINE, "last will: went away"


def disputed_after(will_at: float, heard_at: float) -> bool:
    """True when the truck's own data at ``heard_at`` contradicts its will of ``will_at``."""
    return 0.0 <= heard_at - will_at <= HOLD


def weigh_retained_will(
    now: float,
    *,
    known: bool,
    heard_since_start: bool,
    last_heard: float | None,
    stale_after: float,
) -> tuple[WillVerdict, str]:
    """The verdict on a retained will (published before HQ subscribed, at an unknown time).

    ``known``: HQ remembers the truck; ``heard_since_start``: it sent live data in this run;
    ``last_heard``: its newest live message (clock time, an earlier run's for a remembered one).
    """
    if not known or last_heard is None:
        return WillVerdict.IGNORED, "retained will for a truck never heard live: ignored"
    if heard_since_start:
        return WillVerdict.DISPUTED, "disputed will: retained, older than the truck's live data"
    if now - last_heard < stale_after:
        return (
            WillVerdict.DISPUTED,
            f"disputed will: retained, of unknown age, and the truck spoke "
            f"{now - last_heard:.0f} s ago",
        )
    return WillVerdict.OFFLINE, "last will: retained, of unknown age; silent since"


class WillBook:
    """The fleet's wills in weighing: those held, and the notes for the log and history."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        # Wills for ids never heard live: they add no truck.
        self.ignored = 0
        # Wills disputed by data just before them: id -> clock time, confirmed by silence.
        self.held: dict[str, float] = {}
        self.notes: list[WillNote] = []

    def weigh(
        self, device: Device, now: float, *, retained: bool, stomp_up: bool, mqtt_up: bool
    ) -> WillVerdict:
        """The verdict on a will for ``device``, noted; the fleet takes it offline on OFFLINE."""
        if retained:
            verdict, text = weigh_retained_will(
                now,
                known=True,
                heard_since_start=not device.last_known,
                last_heard=device.last_seen,
                stale_after=self.stale_after,
            )
        else:
            data = LiveData(device.last_location_at, device.last_motion_at, stomp_up, mqtt_up)
            verdict, text = weigh_live_will(now, data)
        if verdict is WillVerdict.IGNORED:
            self.ignored += 1
        elif verdict is WillVerdict.HELD and device.device_id in self.held:
            pass  # already held: the first will's hold runs on
        else:
            self.notes.append(WillNote(device.device_id, verdict, text))
            if verdict is WillVerdict.HELD:
                self.held[device.device_id] = now
            elif verdict is WillVerdict.OFFLINE:
                self.held.pop(device.device_id, None)
        return verdict

    def spoke(self, device_id: str, now: float) -> None:
        """The truck's live data: a will held for it is disputed."""
        will_at = self.held.pop(device_id, None)
        if will_at is not None:
            self._disputed(device_id, now - will_at)

    def back_reason(self, device: Device, now: float) -> str:
        """Why a truck offline and now heard live is online: its will disputed, or just back."""
        will_at, device.will_at = device.will_at, None
        if will_at is None or not disputed_after(will_at, now):
            return "heard from again"
        self._disputed(device.device_id, now - will_at)
        return "disputed will"

    def confirmed(self, now: float) -> list[tuple[str, float]]:
        """(id, will time) of the held wills whose truck stayed silent ``HOLD`` s: believed."""
        due = [(device_id, at) for device_id, at in self.held.items() if now - at >= HOLD]
        for device_id, at in due:
            del self.held[device_id]
            text = f"last will: went away (silent {now - at:.0f} s after it)"
            self.notes.append(WillNote(device_id, WillVerdict.OFFLINE, text))
        return due

    def take_notes(self) -> list[WillNote]:
        notes, self.notes = self.notes, []
        return notes

    def _disputed(self, device_id: str, after: float) -> None:
        text = f"disputed will: the truck spoke {after:.1f} s after it"
        self.notes.append(WillNote(device_id, WillVerdict.DISPUTED, text))
