"""A simulated device's STOMP side, as the book's STOMP device app: it reads orders from its
queue and sends a GPS fix to its location topic."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime

import stomp
import stomp.exception
import stomp.utils

from mwm_tui.adapters.stomp_connection import connect_failure_reason
from mwm_tui.adapters.stomp_link import (
    close_stomp_connection,
    error_text,
    new_stomp_connection,
    stomp_client_id,
)
from mwm_tui.adapters.supervisor import describe_connect_error, host_port
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.errors import DecodeError
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from .device import SimDevice, StompAttempt, Voice, WrongPort, device_target

LOCATION_CONTENT_TYPE = "application/json;charset=utf-8"
# The device app's STOMP heart-beats: it may send every 60 s and wants to hear every 20 s.
DEVICE_HEARTBEATS = (60000, 20000)


class _DeviceStompListener(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self, voice: Voice, device: SimDevice, attempt: StompAttempt) -> None:
        self._voice = voice
        self._device = device
        self._attempt = attempt

    def on_connected(self, frame: stomp.utils.Frame) -> None:
        self._attempt.connected = True
        self._voice.wake()

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        if frame.headers.get("receipt-id") == self._attempt.receipt:
            self._attempt.subscribed = True
            self._voice.wake()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        try:
            text = literal(codecs.decode_order(frame.body or b""))
        except DecodeError as error:
            text = f"(unreadable order: {error})"
        self._voice.say(f"ORDER {literal(self._device.device_id)}: {text}")

    def on_error(self, frame: stomp.utils.Frame) -> None:
        message = error_text(frame)
        device = self._device
        if "already connected" in message.lower() and not device.stomp_id_clashes:
            device.stomp_id_clashes = True
            self._voice.complain(
                f"{device.device_id}: the broker shares client ids between STOMP and MQTT; "
                f"STOMP connects as {stomp_client_id(device.device_id)} from now on"
            )
            return
        self._voice.complain(f"{device.device_id}: STOMP error from broker: {message}")
        self._attempt.error = message

    def on_disconnected(self) -> None:
        self._attempt.lost = True
        self._voice.wake()


class StompSide:
    """Every device's STOMP connection to one broker, tended from the fleet's loop.

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
        """Connect when due, subscribe once connected, drop an attempt lost or too slow."""
        attempt = device.stomp
        if attempt is None:
            if now >= device.stomp_retry_at:
                self._open(device, now)
            return
        too_slow = not attempt.subscribed and now - attempt.started_at > self._connect_timeout
        if attempt.lost or too_slow:
            self.failure = self._why_failed(attempt)
            self.drop(device, now)
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
                self.drop(device, now)
                return
        if attempt.subscribed:
            device.stomp_backoff.reset()

    def _open(self, device: SimDevice, now: float) -> None:
        target = device_target(self._target, self._passwords, device.device_id)
        receipt = f"{device.device_id}-{ids.order_destination(device.device_id)}"
        connection = new_stomp_connection(target, DEVICE_HEARTBEATS, self._connect_timeout)
        attempt = StompAttempt(connection, receipt, now)
        connection.set_listener("device", _DeviceStompListener(self._voice, device, attempt))
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
        except (OSError, stomp.exception.StompException) as error:
            where = host_port(target)
            self.failure = (
                describe_connect_error(error, where)
                if isinstance(error, OSError)
                else connect_failure_reason(target, where, self._connect_timeout, connection)
            )
            self.drop(device, now)

    def _why_failed(self, attempt: StompAttempt) -> str:
        where = host_port(self._target)
        if attempt.error is not None:
            return f"broker error: {attempt.error}"
        if not attempt.connected and self._wrong_port.check(self._target):
            return self._wrong_port.said or ""
        if attempt.lost:
            return f"{where} closed the connection"
        waited = f"within {self._connect_timeout:g} s"
        if not attempt.connected:
            return f"no CONNECTED frame from {where} {waited}"
        return f"no receipt for the subscription from {where} {waited}"

    def drop(self, device: SimDevice, now: float) -> None:
        """Close the attempt and try again after the device's next backoff delay."""
        if device.stomp is not None:
            close_stomp_connection(device.stomp.connection)
        device.stomp = None
        device.stomp_retry_at = now + device.stomp_backoff.next_delay()

    def send_location(self, device: SimDevice, wall: datetime) -> None:
        """The truck's fix now, if connected; a failed send marks the attempt lost."""
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

    @staticmethod
    def is_open(device: SimDevice) -> bool:
        attempt = device.stomp
        return attempt is not None and attempt.connected and not attempt.lost

    def disconnect(self, device: SimDevice) -> None:
        """Send DISCONNECT, so the broker knows the device left on purpose."""
        if device.stomp is not None and self.is_open(device):
            with contextlib.suppress(Exception):
                device.stomp.connection.disconnect()

    @staticmethod
    def close(device: SimDevice) -> None:
        """Close the connection without a word, as a device losing power."""
        if device.stomp is not None:
            close_stomp_connection(device.stomp.connection)
