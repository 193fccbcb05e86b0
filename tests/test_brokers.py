"""The real-broker fixtures: each broker answers, restarts on its port, and dies when killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import brokers
from tests.support.brokers import (
    ActiveMQ,
    ActiveMQFactory,
    Broker,
    BrokerError,
    BrokerNotInstalledError,
    Mosquitto,
    MosquittoFactory,
    mqtt_handshake,
    stomp_handshake,
)

WAIT = 10.0
REPO = Path(__file__).resolve().parent.parent


def _device_id() -> str:
    return uuid.uuid4().hex.upper()


def _process_gone(pid: int) -> bool:
    """True once ``pid`` has exited; a zombie waiting for its reaper counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def _connection_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


def _handshake(broker: Broker) -> None:
    if isinstance(broker, Mosquitto):
        mqtt_handshake(broker.port)
    else:
        stomp_handshake(broker.port)


def _fresh(request: pytest.FixtureRequest, kind: str) -> Broker:
    if kind == "mosquitto":
        make_mosquitto: MosquittoFactory = request.getfixturevalue("fresh_mosquitto")
        return make_mosquitto()
    make_activemq: ActiveMQFactory = request.getfixturevalue("fresh_activemq")
    return make_activemq()


def _paho_client(port: int) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-{_device_id()}", protocol=mqtt.MQTTv311
    )
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    return client


class _StompCollector(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.frames: list[stomp.utils.Frame] = []
        self.arrived = threading.Event()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)
        self.arrived.set()


def test_session_brokers_answer_their_handshakes(mosquitto: Mosquitto, activemq: ActiveMQ) -> None:
    assert mqtt_handshake(mosquitto.port)[0] == 0x20
    assert stomp_handshake(activemq.port).startswith(b"CONNECTED\n")
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert activemq.url == f"stomp://127.0.0.1:{activemq.port}"
    assert {mosquitto.port, activemq.port}.isdisjoint({1883, 61613})


def test_mosquitto_delivers_a_retained_motion_to_a_wildcard_subscriber(
    mosquitto: Mosquitto,
) -> None:
    topic = f"/mwm/{_device_id()}/motion"
    payload = struct.pack(">ddd", 0.1, -0.2, 0.3)
    publisher = _paho_client(mosquitto.port)
    publisher.publish(topic, payload, qos=0, retain=True).wait_for_publish(WAIT)

    got: list[mqtt.MQTTMessage] = []
    arrived = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == topic:
            got.append(msg)
            arrived.set()

    subscriber = _paho_client(mosquitto.port)
    subscriber.on_message = on_message
    subscriber.subscribe("/mwm/+/motion", qos=0)
    try:
        assert arrived.wait(WAIT)
        assert got[0].payload == payload
        assert got[0].retain
    finally:
        # Clear the retained message: the session broker is shared.
        publisher.publish(topic, b"", qos=0, retain=True).wait_for_publish(WAIT)
        for client in (publisher, subscriber):
            client.disconnect()
            client.loop_stop()


def test_activemq_delivers_a_location_to_a_wildcard_subscriber(activemq: ActiveMQ) -> None:
    device = _device_id()
    conn = stomp.Connection12([("127.0.0.1", activemq.port)])
    listener = _StompCollector()
    conn.set_listener("collector", listener)
    conn.connect(wait=True)
    try:
        conn.subscribe("/topic/device.*.location", id="1", ack="auto", headers={"receipt": "sub"})
        time.sleep(0.2)  # stomp.py has no blocking wait for a RECEIPT; this only orders frames
        body = json.dumps(
            {"deviceID": device, "lat": 48.8581, "lng": 2.2946, "ts": "2013-09-23T08:43Z"}
        )
        conn.send(
            f"/topic/device.{device}.location",
            body,
            content_type="application/json;charset=utf-8",
        )
        assert listener.arrived.wait(WAIT)
        frame = listener.frames[0]
        assert frame.headers["destination"] == f"/topic/device.{device}.location"
        assert json.loads(frame.body)["deviceID"] == device
    finally:
        conn.disconnect()


@pytest.mark.parametrize("kind", ["mosquitto", "activemq"])
def test_restart_keeps_the_port(
    real_brokers: None, request: pytest.FixtureRequest, kind: str
) -> None:
    broker = _fresh(request, kind)
    port, pid = broker.port, broker.pid
    broker.restart()
    assert broker.port == port
    assert broker.pid != pid
    assert pid is not None and _process_gone(pid)
    _handshake(broker)


@pytest.mark.parametrize("kind", ["mosquitto", "activemq"])
def test_kill_ends_the_process_and_start_brings_it_back(
    real_brokers: None, request: pytest.FixtureRequest, kind: str
) -> None:
    broker = _fresh(request, kind)
    pid = broker.pid
    assert pid is not None
    broker.kill()
    assert not broker.is_running()
    assert _process_gone(pid)
    assert _connection_refused(broker.port)
    broker.start()
    assert broker.is_running()
    _handshake(broker)


def test_mosquitto_stops_gracefully(fresh_mosquitto: MosquittoFactory) -> None:
    broker = fresh_mosquitto()
    assert broker.stop() == 0
    assert _connection_refused(broker.port)


def test_stop_kills_a_broker_that_ignores_sigterm(fresh_mosquitto: MosquittoFactory) -> None:
    broker = fresh_mosquitto()
    pid = broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGTERM
    assert broker.stop(timeout=0.5) == -signal.SIGKILL
    assert _process_gone(pid)


def test_activemq_mqtt_connector_bridges_to_stomp(fresh_activemq: ActiveMQFactory) -> None:
    broker = fresh_activemq(mqtt=True)
    assert broker.mqtt_port is not None
    device = _device_id()
    conn = stomp.Connection12([("127.0.0.1", broker.port)])
    listener = _StompCollector()
    conn.set_listener("collector", listener)
    conn.connect(wait=True)
    client = _paho_client(broker.mqtt_port)
    try:
        conn.subscribe(f"/topic/.mwm.{device}.motion", id="1", ack="auto")
        time.sleep(0.2)  # let the subscription reach the broker before publishing
        client.publish(f"/mwm/{device}/motion", b"x" * 24, qos=1).wait_for_publish(WAIT)
        assert listener.arrived.wait(WAIT)
    finally:
        client.disconnect()
        client.loop_stop()
        conn.disconnect()


def test_a_busy_port_fails_with_the_broker_log(real_brokers: None, tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = Mosquitto(port, tmp_path)
        with pytest.raises(BrokerError, match="Address already in use"):
            broker.start(timeout=5)
        assert not broker.is_running()


def test_missing_programs_fail_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setattr("os.access", lambda path, mode: False)
    with pytest.raises(BrokerNotInstalledError, match="make test"):
        Mosquitto(workdir=tmp_path)
    with pytest.raises(BrokerNotInstalledError, match="make test"):
        ActiveMQ(workdir=tmp_path)
    monkeypatch.undo()
    monkeypatch.setattr(brokers, "ACTIVEMQ_JAR", tmp_path / "no-such.jar")
    with pytest.raises(BrokerNotInstalledError, match="make test"):
        ActiveMQ(workdir=tmp_path)


def test_a_dying_test_process_takes_its_broker_with_it(real_brokers: None, tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from tests.support.brokers import Mosquitto\n"
        f"b = Mosquitto(workdir={str(tmp_path)!r}).start()\n"
        "print(b.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    pid = int(proc.stdout.split()[0])
    deadline = time.monotonic() + WAIT
    while not _process_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _process_gone(pid)
