"""Independent consumers that count what really arrived, across broker kills and restarts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
import stomp
import stomp.utils
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


class QueueCounter:
    """A plain stomp.py consumer with client-individual acks; reconnects until closed.

    A message is counted, then acked: one the broker redelivers after a kill is counted again.
    """

    def __init__(self, port: int, destination: str) -> None:
        self._port = port
        self._destination = destination
        self.bodies: Counter[str] = Counter()
        # The broker's message-id of each copy: a redelivery after a kill keeps its id.
        self.message_ids: dict[str, set[str]] = {}
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-counter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            lost = threading.Event()
            connection = stomp.Connection12(
                [("127.0.0.1", self._port)], reconnect_attempts_max=1, heartbeats=(0, 0)
            )
            connection.set_listener("count", _Acker(self, connection, lost))
            try:
                connection.connect(wait=True)
                connection.subscribe(self._destination, id="count", ack="client-individual")
                self.connected.set()
                while not lost.is_set() and not self._stop.is_set():
                    lost.wait(0.2)
            except Exception:
                time.sleep(0.2)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    connection.disconnect()

    def count(self, body: str, message_id: str = "") -> None:
        with self._lock:
            self.bodies[body] += 1
            self.message_ids.setdefault(body, set()).add(message_id)

    def sends(self) -> Counter[str]:
        """How many distinct messages (by message-id) carried each body: redeliveries of one
        message count once, a second message with the same body twice."""
        with self._lock:
            return Counter({body: len(ids) for body, ids in self.message_ids.items()})

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.bodies)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


class _Acker(stomp.ConnectionListener):  # type: ignore[misc]
    """Counts each message, then acks it; notes the end of the connection."""

    def __init__(
        self, counter: QueueCounter, connection: stomp.Connection12, lost: threading.Event
    ) -> None:
        self._counter = counter
        self._connection = connection
        self._lost = lost

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self._counter.count(str(frame.body), str(frame.headers.get("message-id", "")))
        with contextlib.suppress(Exception):
            self._connection.ack(frame.headers["ack"])

    def on_disconnected(self) -> None:
        self._lost.set()


class TopicCounter:
    """A paho client with clean_session=False at QoS 1: its session keeps what it missed."""

    def __init__(self, port: int, topic: str, client_id: str) -> None:
        self.topics: Counter[str] = Counter()
        self.connected = threading.Event()
        self._lock = threading.Lock()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        client.reconnect_delay_set(1, 1)

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
            if not code.is_failure:
                c.subscribe(topic, qos=1)
                self.connected.set()

        def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, _code: Any, _p: Any) -> None:
            self.connected.clear()

        def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.topics[message.topic] += 1

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.connect("127.0.0.1", port, keepalive=5)
        client.loop_start()
        self._client = client

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.topics)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
