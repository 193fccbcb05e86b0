"""The STOMP link to ActiveMQ: device locations in, text orders out.

Wire format: docs/PROTOCOL.md#stomp-positions-and-orders.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import stomp
import stomp.exception
import stomp.transport
import stomp.utils

from mwm_tui.domain import ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    Delivery,
    Failure,
    LinkName,
    MessageRejected,
    OrderOutcome,
)
from mwm_tui.domain.messages import location_event
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from .backoff import Backoff
from .base import EventSink, MessageTap
from .stomp_advisories import ADVISORY_SUBSCRIPTION, ADVISORY_SUBSCRIPTION_ID, advisory_event
from .stomp_connection import (
    close_stomp_connection,
    connect_failure_reason,
    new_stomp_connection,
    stomp_client_id,
)
from .stomp_frames import FrameRejected, StompFrame
from .stomp_session import (
    DEFAULT_HEARTBEATS,
    PROBE_AFTER,
    SILENT_LIMIT,
    SessionListener,
    StompSession,
    agreed_receive_interval,
    error_text,
    silence_reason,
    until_next_check,
)
from .stomp_transport import FramedTransport
from .supervisor import (
    CONFIRM_TIMEOUT,
    LinkDownError,
    SupervisedLink,
    describe_connect_error,
)
from .tls import TlsSetupError, describe_tls_error

log = logging.getLogger(__name__)

ORDER_CONTENT_TYPE = "text/plain;charset=utf-8"
# Names the dispatch an order belongs to, the same on every resend of it.
DISPATCH_HEADER = "mwm-dispatch"
# Names the dispatcher who made an order: every dispatch says who made it, on the wire too.
BY_HEADER = "mwm-by"
_SUBSCRIPTION_ID = "mwm-tui-locations"
# Words in an ERROR frame refusing a login that mark it as an authentication failure.
_AUTH_WORDS = ("password", "user", "login", "auth", "credential", "security", "denied")

# Parts that live beside the link; the simulated fleet takes them from here.
__all__ = [
    "ADVISORY_SUBSCRIPTION",
    "BY_HEADER",
    "DEFAULT_HEARTBEATS",
    "DISPATCH_HEADER",
    "ORDER_CONTENT_TYPE",
    "StompLink",
    "advisory_event",
    "close_stomp_connection",
    "error_text",
    "new_stomp_connection",
    "stomp_client_id",
]


@dataclass(frozen=True, slots=True)
class _OrderRequest:
    order_id: str
    destination: str
    body: bytes
    headers: dict[str, str]


class StompLink(SupervisedLink[_OrderRequest]):
    """Subscribes to every device's locations and sends orders, each confirmed by a receipt."""

    name = LinkName.STOMP
    # Set by --record: sees every MESSAGE frame as it came.
    tap: MessageTap | None = None

    def __init__(
        self,
        targets: BrokerTarget | Sequence[BrokerTarget],
        sink: EventSink,
        *,
        client_id: str | None = None,
        heartbeats: tuple[int, int] = DEFAULT_HEARTBEATS,
        receipt_timeout: float = CONFIRM_TIMEOUT,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        refusal_backoff: Backoff | None = None,
        advisories: bool = True,
    ) -> None:
        """``heartbeats``: (HQ sends every, HQ wants one every) in ms, as in STOMP's header."""
        super().__init__(
            targets,
            sink,
            backoff=backoff,
            refusal_backoff=refusal_backoff,
            connect_timeout=connect_timeout,
            confirm_timeout=receipt_timeout,
        )
        self._client_id = client_id
        self._heartbeats = heartbeats
        self._advisories = advisories
        # Set once the broker refused the advisory subscription: later sessions do not ask again.
        self._advisories_refused: str | None = None
        self._probes = 0

    def send_order(
        self,
        device_id: str,
        text: str,
        *,
        expires_at: float | None = None,
        dispatch_id: str | None = None,
        by: str = "",
    ) -> str:
        """``expires_at`` (epoch seconds) becomes the broker's ``expires`` (ActiveMQ) and, when
        sent, ``expiration`` (RabbitMQ's time to live): no late delivery."""
        destination = ids.order_destination(device_id)
        order_id = f"order-{uuid.uuid4().hex}"
        headers = {"persistent": "true", "receipt": order_id}
        if expires_at is not None:
            headers["expires"] = str(int(expires_at * 1000))
        if dispatch_id is not None:
            headers[DISPATCH_HEADER] = dispatch_id
        if by:
            headers[BY_HEADER] = by
        self._submit(
            order_id,
            _OrderRequest(order_id, destination, text.encode("utf-8"), headers),
            partial(OrderOutcome, order_id, device_id),
            f"no receipt from the broker within {self._confirm_timeout:g} s",
        )
        return order_id

    # Frame handlers: called on stomp.py's receiver thread; they never block or raise.

    def wake(self) -> None:
        """Wake the supervisor: a stomp.py thread has news for it."""
        self._waker.wake()

    def handle_message(self, frame: stomp.utils.Frame | StompFrame) -> None:
        headers, body = frame.headers, frame.body or b""
        advisory = headers.get("subscription") == ADVISORY_SUBSCRIPTION_ID
        if self.tap is not None:
            self.tap(headers.get("destination", ""), body, False, headers if advisory else None)
        if advisory:
            self._emit(advisory_event(headers))
            return
        self._emit(location_event(headers.get("destination", ""), body))

    def take_reads(self, transport: FramedTransport) -> None:
        """Locations skip stomp.py's listeners; what one read brings reaches the sink at once."""
        transport.on_message = self.handle_message
        transport.read_began, transport.read_ended = self._open_burst, self._close_burst
        transport.read_pause = self.read_pause

    def handle_rejected_frame(self, rejected: FrameRejected) -> None:
        """A frame HQ's reader refused: counted like any other unusable message."""
        detail = f"{rejected.command or 'frame'} refused: {rejected.reason}"
        self._emit(
            MessageRejected(
                LinkName.STOMP, RejectReason.MALFORMED_FRAME, detail, rejected.destination
            )
        )

    def handle_advisory_refusal(self, message: str) -> None:
        """The broker refused the advisory subscription: the link carries on without it."""
        self._advisories_refused = message
        log.warning("%s broker refused the advisory subscription: %s", self.name, message)

    def handle_receipt(self, frame: stomp.utils.Frame) -> None:
        self.outcomes.settle(frame.headers.get("receipt-id", ""), Delivery.CONFIRMED)

    def handle_error(self, frame: stomp.utils.Frame) -> bool:
        """Fail the order an ERROR frame names; False when it names none of ours."""
        receipt = frame.headers.get("receipt-id", "")
        detail = f"broker refused the order: {error_text(frame)}"
        return self.outcomes.settle(receipt, Delivery.FAILED, detail, Failure.REFUSED)

    # The supervisor thread

    def _run_session(self) -> None:
        session = StompSession(subscription_receipt=f"sub-{uuid.uuid4().hex}")
        try:
            connection = new_stomp_connection(
                self._target, self._heartbeats, self._connect_timeout, self.handle_rejected_frame
            )
        except TlsSetupError as error:
            raise LinkDownError(str(error)) from None
        connection.set_listener("mwm-tui", SessionListener(self, session))
        self.take_reads(connection.transport)
        try:
            self._connect(connection, session)
            if self._stopping_now():
                return
            connection.subscribe(
                ids.LOCATION_SUBSCRIPTION,
                id=_SUBSCRIPTION_ID,
                ack="auto",
                headers={"receipt": session.subscription_receipt},
            )
            subscribed = self._wait_for(
                lambda: session.subscribed or session.lost is not None, self._connect_timeout
            )
            if self._stopping_now():
                return
            self._raise_if_lost(connection, session)
            if not subscribed:
                raise LinkDownError(self._no_answer("receipt for the subscription"))
            self._subscribe_advisories(connection, session)
            self._mark_up()
            while not self._stopping_now():
                self._raise_if_lost(connection, session)
                self._check_silence(connection, session)
                for request in self._take_outbox():
                    self._send(connection, request)
                self._waker.wait(min(self._next_wait(), until_next_check(connection, session)))
        finally:
            self._close(connection, session)

    def _connect(self, connection: stomp.Connection12, session: StompSession) -> None:
        headers = {"client-id": stomp_client_id(self._client_id)} if self._client_id else {}
        try:
            connection.connect(
                username=self._target.username,
                passcode=self._target.password,
                wait=False,
                headers=headers,
            )
        except stomp.exception.ConnectFailedException:
            raise LinkDownError(
                connect_failure_reason(self._target, self._where, self._connect_timeout, connection)
            ) from None
        except (OSError, stomp.exception.StompException) as error:
            # The broker's alert may have ended the stream before CONNECT could be sent.
            alert = getattr(connection.transport, "tls_alert", None)
            reason = (
                describe_tls_error(alert, self._where, client_certificate=self._certificate)
                if isinstance(alert, ssl.SSLError)
                else describe_connect_error(
                    error, self._where, client_certificate=self._certificate
                )
            )
            raise LinkDownError(reason) from None
        answered = self._wait_for(lambda: session.answered, self._connect_timeout)
        if session.refusal is not None:
            lowered = session.refusal.lower()
            if self._client_id and "already connected" in lowered:
                raise LinkDownError(
                    f"client id {self._client_id} is already connected to {self._where} "
                    "(another HQ with the same --client-id?)",
                    clash=True,
                )
            if "virtual host" in lowered or "vhost" in lowered:
                hint = f"--stomp-vhost is {literal(self._target.vhost, 20)!r}"
                raise LinkDownError(f"broker refused: {session.refusal} ({hint})", refused=True)
            if any(word in lowered for word in _AUTH_WORDS):
                raise LinkDownError(f"authentication failed: {session.refusal}", refused=True)
            raise LinkDownError(f"broker refused the connection: {session.refusal}", refused=True)
        self._raise_if_lost(connection, session)
        if not answered and not self._stopping_now():
            raise LinkDownError(self._no_answer("CONNECTED frame"))

    def _subscribe_advisories(self, connection: stomp.Connection12, session: StompSession) -> None:
        """Ask for consumer advisories; a refusal only loses them, never the link."""
        if not self._advisories or self._advisories_refused is not None:
            return
        session.advisory_receipt = f"adv-{uuid.uuid4().hex}"
        try:
            connection.subscribe(
                ADVISORY_SUBSCRIPTION,
                id=ADVISORY_SUBSCRIPTION_ID,
                ack="auto",
                headers={"receipt": session.advisory_receipt},
            )
        except (OSError, stomp.exception.StompException) as error:
            raise LinkDownError(f"could not subscribe: {error or type(error).__name__}") from None

    def _check_silence(self, connection: stomp.Connection12, session: StompSession) -> None:
        """Probe a broker silent for over 1.2 heart-beat intervals; give it up after 2."""
        expected = agreed_receive_interval(connection)
        if expected <= 0:
            return
        now = time.monotonic()
        silent = now - session.last_heard
        if silent > SILENT_LIMIT * expected:
            raise LinkDownError(silence_reason(expected))
        if silent > PROBE_AFTER * expected and session.probed_at < session.last_heard:
            # A transaction begun and aborted: the broker's receipt is its answer, nothing stays.
            self._probes += 1
            transaction = f"mwm-probe-{self._probes}"
            session.probed_at = now
            try:
                connection.begin(transaction, headers={"receipt": transaction})
                connection.abort(transaction)
            except (OSError, stomp.exception.StompException) as error:
                raise LinkDownError(f"could not probe the broker: {error!r}") from None

    def _raise_if_lost(self, connection: stomp.Connection12, session: StompSession) -> None:
        if session.lost is None and not session.heartbeat_timeout:
            return
        alert = getattr(connection.transport, "tls_alert", None)
        if isinstance(alert, ssl.SSLError) and not session.connected:
            raise LinkDownError(
                describe_tls_error(alert, self._where, client_certificate=self._certificate)
            )
        # stomp.py may report a heart-beat timeout as a plain disconnect first: judge by silence.
        expected = agreed_receive_interval(connection)
        silent = time.monotonic() - session.last_heard
        if (
            session.connected
            and expected > 0
            and (session.heartbeat_timeout or silent > SILENT_LIMIT * expected)
        ):
            raise LinkDownError(silence_reason(expected))
        raise LinkDownError(session.lost or "connection lost")

    def _send(self, connection: stomp.Connection12, request: _OrderRequest) -> None:
        headers = request.headers
        if "expires" in headers:
            # RabbitMQ ignores ActiveMQ's deadline and reads a time to live in ms instead.
            remaining = int(headers["expires"]) - int(time.time() * 1000)
            headers = headers | {"expiration": str(max(remaining, 1))}
        try:
            connection.send(
                request.destination,
                request.body,
                content_type=ORDER_CONTENT_TYPE,
                headers=headers,
            )
        except (OSError, stomp.exception.StompException) as error:
            detail = f"could not send: {error or type(error).__name__}"
            self.outcomes.settle(request.order_id, Delivery.FAILED, detail, Failure.UNCONFIRMED)

    def _close(self, connection: stomp.Connection12, session: StompSession) -> None:
        if self._stopping_now() and session.connected and session.lost is None:
            # A DISCONNECT with a receipt lets the broker finish what we sent before.
            with contextlib.suppress(Exception):
                connection.disconnect()
                self._wait_for(lambda: session.lost is not None, 2.0, interruptible=False)
        close_stomp_connection(connection)
