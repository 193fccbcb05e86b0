"""Record what broker links emit, with arrival times, and publish test traffic to brokers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.domain import codecs, ids
from mwm_tui.domain.events import Event, LinkName, LinkState, LinkStateChanged

from .brokers import HOST, Broker

T = TypeVar("T")


def wait_until(predicate: Callable[[], T | None], timeout: float, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class Recorder:
    """An event sink keeping every event with the monotonic time it arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.timed: list[tuple[float, Event]] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.timed.append((time.monotonic(), event))

    def since(self, start: float = 0.0) -> list[tuple[float, Event]]:
        with self._lock:
            return [(at, event) for at, event in self.timed if at >= start]

    def states(self, link: LinkName, start: float = 0.0) -> list[tuple[float, LinkStateChanged]]:
        return [
            (at, event)
            for at, event in self.since(start)
            if isinstance(event, LinkStateChanged) and event.link is link
        ]

    def first(self, kind: type[T], start: float = 0.0, **fields: object) -> tuple[float, T] | None:
        """The first event of ``kind`` since ``start`` whose attributes equal ``fields``."""
        for at, event in self.since(start):
            if isinstance(event, kind) and all(
                getattr(event, name) == value for name, value in fields.items()
            ):
                return at, event
        return None

    def state_at(
        self, link: LinkName, state: LinkState, start: float = 0.0, broker: str | None = None
    ) -> float | None:
        """When ``link`` first reported ``state`` (on ``broker`` if given) since ``start``."""
        for at, event in self.states(link, start):
            if event.state is state and (broker is None or event.broker == broker):
                return at
        return None


def publish_location(port: int, device_id: str) -> None:
    """One location from ``device_id``, over a STOMP connection of its own."""
    body = codecs.encode_location(codecs.Position(device_id, 48.85, 2.35))
    frame = (
        (
            f"SEND\ndestination:{ids.location_destination(device_id)}\n"
            f"content-type:application/json;charset=utf-8\ncontent-length:{len(body)}\n"
            "receipt:sent\n\n"
        ).encode()
        + body
        + b"\x00"
    )
    with socket.create_connection((HOST, port), timeout=2.0) as sock:
        sock.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
        sock.sendall(frame)
        reply = b""
        while b"RECEIPT" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("broker closed before the receipt")
            reply += chunk


def publish_motion(port: int, device_id: str) -> None:
    """One motion from ``device_id`` at QoS 1, over an MQTT connection of its own."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(HOST, port, keepalive=10)
    try:
        client.loop_start()
        payload = codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))
        info = client.publish(ids.motion_topic(device_id), payload, qos=1)
        info.wait_for_publish(2.0)
        if not info.is_published():
            raise ConnectionError("no PUBACK")
    finally:
        client.disconnect()
        client.loop_stop()


@contextlib.contextmanager
def publishing(send: Callable[[], None], interval: float = 0.1) -> Iterator[None]:
    """Call ``send`` every ``interval`` seconds on a thread, ignoring failures, until the end."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, ConnectionError):
                send()
            stop.wait(interval)

    thread = threading.Thread(target=run, name="test-publisher", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5.0)


def freeze(broker: Broker) -> None:
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGSTOP)


def thaw(broker: Broker) -> None:
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGCONT)
