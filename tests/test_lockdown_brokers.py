"""A locked-down fleet on real brokers: ``mwm-tui brokers config`` writes the configurations,
Mosquitto and ActiveMQ start with the commands it prints (TLS, passwords, per-truck rights).

Each attack uses one truck's real credentials over a raw client and must be refused by the
broker, with HQ's picture unchanged: a marker the attacker may send goes after the forgery,
so HQ having the marker and not the forgery shows the broker dropped it. Mosquitto 2.0 with
an ``acl_file`` grants any SUBSCRIBE and checks each message as it delivers it, and drops a
refused PUBLISH without a word (MQTT 3.1.1): its refusals are shown by what never arrives.
ActiveMQ answers a refused SEND or SUBSCRIBE with an ERROR frame.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    LinkName,
    LinkState,
    LocationReceived,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.targets import BrokerTarget, Protocol, TlsOptions, parse_target
from tests.support.brokers import HOST
from tests.support.fleet_brokers import (
    LockedFleet,
    RawStomp,
    start_locked_fleet,
    tls_client_context,
)
from tests.support.link_events import Recorder, wait_until
from tests.support.pki import TestCA
from tests.support.sim import Sim

ATTACKER, VICTIM, OTHER = "truck-a", "truck-b", "Łódź-7"
DEVICES = [ATTACKER, VICTIM, OTHER]
# Long enough for a broker on this machine to have delivered what it was going to deliver.
QUIET = 1.0


@dataclass
class Fleet:
    brokers: LockedFleet
    cafile: Path

    def password(self, name: str) -> str:
        return self.brokers.passwords[name]


@pytest.fixture(scope="module")
def fleet(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One TLS fleet for the module: a CA of the test's, Mosquitto and one ActiveMQ JVM."""
    directory = tmp_path_factory.mktemp("lockdown")
    ca = TestCA(directory / "ca")
    server = ca.issue("broker.test", dns=("broker.test",), ips=(HOST,))
    brokers = start_locked_fleet(DEVICES, server, directory / "brokers")
    try:
        yield Fleet(brokers, ca.cert)
    finally:
        brokers.close()


@dataclass
class Hq:
    """HQ's two links with the hq account, and every event they reported."""

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


def hq_target(fleet: Fleet, protocol: Protocol) -> BrokerTarget:
    scheme, port = (
        ("stomp+ssl", fleet.brokers.stomp_port)
        if protocol is Protocol.STOMP
        else ("mqtts", fleet.brokers.mqtt_port)
    )
    target = parse_target(f"{scheme}://{fleet.brokers.hq_user}@{HOST}:{port}", protocol)
    password = fleet.password(fleet.brokers.hq_user)
    return target.with_password(password).with_tls_options(TlsOptions(cafile=str(fleet.cafile)))


@pytest.fixture(scope="module")
def hq(fleet: Fleet) -> Iterator[Hq]:
    events = Recorder()
    stomp_link = StompLink([hq_target(fleet, Protocol.STOMP)], events)
    mqtt_link = MqttLink([hq_target(fleet, Protocol.MQTT)], events)
    stomp_link.start()
    mqtt_link.start()
    try:
        for link in (LinkName.STOMP, LinkName.MQTT):
            wait_until(lambda link=link: events.state_at(link, LinkState.UP), 30, f"HQ's {link}")
        yield Hq(events, stomp_link, mqtt_link)
    finally:
        stomp_link.stop()
        mqtt_link.stop()


# Raw MQTT clients with a truck's credentials


@dataclass
class MqttSeen:
    connack: ReasonCode | None = None
    subacks: list[list[int]] = field(default_factory=list)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_topic(self, topic: str) -> list[bytes]:
        with self.lock:
            return [payload for seen, payload in self.messages if seen == topic]


_client_numbers = iter(range(1, 1_000_000))


@contextlib.contextmanager
def mqtt_client(
    fleet: Fleet,
    user: str | None,
    password: str | None,
    *,
    will: tuple[str, bytes] | None = None,
    expect_refusal: bool = False,
) -> Iterator[tuple[mqtt.Client, MqttSeen]]:
    """A paho client over TLS, connected (CONNACK read) and looping on its own thread."""
    seen = MqttSeen()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"probe-{os.getpid()}-{next(_client_numbers)}",
        protocol=mqtt.MQTTv311,
    )
    client.tls_set_context(tls_client_context(fleet.cafile))
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

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(HOST, fleet.brokers.mqtt_port, keepalive=30)
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


def crash(client: mqtt.Client) -> None:
    """Reset the connection as a dying truck does: no DISCONNECT, so the will is published."""
    sock = client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def motion_payload(marker: float) -> bytes:
    return codecs.encode_motion(codecs.Motion(marker, 0.0, 0.0))


def confirmed(hq: Hq, kind: type[Any], **fields: object) -> None:
    _, outcome = wait_until(lambda: hq.events.first(kind, **fields), 20, f"{kind.__name__}")
    assert outcome.delivery is Delivery.CONFIRMED, outcome.detail


# The command's files


def test_the_files_are_private_and_every_account_logs_in_to_both_brokers(fleet: Fleet) -> None:
    directory = fleet.brokers.directory
    names = [fleet.brokers.hq_user, *DEVICES]
    assert list(fleet.brokers.passwords) == names
    written = [
        "credentials", "rabbitmq/setup.sh", "mosquitto/mosquitto.conf", "mosquitto/passwords",
        "mosquitto/acl", "mosquitto/server.pem", "mosquitto/server.key", "activemq/activemq.xml",
        "activemq/login.config", "activemq/users.properties", "activemq/groups.properties",
        "activemq/log4j.properties", "activemq/broker.p12",
    ]  # fmt: skip
    for name in written:
        assert stat.S_IMODE((directory / name).stat().st_mode) & 0o077 == 0, name
    for name in ("mosquitto", "activemq", "activemq/data", "rabbitmq"):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o700, name
    hashes = (directory / "mosquitto" / "passwords").read_text(encoding="utf-8").splitlines()
    assert [line.split(":", 1)[0] for line in hashes] == names
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in hashes)
    context = tls_client_context(fleet.cafile)
    for name in names:
        # Mosquitto checks each password against the hash the command computed.
        with mqtt_client(fleet, name, fleet.password(name)):
            pass
        stomp = RawStomp(fleet.brokers.stomp_port, context, name, fleet.password(name))
        assert stomp.connected is not None and stomp.connected[0] == "CONNECTED", stomp.connected
        stomp.close()


# MQTT (Mosquitto)


def test_a_truck_cannot_publish_another_trucks_motion_or_an_alert(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    victim = fleet.password(VICTIM)
    with (
        mqtt_client(fleet, VICTIM, victim) as (victim_client, victim_seen),
        mqtt_client(fleet, ATTACKER, fleet.password(ATTACKER)) as (attacker, _),
    ):
        subscribed(victim_client, victim_seen, (ids.alert_topic(VICTIM), 1))
        for retain in (False, True):
            attacker.publish(ids.motion_topic(VICTIM), motion_payload(0.5), qos=1, retain=retain)
        attacker.publish(ids.alert_topic(VICTIM), b"red", qos=1).wait_for_publish(5)
        attacker.publish(ids.motion_topic(ATTACKER), motion_payload(0.25), qos=1)
        wait_until(lambda: hq.motions(start, ATTACKER), 10, "the attacker's own motion at HQ")
        alert_id = hq.mqtt.send_alert(VICTIM, "green")
        confirmed(hq, AlertOutcome, alert_id=alert_id)
        wait_until(lambda: victim_seen.of_topic(ids.alert_topic(VICTIM)), 10, "HQ's alert")
        time.sleep(QUIET)
        assert victim_seen.of_topic(ids.alert_topic(VICTIM)) == [b"green"]
    assert hq.motions(start, VICTIM) == []
    # Nothing was retained for the victim either: a new subscriber of the fleet gets nothing.
    with mqtt_client(fleet, fleet.brokers.hq_user, fleet.password("hq")) as (reader, seen):
        subscribed(reader, seen, (ids.motion_topic(VICTIM), 0))
        time.sleep(QUIET)
        assert seen.of_topic(ids.motion_topic(VICTIM)) == []


def test_a_truck_reads_no_alert_motion_or_will_but_its_own(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    with mqtt_client(fleet, ATTACKER, fleet.password(ATTACKER)) as (attacker, seen):
        codes = subscribed(
            attacker,
            seen,
            (ids.alert_topic(VICTIM), 1),
            ("/mwm/+/alert", 1),
            (ids.MOTION_SUBSCRIPTION, 0),
            (ids.WILL_TOPIC, 1),
            ("#", 1),
        )
        assert len(codes) == 5
        for colour, device_id in (("blue", VICTIM), ("cyan", OTHER), ("white", ATTACKER)):
            confirmed(hq, AlertOutcome, alert_id=hq.mqtt.send_alert(device_id, colour))
        # The victim's motion and will go to HQ, not to the attacker.
        will = codecs.encode_will(VICTIM)
        with mqtt_client(fleet, VICTIM, fleet.password(VICTIM), will=(ids.WILL_TOPIC, will)) as (
            victim,
            _,
        ):
            victim.publish(ids.motion_topic(VICTIM), motion_payload(0.75), qos=1)
            wait_until(lambda: hq.motions(start, VICTIM), 10, "the victim's motion at HQ")
            crash(victim)
            wait_until(lambda: hq.since(start, WillReceived, device_id=VICTIM), 10, "the will")
        wait_until(lambda: seen.of_topic(ids.alert_topic(ATTACKER)), 10, "its own alert")
        time.sleep(QUIET)
        with seen.lock:
            assert seen.messages == [(ids.alert_topic(ATTACKER), b"white")]


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, None), (ATTACKER, "not-the-password"), ("nobody", "guessed")],
    ids=["anonymous", "wrong password", "no such user"],
)
def test_mosquitto_refuses_a_client_without_its_own_password(
    fleet: Fleet, user: str | None, password: str | None
) -> None:
    with mqtt_client(fleet, user, password, expect_refusal=True) as (_, seen):
        assert seen.connack is not None and seen.connack.is_failure


def test_a_will_on_another_trucks_topic_is_never_published(fleet: Fleet, hq: Hq) -> None:
    # Mosquitto 2.0 takes the will at CONNECT and checks it when it would publish it.
    start = time.monotonic()
    password = fleet.password(ATTACKER)
    forged = (ids.motion_topic(VICTIM), motion_payload(0.5))
    with mqtt_client(fleet, ATTACKER, password, will=forged) as (attacker, _):
        crash(attacker)
    own = (ids.WILL_TOPIC, codecs.encode_will(ATTACKER))
    with mqtt_client(fleet, ATTACKER, password, will=own) as (attacker, _):
        crash(attacker)
    wait_until(lambda: hq.since(start, WillReceived, device_id=ATTACKER), 10, "its own will")
    time.sleep(QUIET)
    assert hq.motions(start, VICTIM) == []


# STOMP (ActiveMQ)


def raw_stomp(fleet: Fleet, user: str | None, password: str = "") -> RawStomp:
    return RawStomp(fleet.brokers.stomp_port, tls_client_context(fleet.cafile), user, password)


@contextlib.contextmanager
def stomp_as(fleet: Fleet, user: str) -> Iterator[RawStomp]:
    client = raw_stomp(fleet, user, fleet.password(user))
    try:
        assert client.connected is not None and client.connected[0] == "CONNECTED"
        yield client
    finally:
        client.close()


def refused(client: RawStomp, command: str, destination: str, body: bytes = b"") -> str:
    """Send ``command`` to ``destination`` with a receipt; return the ERROR's message."""
    receipt = f"r-{next(_client_numbers)}"
    headers = {"destination": destination, "receipt": receipt}
    if command == "SUBSCRIBE":
        headers |= {"id": receipt, "ack": "auto"}
    client.send_frame(command, headers, body)
    frame = client.next_frame(10.0)
    assert frame is not None, f"no answer to {command} {destination}"
    kind, answer, _ = frame
    assert (kind, answer.get("receipt-id")) == ("ERROR", receipt), frame
    return answer.get("message", "")


def fix_of(device_id: str) -> bytes:
    return codecs.encode_location(codecs.Position(device_id, 48.85, 2.35))


def test_a_truck_cannot_send_another_trucks_position_or_an_order(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    with stomp_as(fleet, ATTACKER) as attacker:
        message = refused(attacker, "SEND", ids.location_destination(VICTIM), fix_of(VICTIM))
        assert "not authorized to write" in message
        for device_id in (VICTIM, ATTACKER):
            message = refused(attacker, "SEND", ids.order_destination(device_id), b"go home")
            assert "not authorized to write" in message
        # Its own position still goes through, after the forgery.
        attacker.send_frame(
            "SEND", {"destination": ids.location_destination(ATTACKER), "receipt": "own"},
            fix_of(ATTACKER),
        )  # fmt: skip
        frame = attacker.next_frame(10.0)
        assert frame is not None and frame[0] == "RECEIPT", frame
    wait_until(lambda: hq.locations(start, ATTACKER), 10, "the attacker's own fix at HQ")
    time.sleep(QUIET)
    assert hq.locations(start, VICTIM) == []


def test_a_truck_cannot_read_another_trucks_orders_or_the_fleet(fleet: Fleet, hq: Hq) -> None:
    text = f"deliver to dock {time.monotonic_ns()}"
    confirmed(hq, OrderOutcome, order_id=hq.stomp.send_order(VICTIM, text))
    with stomp_as(fleet, ATTACKER) as attacker:
        for destination in (
            ids.order_destination(VICTIM),
            "/queue/device.>",
            "/queue/>",
            ids.LOCATION_SUBSCRIPTION,
            "/topic/ActiveMQ.Advisory.Consumer.Queue.device.>",
            f"{ids.order_destination(ATTACKER)},device.{VICTIM}.text",
        ):
            assert "not authorized to read" in refused(attacker, "SUBSCRIBE", destination)
    # ActiveMQ takes a subscription to /queue/device.*.text, as an attacker's right on its
    # own queue matches it, and then delivers from no queue the attacker may not read.
    with stomp_as(fleet, ATTACKER) as attacker:
        attacker.send_frame(
            "SUBSCRIBE",
            {"destination": "/queue/device.*.text", "id": "all", "ack": "auto", "receipt": "w"},
        )
        frames = attacker.frames(QUIET * 2)
        assert frames and frames[0][0] == "RECEIPT", frames
        own_queue = ids.order_destination(ATTACKER)
        assert [f for f in frames[1:] if f[1].get("destination") != own_queue] == [], frames
    with stomp_as(fleet, VICTIM) as victim:
        victim.send_frame(
            "SUBSCRIBE",
            {"destination": ids.order_destination(VICTIM), "id": "own", "ack": "auto"},
        )
        bodies = [body for kind, _, body in victim.frames(QUIET * 2) if kind == "MESSAGE"]
    assert text.encode() in bodies


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, ""), (ATTACKER, "not-the-password"), ("nobody", "guessed")],
    ids=["anonymous", "wrong password", "no such user"],
)
def test_activemq_refuses_a_client_without_its_own_password(
    fleet: Fleet, user: str | None, password: str
) -> None:
    client = raw_stomp(fleet, user, password)
    try:
        assert client.connected is not None
        kind, headers, _ = client.connected
        assert kind == "ERROR" and "invalid" in headers.get("message", ""), client.connected
    finally:
        client.close()


# HQ and mwm-sim through the same brokers


def test_hq_and_the_simulated_trucks_work_through_the_locked_down_brokers(
    fleet: Fleet, hq: Hq, sim_factory: Callable[..., Sim]
) -> None:
    start = time.monotonic()
    sim = sim_factory(
        f"stomp+ssl://{HOST}:{fleet.brokers.stomp_port}",
        f"mqtts://{HOST}:{fleet.brokers.mqtt_port}",
        "--credentials", str(fleet.brokers.directory / "credentials"),
        "--cafile", str(fleet.cafile),
        "--ids", ",".join(DEVICES),
        "--location-interval", "0.5",
        "--motion-interval", "0.5",
    )  # fmt: skip
    sim.wait_ready(30)
    for device_id in DEVICES:
        wait_until(lambda d=device_id: hq.locations(start, d), 15, f"a fix of {device_id}")
        wait_until(
            lambda d=device_id: [m for m in hq.motions(start, d) if not m.retained],
            15,
            f"live motion of {device_id}",
        )
        order_text = f"order for {device_id} {time.monotonic_ns()}"
        confirmed(hq, OrderOutcome, order_id=hq.stomp.send_order(device_id, order_text))
        sim.wait_line(f"ORDER {device_id}: {order_text}", 15)
        confirmed(hq, AlertOutcome, alert_id=hq.mqtt.send_alert(device_id, "orange"))
        sim.wait_line(f"ALERT {device_id}: orange", 15)
    sim.command(f"kill {OTHER}")
    wait_until(
        lambda: hq.since(start, WillReceived, device_id=OTHER), 15, "the killed truck's will"
    )
