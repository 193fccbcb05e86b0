"""The simulated fleet: each device behaves like the book's STOMP and MQTT device apps.

One thread times fixes and motion, runs every MQTT client's network loop (one poll over all
sockets) and every reconnect; only stomp.py's receiver and heart-beat threads are extra.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import paho.mqtt.client as mqtt
import stomp
import stomp.exception
import stomp.utils
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.mqtt_link import BufferedClient, new_mqtt_client
from mwm_tui.adapters.stomp_link import (
    close_stomp_connection,
    error_text,
    new_stomp_connection,
    stomp_client_id,
)
from mwm_tui.adapters.supervisor import Waker
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.errors import DecodeError
from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

LOCATION_CONTENT_TYPE = "application/json;charset=utf-8"
# The device app's STOMP heart-beats: it may send every 60 s and wants to hear every 20 s.
DEVICE_HEARTBEATS = (60000, 20000)
DEVICE_KEEPALIVE = 30
CONNECT_TIMEOUT = 5.0
_MAX_IDLE = 0.5
# Sends due within this of each other leave in one turn of the loop: each turn visits every
# device, so at 1,000 devices turning for each send kept a whole core busy.
_MIN_IDLE = 0.02
_SHUTDOWN_GRACE = 2.0


class LineWriter:
    """Writes whole lines from any thread, flushed at once; a closed pipe is ignored."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass


@dataclass(frozen=True, slots=True)
class SimSettings:
    stomp: BrokerTarget
    mqtt: BrokerTarget
    location_interval: float = 2.0
    motion_interval: float = 1.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(initial=0.25, maximum=5.0))


@dataclass(slots=True)
class _StompAttempt:
    """One STOMP connection of one device; flags are set by stomp.py's threads."""

    connection: Any
    receipt: str
    started_at: float
    connected: bool = False
    subscribe_sent: bool = False
    subscribed: bool = False
    lost: bool = False


@dataclass(slots=True)
class _Device:
    truck: SimulatedTruck
    stomp_backoff: Backoff
    mqtt_backoff: Backoff
    alive: bool = True
    stomp: _StompAttempt | None = None
    stomp_retry_at: float = 0.0
    mqtt: BufferedClient | None = None
    mqtt_connecting_since: float | None = None
    mqtt_connected: bool = False
    mqtt_subscribed: bool = False
    mqtt_retry_at: float = 0.0
    # The contract's STOMP client id is the device id; a broker with one client-id namespace
    # for both protocols (ActiveMQ serving both) refuses it, and <ID>.stomp is used instead.
    stomp_id_clashes: bool = False
    next_location_at: float = 0.0
    next_motion_at: float = 0.0
    last_advance: float = 0.0

    @property
    def device_id(self) -> str:
        return self.truck.device_id

    @property
    def ready(self) -> bool:
        return self.stomp is not None and self.stomp.subscribed and self.mqtt_subscribed


class _DeviceStompListener(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, fleet: FleetSimulator, device: _Device, attempt: _StompAttempt) -> None:
        self._fleet = fleet
        self._device = device
        self._attempt = attempt

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self._attempt.connected = True
        self._fleet.wake()

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        if frame.headers.get("receipt-id") == self._attempt.receipt:
            self._attempt.subscribed = True
            self._fleet.wake()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        try:
            text = literal(codecs.decode_order(frame.body or b""))
        except DecodeError as error:
            text = f"(unreadable order: {error})"
        self._fleet.say(f"ORDER {literal(self._device.device_id)}: {text}")

    def on_error(self, frame: stomp.utils.Frame) -> None:
        message = error_text(frame)
        device = self._device
        if "already connected" in message.lower() and not device.stomp_id_clashes:
            device.stomp_id_clashes = True
            self._fleet.complain(
                f"{device.device_id}: the broker shares client ids between STOMP and MQTT; "
                f"STOMP connects as {stomp_client_id(device.device_id)} from now on"
            )
            return
        self._fleet.complain(f"{device.device_id}: STOMP error from broker: {message}")

    def on_disconnected(self) -> None:
        self._attempt.lost = True
        self._fleet.wake()


class FleetSimulator:
    """Runs on the calling thread until ``stop``; ``kill`` and ``stop`` are thread-safe."""

    def __init__(
        self,
        settings: SimSettings,
        trucks: list[SimulatedTruck],
        say: LineWriter,
        complain: LineWriter | None = None,
    ) -> None:
        self._settings = settings
        self._devices = {
            truck.device_id: _Device(truck, settings.reconnect.copy(), settings.reconnect.copy())
            for truck in trucks
        }
        self.say = say
        self._complain = complain or LineWriter(sys.stderr)
        self._waker = Waker()
        self._stopping = threading.Event()
        self._kill_requests: deque[str] = deque()
        self._kill_schedule: list[tuple[float, str]] = []
        self._ready_announced = False
        self._last_status: tuple[int, int] | None = None

    def complain(self, line: str) -> None:
        self._complain(f"mwm-sim: {line}")

    def wake(self) -> None:
        self._waker.wake()

    def stop(self) -> None:
        self._stopping.set()
        self._waker.wake()

    def kill(self, device_id: str) -> bool:
        """Make a device die without DISCONNECT; False for an id the fleet does not have."""
        if device_id not in self._devices:
            return False
        self._kill_requests.append(device_id)
        self._waker.wake()
        return True

    def kill_after(self, device_id: str, seconds: float) -> None:
        """Schedule ``kill`` for ``seconds`` after ``run`` starts; call before ``run``."""
        if device_id not in self._devices:
            raise KeyError(device_id)
        self._kill_schedule.append((seconds, device_id))

    def run(self) -> None:
        start = time.monotonic()
        count = len(self._devices)
        for index, device in enumerate(self._devices.values()):
            # Spread the devices over an interval so fixes do not all leave at once.
            device.next_location_at = start + self._settings.location_interval * index / count
            device.next_motion_at = start + self._settings.motion_interval * index / count
            device.last_advance = start
        self._kill_schedule = sorted((start + after, name) for after, name in self._kill_schedule)
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                self._handle_kills(now)
                for device in self._living():
                    self._tend_stomp(device, now)
                    self._tend_mqtt(device, now)
                self._send_due(now)
                self._report()
                self._pump_mqtt(self._idle_time(time.monotonic()))
        finally:
            self._shutdown()
            self._waker.close()

    # One turn of the loop

    def _living(self) -> list[_Device]:
        return [device for device in self._devices.values() if device.alive]

    def _idle_time(self, now: float) -> float:
        due = [now + _MAX_IDLE]
        for device in self._living():
            due.append(device.next_location_at)
            due.append(device.next_motion_at)
            if device.stomp is None:
                due.append(device.stomp_retry_at)
            if device.mqtt_connecting_since is None and not device.mqtt_connected:
                due.append(device.mqtt_retry_at)
        if self._kill_schedule:
            due.append(self._kill_schedule[0][0])
        return max(min(due) - now, _MIN_IDLE)

    def _handle_kills(self, now: float) -> None:
        while self._kill_schedule and self._kill_schedule[0][0] <= now:
            self._kill_requests.append(self._kill_schedule.pop(0)[1])
        while self._kill_requests:
            device = self._devices[self._kill_requests.popleft()]
            if device.alive:
                self._die(device)

    def _die(self, device: _Device) -> None:
        """Vanish like a phone losing power: sockets closed, no DISCONNECT on either protocol."""
        device.alive = False
        client = device.mqtt
        if client is not None:
            sock = client.socket()
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # Linger 0: the close resets the connection, as a crash does.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
        if device.stomp is not None:
            close_stomp_connection(device.stomp.connection)
        self.say(f"KILLED {literal(device.device_id)}")

    def _send_due(self, now: float) -> None:
        wall = datetime.now(UTC)
        for device in self._living():
            if now >= device.next_location_at:
                device.next_location_at = _next_tick(
                    device.next_location_at, self._settings.location_interval, now
                )
                self._advance(device, now)
                self._send_location(device, wall)
            if now >= device.next_motion_at:
                device.next_motion_at = _next_tick(
                    device.next_motion_at, self._settings.motion_interval, now
                )
                self._advance(device, now)
                self._publish_motion(device)

    def _advance(self, device: _Device, now: float) -> None:
        device.truck.advance(now - device.last_advance)
        device.last_advance = now

    def _report(self) -> None:
        living = self._living()
        status = (
            sum(1 for d in living if d.stomp is not None and d.stomp.subscribed),
            sum(1 for d in living if d.mqtt_subscribed),
        )
        if status != self._last_status:
            self._last_status = status
            total = len(living)
            self.complain(f"STOMP {status[0]}/{total} subscribed, MQTT {status[1]}/{total}")
        if not self._ready_announced and living and all(d.ready for d in living):
            self._ready_announced = True
            self.say(f"READY {len(living)} devices")

    # STOMP

    def _tend_stomp(self, device: _Device, now: float) -> None:
        attempt = device.stomp
        if attempt is None:
            if now >= device.stomp_retry_at:
                self._open_stomp(device, now)
            return
        if attempt.lost or (not attempt.subscribed and now - attempt.started_at > CONNECT_TIMEOUT):
            self._drop_stomp(device, now)
            return
        if attempt.connected and not attempt.subscribe_sent:
            attempt.subscribe_sent = True
            try:
                attempt.connection.subscribe(
                    ids.order_destination(device.device_id),
                    id=f"{device.device_id}-orders",
                    ack="auto",
                    headers={"receipt": attempt.receipt},
                )
            except (OSError, stomp.exception.StompException):
                self._drop_stomp(device, now)
                return
        if attempt.subscribed:
            device.stomp_backoff.reset()

    def _open_stomp(self, device: _Device, now: float) -> None:
        target = self._settings.stomp
        receipt = f"{device.device_id}-{ids.order_destination(device.device_id)}"
        connection = new_stomp_connection(target, DEVICE_HEARTBEATS, CONNECT_TIMEOUT)
        attempt = _StompAttempt(connection, receipt, now)
        connection.set_listener("device", _DeviceStompListener(self, device, attempt))
        device.stomp = attempt
        client_id = device.device_id
        if device.stomp_id_clashes:
            client_id = stomp_client_id(client_id)
        try:
            connection.connect(
                username=target.username,
                passcode=target.password,
                wait=False,
                headers={"client-id": client_id},
            )
        except (OSError, stomp.exception.StompException):
            self._drop_stomp(device, now)

    def _drop_stomp(self, device: _Device, now: float) -> None:
        if device.stomp is not None:
            close_stomp_connection(device.stomp.connection)
        device.stomp = None
        device.stomp_retry_at = now + device.stomp_backoff.next_delay()

    def _send_location(self, device: _Device, wall: datetime) -> None:
        attempt = device.stomp
        if attempt is None or not attempt.connected or attempt.lost:
            return
        body = codecs.encode_location(device.truck.fix(wall))
        try:
            attempt.connection.send(
                ids.location_destination(device.device_id),
                body,
                content_type=LOCATION_CONTENT_TYPE,
            )
        except (OSError, stomp.exception.StompException):
            attempt.lost = True

    # MQTT

    def _tend_mqtt(self, device: _Device, now: float) -> None:
        if device.mqtt_connected or device.mqtt_connecting_since is not None:
            since = device.mqtt_connecting_since
            if since is not None and now - since > CONNECT_TIMEOUT:
                self._drop_mqtt(device, now)
            return
        if now < device.mqtt_retry_at:
            return
        # A new client per attempt: the broker keeps the session (clean session off) by id.
        client = self._new_mqtt_client(device)
        device.mqtt = client
        target = self._settings.mqtt
        try:
            client.connect(target.host, target.port, DEVICE_KEEPALIVE)
        except (OSError, ValueError):
            self._drop_mqtt(device, now)
            return
        device.mqtt_connecting_since = now

    def _new_mqtt_client(self, device: _Device) -> BufferedClient:
        device_id = device.device_id
        client = new_mqtt_client(
            self._settings.mqtt, device_id, clean_session=False, connect_timeout=CONNECT_TIMEOUT
        )
        client.will_set(ids.WILL_TOPIC, codecs.encode_will(device_id), qos=2, retain=False)
        alert_topic = ids.alert_topic(device_id)

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
            if code.is_failure:
                self.complain(f"{device_id}: MQTT broker refused the connection: {code}")
                return
            device.mqtt_connecting_since = None
            device.mqtt_connected = True
            c.subscribe(alert_topic, qos=1)

        def on_subscribe(
            _c: mqtt.Client, _u: Any, _m: int, codes: list[ReasonCode], _p: Any
        ) -> None:
            device.mqtt_subscribed = bool(codes) and not any(code.is_failure for code in codes)
            if device.mqtt_subscribed:
                device.mqtt_backoff.reset()

        def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            colour = bytes(message.payload).decode("utf-8", "replace")
            self.say(f"ALERT {literal(device_id)}: {literal(colour)}")

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        return client

    def _drop_mqtt(self, device: _Device, now: float) -> None:
        client = device.mqtt
        if client is not None:
            sock = client.socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
            device.mqtt = None
        device.mqtt_connecting_since = None
        device.mqtt_connected = False
        device.mqtt_subscribed = False
        device.mqtt_retry_at = now + device.mqtt_backoff.next_delay()

    def _publish_motion(self, device: _Device) -> None:
        client = device.mqtt
        if client is None or not device.mqtt_connected:
            return
        payload = codecs.encode_motion(device.truck.motion())
        info = client.publish(ids.motion_topic(device.device_id), payload, qos=0, retain=True)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            self._drop_mqtt(device, time.monotonic())

    def _pump_mqtt(self, timeout: float) -> None:
        """One poll over every device's MQTT socket and the waker, then paho's loop steps."""
        by_fd: dict[int, _Device] = {}
        writing: list[int] = []
        for device in self._living():
            sock = device.mqtt.socket() if device.mqtt is not None else None
            if sock is None or device.mqtt is None:
                continue
            fd = sock.fileno()
            by_fd[fd] = device
            if device.mqtt.want_write():
                writing.append(fd)
        waker_fd = self._waker.fileno()
        # A client may hold bytes already read that poll cannot see.
        buffered = any(
            device.mqtt is not None and device.mqtt.buffered_bytes for device in by_fd.values()
        )
        wait = 0.0 if buffered else timeout
        readable = poll_readable([*by_fd, waker_fd], writing, wait)
        if waker_fd in readable:
            self._waker.drain()
        now = time.monotonic()
        for fd, device in by_fd.items():
            client = device.mqtt
            if client is None:
                continue
            codes = []
            if fd in readable or client.buffered_bytes:
                codes.append(client.loop_read())
                while client.buffered_bytes and codes[-1] == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    codes.append(client.loop_read())
            if client.socket() is not None and client.want_write():
                codes.append(client.loop_write())
            if client.socket() is not None:
                codes.append(client.loop_misc())
            failed = any(code != MQTTErrorCode.MQTT_ERR_SUCCESS for code in codes)
            if failed or client.socket() is None:
                self._drop_mqtt(device, now)

    # Shutdown

    def _shutdown(self) -> None:
        """Leave cleanly: DISCONNECT on both protocols, so no will is published."""
        living = self._living()
        for device in living:
            if device.mqtt is not None and device.mqtt_connected:
                with contextlib.suppress(Exception):
                    device.mqtt.disconnect()
                    device.mqtt.loop_write()
            attempt = device.stomp
            if attempt is not None and attempt.connected and not attempt.lost:
                with contextlib.suppress(Exception):
                    attempt.connection.disconnect()
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        while time.monotonic() < deadline and any(
            d.stomp is not None and d.stomp.connected and not d.stomp.lost for d in living
        ):
            self._waker.wait(0.05)
        for device in living:
            if device.stomp is not None:
                close_stomp_connection(device.stomp.connection)
            sock = device.mqtt.socket() if device.mqtt is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The next due time after ``now`` on the grid ``previous + k * interval``."""
    following = previous + interval
    if following <= now:
        following = now + interval
    return following


def poll_readable(reading: list[int], writing: list[int], timeout: float) -> set[int]:
    """The descriptors of ``reading`` that can be read; poll, because select stops at fd 1024."""
    poller = select.poll()
    wants_write = set(writing)
    for fd in reading:
        poller.register(fd, select.POLLIN | (select.POLLOUT if fd in wants_write else 0))
    events = poller.poll(timeout * 1000)
    return {fd for fd, mask in events if mask & (select.POLLIN | select.POLLERR | select.POLLHUP)}
