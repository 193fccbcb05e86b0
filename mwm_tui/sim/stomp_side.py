"""A simulated device's STOMP side, as the book's STOMP device app: it reads orders from its
queue and sends a GPS fix to its location topic."""

from __future__ import annotations

import time

import stomp.utils

from mwm_tui.adapters.stomp_frames import FrameReader, StompFrame
from mwm_tui.adapters.stomp_link import error_text, stomp_client_id
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.errors import DecodeError
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from . import stomp_wire
from .link import DeviceLink, LinkDevice, LinkOwner

# The device app's STOMP heart-beats: it may send every 60 s and wants to hear every 20 s.
DEVICE_HEARTBEATS = (60000, 20000)
# Silence, in agreed intervals, after which the broker is given up: ActiveMQ skips a heart-beat
# after other traffic, so its frames can come two intervals apart.
SILENT_INTERVALS = 3.0
_SHUTDOWN_RECEIPT = "bye"


class StompLink(DeviceLink):
    """One device's STOMP connection: CONNECT, SUBSCRIBE to its order queue with a receipt,
    then a SEND per fix; orders come as MESSAGE frames, read by HQ's own frame reader."""

    side = "STOMP"

    def __init__(self, device: LinkDevice, owner: LinkOwner, target: BrokerTarget) -> None:
        super().__init__(device, owner)
        self._target = target
        self._reader = FrameReader()
        self._receipt = f"{device.device_id}-{ids.order_destination(device.device_id)}"
        self.send_every = 0.0
        self.expect_every = 0.0

    def opened(self) -> None:
        device = self.device
        client_id = device.device_id
        if device.stomp_id_clashes:
            client_id = stomp_client_id(client_id)
        target = self._target
        self.write(
            stomp_wire.connect_frame(
                client_id, target.vhost, DEVICE_HEARTBEATS, target.username, target.password
            )
        )

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        for item in self._reader.feed(data):
            if isinstance(item, StompFrame):
                self._handle(item)
            if self.closed:
                return

    def _handle(self, frame: StompFrame) -> None:
        command = frame.command
        if command == "MESSAGE":
            self._order(frame)
        elif command == "CONNECTED":
            self.connected = True
            self.send_every, self.expect_every = stomp_wire.agreed_heartbeats(
                DEVICE_HEARTBEATS, frame.headers.get("heart-beat", "0,0")
            )
            device_id = self.device.device_id
            self.write(
                stomp_wire.subscribe_frame(
                    ids.order_destination(device_id), f"{device_id}-orders", self._receipt
                )
            )
        elif command == "RECEIPT":
            receipt = frame.headers.get("receipt-id")
            if receipt == self._receipt and not self.subscribed:
                self.subscribed = True
                self.owner.link_subscribed(self)
            elif receipt == _SHUTDOWN_RECEIPT:
                self.close()
        elif command == "ERROR":
            self._error(frame)

    def _order(self, frame: StompFrame) -> None:
        try:
            text = literal(codecs.decode_order(frame.body))
        except DecodeError as error:
            text = f"(unreadable order: {error})"
        self.owner.say(f"ORDER {literal(self.device.device_id)}: {text}")

    def _error(self, frame: StompFrame) -> None:
        message = error_text(stomp.utils.Frame(frame.command, frame.headers, frame.body))
        device = self.device
        if "already connected" in message.lower() and not device.stomp_id_clashes:
            device.stomp_id_clashes = True
            self.owner.complain(
                f"{device.device_id}: the broker shares client ids between STOMP and MQTT; "
                f"STOMP connects as {stomp_client_id(device.device_id)} from now on"
            )
            return
        self.owner.complain(f"{device.device_id}: STOMP error from broker: {message}")

    def tend(self, now: float, connect_timeout: float) -> None:
        """Heart-beats: one sent after ``send_every`` of quiet, the broker given up after
        ``SILENT_INTERVALS`` of its silence."""
        super().tend(now, connect_timeout)
        if not self.connected or self.closed:
            return
        if self.expect_every and now - self.last_heard > self.expect_every * SILENT_INTERVALS:
            self.abort()
        elif self.send_every and now - self.last_sent >= self.send_every:
            self.write(stomp_wire.HEARTBEAT)

    def send(self, frame: bytes) -> None:
        """A SEND frame built by the fleet, if the connection can take it."""
        if self.open:
            self.write(frame)

    def say_goodbye(self) -> None:
        """DISCONNECT with a receipt; the connection closes when the receipt comes."""
        if self.connected and not self.closed:
            self.write(stomp_wire.disconnect_frame(_SHUTDOWN_RECEIPT))
