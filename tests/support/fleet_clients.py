"""Clients of a locked-down fleet: HQ's own links with the HQ account, and raw MQTT and STOMP
clients with one truck's credentials (the tests' attackers)."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain import codecs
from mwm_tui.domain.events import (
    Delivery,
    LinkName,
    LinkState,
    LocationReceived,
    MotionReceived,
)
from mwm_tui.domain.targets import BrokerTarget, Protocol, TlsOptions, parse_target

from .brokers import HOST
from .link_events import Recorder, wait_until

_numbers = iter(range(1, 1_000_000_000))


@dataclass(frozen=True)
class FleetAccess:
    """Where a locked-down fleet's brokers listen, its accounts, and the CA for TLS (or None)."""

    stomp_port: int
    mqtt_port: int
    passwords: dict[str, str]
    hq_user: str = "hq"
    cafile: Path | None = None

    def password(self, name: str) -> str:
        return self.passwords[name]

    def context(self) -> ssl.SSLContext | None:
        """A client context trusting only the fleet's CA, checking the broker's name."""
        return None if self.cafile is None else ssl.create_default_context(cafile=self.cafile)

    def url(self, protocol: Protocol, user: str | None = None) -> str:
        tls = self.cafile is not None
        if protocol is Protocol.STOMP:
            scheme, port = ("stomp+ssl" if tls else "stomp"), self.stomp_port
        else:
            scheme, port = ("mqtts" if tls else "mqtt"), self.mqtt_port
        return f"{scheme}://{f'{user}@' if user else ''}{HOST}:{port}"

    def hq_target(self, protocol: Protocol) -> BrokerTarget:
        target = parse_target(self.url(protocol, self.hq_user), protocol)
        target = target.with_password(self.password(self.hq_user))
        if self.cafile is None:
            return target
        return target.with_tls_options(TlsOptions(cafile=str(self.cafile)))


# HQ


@dataclass
class Hq:
    """HQ's two links with the HQ account, and every event they reported."""

    events: Recorder
    stomp: StompLink
    mqtt: MqttLink

    def since(self, start: float, kind: type[Any], **fields: object) -> list[Any]:
        return [
            event
            for _, event in self.events.since(start)
            if isinstance(event, kind)
            and all(getattr(event, name) == value for name, value in fields.items())
        ]

    def locations(self, start: float, device_id: str) -> list[LocationReceived]:
        return [e for e in self.since(start, LocationReceived) if e.position.device_id == device_id]

    def motions(self, start: float, device_id: str) -> list[MotionReceived]:
        return self.since(start, MotionReceived, device_id=device_id)

    def confirmed(self, kind: type[Any], **fields: object) -> None:
        """Wait for the order's or alert's outcome and require the broker's confirmation."""
        found = wait_until(lambda: self.events.first(kind, 0.0, **fields), 20, kind.__name__)
        outcome = found[1]
        assert outcome.delivery is Delivery.CONFIRMED, outcome.detail


@contextlib.contextmanager
def running_hq(access: FleetAccess) -> Iterator[Hq]:
    """HQ's STOMP and MQTT links logged in as HQ, both up."""
    events = Recorder()
    stomp_link = StompLink([access.hq_target(Protocol.STOMP)], events)
    mqtt_link = MqttLink([access.hq_target(Protocol.MQTT)], events)
    stomp_link.start()
    mqtt_link.start()
    try:
        for link in (LinkName.STOMP, LinkName.MQTT):
            wait_until(partial(events.state_at, link, LinkState.UP), 30, f"HQ's {link}")
        yield Hq(events, stomp_link, mqtt_link)
    finally:
        stomp_link.stop()
        mqtt_link.stop()


# MQTT


@dataclass
class MqttSeen:
    """What a raw MQTT client was told: its CONNACK, SUBACKs, messages and disconnection."""

    connack: ReasonCode | None = None
    subacks: list[list[int]] = field(default_factory=list)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    disconnected: bool = False
    disconnect_reasons: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_topic(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for seen, payload in self.messages if seen == topic]


@contextlib.contextmanager
def mqtt_client(
    access: FleetAccess,
    user: str | None,
    password: str | None,
    *,
    client_id: str | None = None,
    will: tuple[str, bytes] | None = None,
    expect_refusal: bool = False,
) -> Iterator[tuple[mqtt.Client, MqttSeen]]:
    """A paho client, connected (CONNACK read) and looping on its own thread."""
    seen = MqttSeen()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"probe-{os.getpid()}-{next(_numbers)}",
        protocol=mqtt.MQTTv311,
    )
    context = access.context()
    if context is not None:
        client.tls_set_context(context)
    if user is not None:
        client.username_pw_set(user, password)
    if will is not None:
        client.will_set(will[0], will[1], qos=1)

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        seen.connack = code

    def on_subscribe(_c: mqtt.Client, _u: Any, _m: int, codes: list[ReasonCode], _p: Any) -> None:
        with seen.lock:
            seen.subacks.append([code.value for code in codes])

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with seen.lock:
            seen.messages.append((message.topic, bytes(message.payload)))

    def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        seen.disconnected = True
        with seen.lock:
            seen.disconnect_reasons.append(str(code))

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.on_disconnect = on_disconnect
    client.connect(HOST, access.mqtt_port, keepalive=30)
    client.loop_start()
    try:
        wait_until(lambda: seen.connack, 10, "a CONNACK")
        assert seen.connack is not None
        assert seen.connack.is_failure is expect_refusal, seen.connack
        yield client, seen
    finally:
        client.disconnect()
        client.loop_stop()


def subscribed(client: mqtt.Client, seen: MqttSeen, *topics: tuple[str, int]) -> list[int]:
    """Subscribe and wait for the SUBACK; return its codes."""
    before = len(seen.subacks)
    client.subscribe(list(topics))
    wait_until(lambda: len(seen.subacks) > before, 10, "a SUBACK")
    return seen.subacks[before]


def acknowledged(
    client: mqtt.Client, seen: MqttSeen, topic: str, payload: bytes, *, retain: bool = False
) -> None:
    """Publish at QoS 1 and wait for the broker's PUBACK, which it sends after judging the
    message (a refused one too, MQTT 3.1.1): proof that the broker received it.

    A connection lost before the PUBACK is reconnected by paho's loop, and the message sent
    again once; the reasons are kept for the failure's message."""
    for _ in range(2):
        wait_until(client.is_connected, 15, f"{topic}: a connection to publish on")
        info = client.publish(topic, payload, qos=1, retain=retain)
        with contextlib.suppress(RuntimeError):
            info.wait_for_publish(5)
        if info.is_published():
            return
    raise AssertionError(f"no PUBACK for {topic}; disconnections: {seen.disconnect_reasons}")


def crash(client: mqtt.Client) -> None:
    """Reset the connection as a dying truck does: no DISCONNECT, so the will is published."""
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def motion_payload(marker: float) -> bytes:
    return codecs.encode_motion(codecs.Motion(marker, 0.0, 0.0))


# STOMP


Frame = tuple[str, dict[str, str], bytes]


class RawStomp:
    """One STOMP 1.2 connection, frames read as they come."""

    def __init__(self, access: FleetAccess, login: str | None, passcode: str) -> None:
        sock = socket.create_connection((HOST, access.stomp_port), timeout=5)
        context = access.context()
        self.sock = sock if context is None else context.wrap_socket(sock, server_hostname=HOST)
        self._buffer = b""
        headers = {"accept-version": "1.2", "host": "/", "heart-beat": "0,0"}
        if login is not None:
            headers |= {"login": login, "passcode": passcode}
        self.send_frame("CONNECT", headers)
        self.connected = self.next_frame(5.0)

    def send_frame(self, command: str, headers: dict[str, str], body: bytes = b"") -> None:
        lines = "".join(f"{key}:{value}\n" for key, value in headers.items())
        self.sock.sendall(f"{command}\n{lines}\n".encode() + body + b"\x00")

    def next_frame(self, timeout: float) -> Frame | None:
        """The next frame (command, headers, body), or None when none came in ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\x00" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self._buffer += chunk
        frame, _, self._buffer = self._buffer.partition(b"\x00")
        head, _, body = frame.lstrip(b"\r\n").partition(b"\n\n")
        command, *header_lines = head.decode().split("\n")
        headers: dict[str, str] = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            headers.setdefault(key, value)
        return command, headers, body

    def frames(self, timeout: float) -> list[Frame]:
        """Every frame that arrives within ``timeout`` seconds."""
        found = []
        deadline = time.monotonic() + timeout
        while (frame := self.next_frame(max(0.0, deadline - time.monotonic()))) is not None:
            found.append(frame)
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def stomp_as(access: FleetAccess, user: str) -> Iterator[RawStomp]:
    """A raw STOMP connection logged in with ``user``'s own password."""
    client = RawStomp(access, user, access.password(user))
    try:
        assert client.connected is not None and client.connected[0] == "CONNECTED"
        yield client
    finally:
        client.close()


def refused(client: RawStomp, command: str, destination: str, body: bytes = b"") -> str:
    """Send ``command`` to ``destination`` with a receipt and require an ERROR; return it.

    ActiveMQ's ERROR names the receipt; RabbitMQ's does not, and it ends the connection.
    """
    receipt = f"r-{next(_numbers)}"
    headers = {"destination": destination, "receipt": receipt}
    if command == "SUBSCRIBE":
        headers |= {"id": receipt, "ack": "auto"}
    client.send_frame(command, headers, body)
    frame = client.next_frame(10.0)
    assert frame is not None, f"no answer to {command} {destination}"
    kind, answer, _ = frame
    assert kind == "ERROR" and answer.get("receipt-id", receipt) == receipt, frame
    return answer.get("message", "")


def fix_of(device_id: str) -> bytes:
    return codecs.encode_location(codecs.Position(device_id, 48.85, 2.35))
