"""A trickle of messages is read in batches, a pause apart, not one wake-up per message; a flood
is never paused; nothing is lost or reordered by the pause."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.socket_reads import READ_BYTES
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.stomp_transport import FramedTransport
from mwm_tui.adapters.supervisor import READ_PAUSE
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.events import (
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ, Mosquitto
from tests.support.link_events import wait_until

MESSAGES = 100
GAP = 0.01  # one message every 10 ms: a second of trickle
# Reads in that second: one per READ_PAUSE at most, with room for a slow machine's jitter.
MOST_READS = int(MESSAGES * GAP / READ_PAUSE * 1.5) + 5


class BatchInbox(EventInbox):
    """An inbox that keeps the events of each hand-over."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[Event]] = []
        self.taken: list[Event] = []

    def put_many(self, events: Iterable[Event]) -> None:
        listed = list(events)
        self.batches.append(listed)
        super().put_many(listed)

    def take(self) -> list[Event]:
        self.taken.extend(self.drain(1_000_000))
        return self.taken

    def link_up(self, link: LinkName) -> bool:
        return any(
            isinstance(e, LinkStateChanged) and e.link is link and e.state is LinkState.UP
            for e in self.take()
        )


def reads_of(inbox: BatchInbox, device_ids: set[str]) -> int:
    """Hand-overs that carried a message of one of ``device_ids``."""
    return sum(1 for batch in inbox.batches if any(device_of(e) in device_ids for e in batch))


def device_of(event: Event) -> str | None:
    if isinstance(event, LocationReceived):
        return event.position.device_id
    if isinstance(event, MotionReceived | WillReceived):
        return event.device_id
    return None


def test_mqtt_trickle_is_read_a_pause_apart_in_order_with_its_will(mosquitto: Mosquitto) -> None:
    inbox = BatchInbox()
    link = MqttLink(parse_target(mosquitto.url, Protocol.MQTT), inbox.put)
    prefix = f"pause-{uuid.uuid4().hex[:6]}-"
    devices = [f"{prefix}{n}" for n in range(MESSAGES)]
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    link.start()
    try:
        wait_until(lambda: inbox.link_up(LinkName.MQTT), 30, "MQTT up")
        publisher.connect(HOST, mosquitto.port, keepalive=10)
        publisher.loop_start()
        payload = codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))
        for device_id in devices:
            publisher.publish(ids.motion_topic(device_id), payload, qos=0)
            time.sleep(GAP)
        will = f'{{"deviceID": "{devices[-1]}"}}'.encode()
        publisher.publish(ids.WILL_TOPIC, will, qos=1).wait_for_publish(5)
        ours = set(devices)
        wait_until(
            lambda: any(isinstance(e, WillReceived) and e.device_id in ours for e in inbox.take()),
            10,
            "the will",
        )
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        link.stop()
    received = [device_of(e) for e in inbox.taken if device_of(e) in ours]
    assert received == [*devices, devices[-1]]  # every motion, in order, then the will
    assert isinstance(next(e for e in reversed(inbox.taken) if device_of(e)), WillReceived)
    assert reads_of(inbox, ours) <= MOST_READS, len(inbox.batches)


def test_stomp_trickle_is_read_a_pause_apart_in_order(activemq: ActiveMQ) -> None:
    inbox = BatchInbox()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), inbox.put, advisories=False)
    prefix = f"pause-{uuid.uuid4().hex[:6]}-"
    devices = [f"{prefix}{n}" for n in range(MESSAGES)]
    link.start()
    try:
        wait_until(lambda: inbox.link_up(LinkName.STOMP), 30, "STOMP up")
        with socket.create_connection((HOST, activemq.port), timeout=5.0) as sock:
            sock.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
            for device_id in devices:
                body = codecs.encode_location(codecs.Position(device_id, 48.85, 2.35))
                head = f"SEND\ndestination:{ids.location_destination(device_id)}\n"
                sock.sendall(f"{head}content-length:{len(body)}\n\n".encode() + body + b"\x00")
                time.sleep(GAP)
            ours = set(devices)
            wait_until(
                lambda: sum(device_of(e) in ours for e in inbox.take()) == MESSAGES,
                10,
                "every location",
            )
    finally:
        link.stop()
    assert [device_of(e) for e in inbox.taken if device_of(e) in ours] == devices
    assert reads_of(inbox, ours) <= MOST_READS, len(inbox.batches)


class Clock:
    """Stands in for the transport's sleep: records pauses instead of sleeping."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def paused_transport() -> tuple[FramedTransport, Clock]:
    clock = Clock()
    transport = FramedTransport([(HOST, 1)], on_reject=lambda rejected: None, timeout=1.0)
    transport.sleep = clock.sleep
    transport.on_message = lambda frame: None
    transport.read_pause = 0.05
    transport.running = True
    return transport, clock


def read(transport: FramedTransport, data: bytes) -> None:
    transport._read_available = lambda: data  # type: ignore[method-assign]
    transport._BaseTransport__read_frames()


def test_stomp_read_that_emptied_the_socket_pauses(
    paused_transport: tuple[FramedTransport, Clock],
) -> None:
    transport, clock = paused_transport
    read(transport, b"\n")
    assert clock.pauses == [0.05]


def test_stomp_read_that_filled_its_buffer_does_not_pause(
    paused_transport: tuple[FramedTransport, Clock],
) -> None:
    transport, clock = paused_transport
    read(transport, b"\n" * READ_BYTES)
    assert clock.pauses == []


def test_stomp_link_hands_its_pause_to_the_transport() -> None:
    link = StompLink(parse_target("stomp://127.0.0.1:61613", Protocol.STOMP), lambda e: None)
    transport = FramedTransport([(HOST, 1)], on_reject=lambda rejected: None, timeout=1.0)
    assert transport.read_pause == 0.0  # a truck of the simulator reads at every byte
    link.take_reads(transport)
    assert transport.read_pause == READ_PAUSE > 0


def test_mqtt_alert_is_sent_at_once_during_a_pause(mosquitto: Mosquitto) -> None:
    inbox = BatchInbox()
    link = MqttLink(parse_target(mosquitto.url, Protocol.MQTT), inbox.put)
    link.read_pause = 30.0  # a pause far longer than the wait for the alert below
    device_id = f"pause-{uuid.uuid4().hex[:6]}"
    got: list[bytes] = []
    arrived = threading.Event()
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        got.append(message.payload)
        arrived.set()

    watcher.on_message = on_message
    watcher.connect(HOST, mosquitto.port, keepalive=10)
    watcher.subscribe(ids.alert_topic(device_id), qos=1)
    watcher.loop_start()
    link.start()
    try:
        wait_until(lambda: inbox.link_up(LinkName.MQTT), 30, "MQTT up")
        # A motion read begins the pause.
        payload = codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))
        watcher.publish(ids.motion_topic(device_id), payload, qos=0)
        wait_until(lambda: any(device_of(e) == device_id for e in inbox.take()), 10, "the motion")
        link.send_alert(device_id, "red")
        assert arrived.wait(5.0), "the alert did not leave during the pause"
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        link.stop()
    assert got == [b"red"]
