"""mwm-sim at scale: hundreds of devices, each with a connection of its own on each protocol,
all served by one event loop in one process, on the real brokers."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import stomp
import stomp.utils
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.domain import codecs, ids, simulation
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.link_events import wait_until
from tests.support.sim import Sim, send_marker_orders, unique_prefix

# Two sockets a device: 1,200 descriptors, past the 1,024 that select() can watch.
DEVICES = 600


class Watcher:
    """Who was heard: fixes on STOMP, live motion and wills on MQTT, for one id prefix."""

    def __init__(self, activemq: ActiveMQ, mosquitto: Mosquitto, prefix: str) -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self.located: set[str] = set()
        self.moved: set[str] = set()
        self.wills: list[str] = []
        self._stomp = stomp.Connection12([("127.0.0.1", activemq.port)])
        self._stomp.set_listener("watch", _Fixes(self))
        self._stomp.connect(wait=True)
        self._stomp.subscribe(ids.LOCATION_SUBSCRIPTION, id="fixes", ack="auto")
        self._mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._mqtt.on_message = self._on_mqtt
        self._mqtt.connect("127.0.0.1", mosquitto.port)
        self._mqtt.subscribe([(ids.MOTION_SUBSCRIPTION, 0), (ids.WILL_TOPIC, 1)])
        self._mqtt.loop_start()

    def heard_fix(self, destination: str) -> None:
        device_id = ids.id_from_location_destination(destination)
        if device_id.startswith(self._prefix):
            with self._lock:
                self.located.add(device_id)

    def _on_mqtt(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == ids.WILL_TOPIC:
            device_id = codecs.decode_will(message.payload)
            if device_id.startswith(self._prefix):
                with self._lock:
                    self.wills.append(device_id)
        elif not message.retain:
            device_id = ids.id_from_motion_topic(message.topic)
            if device_id.startswith(self._prefix):
                with self._lock:
                    self.moved.add(device_id)

    def forget(self) -> None:
        with self._lock:
            self.located.clear()
            self.moved.clear()

    def close(self) -> None:
        self._mqtt.loop_stop()
        self._mqtt.disconnect()
        self._stomp.disconnect()


class _Fixes(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self._watcher.heard_fix(frame.headers.get("destination", ""))


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


def sockets_of(pid: int) -> list[int]:
    """The descriptors of ``pid`` that are sockets."""
    fds = []
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(entry).startswith("socket:"):
                fds.append(int(entry.name))
        except OSError:
            continue
    return fds


def send_alerts(mosquitto: Mosquitto, device_ids: list[str], colour: str) -> None:
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        sent = [publisher.publish(ids.alert_topic(d), colour, qos=1) for d in device_ids]
        for info in sent:
            info.wait_for_publish(10)
    finally:
        publisher.loop_stop()
        publisher.disconnect()


def publish_will(mosquitto: Mosquitto, device_id: str) -> None:
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        publisher.publish(ids.WILL_TOPIC, codecs.encode_will(device_id), qos=1).wait_for_publish(5)
    finally:
        publisher.loop_stop()
        publisher.disconnect()


def test_six_hundred_devices_share_one_event_loop(
    sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("many")
    device_ids = simulation.device_ids(prefix, DEVICES)
    watcher = Watcher(activemq, mosquitto, prefix)
    try:
        sim = sim_factory(
            activemq.url, mosquitto.url, "--devices", str(DEVICES), "--prefix", prefix,
            "--location-interval", "1", "--motion-interval", "1",
        )  # fmt: skip
        sim.wait_ready(90)
        assert sim.lines("READY ") == [f"READY {DEVICES} devices"]
        # One connection of its own per device and protocol, on one loop: no thread for any.
        sockets = sockets_of(sim.proc.pid)
        assert len(sockets) >= 2 * DEVICES
        assert max(sockets) > 1024
        assert threads_of(sim.proc.pid) <= 2  # the loop, and the reader of stdin

        # Every device publishes: a fix on STOMP and live motion on MQTT.
        watcher.forget()
        everyone = set(device_ids)
        wait_until(lambda: watcher.located >= everyone, 30, "a fix from every device")
        wait_until(lambda: watcher.moved >= everyone, 30, "live motion from every device")

        # Every device reads its own order queue and its own alert topic.
        send_marker_orders(activemq.url, device_ids, "go north")
        send_alerts(mosquitto, device_ids, "amber")
        wait_until(lambda: len(sim.lines("ORDER ")) >= DEVICES, 60, "an order at every device")
        wait_until(lambda: len(sim.lines("ALERT ")) >= DEVICES, 60, "an alert at every device")
        assert sorted(sim.lines("ORDER ")) == sorted(f"ORDER {d}: go north" for d in device_ids)
        assert sorted(sim.lines("ALERT ")) == sorted(f"ALERT {d}: amber" for d in device_ids)

        # Each killed device's will, and only theirs; the others carry on.
        victims = device_ids[::60]
        for victim in victims:
            sim.command(f"kill {victim}")
        wait_until(lambda: len(sim.lines("KILLED ")) == len(victims), 15, "the kills")
        wait_until(lambda: sorted(watcher.wills) == sorted(victims), 15, "the victims' wills")
        watcher.forget()
        living = everyone - set(victims)
        wait_until(lambda: watcher.moved >= living, 30, "the living still moving")
        assert not watcher.moved & set(victims)
        assert threads_of(sim.proc.pid) <= 2

        assert sim.stop() == 0
        # Stopped cleanly: every device said DISCONNECT, so no will came before a marker.
        marker = f"{prefix}marker"
        publish_will(mosquitto, marker)
        wait_until(lambda: marker in watcher.wills, 10, "the marker will")
        assert sorted(watcher.wills) == sorted([*victims, marker])
    finally:
        watcher.close()


def test_devices_spread_over_processes_behave_as_in_one(
    sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("procs")
    device_ids = simulation.device_ids(prefix, 30)
    watcher = Watcher(activemq, mosquitto, prefix)
    try:
        sim = sim_factory(
            activemq.url, mosquitto.url, "--devices", "30", "--prefix", prefix,
            "--processes", "3", "--kill-after", f"{device_ids[25]}:1",
        )  # fmt: skip
        sim.wait_ready(60)
        workers = [int(pid) for pid in Path(f"/proc/{sim.proc.pid}/task/{sim.proc.pid}/children")
                   .read_text().split()]  # fmt: skip
        assert len(workers) == 3
        assert all(len(sockets_of(pid)) >= 20 for pid in workers)
        # One READY for the whole fleet, once the scheduled kill has been done.
        wait_until(lambda: sim.lines("KILLED "), 15, "the scheduled kill")
        assert sim.lines("KILLED ") == [f"KILLED {device_ids[25]}"]
        assert len(sim.lines("READY ")) == 1

        # An order and an alert reach a device of each worker; a kill goes to the right one.
        chosen = [device_ids[0], device_ids[12], device_ids[29]]
        send_marker_orders(activemq.url, chosen, "turn back")
        send_alerts(mosquitto, chosen, "blue")
        wait_until(lambda: len(sim.lines("ALERT ")) == 3, 20, "the alerts")
        wait_until(lambda: len(sim.lines("ORDER ")) == 3, 20, "the orders")
        assert sorted(sim.lines("ORDER ")) == [f"ORDER {d}: turn back" for d in chosen]
        assert sorted(sim.lines("ALERT ")) == [f"ALERT {d}: blue" for d in chosen]
        sim.command(f"kill {device_ids[14]}")
        sim.command("kill nobody")
        wait_until(lambda: len(watcher.wills) == 2, 15, "two wills")
        assert sorted(watcher.wills) == [device_ids[14], device_ids[25]]
        wait_until(lambda: "no device 'nobody' to kill" in sim.err, 10, "the refusal")

        # A quiet device stops sending and stays connected: no will, the others carry on.
        hushed = device_ids[5]
        sim.command(f"quiet {hushed}")
        sim.command("quiet nobody")
        wait_until(lambda: "no device 'nobody' to quiet" in sim.err, 10, "the quiet's refusal")
        living = set(device_ids) - {device_ids[14], device_ids[25], hushed}
        for _ in range(2):  # the first round lets the command reach its worker
            watcher.forget()
            wait_until(lambda: watcher.moved >= living, 20, "the living still moving")
            wait_until(lambda: watcher.located >= living, 20, "the living still located")
        assert hushed not in watcher.moved | watcher.located

        assert sim.stop() == 0
        assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
        marker = f"{prefix}marker"
        publish_will(mosquitto, marker)
        wait_until(lambda: marker in watcher.wills, 10, "the marker will")
        assert sorted(watcher.wills) == [device_ids[14], device_ids[25], marker]
    finally:
        watcher.close()
