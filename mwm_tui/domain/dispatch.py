"""The life of one order or alert, from the dispatcher's key to its last known outcome.

queued -> sending -> accepted (truck listening, or online) | waiting (at the broker for the
truck) | failed (refused) | expired (never sent in time). A send that ends without a receipt
or PUBACK goes back to queued; when it may have arrived all the same, the resend is marked as a
possible duplicate. Pure: every time is passed in (epoch seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from .events import Delivery, Failure
from .text import literal

DEFAULT_EXPIRY = 900.0


class Kind(StrEnum):
    ORDER = "order"
    ALERT = "alert"


class Stage(StrEnum):
    QUEUED = "queued"  # kept at HQ until its link is up
    SENDING = "sending"  # handed to the link, awaiting the receipt or PUBACK
    ACCEPTED = "accepted"  # the broker has it and the truck is online or listening
    WAITING = "waiting"  # the broker has it; the truck is offline, unknown or not listening
    FAILED = "failed"  # the broker refused it, or it cannot be addressed: final
    EXPIRED = "expired"  # its expiry passed while it was still at HQ: never sent


OPEN_STAGES = frozenset({Stage.QUEUED, Stage.SENDING})


class Reach(StrEnum):
    """What HQ knows of the truck when the broker confirms."""

    LISTENING = "listening"  # consumers on its order queue now (broker advisory)
    ONLINE = "online"  # heard from recently, nothing more known
    AWAY = "away"  # offline, stale, unknown, or no consumer on its queue


@dataclass(frozen=True, slots=True)
class Dispatch:
    dispatch_id: str
    seq: int
    kind: Kind
    device_id: str
    body: str  # the order's text or the alert's colour
    created_at: float
    expires_at: float
    stage: Stage = Stage.QUEUED
    attempts: int = 0
    possible_duplicate: bool = False
    send_id: str = ""  # the link's order or alert id of the newest attempt
    detail: str = ""
    updated_at: float = 0.0
    by: str = ""  # the dispatcher who sent it: a Unix account or a browser seat's login

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class DispatchError(ValueError):
    """A transition that the dispatch's stage does not allow."""


def new_dispatch(
    dispatch_id: str,
    seq: int,
    kind: Kind,
    device_id: str,
    body: str,
    *,
    now: float,
    expiry: float = DEFAULT_EXPIRY,
    by: str = "",
) -> Dispatch:
    if expiry <= 0:
        raise ValueError("expiry must be positive")
    return Dispatch(
        dispatch_id, seq, kind, device_id, body, now, now + expiry, updated_at=now, by=by
    )


def sending(dispatch: Dispatch, send_id: str, now: float) -> Dispatch:
    """Handed to its link under ``send_id``; a second attempt after a loss counts here."""
    if dispatch.stage is not Stage.QUEUED:
        raise DispatchError(f"cannot send a dispatch that is {dispatch.stage}")
    return replace(
        dispatch,
        stage=Stage.SENDING,
        attempts=dispatch.attempts + 1,
        send_id=send_id,
        detail="",
        updated_at=now,
    )


def outcome(
    dispatch: Dispatch,
    delivery: Delivery,
    failure: Failure | None,
    *,
    detail: str,
    reach: Reach,
    now: float,
) -> Dispatch:
    """Apply the link's answer for the newest attempt."""
    if dispatch.stage is not Stage.SENDING:
        raise DispatchError(f"no send of this dispatch is awaiting an answer ({dispatch.stage})")
    if delivery is Delivery.CONFIRMED:
        stage = Stage.WAITING if reach is Reach.AWAY else Stage.ACCEPTED
        return replace(dispatch, stage=stage, detail=reach.value, updated_at=now)
    if delivery is not Delivery.FAILED:
        raise DispatchError(f"{delivery} is not an outcome")
    if failure is Failure.REFUSED:
        return replace(dispatch, stage=Stage.FAILED, detail=detail, updated_at=now)
    # NOT_SENT never left HQ; UNCONFIRMED (or unknown) may have arrived: resend, marked.
    duplicate = dispatch.possible_duplicate or failure is not Failure.NOT_SENT
    back = replace(
        dispatch,
        stage=Stage.QUEUED,
        possible_duplicate=duplicate,
        detail=detail,
        updated_at=now,
    )
    return expire(back, now)


def refused(dispatch: Dispatch, detail: str, now: float) -> Dispatch:
    """Cannot be sent at all (an id no destination can be built for)."""
    return replace(dispatch, stage=Stage.FAILED, detail=detail, updated_at=now)


def expire(dispatch: Dispatch, now: float) -> Dispatch:
    """A queued dispatch past its expiry is expired; anything else is returned unchanged."""
    if dispatch.stage is Stage.QUEUED and now >= dispatch.expires_at:
        return replace(dispatch, stage=Stage.EXPIRED, updated_at=now)
    return dispatch


def recovered(dispatch: Dispatch, now: float) -> Dispatch:
    """After a restart: one that was sending has no answer coming, and may have arrived."""
    if dispatch.stage is Stage.SENDING:
        dispatch = replace(
            dispatch,
            stage=Stage.QUEUED,
            possible_duplicate=True,
            detail="HQ stopped before the broker answered",
            updated_at=now,
        )
    return expire(dispatch, now)


def send_order(dispatches: Iterable[Dispatch], kind: Kind) -> list[Dispatch]:
    """The queued dispatches of ``kind``, oldest first: the order they are sent in."""
    return sorted(
        (d for d in dispatches if d.kind is kind and d.stage is Stage.QUEUED),
        key=lambda d: d.seq,
    )


def reach_of(kind: Kind, online: bool, consumers: int | None) -> Reach:
    """How far an accepted dispatch got: consumers (orders only) beat the device's status."""
    if kind is Kind.ORDER and consumers is not None:
        return Reach.LISTENING if consumers > 0 else Reach.AWAY
    return Reach.ONLINE if online else Reach.AWAY


class Tone(StrEnum):
    GOOD = "good"
    WAIT = "wait"
    BAD = "bad"
    BUSY = "busy"


# The glyph each line of ``describe`` starts with, by how well it went.
GLYPH_TONE = {"✔": Tone.GOOD, "◔": Tone.WAIT, "✕": Tone.BAD, "⧗": Tone.BUSY}


def tone_of_line(line: str) -> Tone:
    """The tone of a line ``describe`` wrote, read back from its first glyph (another
    dashboard's line, from the shared history)."""
    return GLYPH_TONE.get(line[:1], Tone.BUSY)


# The live log and the composer cut an order here; the details and the history keep it whole.
LIVE_ORDER_LIMIT = 40


def describe(dispatch: Dispatch, order_limit: int | None = LIVE_ORDER_LIMIT) -> tuple[str, Tone]:
    """One line for the log and the composer: what became of it, in the dispatcher's words,
    led by who sent it ("d1: order to truck-07 (...) accepted by the broker").

    ``order_limit``: the order's text is cut there with an ellipsis; None keeps it whole."""
    truck = literal(dispatch.device_id, 40)
    if dispatch.kind is Kind.ORDER:
        what = f"order to {truck} ({literal(dispatch.body, order_limit)})"
    else:
        what = f"alert {literal(dispatch.body, 20)} to {truck}"
    if dispatch.by:
        what = f"{literal(dispatch.by, 32)}: {what}"
    proof = "receipt" if dispatch.kind is Kind.ORDER else "PUBACK"
    again = ""
    if dispatch.attempts > 1 and dispatch.possible_duplicate:
        again = f", resent (attempt {dispatch.attempts}): may arrive twice"
    elif dispatch.possible_duplicate:
        again = ", resend pending: may arrive twice"
    stage = dispatch.stage
    if stage is Stage.QUEUED:
        why = f": {literal(dispatch.detail, 80)}" if dispatch.detail else ""
        return f"⧗ {what} queued, sent when the link is up{again}{why}", Tone.BUSY
    if stage is Stage.SENDING:
        return f"⧗ {what} sending{again}", Tone.BUSY
    if stage is Stage.ACCEPTED:
        if dispatch.detail == Reach.LISTENING:
            tail = "the truck is listening on its queue"
        else:
            tail = "the truck is online; delivery not confirmed"
        return f"✔ {what} accepted by the broker ({proof}); {tail}{again}", Tone.GOOD
    if stage is Stage.WAITING:
        return (
            f"◔ {what} accepted by the broker ({proof}); waits at the broker for the truck{again}",
            Tone.WAIT,
        )
    if stage is Stage.EXPIRED:
        earlier = "; an earlier attempt may have arrived" if dispatch.possible_duplicate else ""
        return f"✕ {what} expired, not sent{earlier}", Tone.BAD
    return f"✕ {what} failed: {literal(dispatch.detail, 100)}", Tone.BAD
