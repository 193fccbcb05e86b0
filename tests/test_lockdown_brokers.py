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

import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from mwm_tui.domain import codecs, ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    LinkName,
    LinkState,
    MessageRejected,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.targets import Protocol
from tests.support.brokers import HOST
from tests.support.fleet_brokers import LockedFleet, start_locked_fleet
from tests.support.fleet_clients import (
    FleetAccess,
    Hq,
    RawStomp,
    acknowledged,
    crash,
    fix_of,
    motion_payload,
    mqtt_client,
    refused,
    running_hq,
    stomp_as,
    subscribed,
)
from tests.support.link_events import wait_until
from tests.support.pki import TestCA
from tests.support.sim import Sim

ATTACKER, VICTIM, OTHER = "truck-a", "truck-b", "Łódź-7"
DEVICES = [ATTACKER, VICTIM, OTHER]
# Long enough for a broker on this machine to have delivered what it was going to deliver.
QUIET = 1.0


@dataclass
class Fleet:
    brokers: LockedFleet
    access: FleetAccess

    def password(self, name: str) -> str:
        return self.access.password(name)


@pytest.fixture(scope="module")
def fleet(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One TLS fleet for the module: a CA of the test's, Mosquitto and one ActiveMQ JVM."""
    directory = tmp_path_factory.mktemp("lockdown")
    ca = TestCA(directory / "ca")
    server = ca.issue("broker.test", dns=("broker.test",), ips=(HOST,))
    brokers = start_locked_fleet(DEVICES, server, directory / "brokers")
    access = FleetAccess(
        brokers.stomp_port, brokers.mqtt_port, brokers.passwords, brokers.hq_user, ca.cert
    )
    try:
        yield Fleet(brokers, access)
    finally:
        brokers.close()


@pytest.fixture(scope="module")
def hq(fleet: Fleet) -> Iterator[Hq]:
    with running_hq(fleet.access) as running:
        yield running


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
    for name in names:
        # Mosquitto checks each password against the hash the command computed.
        with mqtt_client(fleet.access, name, fleet.password(name)):
            pass
        stomp = RawStomp(fleet.access, name, fleet.password(name))
        assert stomp.connected is not None and stomp.connected[0] == "CONNECTED", stomp.connected
        stomp.close()


# MQTT (Mosquitto)


def test_a_truck_cannot_publish_another_trucks_motion_or_an_alert(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    victim = fleet.password(VICTIM)
    with (
        mqtt_client(fleet.access, VICTIM, victim) as (victim_client, victim_seen),
        mqtt_client(fleet.access, ATTACKER, fleet.password(ATTACKER)) as (attacker, told),
    ):
        subscribed(victim_client, victim_seen, (ids.alert_topic(VICTIM), 1))
        for retain in (False, True):
            acknowledged(
                attacker, told, ids.motion_topic(VICTIM), motion_payload(0.5), retain=retain
            )
        acknowledged(attacker, told, ids.alert_topic(VICTIM), b"red")
        acknowledged(attacker, told, ids.motion_topic(ATTACKER), motion_payload(0.25))
        wait_until(lambda: hq.motions(start, ATTACKER), 10, "the attacker's own motion at HQ")
        alert_id = hq.mqtt.send_alert(VICTIM, "green")
        hq.confirmed(AlertOutcome, alert_id=alert_id)
        wait_until(lambda: victim_seen.of_topic(ids.alert_topic(VICTIM)), 10, "HQ's alert")
        time.sleep(QUIET)
        assert victim_seen.of_topic(ids.alert_topic(VICTIM)) == [b"green"]
    assert hq.motions(start, VICTIM) == []
    # Nothing was retained for the victim either: a new subscriber of the fleet gets nothing.
    with mqtt_client(fleet.access, fleet.brokers.hq_user, fleet.password("hq")) as (reader, seen):
        subscribed(reader, seen, (ids.motion_topic(VICTIM), 0))
        time.sleep(QUIET)
        assert seen.of_topic(ids.motion_topic(VICTIM)) == []


def test_a_truck_reads_no_alert_motion_or_will_but_its_own(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    with mqtt_client(fleet.access, ATTACKER, fleet.password(ATTACKER)) as (attacker, seen):
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
            hq.confirmed(AlertOutcome, alert_id=hq.mqtt.send_alert(device_id, colour))
        # The victim's motion and will go to HQ, not to the attacker.
        will = (ids.WILL_TOPIC, codecs.encode_will(VICTIM))
        with mqtt_client(fleet.access, VICTIM, fleet.password(VICTIM), will=will) as (victim, _):
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
    with mqtt_client(fleet.access, user, password, expect_refusal=True) as (_, seen):
        assert seen.connack is not None and seen.connack.is_failure


def test_a_will_on_another_trucks_topic_is_never_published(fleet: Fleet, hq: Hq) -> None:
    # Mosquitto 2.0 takes the will at CONNECT and checks it when it would publish it.
    start = time.monotonic()
    password = fleet.password(ATTACKER)
    forged = (ids.motion_topic(VICTIM), motion_payload(0.5))
    with mqtt_client(fleet.access, ATTACKER, password, will=forged) as (attacker, _):
        crash(attacker)
    own = (ids.WILL_TOPIC, codecs.encode_will(ATTACKER))
    with mqtt_client(fleet.access, ATTACKER, password, will=own) as (attacker, _):
        crash(attacker)
    wait_until(lambda: hq.since(start, WillReceived, device_id=ATTACKER), 10, "its own will")
    time.sleep(QUIET)
    assert hq.motions(start, VICTIM) == []


def test_a_truck_with_another_trucks_client_id_reads_none_of_its_alerts(
    fleet: Fleet, hq: Hq
) -> None:
    password = fleet.password(ATTACKER)
    with mqtt_client(fleet.access, ATTACKER, password, client_id=VICTIM) as (attacker, seen):
        subscribed(attacker, seen, (ids.alert_topic(VICTIM), 1), (ids.alert_topic(ATTACKER), 1))
        hq.confirmed(AlertOutcome, alert_id=hq.mqtt.send_alert(VICTIM, "brown"))
        hq.confirmed(AlertOutcome, alert_id=hq.mqtt.send_alert(ATTACKER, "gray"))
        wait_until(lambda: seen.of_topic(ids.alert_topic(ATTACKER)), 10, "its own alert")
        time.sleep(QUIET)
        with seen.lock:
            assert seen.messages == [(ids.alert_topic(ATTACKER), b"gray")]


# STOMP (ActiveMQ)


def test_a_truck_cannot_send_another_trucks_position_or_an_order(fleet: Fleet, hq: Hq) -> None:
    start = time.monotonic()
    with stomp_as(fleet.access, ATTACKER) as attacker:
        message = refused(attacker, "SEND", ids.location_destination(VICTIM), fix_of(VICTIM))
        assert "not authorized to write" in message
        for device_id in (VICTIM, ATTACKER):
            message = refused(attacker, "SEND", ids.order_destination(device_id), b"go home")
            assert "not authorized to write" in message
        for destination in (
            "/topic/device.>",
            f"{ids.location_destination(ATTACKER)},device.{VICTIM}.location",
        ):
            assert "not authorized to write" in refused(attacker, "SEND", destination, b"{}")
        # ActiveMQ takes a SEND to the literal topic device.*.location (the rights of the
        # entries a wildcard matches add up), and HQ's subscription delivers it: as from a
        # truck named '*', so HQ refuses a fix naming the victim there.
        for destination, body in (
            (ids.LOCATION_SUBSCRIPTION, fix_of(VICTIM)),
            (ids.location_destination(ATTACKER), fix_of(ATTACKER)),
        ):
            attacker.send_frame("SEND", {"destination": destination, "receipt": "r"}, body)
            frame = attacker.next_frame(10.0)
            assert frame is not None and frame[0] == "RECEIPT", frame
    wait_until(lambda: hq.locations(start, ATTACKER), 10, "the attacker's own fix at HQ")
    rejected = hq.since(start, MessageRejected, reason=RejectReason.ID_MISMATCH)
    assert [event.source for event in rejected] == [ids.LOCATION_SUBSCRIPTION], rejected
    time.sleep(QUIET)
    assert hq.locations(start, VICTIM) == []


def test_a_truck_cannot_read_another_trucks_orders_or_the_fleet(fleet: Fleet, hq: Hq) -> None:
    text = f"deliver to dock {time.monotonic_ns()}"
    hq.confirmed(OrderOutcome, order_id=hq.stomp.send_order(VICTIM, text))
    with stomp_as(fleet.access, ATTACKER) as attacker:
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
    with stomp_as(fleet.access, ATTACKER) as attacker:
        attacker.send_frame(
            "SUBSCRIBE",
            {"destination": "/queue/device.*.text", "id": "all", "ack": "auto", "receipt": "w"},
        )
        frames = attacker.frames(QUIET * 2)
        assert frames and frames[0][0] == "RECEIPT", frames
        own_queue = ids.order_destination(ATTACKER)
        assert [f for f in frames[1:] if f[1].get("destination") != own_queue] == [], frames
    with stomp_as(fleet.access, VICTIM) as victim:
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
    client = RawStomp(fleet.access, user, password)
    try:
        assert client.connected is not None
        kind, headers, _ = client.connected
        assert kind == "ERROR" and "invalid" in headers.get("message", ""), client.connected
    finally:
        client.close()


# HQ and mwm-sim through the same brokers


def locked_in_trucks(fleet: Fleet, sim_factory: Callable[..., Sim], device_ids: list[str]) -> Sim:
    """mwm-sim's trucks, each logged in as itself over TLS, subscribed on both brokers."""
    sim = sim_factory(
        fleet.access.url(Protocol.STOMP),
        fleet.access.url(Protocol.MQTT),
        "--credentials", str(fleet.brokers.directory / "credentials"),
        "--cafile", str(fleet.access.cafile),
        "--ids", ",".join(device_ids),
        "--location-interval", "0.5",
        "--motion-interval", "0.5",
    )  # fmt: skip
    sim.wait_ready(30)
    return sim


def both_ways(hq: Hq, sim: Sim, since: float, device_id: str, *, colour: str, wait: float) -> None:
    """The truck's fixes and live motion reach HQ since ``since``; an order and an alert of
    HQ's reach the truck, each confirmed by its broker."""
    wait_until(lambda: hq.locations(since, device_id), wait, f"a fix of {device_id}")
    wait_until(
        lambda: [m for m in hq.motions(since, device_id) if not m.retained],
        wait,
        f"live motion of {device_id}",
    )
    order_text = f"order for {device_id} {time.monotonic_ns()}"
    hq.confirmed(OrderOutcome, order_id=hq.stomp.send_order(device_id, order_text))
    sim.wait_line(f"ORDER {device_id}: {order_text}", 15)
    hq.confirmed(AlertOutcome, alert_id=hq.mqtt.send_alert(device_id, colour))
    sim.wait_line(f"ALERT {device_id}: {colour}", 15)


def test_hq_and_the_simulated_trucks_work_through_the_locked_down_brokers(
    fleet: Fleet, hq: Hq, sim_factory: Callable[..., Sim]
) -> None:
    start = time.monotonic()
    sim = locked_in_trucks(fleet, sim_factory, DEVICES)
    for device_id in DEVICES:
        both_ways(hq, sim, start, device_id, colour="orange", wait=15)
    sim.command(f"kill {OTHER}")
    wait_until(
        lambda: hq.since(start, WillReceived, device_id=OTHER), 15, "the killed truck's will"
    )


def test_after_both_brokers_restart_hq_and_the_trucks_log_in_again_and_carry_on(
    fleet: Fleet, hq: Hq, sim_factory: Callable[..., Sim]
) -> None:
    sim = locked_in_trucks(fleet, sim_factory, [ATTACKER, VICTIM])
    killed_at = time.monotonic()
    fleet.brokers.activemq.kill()
    fleet.brokers.mosquitto.kill()
    for link in LinkName:
        wait_until(
            lambda n=link: hq.events.state_at(n, LinkState.DOWN, killed_at), 30, f"{link} down"
        )
    back_at = time.monotonic()
    fleet.brokers.mosquitto.start()
    fleet.brokers.activemq.start(timeout=90)
    for link in LinkName:
        wait_until(lambda n=link: hq.events.state_at(n, LinkState.UP, back_at), 30, f"{link} up")
    # Each truck logs in again as itself: its fixes and live motion reach HQ, and so do orders
    # and alerts to it.
    for device_id in (ATTACKER, VICTIM):
        both_ways(hq, sim, back_at, device_id, colour="teal", wait=30)
