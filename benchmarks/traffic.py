"""Fleet traffic for the benchmarks: device ids, wire frames and publisher processes."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import random
import socket
import struct
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue as MpQueue
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from mwm_tui.domain import codecs, ids
from tests.support.brokers import Mosquitto

LOCATION_CONTENT_TYPE = "application/json;charset=utf-8"


def device_ids(count: int, seed: int = 2014) -> list[str]:
    """Upper-case UUIDs like the book's device ids, the same on every run."""
    rng = random.Random(seed)
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() for _ in range(count)]


def _mqtt_length(length: int) -> bytes:
    """MQTT's variable-length 'remaining length' field."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def mqtt_publish(topic: str, payload: bytes, *, retain: bool) -> bytes:
    """A QoS 0 PUBLISH packet."""
    name = topic.encode()
    body = struct.pack(">H", len(name)) + name + payload
    return bytes([0x30 | int(retain)]) + _mqtt_length(len(body)) + body


def stomp_send(destination: str, body: bytes) -> bytes:
    """A STOMP 1.2 SEND frame as the device app sends a location."""
    headers = (
        f"SEND\ndestination:{destination}\ncontent-type:{LOCATION_CONTENT_TYPE}\n"
        f"content-length:{len(body)}\n\n"
    )
    return headers.encode() + body + b"\x00"


def motion_packets(devices: Sequence[str], numbers: Iterable[int]) -> list[bytes]:
    """Retained motion number ``i`` from device ``i mod len(devices)``, as docs/PROTOCOL.md says."""
    topics = [ids.motion_topic(device) for device in devices]
    packets = []
    for i in numbers:
        angle = i * 0.001
        payload = codecs.encode_motion(
            codecs.Motion(math.sin(angle), math.cos(angle), math.sin(angle * 0.5) * 3)
        )
        packets.append(mqtt_publish(topics[i % len(topics)], payload, retain=True))
    return packets


def location_frames(devices: Sequence[str], numbers: Iterable[int]) -> list[bytes]:
    """Location number ``i`` from device ``i mod len(devices)``, with the iOS app's ``ts``."""
    destinations = [ids.location_destination(device) for device in devices]
    frames = []
    for i in numbers:
        index = i % len(devices)
        ts = f"2014-03-5T10:{(i // 60) % 60:02d}:{i % 60:02d}+01:00"
        position = codecs.Position(
            devices[index], 48.8 + (index % 97) * 0.01, 2.29 + (i % 89) * 0.001, raw_ts=ts
        )
        frames.append(stomp_send(destinations[index], codecs.encode_location(position)))
    return frames


def _read_until(sock: socket.socket, marker: bytes | None, timeout: float) -> bytes:
    """Read until ``marker`` arrives, or until end of stream when it is None."""
    sock.settimeout(timeout)
    data = b""
    while marker is None or marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def mqtt_connect(port: int, client_id: str) -> socket.socket:
    """A raw MQTT 3.1.1 connection: clean session, keepalive off."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    name = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + struct.pack(">H", len(name)) + name
    sock.sendall(b"\x10" + _mqtt_length(len(body)) + body)
    reply = sock.recv(4)
    if len(reply) < 4 or reply[0] != 0x20 or reply[3] != 0:
        raise ConnectionError(f"no MQTT CONNACK: {reply!r}")
    sock.settimeout(None)
    return sock


def stomp_connect(port: int) -> socket.socket:
    """A raw STOMP 1.2 connection without heart-beats."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
    reply = _read_until(sock, b"\x00", 10)
    if not reply.lstrip(b"\r\n").startswith(b"CONNECTED"):
        raise ConnectionError(f"no STOMP CONNECTED: {reply[:200]!r}")
    sock.settimeout(None)
    return sock


@dataclass(frozen=True)
class PublisherSpec:
    """One publisher process: ``count`` messages numbered ``first, first + step, ...``."""

    protocol: str  # "mqtt" or "stomp"
    port: int
    devices: list[str]
    first: int
    step: int
    count: int
    # Messages a second, cycling through the ``count`` messages until stopped; None: send
    # the ``count`` messages once, as fast as the broker takes them.
    rate: float | None = None


def split(spec: PublisherSpec, parts: int) -> list[PublisherSpec]:
    """``parts`` publishers sharing the messages (and the rate) of ``spec`` round-robin."""
    return [
        PublisherSpec(
            spec.protocol,
            spec.port,
            spec.devices,
            spec.first + part * spec.step,
            spec.step * parts,
            len(range(part, spec.count, parts)),
            None if spec.rate is None else spec.rate / parts,
        )
        for part in range(parts)
    ]


def publisher_main(
    spec: PublisherSpec, results: MpQueue[dict[str, Any]], start: MpEvent, stop: MpEvent
) -> None:
    """Process body: encode every frame, connect, wait for ``start``, send, report timings."""
    numbers = range(spec.first, spec.first + spec.step * spec.count, spec.step)
    if spec.protocol == "mqtt":
        packets = motion_packets(spec.devices, numbers)
        sock = mqtt_connect(spec.port, f"bench-pub-{os.getpid()}")
    else:
        packets = location_frames(spec.devices, numbers)
        sock = stomp_connect(spec.port)
    results.put({"ready": os.getpid()})
    start.wait()
    began = time.monotonic()
    sent = 0
    if spec.rate is None:
        sock.sendall(b"".join(packets))
        sent = len(packets)
    else:
        # 10 ms slots; a late wake-up catches up, so the average rate holds.
        while not stop.is_set():
            due = int((time.monotonic() - began) * spec.rate)
            if due > sent:
                sock.sendall(b"".join(packets[k % len(packets)] for k in range(sent, due)))
                sent = due
            time.sleep(0.01)
    sent_at = time.monotonic()
    # A clean goodbye the broker answers only after it has taken everything before it.
    if spec.protocol == "stomp":
        sock.sendall(b"DISCONNECT\nreceipt:bench-done\n\n\x00")
        _read_until(sock, b"RECEIPT", 300)
    else:
        sock.sendall(b"\xe0\x00")
        with contextlib.suppress(OSError):
            _read_until(sock, None, 300)
    sock.close()
    results.put({"sent": sent, "began": began, "sent_at": sent_at})


class Publishers:
    """Publisher processes, spawned: they share no GIL with anything measured."""

    def __init__(self, specs: Sequence[PublisherSpec]) -> None:
        context = multiprocessing.get_context("spawn")
        self._results: MpQueue[dict[str, Any]] = context.Queue()
        self._start = context.Event()
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=publisher_main,
                args=(spec, self._results, self._start, self._stop),
                daemon=True,
            )
            for spec in specs
        ]
        for process in self._processes:
            process.start()

    def wait_ready(self, timeout: float = 120.0) -> None:
        for _ in self._processes:
            self._results.get(timeout=timeout)

    def go(self) -> None:
        self._start.set()

    def finish(self, timeout: float = 300.0) -> dict[str, float]:
        """Stop paced publishers, wait for all; return messages sent and their send rate."""
        self._stop.set()
        reports = [self._results.get(timeout=timeout) for _ in self._processes]
        for process in self._processes:
            process.join(10)
        sent = sum(int(r["sent"]) for r in reports)
        span = max(r["sent_at"] for r in reports) - min(r["began"] for r in reports)
        return {"sent": sent, "rate": sent / span if span > 0 else math.inf}

    def kill(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.kill()
                process.join(5)


class FloodMosquitto(Mosquitto):
    """Mosquitto that queues QoS 0 messages for a subscriber that falls behind.

    By default it drops them past 1,000 queued, so the count delivered would depend on the
    speed of the very subscriber being measured.
    """

    def _write_config(self) -> None:
        super()._write_config()
        with self.config_file.open("a") as config:
            config.write("max_queued_messages 0\n")
