"""A simulated device's links on a real socket pair: the handshake, orders and alerts, and the
heart-beats and pings that keep a connection honest, with the clock given to ``tend``."""

from __future__ import annotations

import asyncio
import random
import socket

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.sim import mqtt_wire
from mwm_tui.sim.device import SimDevice
from mwm_tui.sim.link import DeviceLink
from mwm_tui.sim.mqtt_side import DEVICE_KEEPALIVE, MqttLink
from mwm_tui.sim.stomp_side import SILENT_INTERVALS, StompLink
from mwm_tui.sim.stomp_wire import HEARTBEAT

STOMP = parse_target("stomp://127.0.0.1:61613", Protocol.STOMP)
MQTT = parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT)


class Owner:
    def __init__(self) -> None:
        self.said: list[str] = []
        self.complaints: list[str] = []
        self.subscribed: list[DeviceLink] = []
        self.lost: list[DeviceLink] = []

    def say(self, line: str) -> None:
        self.said.append(line)

    def complain(self, line: str) -> None:
        self.complaints.append(line)

    def link_subscribed(self, link: DeviceLink) -> None:
        self.subscribed.append(link)

    def link_lost(self, link: DeviceLink) -> None:
        self.lost.append(link)


def device(device_id: str = "T1") -> SimDevice:
    truck = SimulatedTruck(device_id, random.Random(1), (48.85, 2.35), 5.0)
    return SimDevice(truck, 0, Backoff(), Backoff())


async def connected(link: DeviceLink) -> socket.socket:
    """``link`` on one end of a socket pair; the other end, for the test to play the broker."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    await asyncio.get_running_loop().create_connection(lambda: link, sock=ours)
    return theirs


async def received(broker: socket.socket, until: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while until not in data:
        data += await asyncio.wait_for(loop.sock_recv(broker, 4096), 5)
    return data


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


def test_stomp_link_subscribes_reads_orders_and_keeps_its_heart_beats() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        owner, truck = Owner(), device("a:b")
        link = StompLink(truck, owner, STOMP)
        broker = await connected(link)
        connect = await received(broker, b"\0")
        assert connect.startswith(b"CONNECT\n") and b"\nclient-id:a:b\n" in connect
        assert b"\nheart-beat:60000,20000\n" in connect
        await loop.sock_sendall(broker, b"CONNECTED\nversion:1.2\nheart-beat:5000,90000\n\n\0")
        subscribe = await received(broker, b"\0")
        assert subscribe.startswith(b"SUBSCRIBE\ndestination:/queue/device.a\\cb.text\n")
        receipt = subscribe.split(b"\nreceipt:")[1].split(b"\n")[0]
        await loop.sock_sendall(broker, b"RECEIPT\nreceipt-id:" + receipt + b"\n\n\0")
        await settle()
        assert owner.subscribed == [link] and link.subscribed
        # Agreed: the device sends every 90 s, expects the broker every 20 s.
        assert (link.send_every, link.expect_every) == (90.0, 20.0)

        body = b"go north \x1b[31m"
        order = b"MESSAGE\ndestination:/queue/device.a\\cb.text\nmessage-id:1\nsubscription:s\n"
        await loop.sock_sendall(broker, order + b"\n" + body + b"\0")
        await settle()
        assert owner.said == ["ORDER a:b: go north \\x1b[31m"]

        # The broker heard from just then, the device quiet for 89 s, then for 90 s.
        link.last_heard = now = link.last_sent + 89
        link.tend(now, 10)
        link.last_heard = now = link.last_sent + 90
        link.tend(now, 10)
        assert await received(broker, HEARTBEAT) == HEARTBEAT
        assert not link.closed
        link.tend(link.last_heard + 20 * SILENT_INTERVALS - 1, 10)
        assert not link.closed
        link.tend(link.last_heard + 20 * SILENT_INTERVALS + 1, 10)
        await settle()
        assert link.closed and owner.lost == [link]
        rest = b""
        while chunk := await loop.sock_recv(broker, 4096):
            rest += chunk
        assert rest.strip(HEARTBEAT) == b""  # closed without a word
        broker.close()

    asyncio.run(scenario())


def test_stomp_link_falls_back_to_a_suffixed_id_when_the_broker_shares_ids() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        owner, truck = Owner(), device("T7")
        broker = await connected(StompLink(truck, owner, STOMP))
        await received(broker, b"\0")
        refusal = b"ERROR\nmessage:Client: T7 already connected from tcp://x\n\n\0"
        await loop.sock_sendall(broker, refusal)
        broker.close()
        await settle()
        assert truck.stomp_id_clashes
        assert owner.complaints == [
            "T7: the broker shares client ids between STOMP and MQTT; STOMP connects as "
            "T7.stomp from now on"
        ]
        again = await connected(StompLink(truck, owner, STOMP))
        assert b"\nclient-id:T7.stomp\n" in await received(again, b"\0")
        again.close()

    asyncio.run(scenario())


def test_mqtt_link_leaves_its_will_takes_alerts_and_pings_a_quiet_broker() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        owner = Owner()
        link = MqttLink(device("T1"), owner, MQTT)
        broker = await connected(link)
        reader = mqtt_wire.PacketReader()
        connect = reader.feed(await received(broker, b"lastWill"))
        while not connect:
            connect = reader.feed(await loop.sock_recv(broker, 4096))
        (packet,) = connect
        assert packet.kind == mqtt_wire.CONNECT
        assert packet.body[7] == 0x04 | 0x10  # a will at QoS 2, session kept
        assert packet.body.endswith(b'/mwm/lastWill\x00\x12{"deviceID": "T1"}')
        await loop.sock_sendall(broker, b"\x20\x02\x00\x00")
        subscribe = await received(broker, b"/mwm/T1/alert\x01")
        assert subscribe.startswith(b"\x82")
        await loop.sock_sendall(broker, b"\x90\x03\x00\x01\x01")
        await settle()
        assert owner.subscribed == [link]

        alert = mqtt_wire.PUBLISH << 4 | 0x02
        topic = b"\x00\x0d/mwm/T1/alert"
        await loop.sock_sendall(broker, bytes([alert, len(topic) + 5]) + topic + b"\x00\x09red")
        assert await received(broker, b"\x40\x02\x00\x09") == b"\x40\x02\x00\x09"  # PUBACK
        assert owner.said == ["ALERT T1: red"]

        quiet = max(link.last_heard, link.last_sent) + DEVICE_KEEPALIVE
        link.tend(quiet, 10)
        assert await received(broker, mqtt_wire.PINGREQ_PACKET) == mqtt_wire.PINGREQ_PACKET
        await loop.sock_sendall(broker, b"\xd0\x00")
        await settle()
        link.tend(quiet + DEVICE_KEEPALIVE + 1, 10)
        assert await received(broker, mqtt_wire.PINGREQ_PACKET) == mqtt_wire.PINGREQ_PACKET
        link.tend(quiet + 2 * DEVICE_KEEPALIVE + 2, 10)  # that ping went unanswered
        await settle()
        assert link.closed and owner.lost == [link]
        broker.close()

    asyncio.run(scenario())


def test_a_crash_resets_the_connection_so_the_broker_fires_the_will() -> None:
    async def scenario() -> None:
        owner = Owner()
        link = MqttLink(device("T1"), owner, MQTT)
        # TCP: a reset is what a broker sees of a device that lost power.
        with socket.create_server(("127.0.0.1", 0)) as server:
            ours = socket.create_connection(server.getsockname())
            theirs, _ = server.accept()
        theirs.setblocking(False)
        await asyncio.get_running_loop().create_connection(lambda: link, sock=ours)
        await received(theirs, b"lastWill")
        link.crash()
        await settle()
        assert owner.lost == [link]
        try:
            await asyncio.get_running_loop().sock_recv(theirs, 4096)
        except ConnectionResetError:
            pass
        else:
            raise AssertionError("the connection ended without a reset")
        theirs.close()

    asyncio.run(scenario())
