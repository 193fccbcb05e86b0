"""A trickle of messages is read in batches, a pause apart, not one wake-up per message; a flood
is not held back by the pause; nothing is lost or reordered by the pause."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.traffic import mqtt_publish
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.socket_reads import RATE_WINDOW, READ_BYTES, ReadPacer
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
from tests.support.clock import FakeClock
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


def test_pacer_pauses_after_each_read_of_a_trickle() -> None:
    clock = FakeClock()
    pacer = ReadPacer(clock=clock)
    decisions = []
    for _ in range(30):  # 3 s at 40 kB/s
        decisions.append(pacer.should_pause(4_000, emptied=True))
        clock.advance(READ_PAUSE)
    assert decisions == [True] * 30


def test_pacer_reads_a_flood_unpaused_from_its_second_second_until_it_ends() -> None:
    clock = FakeClock()
    pacer = ReadPacer(clock=clock)

    def second_of(read_size: int) -> list[bool]:
        decisions = []
        for _ in range(10):
            decisions.append(pacer.should_pause(read_size, emptied=True))
            clock.advance(READ_PAUSE)
        return decisions

    # One receive window (100 kB) a pause: 1 MB/s, above FLOOD_RATE.
    assert all(second_of(100_000))  # the rate is not known before a second has passed
    assert not any(second_of(100_000)[1:])
    assert not any(second_of(10_000)[:1])  # still a flood until this second's rate is known
    assert all(second_of(10_000)[1:])  # a trickle again


def test_pacer_never_pauses_after_a_read_that_filled_its_buffer() -> None:
    pacer = ReadPacer(clock=FakeClock())
    assert not pacer.should_pause(READ_BYTES, emptied=False)


def test_stomp_flood_over_a_real_socket_is_read_unpaused_after_its_first_second() -> None:
    """Pausing after every read that emptied the socket held a flood to one receive window a
    pause (about 1 MB/s here): the broker stops sending while the window is full."""
    frame = stomp_message(b'{"lat": 48.85, "lng": 2.35}')
    trickle = [frame] * 5  # the link is pausing between reads when the flood begins
    flood = [frame * 100] * 300  # 9 MB
    listener = socket.create_server((HOST, 0))
    sender = threading.Thread(
        target=send_when_accepted, args=(listener, trickle, flood), daemon=True
    )
    sender.start()
    transport = FramedTransport([(HOST, 1)], on_reject=lambda rejected: None, timeout=1.0)
    received: list[object] = []
    transport.on_message = received.append
    transport.read_pause = READ_PAUSE
    paused_at: list[float] = []

    def sleep(seconds: float) -> None:
        paused_at.append(time.monotonic())
        time.sleep(seconds)

    transport.sleep = sleep
    transport.running = True
    frames = len(trickle) + 100 * len(flood)
    with socket.create_connection(listener.getsockname(), timeout=30.0) as sock:
        transport.socket = sock
        while len(received) < len(trickle):
            transport._BaseTransport__read_frames()
        assert paused_at, "a trickle is read a pause apart"
        flood_began = time.monotonic()
        while len(received) < frames:
            transport._BaseTransport__read_frames()
        flood_ended = time.monotonic()
    sender.join(5.0)
    listener.close()
    assert len(received) == frames
    assert flood_ended - flood_began > RATE_WINDOW + 0.5, "the flood was too short to judge"
    late = [at - flood_began for at in paused_at if at > flood_began + RATE_WINDOW + 0.5]
    assert late == [], late


def test_mqtt_flood_over_a_real_socket_is_read_unpaused_after_its_first_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trickle = [motion_publish(n) for n in range(5)]
    flood = b"".join(motion_publish(n) for n in range(len(trickle), 180_000))  # 9 MB
    messages = len(trickle) + len(flood) // len(trickle[0])
    broker = FloodingMqttBroker(trickle, flood)
    paused_at: list[float] = []
    should_pause = ReadPacer.should_pause

    def recorded(pacer: ReadPacer, got: int, emptied: bool) -> bool:
        decision = should_pause(pacer, got, emptied)
        if decision:
            paused_at.append(time.monotonic())
        return decision

    monkeypatch.setattr(ReadPacer, "should_pause", recorded)
    heard: list[str] = []
    link = MqttLink(parse_target(f"mqtt://{HOST}:{broker.port}", Protocol.MQTT), lambda e: None)
    link.tap = lambda topic, payload, retained, headers: heard.append(topic)
    link.start()
    try:
        wait_until(lambda: len(heard) >= len(trickle), 30, "the trickle")
        assert paused_at, "a trickle is read a pause apart"
        flood_began = time.monotonic()
        flood_ended = wait_until(lambda: len(heard) == messages and time.monotonic(), 60, "flood")
    finally:
        link.stop()
        broker.close()
    assert heard[-1] == ids.motion_topic(device_name(messages - 1))
    assert flood_ended - flood_began > RATE_WINDOW + 0.5, "the flood was too short to judge"
    late = [at - flood_began for at in paused_at if at > flood_began + RATE_WINDOW + 0.5]
    assert late == [], late


def stomp_message(body: bytes) -> bytes:
    """A MESSAGE frame as ActiveMQ sends a truck's location (~300 bytes)."""
    head = (
        b"MESSAGE\ncontent-length:%d\nexpires:0\ndestination:/topic/device.t1.location\n"
        b"subscription:1\npriority:4\nmessage-id:ID\\chq-40661-1764633610683-3\\c1\\c1\\c1\\c42\n"
        b"timestamp:1764633622071\n\n"
    ) % len(body)
    return head + body + b"\0"


def send_when_accepted(listener: socket.socket, trickle: list[bytes], flood: list[bytes]) -> None:
    connection, _ = listener.accept()
    with connection:
        for frame in trickle:
            connection.sendall(frame)
            time.sleep(READ_PAUSE / 2)
        send_paced(connection, flood)


def send_paced(connection: socket.socket, chunks: list[bytes]) -> None:
    """One chunk every 10 ms, as a busy broker writes: most reads then empty the socket."""
    began = time.monotonic()
    for count, chunk in enumerate(chunks, start=1):
        connection.sendall(chunk)
        time.sleep(max(0.0, began + count / 100 - time.monotonic()))


def device_name(n: int) -> str:
    return f"flood-{n % 1_000:04d}"


def motion_publish(n: int) -> bytes:
    """A QoS 0 PUBLISH of one truck's motion."""
    payload = codecs.encode_motion(codecs.Motion(1, 2, 3))
    return mqtt_publish(ids.motion_topic(device_name(n)), payload, retain=False)


class FloodingMqttBroker:
    """Just enough of an MQTT 3.1.1 broker on a real socket: it accepts HQ's session and its
    subscriptions, then sends a trickle of motion and, right after it, a flood."""

    def __init__(self, trickle: list[bytes], flood: bytes) -> None:
        self._listener = socket.create_server((HOST, 0))
        self.port: int = self._listener.getsockname()[1]
        self._trickle, self._flood = trickle, flood
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            while True:
                kind, body = read_packet(connection)
                if kind == 0x10:  # CONNECT
                    connection.sendall(b"\x20\x02\x00\x00")
                elif kind == 0x82:  # SUBSCRIBE: every filter granted QoS 0
                    filters = count_filters(body[2:])
                    connection.sendall(bytes([0x90, 2 + filters]) + body[:2] + bytes(filters))
                    break
            for packet in self._trickle:
                connection.sendall(packet)
                time.sleep(READ_PAUSE / 2)
            step = 30_000
            send_paced(
                connection, [self._flood[at : at + step] for at in range(0, len(self._flood), step)]
            )
            with contextlib.suppress(OSError):
                while connection.recv(4096):  # until HQ disconnects
                    pass

    def close(self) -> None:
        self._listener.close()
        self._thread.join(10.0)


def read_packet(connection: socket.socket) -> tuple[int, bytes]:
    kind = receive_exactly(connection, 1)[0]
    length, shift = 0, 0
    while True:
        byte = receive_exactly(connection, 1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return kind, receive_exactly(connection, length)


def receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        assert chunk, "HQ closed the connection"
        data += chunk
    return data


def count_filters(payload: bytes) -> int:
    count, pos = 0, 0
    while pos < len(payload):
        pos += 2 + int.from_bytes(payload[pos : pos + 2], "big") + 1
        count += 1
    return count
