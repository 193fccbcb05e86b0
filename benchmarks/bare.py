"""The baselines: bare paho-mqtt and stomp.py subscribers, as a plain script would write them.

``python -m benchmarks.bare bare-mqtt|bare-stomp PARAMS_JSON``; started by ``run.py``.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import stomp
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from benchmarks.proc import IDLE_END, Params, cpu_seconds, main_of, report, window
from mwm_tui.domain import ids


def bare_mqtt(params: Params) -> None:
    """paho-mqtt with VERSION2 callbacks, ``loop()`` on this thread, one unpack per message."""
    target = int(params["messages"])
    unpack = struct.Struct(">ddd").unpack
    count = 0
    first_at = last_at = cpu0 = cpu1 = 0.0
    subscribed = False

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal count, first_at, last_at, cpu0, cpu1
        unpack(message.payload)
        count += 1
        if count == 1:
            first_at, cpu0 = time.monotonic(), cpu_seconds()
        elif count == target:
            last_at, cpu1 = time.monotonic(), cpu_seconds()

    def on_subscribe(
        client: mqtt.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        nonlocal subscribed
        subscribed = True

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-bare-{os.getpid()}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", int(params["port"]), 60)
    client.subscribe(ids.MOTION_SUBSCRIPTION, 0)
    while not subscribed:
        client.loop(0.1)
    report("READY")
    progress_at, seen = time.monotonic(), 0
    while count < target:
        client.loop(0.1)
        now = time.monotonic()
        if count != seen:
            progress_at, seen = now, count
        elif now - progress_at > (IDLE_END if count else 120):
            last_at, cpu1 = progress_at, cpu_seconds()
            break
    client.disconnect()
    report("RESULT", window(count, first_at, last_at, cpu1 - cpu0))


def bare_stomp(params: Params) -> None:
    """stomp.py ``Connection12``; ``json.loads`` per message on stomp.py's receiver thread."""
    target = int(params["messages"])
    loads = json.loads
    subscribed = threading.Event()
    done = threading.Event()
    count = 0
    first_at = last_at = cpu0 = cpu1 = 0.0

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            nonlocal count, first_at, last_at, cpu0, cpu1
            loads(frame.body)
            count += 1
            if count == 1:
                first_at, cpu0 = time.monotonic(), cpu_seconds()
            elif count == target:
                last_at, cpu1 = time.monotonic(), cpu_seconds()
                done.set()

        def on_receipt(self, frame: Any) -> None:
            subscribed.set()

    connection = stomp.Connection12([("127.0.0.1", int(params["port"]))], heartbeats=(0, 0))
    connection.set_listener("bench", Listener())
    connection.connect(wait=True)
    connection.subscribe(
        ids.LOCATION_SUBSCRIPTION, id="bench", ack="auto", headers={"receipt": "bench-sub"}
    )
    if not subscribed.wait(30):
        raise RuntimeError("no receipt for the STOMP subscription")
    report("READY")
    progress_at, seen = time.monotonic(), 0
    while not done.wait(0.1):
        now = time.monotonic()
        if count != seen:
            progress_at, seen = now, count
        elif now - progress_at > (IDLE_END if seen else 120):
            last_at, cpu1 = progress_at, cpu_seconds()
            break
    connection.disconnect()
    report("RESULT", window(count, first_at, last_at, cpu1 - cpu0))


KINDS = {"bare-mqtt": bare_mqtt, "bare-stomp": bare_stomp}

if __name__ == "__main__":
    main_of(KINDS)
