"""The STOMP link to ActiveMQ: device locations in, text orders out.

Wire format: docs/PROTOCOL.md#stomp-positions-and-orders.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import time
import uuid
from collections.abc import Mapping, Sequence
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
    Event,
    Failure,
    LinkName,
    MessageRejected,
    OrderOutcome,
    QueueConsumers,
)
from mwm_tui.domain.messages import location_event
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from .backoff import Backoff
from .base import EventSink, MessageTap
from .stomp_frames import FrameRejected, StompFrame
from .stomp_transport import (
    FramedConnection,
    FramedTransport,
    RejectHandler,
    TlsFramedTransport,
    ignore_reject,
)
from .supervisor import (
    CONFIRM_TIMEOUT,
    LinkDownError,
    SupervisedLink,
    describe_connect_error,
)
from .tls import TlsSetupError, client_context, describe_tls_error

log = logging.getLogger(__name__)
# The passcode header as stomp.py's debug log shows a sent frame (a repr of its byte lines).
_PASSCODE = re.compile(r"passcode:(?:\\[^n]|[^\\\n])*")


class _HidePasscode(logging.Filter):
    """stomp.py logs CONNECT frames at debug level with the passcode in clear: blank it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "passcode" in message:
            record.msg, record.args = _PASSCODE.sub("passcode:***", message), ()
        return True


# stomp.py warns of every refused connect; with no handler Python would print that over the UI.
logging.getLogger("stomp.py").addHandler(logging.NullHandler())
logging.getLogger("stomp.py").addFilter(_HidePasscode())

ORDER_CONTENT_TYPE = "text/plain;charset=utf-8"
# Names the dispatch an order belongs to, the same on every resend of it.
DISPATCH_HEADER = "mwm-dispatch"
_SUBSCRIPTION_ID = "mwm-tui-locations"
_ADVISORY_SUBSCRIPTION_ID = "mwm-tui-order-consumers"
# ActiveMQ's consumer advisories for every device's order queue (needs XStream and Jettison on
# the broker's classpath; without them the broker sends nothing, and no transformation header
# is sent because with it such a broker drops the connection).
ADVISORY_SUBSCRIPTION = "/topic/ActiveMQ.Advisory.Consumer.Queue.device.>"
_ADVISORY_PREFIX = "/topic/ActiveMQ.Advisory.Consumer.Queue.device."
_ADVISORY_SUFFIX = ".text"
# HQ asks ActiveMQ for a heart-beat every 5 s and sends one every 10 s. ActiveMQ skips a
# heart-beat when it sent anything in the interval before, so its frames come up to 2 intervals
# apart: after 1.2 silent intervals HQ asks for a receipt, after 2 it gives the broker up.
DEFAULT_HEARTBEATS = (10000, 5000)
_PROBE_AFTER = 1.2
_SILENT_LIMIT = 2.0
# stomp.py's own watchdog (1.5 intervals by default) would drop idle links falsely; ours acts
# first, on the supervisor thread, and stomp.py's stays only as a backstop.
_STOMP_PY_RECEIVE_SCALE = 3.0
# Characters of a broker's ERROR text kept for the screen and the log.
ERROR_TEXT_LIMIT = 200
# Words in an ERROR frame refusing a login that mark it as an authentication failure.
_AUTH_WORDS = ("password", "user", "login", "auth", "credential", "security", "denied")
# ActiveMQ keeps one client-id namespace for STOMP and MQTT; no device id holds a ".", so the
# suffixed id never equals another client's MQTT id.
STOMP_CLIENT_ID_SUFFIX = ".stomp"


def stomp_client_id(client_id: str) -> str:
    """The client id a STOMP connection sends for ``client_id`` (its MQTT id is unchanged)."""
    return client_id + STOMP_CLIENT_ID_SUFFIX


def new_stomp_connection(
    target: BrokerTarget,
    heartbeats: tuple[int, int],
    connect_timeout: float,
    on_reject: RejectHandler = ignore_reject,
) -> stomp.Connection12:
    """A STOMP 1.2 connection that tries once and leaves reconnecting to its owner.

    Incoming bytes go through HQ's frame reader; a frame it refuses goes to ``on_reject``.
    Bodies stay bytes so a body that is not UTF-8 reaches our codec. Raises TlsSetupError when
    the TLS files cannot be loaded.
    """
    host_and_port = (target.host, target.port)
    return FramedConnection(
        [host_and_port],
        on_reject=on_reject,
        tls_context=client_context(target.tls_options) if target.tls else None,
        timeout=connect_timeout,
        heartbeats=heartbeats,
        heart_beat_receive_scale=_STOMP_PY_RECEIVE_SCALE,
        vhost=target.vhost,
    )


def close_stomp_connection(connection: stomp.Connection12, join_timeout: float = 2.0) -> None:
    """Close the socket without a DISCONNECT frame and wait for stomp.py's threads to end."""
    transport = connection.transport
    with contextlib.suppress(Exception):
        transport.disconnect_socket()
    for thread in (transport.io_thread, getattr(connection, "heartbeat_thread", None)):
        if thread is not None and thread.is_alive():
            thread.join(join_timeout)


def connect_failure_reason(
    target: BrokerTarget, where: str, timeout: float, connection: stomp.Connection12 | None = None
) -> str:
    """Why stomp.py could not open its socket (it logs the error but raises without it)."""
    transport = connection.transport if connection is not None else None
    if isinstance(transport, TlsFramedTransport) and transport.handshake_error is not None:
        certificate = target.tls_options.certfile is not None
        return describe_connect_error(
            transport.handshake_error, where, client_certificate=certificate
        )
    try:
        with socket.create_connection((target.host, target.port), timeout):
            pass
    except OSError as error:
        return describe_connect_error(error, where)
    if target.tls:
        return f"TLS handshake with {where} failed"
    return f"cannot connect to {where}"


@dataclass(frozen=True, slots=True)
class _OrderRequest:
    order_id: str
    destination: str
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class _Session:
    """What stomp.py's threads report about one connection; read by the supervisor."""

    subscription_receipt: str
    advisory_receipt: str = ""
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


class _Listener(stomp.ConnectionListener):  # type: ignore[misc]
    """Runs on stomp.py's threads: records what happened and wakes the supervisor."""

    def __init__(self, link: StompLink, session: _Session) -> None:
        self._link = link
        self._session = session

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self._session.last_heard = time.monotonic()
        self._session.connected = True
        self._link._waker.wake()

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
            self._link._waker.wake()
        else:
            self._link.handle_receipt(frame)

    def on_error(self, frame: stomp.utils.Frame) -> None:
        message = error_text(frame)
        receipt = frame.headers.get("receipt-id")
        if not self._session.connected:
            self._session.refusal = message
        elif receipt and receipt == self._session.advisory_receipt:
            self._link.handle_advisory_refusal(message)
        elif receipt == self._session.subscription_receipt:
            self._session.lost = f"broker refused the subscription: {message}"
        elif not self._link.handle_error(frame):
            self._session.last_error = message
        self._link._waker.wake()

    def on_heartbeat_timeout(self) -> None:
        self._session.heartbeat_timeout = True
        self._link._waker.wake()

    def on_disconnected(self) -> None:
        if self._session.lost is None:
            error = self._session.last_error
            self._session.lost = (
                f"broker closed the connection after an error: {error}"
                if error
                else "broker closed the connection"
            )
        self._link._waker.wake()


def advisory_event(headers: Mapping[str, str]) -> Event:
    """An advisory on ``/queue/device.<ID>.text``: how many consumers that queue has now."""
    destination = headers.get("destination", "")
    if not (destination.startswith(_ADVISORY_PREFIX) and destination.endswith(_ADVISORY_SUFFIX)):
        detail = f"{destination!r} is not an advisory of a device's order queue"
        return MessageRejected(LinkName.STOMP, RejectReason.BAD_DESTINATION, detail, destination)
    device_id = destination[len(_ADVISORY_PREFIX) : len(destination) - len(_ADVISORY_SUFFIX)]
    problem = ids.id_problem(device_id)
    if problem is not None:
        detail = f"advisory for an unusable device id: {problem}"
        return MessageRejected(LinkName.STOMP, RejectReason.BAD_ID, detail, destination)
    count = headers.get("consumerCount")
    if count is None:
        detail = "advisory without a consumerCount header"
        return MessageRejected(LinkName.STOMP, RejectReason.MISSING_FIELD, detail, destination)
    if not (count.isascii() and count.isdigit() and len(count) <= 9):
        detail = f"consumerCount {count[:20]!r} is not a count"
        return MessageRejected(LinkName.STOMP, RejectReason.MISTYPED_FIELD, detail, destination)
    return QueueConsumers(device_id, int(count))


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
        self._submit(
            order_id,
            _OrderRequest(order_id, destination, text.encode("utf-8"), headers),
            partial(OrderOutcome, order_id, device_id),
            f"no receipt from the broker within {self._confirm_timeout:g} s",
        )
        return order_id

    # Frame handlers: called on stomp.py's receiver thread; they never block or raise.

    def handle_message(self, frame: stomp.utils.Frame | StompFrame) -> None:
        headers, body = frame.headers, frame.body or b""
        advisory = headers.get("subscription") == _ADVISORY_SUBSCRIPTION_ID
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
        session = _Session(subscription_receipt=f"sub-{uuid.uuid4().hex}")
        try:
            connection = new_stomp_connection(
                self._target, self._heartbeats, self._connect_timeout, self.handle_rejected_frame
            )
        except TlsSetupError as error:
            raise LinkDownError(str(error)) from None
        connection.set_listener("mwm-tui", _Listener(self, session))
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
                self._waker.wait(min(self._next_wait(), _until_next_check(connection, session)))
        finally:
            self._close(connection, session)

    def _connect(self, connection: stomp.Connection12, session: _Session) -> None:
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

    def _subscribe_advisories(self, connection: stomp.Connection12, session: _Session) -> None:
        """Ask for consumer advisories; a refusal only loses them, never the link."""
        if not self._advisories or self._advisories_refused is not None:
            return
        session.advisory_receipt = f"adv-{uuid.uuid4().hex}"
        try:
            connection.subscribe(
                ADVISORY_SUBSCRIPTION,
                id=_ADVISORY_SUBSCRIPTION_ID,
                ack="auto",
                headers={"receipt": session.advisory_receipt},
            )
        except (OSError, stomp.exception.StompException) as error:
            raise LinkDownError(f"could not subscribe: {error or type(error).__name__}") from None

    def _check_silence(self, connection: stomp.Connection12, session: _Session) -> None:
        """Probe a broker silent for over 1.2 heart-beat intervals; give it up after 2."""
        expected = _agreed_receive_interval(connection)
        if expected <= 0:
            return
        now = time.monotonic()
        silent = now - session.last_heard
        if silent > _SILENT_LIMIT * expected:
            raise LinkDownError(_silence_reason(expected))
        if silent > _PROBE_AFTER * expected and session.probed_at < session.last_heard:
            # A transaction begun and aborted: the broker's receipt is its answer, nothing stays.
            self._probes += 1
            transaction = f"mwm-probe-{self._probes}"
            session.probed_at = now
            try:
                connection.begin(transaction, headers={"receipt": transaction})
                connection.abort(transaction)
            except (OSError, stomp.exception.StompException) as error:
                raise LinkDownError(f"could not probe the broker: {error!r}") from None

    def _raise_if_lost(self, connection: stomp.Connection12, session: _Session) -> None:
        if session.lost is None and not session.heartbeat_timeout:
            return
        alert = getattr(connection.transport, "tls_alert", None)
        if isinstance(alert, ssl.SSLError) and not session.connected:
            raise LinkDownError(
                describe_tls_error(alert, self._where, client_certificate=self._certificate)
            )
        # stomp.py may report a heart-beat timeout as a plain disconnect first: judge by silence.
        expected = _agreed_receive_interval(connection)
        silent = time.monotonic() - session.last_heard
        if (
            session.connected
            and expected > 0
            and (session.heartbeat_timeout or silent > _SILENT_LIMIT * expected)
        ):
            raise LinkDownError(_silence_reason(expected))
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

    def _close(self, connection: stomp.Connection12, session: _Session) -> None:
        if self._stopping_now() and session.connected and session.lost is None:
            # A DISCONNECT with a receipt lets the broker finish what we sent before.
            with contextlib.suppress(Exception):
                connection.disconnect()
                self._wait_for(lambda: session.lost is not None, 2.0, interruptible=False)
        close_stomp_connection(connection)


def _agreed_receive_interval(connection: stomp.Connection12) -> float:
    """Seconds between the broker's heart-beats as agreed in CONNECTED; 0 when none."""
    heartbeats = getattr(connection, "heartbeats", (0, 0))
    return float(heartbeats[1]) / 1000


def _until_next_check(connection: stomp.Connection12, session: _Session) -> float:
    """Seconds until the silence check has something to do (a probe, or giving up)."""
    expected = _agreed_receive_interval(connection)
    if expected <= 0:
        return float("inf")
    silent = time.monotonic() - session.last_heard
    due = _PROBE_AFTER * expected if session.probed_at < session.last_heard else 0.0
    remaining = [limit - silent for limit in (due, _SILENT_LIMIT * expected) if limit > silent]
    return max(min(remaining, default=0.0), 0.0) + 0.01


def _silence_reason(expected: float) -> str:
    return (
        f"no heart-beat from the broker for over {_SILENT_LIMIT * expected:g} s "
        "(nor an answer to a probe)"
    )
