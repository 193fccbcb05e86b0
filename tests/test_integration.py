"""End to end over real sockets: mwm-sim, the brokers, both links, inbox, Fleet.

The core scenarios run on every pair of ``broker_pair`` (Mosquitto + ActiveMQ, ActiveMQ serving
both protocols, RabbitMQ serving both); the rest on Mosquitto + ActiveMQ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.errors import InvalidDeviceIdError
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Event,
    Failure,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.link_events import wait_until
from tests.support.matrix import BrokerPair
from tests.support.sim import Sim, fleet_ids, unique_prefix

ROOT = Path(__file__).resolve().parents[1]


class Hq:
    """Both links feeding one inbox; ``pump`` applies what arrived to the Fleet and keeps a log."""

    def __init__(self, stomp_url: str, mqtt_url: str, confirm_timeout: float = 10.0) -> None:
        # Room for the whole flood below: this HQ measures the links, not the coalescing.
        self.inbox = EventInbox(capacity=100_000)
        self.fleet = Fleet(stale_after=60.0, offline_after=120.0)
        self.log: list[Event] = []
        fast = Backoff(initial=0.1, maximum=1.0)
        self.stomp = StompLink(
            parse_target(stomp_url, Protocol.STOMP),
            self.inbox.put,
            backoff=fast.copy(),
            receipt_timeout=confirm_timeout,
        )
        self.mqtt = MqttLink(
            parse_target(mqtt_url, Protocol.MQTT),
            self.inbox.put,
            backoff=fast.copy(),
            ack_timeout=confirm_timeout,
        )

    def start(self) -> None:
        self.stomp.start()
        self.mqtt.start()
        wait_until(lambda: self.state(LinkName.STOMP) is LinkState.UP, 30, "STOMP link up")
        wait_until(lambda: self.state(LinkName.MQTT) is LinkState.UP, 30, "MQTT link up")

    def stop(self) -> None:
        self.stomp.stop()
        self.mqtt.stop()

    def pump(self) -> list[Event]:
        batch = self.inbox.drain(1_000_000)
        self.fleet.apply_all(batch)
        self.fleet.sweep()  # as the app's timer does: held wills are believed after silence
        self.log.extend(batch)
        return batch

    def states(self, link: LinkName) -> list[LinkStateChanged]:
        self.pump()
        return [e for e in self.log if isinstance(e, LinkStateChanged) and e.link is link]

    def state(self, link: LinkName) -> LinkState | None:
        states = self.states(link)
        return states[-1].state if states else None

    def outcome(self, outcome_id: str) -> OrderOutcome | AlertOutcome | None:
        self.pump()
        for event in self.log:
            if isinstance(event, OrderOutcome) and event.order_id == outcome_id:
                return event
            if isinstance(event, AlertOutcome) and event.alert_id == outcome_id:
                return event
        return None

    def wait_outcome(self, outcome_id: str, timeout: float) -> OrderOutcome | AlertOutcome:
        deadline = time.monotonic() + timeout
        while (outcome := self.outcome(outcome_id)) is None:
            assert time.monotonic() < deadline, f"no outcome for {outcome_id} in {timeout:g} s"
            time.sleep(0.02)
        return outcome

    def outcomes_of(self, outcome_id: str) -> list[Event]:
        self.pump()
        return [
            e
            for e in self.log
            if (isinstance(e, OrderOutcome) and e.order_id == outcome_id)
            or (isinstance(e, AlertOutcome) and e.alert_id == outcome_id)
        ]

    def devices_ready(self, device_ids: list[str]) -> bool:
        """Every device known to the Fleet, online, with a position and a live motion."""
        self.pump()
        for device_id in device_ids:
            device = self.fleet.devices.get(device_id)
            if device is None or device.position is None or device.last_motion_at is None:
                return False
            if device.status is not DeviceStatus.ONLINE:
                return False
        return True

    def live_telemetry_since(self, index: int, device_ids: list[str]) -> tuple[bool, bool]:
        """Whether a fix, and a live (not retained) motion, of these came after ``index``."""
        self.pump()
        wanted = set(device_ids)
        located = any(
            isinstance(e, LocationReceived) and e.position.device_id in wanted
            for e in self.log[index:]
        )
        moved = any(
            isinstance(e, MotionReceived) and not e.retained and e.device_id in wanted
            for e in self.log[index:]
        )
        return located, moved


@pytest.fixture
def hq_factory() -> Iterator[Callable[..., Hq]]:
    made: list[Hq] = []

    def make(stomp_url: str, mqtt_url: str, confirm_timeout: float = 10.0) -> Hq:
        hq = Hq(stomp_url, mqtt_url, confirm_timeout)
        made.append(hq)
        hq.start()
        return hq

    yield make
    for hq in made:
        hq.stop()


@pytest.fixture
def hq(hq_factory: Callable[..., Hq], activemq: ActiveMQ, mosquitto: Mosquitto) -> Hq:
    return hq_factory(activemq.url, mosquitto.url)


@pytest.fixture
def pair_hq(hq_factory: Callable[..., Hq], broker_pair: BrokerPair) -> Hq:
    return hq_factory(broker_pair.stomp_url, broker_pair.mqtt_url)


def test_every_simulated_device_appears_with_position_and_motion(
    pair_hq: Hq, sim_factory: Callable[..., Sim], broker_pair: BrokerPair
) -> None:
    prefix = unique_prefix()
    sim = sim_factory(
        broker_pair.stomp_url, broker_pair.mqtt_url, "--devices", "5", "--prefix", prefix
    )
    sim.wait_ready()
    assert sim.lines("READY ") == ["READY 5 devices"]
    device_ids = fleet_ids(prefix, 5)
    wait_until(lambda: pair_hq.devices_ready(device_ids), 15, "five devices with fix and motion")
    assert sorted(d for d in pair_hq.fleet.devices if d.startswith(prefix)) == device_ids
    for device_id in device_ids:
        position = pair_hq.fleet.devices[device_id].position
        assert position is not None and position.ts is not None
        assert 48.0 < position.lat < 50.0 and 1.5 < position.lng < 3.5
    assert sim.stop() == 0


def test_order_reaches_only_its_device_and_is_confirmed(
    pair_hq: Hq, sim_factory: Callable[..., Sim], broker_pair: BrokerPair
) -> None:
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 4)
    sim = sim_factory(
        broker_pair.stomp_url, broker_pair.mqtt_url, "--devices", "4", "--prefix", prefix
    )
    sim.wait_ready()
    target = device_ids[1]
    text = "Where are you heading to? [b]ok[/b] \x1b[31m"
    order_id = pair_hq.stomp.send_order(target, text)
    outcome = pair_hq.wait_outcome(order_id, 15)
    assert outcome == OrderOutcome(order_id, target, Delivery.CONFIRMED)
    wait_until(lambda: sim.lines(f"ORDER {target}: "), 15, "the order at its device")
    # A marker behind it in every other queue: once all markers are read, nothing else is due.
    others = [d for d in device_ids if d != target]
    for device_id in others:
        pair_hq.stomp.send_order(device_id, "marker")
    wait_until(lambda: len(sim.lines("ORDER ")) == len(device_ids), 15, "every marker")
    received = [line for line in sim.lines("ORDER ") if not line.endswith(": marker")]
    assert received == [f"ORDER {target}: Where are you heading to? [b]ok[/b] \\x1b[31m"]
    assert len(pair_hq.outcomes_of(order_id)) == 1


def test_order_to_a_wildcard_id_is_refused_before_sending(
    hq: Hq, sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix()
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", "2", "--prefix", prefix)
    sim.wait_ready()
    for bad_id in ("*", ">", f"{prefix}01.text", "a.b"):
        with pytest.raises(InvalidDeviceIdError):
            hq.stomp.send_order(bad_id, "to everyone")
    for bad_id in ("+", "#", "x/y"):
        with pytest.raises(InvalidDeviceIdError):
            hq.mqtt.send_alert(bad_id, "red")
    order_id = hq.stomp.send_order(f"{prefix}01", "only you")
    wait_until(lambda: sim.lines("ORDER "), 15, "the addressed order")
    assert hq.wait_outcome(order_id, 15).delivery is Delivery.CONFIRMED
    assert sim.lines("ORDER ") == [f"ORDER {prefix}01: only you"]
    assert sim.lines("ALERT ") == []


def test_alert_reaches_only_its_device_and_is_confirmed(
    pair_hq: Hq, sim_factory: Callable[..., Sim], broker_pair: BrokerPair
) -> None:
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 4)
    sim = sim_factory(
        broker_pair.stomp_url, broker_pair.mqtt_url, "--devices", "4", "--prefix", prefix
    )
    sim.wait_ready()
    target = device_ids[2]
    alert_id = pair_hq.mqtt.send_alert(target, "red")
    outcome = pair_hq.wait_outcome(alert_id, 15)
    assert outcome == AlertOutcome(alert_id, target, "red", Delivery.CONFIRMED)
    wait_until(lambda: sim.lines(f"ALERT {target}: red"), 15, "the alert at its device")
    for device_id in device_ids:
        if device_id != target:
            pair_hq.mqtt.send_alert(device_id, "blue")
    wait_until(lambda: len(sim.lines("ALERT ")) == len(device_ids), 15, "every marker alert")
    assert [line for line in sim.lines("ALERT ") if line.endswith(": red")] == [
        f"ALERT {target}: red"
    ]
    assert len(pair_hq.outcomes_of(alert_id)) == 1


def test_device_killed_on_demand_goes_offline_through_its_will(
    pair_hq: Hq, sim_factory: Callable[..., Sim], broker_pair: BrokerPair
) -> None:
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 3)
    sim = sim_factory(
        broker_pair.stomp_url, broker_pair.mqtt_url, "--devices", "3", "--prefix", prefix
    )
    sim.wait_ready()
    wait_until(lambda: pair_hq.devices_ready(device_ids), 15, "three devices online")
    victim = device_ids[0]
    sim.command(f"kill {victim}")
    wait_until(lambda: sim.lines(f"KILLED {victim}"), 10, "the kill")
    wait_until(
        lambda: (
            pair_hq.pump() is not None
            and pair_hq.fleet.devices[victim].status is DeviceStatus.OFFLINE
        ),
        15,
        "the victim offline",
    )
    assert pair_hq.fleet.devices[victim].status_reason == "last will"
    assert all(pair_hq.fleet.devices[d].status is DeviceStatus.ONLINE for d in device_ids[1:])
    assert sim.stop() == 0


def test_device_killed_on_schedule_goes_offline_through_its_will(
    hq: Hq, sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix()
    victim = f"{prefix}B"
    ids_arg = f"{prefix}A,{victim}"
    sim = sim_factory(activemq.url, mosquitto.url, "--ids", ids_arg, "--kill-after", f"{victim}:2")
    sim.wait_ready()
    wait_until(lambda: sim.lines(f"KILLED {victim}"), 15, "the scheduled kill")
    wait_until(
        lambda: (
            hq.pump() is not None
            and victim in hq.fleet.devices
            and hq.fleet.devices[victim].status is DeviceStatus.OFFLINE
        ),
        15,
        "the victim offline",
    )
    assert sim.stop() == 0


def test_links_and_devices_come_back_after_broker_restarts(
    fresh_mosquitto: Callable[..., Mosquitto],
    fresh_activemq: Callable[..., ActiveMQ],
    hq_factory: Callable[..., Hq],
    sim_factory: Callable[..., Sim],
) -> None:
    mosquitto, activemq = fresh_mosquitto(), fresh_activemq()
    hq = hq_factory(activemq.url, mosquitto.url)
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 3)
    sim = sim_factory(
        activemq.url, mosquitto.url, "--devices", "3", "--prefix", prefix,
        "--location-interval", "0.5", "--motion-interval", "0.5",
    )  # fmt: skip
    sim.wait_ready()
    wait_until(lambda: hq.devices_ready(device_ids), 15, "devices online")

    # MQTT broker crashes and comes back on the same port.
    known = len(hq.states(LinkName.MQTT))
    mosquitto.kill()
    wait_until(lambda: hq.state(LinkName.MQTT) is LinkState.DOWN, 15, "MQTT link down")
    down = hq.states(LinkName.MQTT)[known]
    assert down.state is LinkState.DOWN
    assert down.detail == "broker closed the connection"
    assert down.retry_in is not None and down.retry_in > 0
    mosquitto.start()
    wait_until(lambda: hq.state(LinkName.MQTT) is LinkState.UP, 20, "MQTT link up again")
    since = len(hq.log)
    # Live motion of a device after the restart proves it resubscribed: SUBSCRIBE came first.
    wait_until(lambda: hq.live_telemetry_since(since, device_ids[:1])[1], 20, "motion again")
    alert_id = hq.mqtt.send_alert(device_ids[0], "green")
    wait_until(lambda: sim.lines(f"ALERT {device_ids[0]}: green"), 20, "alert after restart")
    assert hq.wait_outcome(alert_id, 10).delivery is (Delivery.CONFIRMED)

    # STOMP broker crashes: an order sent meanwhile fails with a reason, then all recovers.
    activemq.kill()
    wait_until(lambda: hq.state(LinkName.STOMP) is LinkState.DOWN, 30, "STOMP link down")
    order_id = hq.stomp.send_order(device_ids[1], "are you there?")
    failed = hq.wait_outcome(order_id, 5)
    assert failed.delivery is Delivery.FAILED
    assert failed.detail.startswith("STOMP link is ")
    reasons = [s.detail for s in hq.states(LinkName.STOMP) if s.state is LinkState.DOWN]
    assert any(r.startswith(("broker closed", "connection refused")) for r in reasons), reasons
    activemq.start()
    wait_until(lambda: hq.state(LinkName.STOMP) is LinkState.UP, 30, "STOMP link up again")
    since = len(hq.log)
    wait_until(lambda: hq.live_telemetry_since(since, device_ids)[0], 30, "fixes after restart")
    order_id = hq.stomp.send_order(device_ids[1], "back again?")
    wait_until(lambda: sim.lines(f"ORDER {device_ids[1]}: back again?"), 30, "order after restart")
    assert hq.wait_outcome(order_id, 10).delivery is (Delivery.CONFIRMED)
    assert not any("are you there?" in line for line in sim.out)

    # Each link went DOWN and came back UP on its own, with connecting in between.
    for link in (LinkName.MQTT, LinkName.STOMP):
        sequence = [s.state for s in hq.states(link)]
        up_again = len(sequence) - 1 - sequence[::-1].index(LinkState.UP)
        assert LinkState.DOWN in sequence[:up_again], sequence
        assert sequence.count(LinkState.UP) >= 2, sequence
    assert sim.stop() == 0


@pytest.fixture
def frozen_pair(
    fresh_mosquitto: Callable[..., Mosquitto], fresh_activemq: Callable[..., ActiveMQ]
) -> Iterator[tuple[Mosquitto, ActiveMQ]]:
    """Private brokers a test may freeze with SIGSTOP; they are always thawed afterwards."""
    mosquitto, activemq = fresh_mosquitto(), fresh_activemq()
    yield mosquitto, activemq
    for broker in (mosquitto, activemq):
        if broker.pid is not None and broker.is_running():
            os.kill(broker.pid, signal.SIGCONT)


def freeze(*brokers: Mosquitto | ActiveMQ) -> None:
    for broker in brokers:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)


def thaw(*brokers: Mosquitto | ActiveMQ) -> None:
    for broker in brokers:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGCONT)


def test_unconfirmed_order_and_alert_fail_once_even_if_confirmed_late(
    frozen_pair: tuple[Mosquitto, ActiveMQ], hq_factory: Callable[..., Hq]
) -> None:
    mosquitto, activemq = frozen_pair
    hq = hq_factory(activemq.url, mosquitto.url, confirm_timeout=1.0)
    freeze(mosquitto, activemq)
    try:
        order_id = hq.stomp.send_order("AAA", "hello?")
        alert_id = hq.mqtt.send_alert("AAA", "red")
        order = hq.wait_outcome(order_id, 10)
        alert = hq.wait_outcome(alert_id, 10)
    finally:
        thaw(mosquitto, activemq)
    assert order == OrderOutcome(
        order_id,
        "AAA",
        Delivery.FAILED,
        "no receipt from the broker within 1 s",
        Failure.UNCONFIRMED,
    )
    assert alert == AlertOutcome(
        alert_id,
        "AAA",
        "red",
        Delivery.FAILED,
        "no PUBACK from the broker within 1 s",
        Failure.UNCONFIRMED,
    )
    # Confirmations come in order: once these are in, the late ones of the first are too.
    later_order = hq.stomp.send_order("AAA", "still there?")
    later_alert = hq.mqtt.send_alert("AAA", "blue")
    assert hq.wait_outcome(later_order, 10).delivery is Delivery.CONFIRMED
    assert hq.wait_outcome(later_alert, 10).delivery is Delivery.CONFIRMED
    assert hq.outcomes_of(order_id) == [order]
    assert hq.outcomes_of(alert_id) == [alert]


def test_connection_lost_before_confirmation_fails_order_and_alert(
    frozen_pair: tuple[Mosquitto, ActiveMQ], hq_factory: Callable[..., Hq]
) -> None:
    mosquitto, activemq = frozen_pair
    hq = hq_factory(activemq.url, mosquitto.url, confirm_timeout=60.0)
    freeze(mosquitto, activemq)
    order_id = hq.stomp.send_order("AAA", "hello?")
    alert_id = hq.mqtt.send_alert("AAA", "red")
    mosquitto.kill()
    activemq.kill()
    order = hq.wait_outcome(order_id, 15)
    alert = hq.wait_outcome(alert_id, 15)
    assert order.delivery is Delivery.FAILED
    assert alert.delivery is Delivery.FAILED
    lost = "no confirmation from the broker before: broker closed the connection"
    assert (order.detail, alert.detail) == (lost, lost)


def test_silent_brokers_are_noticed_and_links_recover(
    frozen_pair: tuple[Mosquitto, ActiveMQ],
) -> None:
    mosquitto, activemq = frozen_pair
    events: list[Event] = []
    fast = Backoff(initial=0.2, maximum=1.0)
    stomp_link = StompLink(
        parse_target(activemq.url, Protocol.STOMP),
        events.append,
        heartbeats=(1000, 1000),
        backoff=fast.copy(),
    )
    mqtt_link = MqttLink(
        parse_target(mosquitto.url, Protocol.MQTT), events.append, keepalive=1, backoff=fast.copy()
    )

    def details(link: LinkName, state: LinkState) -> list[str]:
        return [
            e.detail
            for e in events
            if isinstance(e, LinkStateChanged) and e.link is link and e.state is state
        ]

    stomp_link.start()
    mqtt_link.start()
    try:
        wait_until(lambda: details(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        wait_until(lambda: details(LinkName.MQTT, LinkState.UP), 30, "MQTT up")
        freeze(mosquitto, activemq)
        try:
            wait_until(lambda: details(LinkName.STOMP, LinkState.DOWN), 15, "STOMP down")
            wait_until(lambda: details(LinkName.MQTT, LinkState.DOWN), 15, "MQTT down")
        finally:
            thaw(mosquitto, activemq)
        wait_until(lambda: len(details(LinkName.STOMP, LinkState.UP)) >= 2, 30, "STOMP up again")
        wait_until(lambda: len(details(LinkName.MQTT, LinkState.UP)) >= 2, 30, "MQTT up again")
    finally:
        stomp_link.stop()
        mqtt_link.stop()
    stomp_down, mqtt_down = (
        details(LinkName.STOMP, LinkState.DOWN),
        details(LinkName.MQTT, LinkState.DOWN),
    )
    assert stomp_down[0] == "no heart-beat from the broker for over 2 s (nor an answer to a probe)"
    assert mqtt_down[0] == "no answer to a keepalive ping within 1 s"


@pytest.mark.parametrize(
    ("url", "protocol", "link_class"),
    [
        ("stomp://127.0.0.1:9", Protocol.STOMP, StompLink),
        ("mqtt://127.0.0.1:9", Protocol.MQTT, MqttLink),
    ],
)
def test_link_reports_why_it_cannot_connect(
    url: str, protocol: Protocol, link_class: type[StompLink] | type[MqttLink]
) -> None:
    events: list[Event] = []
    link = link_class(
        parse_target(url, protocol), events.append, backoff=Backoff(initial=5.0, maximum=5.0)
    )

    def states() -> list[LinkStateChanged]:
        return [e for e in events if isinstance(e, LinkStateChanged)]

    link.start()
    try:
        wait_until(lambda: len(states()) >= 2, 10, "a DOWN state")
    finally:
        link.stop()
    connecting, down, stopped = states()
    assert connecting.state is LinkState.CONNECTING
    assert down.state is LinkState.DOWN
    assert down.detail == "connection refused by 127.0.0.1:9"
    assert down.retry_in is not None and 4.0 <= down.retry_in <= 5.0
    assert connecting.broker == down.broker == url
    assert stopped == LinkStateChanged(link.name, LinkState.DOWN, "stopped", broker=url)


# Floods from a separate process, so the test's own publishing does not share HQ's GIL.
FLOOD_MQTT = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from mwm_tui.domain import codecs, ids
port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
client.connect("127.0.0.1", port)
client.loop_start()
payload = codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))
topics = [ids.motion_topic(f"{prefix}{n:02d}") for n in range(50)]
for n in range(count):
    client.publish(topics[n % 50], payload, qos=0)
client.disconnect()
client.loop_stop()
"""
FLOOD_STOMP = """
import sys
import stomp
from mwm_tui.domain import codecs, ids
port, prefix, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connection = stomp.Connection12([("127.0.0.1", port)], auto_decode=False)
connection.connect(wait=True)
frames = []
for n in range(50):
    device_id = f"{prefix}{n:02d}"
    body = codecs.encode_location(codecs.Position(device_id, 48.85, 2.35))
    frames.append((ids.location_destination(device_id), body))
for n in range(count):
    destination, body = frames[n % 50]
    connection.send(destination, body, content_type="application/json;charset=utf-8")
connection.disconnect()
"""


def test_flood_throughput_through_both_links(
    hq: Hq, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix()
    motions, fixes = 50_000, 20_000
    mqtt_rate = _flood(
        hq, FLOOD_MQTT, port=mosquitto.port, kind=MotionReceived, prefix=prefix, count=motions
    )
    stomp_rate = _flood(
        hq, FLOOD_STOMP, port=activemq.port, kind=LocationReceived, prefix=prefix, count=fixes
    )
    print(
        f"\nflood: MQTT {motions:,} motions at {mqtt_rate:,.0f} msg/s, "
        f"STOMP {fixes:,} fixes at {stomp_rate:,.0f} msg/s "
        "(first to last event in the inbox, publisher in another process)"
    )
    assert hq.inbox.stats().coalesced == 0


def _flood(hq: Hq, script: str, *, port: int, kind: type, prefix: str, count: int) -> float:
    """Run a flood publisher; return events per second from the first to the last arrival."""
    seen = 0
    first: float | None = None

    def all_seen() -> bool:
        nonlocal seen, first
        arrived = sum(
            1
            for event in hq.inbox.drain(1_000_000)
            if isinstance(event, kind) and _telemetry_of(event, prefix)
        )
        if arrived and first is None:
            first = time.monotonic()
        seen += arrived
        return seen >= count

    publisher = subprocess.Popen(
        [sys.executable, "-c", script, str(port), prefix, str(count)], cwd=ROOT
    )
    try:
        wait_until(all_seen, 120, f"{count} {kind.__name__} events")
    finally:
        assert publisher.wait(60) == 0
    assert first is not None
    return count / max(time.monotonic() - first, 1e-9)


def _telemetry_of(event: Event, prefix: str) -> bool:
    if isinstance(event, LocationReceived):
        return event.position.device_id.startswith(prefix)
    return isinstance(event, MotionReceived) and event.device_id.startswith(prefix)


def test_fifty_devices_are_light_on_the_simulator(
    hq: Hq, sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 50)
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", "50", "--prefix", prefix)
    sim.wait_ready(60)
    wait_until(lambda: hq.devices_ready(device_ids), 30, "fifty devices online")
    before_cpu, before = sim.cpu_seconds(), time.monotonic()
    since = len(hq.log)
    wait_until(lambda: time.monotonic() - before >= 4 and hq.pump() is not None, 10, "4 s window")
    elapsed = time.monotonic() - before
    cpu = (sim.cpu_seconds() - before_cpu) / elapsed
    telemetry = sum(1 for e in hq.log[since:] if _telemetry_of(e, prefix))
    print(
        f"\nmwm-sim, 50 devices: {telemetry / elapsed:,.0f} msg/s at HQ, "
        f"simulator CPU {cpu:.0%} of one core"
    )
    assert sim.stop() == 0


def test_sim_refuses_a_bad_url_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mwm_tui.sim.cli", "--mqtt", "stomp://localhost"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("mwm-sim: error: ")
    assert "Traceback" not in result.stderr


def heard_will(hq: Hq, device_id: str) -> bool:
    """Whether a will naming ``device_id`` reached HQ (one for an unknown id adds no truck)."""
    return any(isinstance(e, WillReceived) and e.device_id == device_id for e in hq.log)


def test_sim_exits_cleanly_on_sigterm_without_wills(
    hq: Hq, sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix()
    device_ids = fleet_ids(prefix, 2)
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", "2", "--prefix", prefix)
    sim.wait_ready()
    wait_until(lambda: hq.devices_ready(device_ids), 15, "devices online")
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(15) == 0
    # A clean DISCONNECT: a marker will published after it arrives; none of ours came first.
    marker = f"{prefix}marker"
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.publish(ids.WILL_TOPIC, codecs.encode_will(marker), qos=1).wait_for_publish(5)
    publisher.disconnect()
    wait_until(lambda: hq.pump() is not None and heard_will(hq, marker), 10, "the marker")
    assert not any(heard_will(hq, device_id) for device_id in device_ids)
    assert all(hq.fleet.devices[d].status is DeviceStatus.ONLINE for d in device_ids)
