"""A simulated device's MQTT side, as the book's MQTT device app: it publishes its phone's
motion, retained, listens for alerts and leaves a last will."""

from __future__ import annotations

import time

from mwm_tui.domain import codecs, ids
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from . import mqtt_wire
from .link import DeviceLink, LinkDevice, LinkOwner
from .mqtt_wire import MalformedPacketError, Packet

DEVICE_KEEPALIVE = 30
_SUBSCRIBE_ID = 1


class MqttLink(DeviceLink):
    """One device's MQTT 3.1.1 connection: CONNECT with its will and a kept session (clean
    session off), SUBSCRIBE to its alert topic at QoS 1, then a retained motion a second."""

    side = "MQTT"

    def __init__(self, device: LinkDevice, owner: LinkOwner, target: BrokerTarget) -> None:
        super().__init__(device, owner)
        self._target = target
        self._reader = mqtt_wire.PacketReader()
        self._ping_sent_at: float | None = None

    def opened(self) -> None:
        device_id = self.device.device_id
        will = mqtt_wire.Will(ids.WILL_TOPIC, codecs.encode_will(device_id), qos=2)
        target = self._target
        self.write(
            mqtt_wire.connect_packet(
                device_id,
                DEVICE_KEEPALIVE,
                clean_session=False,
                will=will,
                username=target.username,
                password=target.password,
            )
        )

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        try:
            packets = self._reader.feed(data)
        except MalformedPacketError as error:
            self.owner.complain(f"{self.device.device_id}: MQTT broker sent nonsense: {error}")
            self.abort()
            return
        for packet in packets:
            self._handle(packet)
            if self.closed:
                return

    def _handle(self, packet: Packet) -> None:
        kind = packet.kind
        if kind == mqtt_wire.PUBLISH:
            self._publish(packet)
        elif kind == mqtt_wire.CONNACK:
            self._connack(packet)
        elif kind == mqtt_wire.SUBACK:
            codes = packet.body[2:]
            if codes and 0x80 not in codes and not self.subscribed:
                self.subscribed = True
                self.owner.link_subscribed(self)
        elif kind == mqtt_wire.PINGRESP:
            self._ping_sent_at = None
        elif kind == mqtt_wire.PUBREL and len(packet.body) >= 2:
            self.write(mqtt_wire.ack_packet(mqtt_wire.PUBCOMP, _packet_id(packet)))

    def _connack(self, packet: Packet) -> None:
        code = packet.body[1] if len(packet.body) >= 2 else 0xFF
        if code:
            reason = mqtt_wire.REFUSALS.get(code, f"return code {code}")
            self.owner.complain(
                f"{self.device.device_id}: MQTT broker refused the connection: {reason}"
            )
            self.abort()
            return
        self.connected = True
        topic = ids.alert_topic(self.device.device_id)
        self.write(mqtt_wire.subscribe_packet(_SUBSCRIBE_ID, topic, qos=1))

    def _publish(self, packet: Packet) -> None:
        try:
            message = mqtt_wire.parse_publish(packet)
        except MalformedPacketError as error:
            self.owner.complain(f"{self.device.device_id}: MQTT broker sent nonsense: {error}")
            self.abort()
            return
        if message.qos == 1:
            self.write(mqtt_wire.ack_packet(mqtt_wire.PUBACK, message.packet_id))
        elif message.qos == 2:
            self.write(mqtt_wire.ack_packet(mqtt_wire.PUBREC, message.packet_id))
        colour = message.payload.decode("utf-8", "replace")
        self.owner.say(f"ALERT {literal(self.device.device_id)}: {literal(colour)}")

    def tend(self, now: float, connect_timeout: float) -> None:
        """Keepalive: a PINGREQ after a keepalive of quiet either way; the broker given up
        when the ping goes a keepalive unanswered."""
        super().tend(now, connect_timeout)
        if not self.connected or self.closed:
            return
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at > DEVICE_KEEPALIVE:
                self.abort()
        elif now - self.last_heard >= DEVICE_KEEPALIVE or now - self.last_sent >= DEVICE_KEEPALIVE:
            self._ping_sent_at = now
            self.write(mqtt_wire.PINGREQ_PACKET)

    def send(self, packet: bytes) -> None:
        """A PUBLISH built by the fleet, if the connection can take it."""
        if self.open:
            self.write(packet)

    def say_goodbye(self) -> None:
        """DISCONNECT, so the broker does not publish the will, then close."""
        if self.connected and not self.closed:
            self.write(mqtt_wire.DISCONNECT_PACKET)
        self.close()


def _packet_id(packet: Packet) -> int:
    return int.from_bytes(packet.body[:2], "big")
