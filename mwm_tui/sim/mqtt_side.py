"""A simulated device's MQTT side, as the book's MQTT device app: it publishes its phone's
motion, retained, listens for alerts and leaves a last will. One poll serves every device."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.adapters.mqtt_link import BufferedClient, new_mqtt_client
from mwm_tui.adapters.supervisor import Waker, describe_connect_error, host_port
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from .device import SimDevice, Voice, WrongPort, device_target

DEVICE_KEEPALIVE = 30


class MqttSide:
    """Every device's MQTT client of one broker, tended and read from the fleet's loop.

    A device with a password in ``passwords`` logs in as its id with it."""

    def __init__(
        self,
        target: BrokerTarget,
        voice: Voice,
        connect_timeout: float,
        passwords: Mapping[str, str] | None = None,
    ) -> None:
        self._target = target
        self._voice = voice
        self._connect_timeout = connect_timeout
        self._passwords = dict(passwords or {})
        # Why the latest attempt of any device failed, for the fleet's status line.
        self.failure: str | None = None
        self._wrong_port = WrongPort()

    def tend(self, device: SimDevice, now: float) -> None:
        """Connect when due; drop a connection that takes too long."""
        if device.mqtt_connected or device.mqtt_connecting_since is not None:
            since = device.mqtt_connecting_since
            if since is not None and now - since > self._connect_timeout:
                where = host_port(self._target)
                self.failure = f"no CONNACK from {where} within {self._connect_timeout:g} s"
                if self._wrong_port.check(self._target):
                    self.failure = self._wrong_port.said
                self.drop(device, now)
            return
        if now < device.mqtt_retry_at:
            return
        # A new client per attempt: the broker keeps the session (clean session off) by id.
        client = self._new_client(device)
        device.mqtt = client
        try:
            client.connect(self._target.host, self._target.port, DEVICE_KEEPALIVE)
        except (OSError, ValueError) as error:
            self.failure = describe_connect_error(error, host_port(self._target))
            self.drop(device, now)
            return
        device.mqtt_connecting_since = now

    def _new_client(self, device: SimDevice) -> BufferedClient:
        device_id = device.device_id
        voice = self._voice
        target = device_target(self._target, self._passwords, device_id)
        side = self
        client = new_mqtt_client(
            target, device_id, clean_session=False, connect_timeout=self._connect_timeout
        )
        client.will_set(ids.WILL_TOPIC, codecs.encode_will(device_id), qos=2, retain=False)
        alert_topic = ids.alert_topic(device_id)

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
            if code.is_failure:
                voice.complain(f"{device_id}: MQTT broker refused the connection: {code}")
                side.failure = f"broker refused the connection: {code}"
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
            voice.say(f"ALERT {literal(device_id)}: {literal(colour)}")

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        return client

    def drop(self, device: SimDevice, now: float) -> None:
        """Close the client and try again after the device's next backoff delay."""
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

    def publish_motion(self, device: SimDevice) -> None:
        """The truck's motion now, retained, if connected; a refused publish drops the client."""
        client = device.mqtt
        if client is None or not device.mqtt_connected:
            return
        payload = codecs.encode_motion(device.truck.motion())
        info = client.publish(ids.motion_topic(device.device_id), payload, qos=0, retain=True)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
            self.drop(device, time.monotonic())

    def pump(self, devices: Iterable[SimDevice], waker: Waker, timeout: float) -> None:
        """One poll over every device's MQTT socket and the waker, then paho's loop steps."""
        by_fd: dict[int, SimDevice] = {}
        writing: list[int] = []
        for device in devices:
            sock = device.mqtt.socket() if device.mqtt is not None else None
            if sock is None or device.mqtt is None:
                continue
            fd = sock.fileno()
            by_fd[fd] = device
            if device.mqtt.want_write():
                writing.append(fd)
        waker_fd = waker.fileno()
        # A client may hold bytes already read that poll cannot see.
        buffered = any(
            device.mqtt is not None and device.mqtt.buffered_bytes for device in by_fd.values()
        )
        wait = 0.0 if buffered else timeout
        readable = poll_readable([*by_fd, waker_fd], writing, wait)
        if waker_fd in readable:
            waker.drain()
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
                self.drop(device, now)

    @staticmethod
    def crash(device: SimDevice) -> None:
        """Reset the connection as a crash does: no DISCONNECT, so the will is published."""
        client = device.mqtt
        if client is None:
            return
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                # Linger 0: the close resets the connection.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()

    @staticmethod
    def disconnect(device: SimDevice) -> None:
        """Send DISCONNECT, so the broker does not publish the will."""
        if device.mqtt is not None and device.mqtt_connected:
            with contextlib.suppress(Exception):
                device.mqtt.disconnect()
                device.mqtt.loop_write()

    @staticmethod
    def close(device: SimDevice) -> None:
        sock = device.mqtt.socket() if device.mqtt is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


def poll_readable(reading: list[int], writing: list[int], timeout: float) -> set[int]:
    """The descriptors of ``reading`` that can be read; poll, because select stops at fd 1024."""
    poller = select.poll()
    wants_write = set(writing)
    for fd in reading:
        poller.register(fd, select.POLLIN | (select.POLLOUT if fd in wants_write else 0))
    events = poller.poll(timeout * 1000)
    return {fd for fd, mask in events if mask & (select.POLLIN | select.POLLERR | select.POLLHUP)}
