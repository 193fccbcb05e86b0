"""What stomp.py's threads report about one STOMP connection, and how long the broker is
allowed to stay silent on it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import stomp
import stomp.utils

from mwm_tui.domain.text import literal

# HQ asks ActiveMQ for a heart-beat every 5 s and sends one every 10 s. ActiveMQ skips a
# heart-beat when it sent anything in the interval before, so its frames come up to 2 intervals
# apart: after 1.2 silent intervals HQ asks for a receipt, after 2 it gives the broker up.
DEFAULT_HEARTBEATS = (10000, 5000)
PROBE_AFTER = 1.2
SILENT_LIMIT = 2.0
# Characters of a broker's ERROR text kept for the screen and the log.
ERROR_TEXT_LIMIT = 200


@dataclass(slots=True)
class StompSession:
    """What stomp.py's threads report about one connection; read by the supervisor."""

    subscription_receipt: str
    advisory_receipt: str = ""
    advisory_confirmed: bool = False
    connected: bool = False
    subscribed: bool = False
    refusal: str | None = None
    lost: str | None = None
    last_error: str | None = None
    heartbeat_timeout: bool = False
    last_heard: float = 0.0
    probed_at: float = 0.0

    @property
    def answered(self) -> bool:
        return self.connected or self.refusal is not None or self.lost is not None


class SessionOwner(Protocol):
    """The link a session reports to (``StompLink``)."""

    def wake(self) -> None: ...
    def handle_message(self, frame: stomp.utils.Frame) -> None: ...
    def handle_receipt(self, frame: stomp.utils.Frame) -> None: ...
    def handle_advisory_refusal(self, message: str) -> None: ...
    def handle_error(self, frame: stomp.utils.Frame) -> bool: ...


class SessionListener(stomp.ConnectionListener):  # type: ignore[misc]
    """Runs on stomp.py's threads: records what happened and wakes the supervisor."""

    def __init__(self, link: SessionOwner, session: StompSession) -> None:
        self._link = link
        self._session = session

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self._session.last_heard = time.monotonic()
        self._session.connected = True
        self._link.wake()

    def on_heartbeat(self) -> None:
        self._session.last_heard = time.monotonic()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self._session.last_heard = time.monotonic()
        self._link.handle_message(frame)

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        self._session.last_heard = time.monotonic()
        receipt = frame.headers.get("receipt-id", "")
        if receipt == self._session.subscription_receipt:
            self._session.subscribed = True
            self._link.wake()
        else:
            if receipt and receipt == self._session.advisory_receipt:
                self._session.advisory_confirmed = True
            self._link.handle_receipt(frame)

    def on_error(self, frame: stomp.utils.Frame) -> None:
        message = error_text(frame)
        receipt = frame.headers.get("receipt-id")
        if not self._session.connected:
            self._session.refusal = message
        elif self._refuses_advisories(receipt):
            self._link.handle_advisory_refusal(message)
        elif receipt == self._session.subscription_receipt:
            self._session.lost = f"broker refused the subscription: {message}"
        elif not self._link.handle_error(frame):
            self._session.last_error = message
        self._link.wake()

    def _refuses_advisories(self, receipt: str | None) -> bool:
        """An ERROR naming the advisory subscription's receipt, or naming none while that
        subscription waits for its receipt: how RabbitMQ refuses it, closing the connection
        (the next connection does not ask again)."""
        asked = self._session.advisory_receipt
        if not asked:
            return False
        return receipt == asked or (not receipt and not self._session.advisory_confirmed)

    def on_heartbeat_timeout(self) -> None:
        self._session.heartbeat_timeout = True
        self._link.wake()

    def on_disconnected(self) -> None:
        if self._session.lost is None:
            error = self._session.last_error
            self._session.lost = (
                f"broker closed the connection after an error: {error}"
                if error
                else "broker closed the connection"
            )
        self._link.wake()


def error_text(frame: stomp.utils.Frame) -> str:
    """What a broker's ERROR frame says, shown literally and bounded: its ``message`` header
    and its body's first line, where RabbitMQ puts the reason (ActiveMQ's repeats the header)."""
    message = str(frame.headers.get("message", "")).strip()
    body = frame.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    reason = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if reason and message and message not in reason:
        said = f"{message}: {reason}"
    else:
        said = message or reason
    return literal(said, ERROR_TEXT_LIMIT) or "no reason given"


def agreed_receive_interval(connection: stomp.Connection12) -> float:
    """Seconds between the broker's heart-beats as agreed in CONNECTED; 0 when none."""
    heartbeats = getattr(connection, "heartbeats", (0, 0))
    return float(heartbeats[1]) / 1000


def until_next_check(connection: stomp.Connection12, session: StompSession) -> float:
    """Seconds until the silence check has something to do (a probe, or giving up)."""
    expected = agreed_receive_interval(connection)
    if expected <= 0:
        return float("inf")
    silent = time.monotonic() - session.last_heard
    due = PROBE_AFTER * expected if session.probed_at < session.last_heard else 0.0
    remaining = [limit - silent for limit in (due, SILENT_LIMIT * expected) if limit > silent]
    return max(min(remaining, default=0.0), 0.0) + 0.01


def silence_reason(expected: float) -> str:
    """Why the link gave up a broker silent for over SILENT_LIMIT heart-beat intervals."""
    return (
        f"no heart-beat from the broker for over {SILENT_LIMIT * expected:g} s "
        "(nor an answer to a probe)"
    )
