"""The MQTT link to Mosquitto: motion and last wills in, alerts out.

Wire format: docs/PROTOCOL.md#mqtt-motion-last-wills-and-alerts.

The supervisor thread drives paho's network loop itself, so paho never reconnects on its own,
and publishes alerts on the thread that reads PUBACKs: no PUBACK can beat its mid.

The session is persistent under one client id for the life of the link, so the broker keeps
the wills published while HQ is away and hands them over when HQ is back; a normal stop ends
that session, so no broker keeps queueing for an HQ that quit.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.domain import ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Failure,
    LinkName,
    MessageRejected,
)
from mwm_tui.domain.messages import mqtt_event
from mwm_tui.domain.targets import BrokerTarget

from .backoff import Backoff
from .base import EventSink, MessageTap
from .mqtt_client import BufferedClient, default_client_id, end_session, new_mqtt_client
from .socket_reads import ReadPacer
from .supervisor import (
    CONFIRM_TIMEOUT,
    LinkDownError,
    SupervisedLink,
    describe_connect_error,
)
from .tls import TlsSetupError, describe_tls_error

# CONNACK reason codes (as paho maps MQTT 3.1.1 return codes 4 and 5) refusing the credentials.
_AUTH_REFUSALS = frozenset({134, 135})
_KEEPALIVE_TIMEOUT = 141
# Bound on packets handled per loop turn, so sends and keepalives still get their turn.
_PACKETS_PER_TURN = 1000
_SUBSCRIPTIONS = ((ids.MOTION_SUBSCRIPTION, 0), (ids.WILL_TOPIC, 2))
# Exact motion topics waiting to be asked for their retained message, and asked per loop turn.
MAX_MOTION_ASKS = 10_000
_MOTION_ASKS_PER_TURN = 100
# paho pings after one silent keepalive and gives up after a second: a frozen broker is
# noticed within 12 s, and the broker sees HQ's will 9 s (1.5 keepalives) after HQ froze.
DEFAULT_KEEPALIVE = 6
# MQTT 3.1.1 does not say why a broker closed a connection. When another client connects with
# our id, Mosquitto closes ours; we take it back at once and lose it again within a moment.
# Three such short sessions in a row, each won back at the first attempt, mean a clash (a
# broker killed and back within half a second, three times running, would look the same).
_TAKEOVER_SESSION = 2.0
# paho checks the keepalive only when its loop turns: turn often enough to act on time.
_KEEPALIVE_TICK = 0.25
_TAKEOVER_STREAK = 3
# On stop, how long ending the persistent sessions may take (the UI waits 1.5 s for a link).
END_SESSION_TIMEOUT = 1.0


# BufferedClient and new_mqtt_client live in mqtt_client; the simulated fleet takes them from here.
__all__ = [
    "DEFAULT_KEEPALIVE",
    "END_SESSION_TIMEOUT",
    "MAX_MOTION_ASKS",
    "BufferedClient",
    "MqttLink",
    "new_mqtt_client",
]


@dataclass(frozen=True, slots=True)
class _AlertRequest:
    alert_id: str
    topic: str
    payload: bytes


@dataclass(slots=True)
class _Session:
    connack: ReasonCode | None = None
    subscribe_mid: int | None = None
    suback: list[ReasonCode] | None = None
    disconnect_reason: ReasonCode | None = None
    alert_by_mid: dict[int, str] = field(default_factory=dict)
    # Exact motion subscriptions by mid, and those the broker acknowledged (to unsubscribe).
    motion_ask_by_mid: dict[int, str] = field(default_factory=dict)
    motion_asks_answered: list[str] = field(default_factory=list)
    tls_alert: ssl.SSLError | None = None
    # Monotonic time before which the socket is not read (a pause after it was emptied).
    read_at: float = 0.0
    pacer: ReadPacer = field(default_factory=ReadPacer)


class MqttLink(SupervisedLink[_AlertRequest]):
    """Subscribes to every device's motion and to last wills, and publishes alerts at QoS 1."""

    name = LinkName.MQTT
    # Set by --record: sees every PUBLISH as it came.
    tap: MessageTap | None = None

    def __init__(
        self,
        targets: BrokerTarget | Sequence[BrokerTarget],
        sink: EventSink,
        *,
        client_id: str | None = None,
        keepalive: int = DEFAULT_KEEPALIVE,
        ack_timeout: float = CONFIRM_TIMEOUT,
        connect_timeout: float = 10.0,
        backoff: Backoff | None = None,
        refusal_backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            targets,
            sink,
            backoff=backoff,
            refusal_backoff=refusal_backoff,
            connect_timeout=connect_timeout,
            confirm_timeout=ack_timeout,
        )
        # Chosen once: the broker keeps this id's session (and the wills in it) while HQ is away.
        self.client_id = client_id or default_client_id()
        self._keepalive = keepalive
        # Indexes of the brokers that accepted a session under our id, to end them on stop.
        self._sessions_held: set[int] = set()
        # Whether the last session was up until the broker closed it, and how many short
        # sessions in a row were won back at the first attempt and closed again (see above).
        self._closed_by_broker = False
        self._takeover_streak = 0
        # Motion topics to ask for their retained message, in the order asked (a dict as a set).
        self._motion_asks: dict[str, None] = {}
        self._motion_asks_lock = threading.Lock()

    def ask_motion(self, device_id: str) -> None:
        """Subscribe to the device's exact motion topic once, for its retained message, and
        unsubscribe when the broker acknowledges; kept until a session is up."""
        if ids.id_problem(device_id) is not None:
            return
        with self._motion_asks_lock:
            if len(self._motion_asks) >= MAX_MOTION_ASKS:
                return
            self._motion_asks[ids.motion_topic(device_id)] = None
        self._waker.wake()

    def _take_motion_asks(self) -> list[str]:
        with self._motion_asks_lock:
            topics = list(itertools.islice(self._motion_asks, _MOTION_ASKS_PER_TURN))
            for topic in topics:
                del self._motion_asks[topic]
            if self._motion_asks:
                self._waker.wake()  # the rest on the next turn, after what came in meanwhile
        return topics

    def _ask_motions(self, client: BufferedClient, session: _Session) -> None:
        """Send the waiting exact subscriptions; end those the broker acknowledged."""
        answered, session.motion_asks_answered = session.motion_asks_answered, []
        for topic in answered:
            self._check(client.unsubscribe(topic)[0], session, client)
        for topic in self._take_motion_asks():
            code, mid = client.subscribe(topic, 0)
            self._check(code, session, client)
            if mid is not None:
                session.motion_ask_by_mid[mid] = topic

    def send_alert(self, device_id: str, colour: str, *, dispatch_id: str | None = None) -> str:
        # MQTT 3.1.1 carries no headers: ``dispatch_id`` is for the log only.
        del dispatch_id
        topic = ids.alert_topic(device_id)
        alert_id = f"alert-{uuid.uuid4().hex}"
        self._submit(
            alert_id,
            _AlertRequest(alert_id, topic, colour.encode("utf-8")),
            partial(AlertOutcome, alert_id, device_id, colour),
            f"no PUBACK from the broker within {self._confirm_timeout:g} s",
        )
        return alert_id

    def handle_message(self, message: mqtt.MQTTMessage) -> None:
        """Turn one PUBLISH that paho read into an event; never raises."""
        try:
            topic = message.topic
        except UnicodeDecodeError:
            self._reject_topic()
            return
        self._take(topic, bytes(message.payload), bool(message.retain))

    def handle_publish(self, topic: bytes, payload: bytes, retained: bool) -> None:
        """Turn one QoS 0 PUBLISH read by ``BufferedClient.take_publishes`` into an event."""
        try:
            text = topic.decode("utf-8")
        except UnicodeDecodeError:
            self._reject_topic()
            return
        self._take(text, payload, retained)

    def _reject_topic(self) -> None:
        detail = "topic is not UTF-8"
        self._emit(MessageRejected(self.name, RejectReason.NOT_UTF8, detail, ""))

    def _take(self, topic: str, payload: bytes, retained: bool) -> None:
        if self._motion_asks:
            # Its motion came after all: no need to ask for it.
            with self._motion_asks_lock:
                self._motion_asks.pop(topic, None)
        if self.tap is not None:
            self.tap(topic, payload, retained, None)
        self._emit(mqtt_event(topic, payload, retained=retained))

    # The supervisor thread

    def _run_session(self) -> None:
        up_at: list[float] = []
        try:
            self._run_one_session(up_at)
        except LinkDownError as down:
            self._judge_takeover(down, up_at[0] if up_at else None)
            raise
        self._closed_by_broker = False
        self._takeover_streak = 0

    def _judge_takeover(self, down: LinkDownError, up_at: float | None) -> None:
        """Raise a clash when sessions keep being closed just after we won them back."""
        closed = up_at is not None and down.reason == _CLOSED_BY_BROKER
        if not closed or up_at is None:
            self._closed_by_broker = False
            self._takeover_streak = 0
            return
        short = time.monotonic() - up_at < _TAKEOVER_SESSION
        self._takeover_streak = self._takeover_streak + 1 if self._closed_by_broker and short else 0
        self._closed_by_broker = True
        if self._takeover_streak >= _TAKEOVER_STREAK:
            self._closed_by_broker = False
            self._takeover_streak = 0
            # The session is the other client's now: ending it on stop would throw that out.
            self._sessions_held.discard(self._current)
            raise LinkDownError(
                f"session taken over by another client with client id {self.client_id}",
                clash=True,
            ) from None

    def _run_one_session(self, up_at: list[float]) -> None:
        session = _Session()
        try:
            client = new_mqtt_client(
                self._target,
                self.client_id,
                clean_session=False,
                connect_timeout=self._connect_timeout,
            )
        except TlsSetupError as error:
            raise LinkDownError(str(error)) from None
        will = f"mwm-tui HQ client {self.client_id} went offline without disconnecting"
        client.will_set(ids.HQ_WILL_TOPIC, will.encode("utf-8"), qos=2, retain=False)
        self._install_callbacks(client, session)
        try:
            try:
                client.connect(self._target.host, self._target.port, self._keepalive)
            except (OSError, ValueError) as error:
                reason = describe_connect_error(
                    error, self._where, client_certificate=self._certificate
                )
                raise LinkDownError(reason) from None
            if not self._pump_until(client, session, lambda: session.connack is not None):
                if self._stopping_now():
                    return
                raise LinkDownError(self._no_answer("CONNACK"))
            if session.connack is not None and not session.connack.is_failure:
                self._sessions_held.add(self._current)
            # In a resumed session too: the broker may have lost it. It sends every retained
            # motion again (retain=1), which the fleet takes as last known, age unknown.
            _, session.subscribe_mid = client.subscribe(list(_SUBSCRIPTIONS))
            if not self._pump_until(client, session, lambda: session.suback is not None):
                if self._stopping_now():
                    return
                raise LinkDownError(self._no_answer("SUBACK"))
            self._check_suback(session)
            self._mark_up()
            up_at.append(time.monotonic())
            while not self._stopping_now():
                for request in self._take_outbox():
                    self._publish(client, session, request)
                self._ask_motions(client, session)
                self._pump(client, session, min(self._next_wait(), _KEEPALIVE_TICK), pace=True)
        finally:
            self._close(client, session)

    def _install_callbacks(self, client: mqtt.Client, session: _Session) -> None:
        def on_connect(
            _c: mqtt.Client, _u: Any, _f: mqtt.ConnectFlags, code: ReasonCode, _p: Any
        ) -> None:
            session.connack = code

        def on_subscribe(
            _c: mqtt.Client, _u: Any, mid: int, codes: list[ReasonCode], _p: Any
        ) -> None:
            if mid == session.subscribe_mid:
                session.suback = codes
            topic = session.motion_ask_by_mid.pop(mid, None)
            if topic is not None:
                # The retained message, if any, came with the SUBACK: the subscription is done.
                session.motion_asks_answered.append(topic)
                self._waker.wake()

        def on_publish(_c: mqtt.Client, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
            alert_id = session.alert_by_mid.pop(mid, None)
            if alert_id is None:
                return
            if code.is_failure:
                detail = f"broker refused the alert: {code}"
                self.outcomes.settle(alert_id, Delivery.FAILED, detail, Failure.REFUSED)
            else:
                self.outcomes.settle(alert_id, Delivery.CONFIRMED)

        def on_disconnect(
            _c: mqtt.Client, _u: Any, _f: mqtt.DisconnectFlags, code: ReasonCode, _p: Any
        ) -> None:
            session.disconnect_reason = code

        def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            self.handle_message(message)

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_publish = on_publish
        client.on_disconnect = on_disconnect
        client.on_message = on_message

    def _pump_until(
        self, client: BufferedClient, session: _Session, done: Callable[[], bool]
    ) -> bool:
        """Run the network loop until ``done()``; False on timeout or stop."""
        return self._wait_for(
            done, self._connect_timeout, sleep=lambda seconds: self._pump(client, session, seconds)
        )

    def _pump(
        self, client: BufferedClient, session: _Session, timeout: float, *, pace: bool = False
    ) -> None:
        """One turn of paho's network loop, sleeping at most ``timeout`` seconds for traffic.

        ``pace``: after a read that emptied the socket, the next may wait ``read_pause`` seconds
        (``ReadPacer`` says when).
        """
        sock = client.socket()
        if sock is None:
            session.tls_alert = client.tls_alert
            raise self._lost(MQTTErrorCode.MQTT_ERR_CONN_LOST, session)
        fd, waker_fd = sock.fileno(), self._waker.fileno()
        resting = session.read_at - time.monotonic()
        # Bytes already read (ours, or decrypted by TLS) are invisible to select.
        buffered = resting <= 0 and (
            client.buffered_bytes > 0 or (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)
        )
        writing = [fd] if client.want_write() else []
        if resting > 0:
            readable, _, _ = select.select([waker_fd], writing, [], min(timeout, resting))
        else:
            wait = 0.0 if buffered else max(timeout, 0.0)
            readable, _, _ = select.select([fd, waker_fd], writing, [], wait)
        if waker_fd in readable:
            self._waker.drain()
        if resting <= 0 and (fd in readable or buffered):
            # What one read brings in reaches the inbox in one hand-over.
            self._open_burst()
            bytes_before = client.bytes_read
            try:
                self._check(client.loop_read(), session, client)
                # Whole packets already in the buffer: no select, no system call, one batch.
                # Motion is read here; paho reads every other packet, in turn.
                for _ in range(_PACKETS_PER_TURN):
                    client.take_publishes(self.handle_publish)
                    if not client.buffered_bytes:
                        break
                    self._check(client.loop_read(), session, client)
            finally:
                self._close_burst()
            got, emptied = client.bytes_read - bytes_before, not client.last_read_full
            # Without paho's hooks no read is counted: then paho reads as it would, unpaced.
            paced = pace and self.read_pause and client.hooked
            if paced and session.pacer.should_pause(got, emptied):
                session.read_at = time.monotonic() + self.read_pause
        if client.want_write():
            self._check(client.loop_write(), session, client)
        self._check(client.loop_misc(), session, client)

    def _check(self, code: MQTTErrorCode, session: _Session, client: BufferedClient) -> None:
        if code != MQTTErrorCode.MQTT_ERR_SUCCESS:
            session.tls_alert = client.tls_alert
            raise self._lost(code, session)

    def _lost(self, code: MQTTErrorCode, session: _Session) -> LinkDownError:
        connack = session.connack
        if connack is not None and connack.is_failure:
            return LinkDownError(_refusal(connack), refused=True)
        return LinkDownError(self._loss_reason(code, session))

    def _loss_reason(self, code: MQTTErrorCode, session: _Session) -> str:
        connack = session.connack
        keepalive_lost = (
            code == MQTTErrorCode.MQTT_ERR_KEEPALIVE
            or getattr(session.disconnect_reason, "value", None) == _KEEPALIVE_TIMEOUT
        )
        if keepalive_lost and connack is None:
            return f"no CONNACK from {self._where} within {self._keepalive} s"
        if keepalive_lost:
            return f"no answer to a keepalive ping within {self._keepalive} s"
        if session.tls_alert is not None:
            return describe_tls_error(
                session.tls_alert, self._where, client_certificate=self._certificate
            )
        if code in (MQTTErrorCode.MQTT_ERR_CONN_LOST, MQTTErrorCode.MQTT_ERR_NO_CONN):
            return _CLOSED_BY_BROKER
        return f"connection lost: {mqtt.error_string(code)}"

    def _check_suback(self, session: _Session) -> None:
        codes = session.suback or []
        pairs = zip(_SUBSCRIPTIONS, codes, strict=False)
        refused = [topic for (topic, _), code in pairs if code.is_failure]
        if refused or len(codes) != len(_SUBSCRIPTIONS):
            topics = ", ".join(refused) or "its topics"
            raise LinkDownError(f"broker refused the subscription to {topics}", refused=True)

    def _publish(self, client: mqtt.Client, session: _Session, request: _AlertRequest) -> None:
        try:
            info = client.publish(request.topic, request.payload, qos=1)
        except (OSError, ValueError) as error:
            detail = f"could not publish: {error}"
            self.outcomes.settle(request.alert_id, Delivery.FAILED, detail, Failure.UNCONFIRMED)
            return
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            detail = f"could not publish: {mqtt.error_string(info.rc)}"
            self.outcomes.settle(request.alert_id, Delivery.FAILED, detail, Failure.UNCONFIRMED)
            return
        session.alert_by_mid[info.mid] = request.alert_id

    def _close(self, client: mqtt.Client, session: _Session) -> None:
        connected = session.connack is not None and not session.connack.is_failure
        if self._stopping_now() and connected and client.socket() is not None:
            # A clean DISCONNECT: the broker must not publish HQ's will for a normal exit.
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_write()
        sock = client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _wind_up(self) -> None:
        """End every session HQ holds on a broker, within END_SESSION_TIMEOUT in all.

        MQTT 3.1.1 ends a session only by connecting with a clean session under its id.
        """
        deadline = time.monotonic() + END_SESSION_TIMEOUT
        current = self._current
        for index in sorted(self._sessions_held, key=lambda held: held != current):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if end_session(self._targets[index], self.client_id, remaining):
                self._sessions_held.discard(index)


_CLOSED_BY_BROKER = "broker closed the connection"


def _refusal(code: ReasonCode) -> str:
    if code.value in _AUTH_REFUSALS:
        return f"authentication failed: {code}"
    return f"broker refused the connection: {code}"
