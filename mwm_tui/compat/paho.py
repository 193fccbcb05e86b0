"""paho-mqtt's private parts: its socket reads and writes, its packet state and keepalive clock.

paho has no public hook for how it reads its socket. ``HookedClient`` routes paho's
``_sock_recv`` and ``_sock_send`` through ``socket_read`` and ``socket_write``, which subclasses
override, and gives the few fields they need public names. When a part is gone or changed
(``hooks_problem`` says which), ``hooked`` is False and the client is paho's own: the
overrides are not called and the fields are not touched.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

_CLIENT = "paho.mqtt.client.Client"
# paho's private methods used here, with their parameters as paho 2.2 names them.
_METHODS: tuple[tuple[str, list[str]], ...] = (
    ("_sock_recv", ["self", "bufsize"]),
    ("_sock_send", ["self", "buf"]),
    ("_call_socket_register_write", ["self"]),
)


@cache
def hooks_problem() -> str | None:
    """None when paho has every private part HookedClient uses; else which one it has not."""
    for name, parameters in _METHODS:
        method = getattr(mqtt.Client, name, None)
        if not callable(method):
            return f"{_CLIENT}.{name} is gone"
        found = list(inspect.signature(method).parameters)
        if found != parameters:
            return f"{_CLIENT}.{name} takes {found}, not {parameters}"
    probe = mqtt.Client(CallbackAPIVersion.VERSION2)
    packet = getattr(probe, "_in_packet", None)
    if not isinstance(packet, dict) or "command" not in packet:
        return f"{_CLIENT}._in_packet is gone or has no 'command'"
    if not hasattr(getattr(probe, "_msgtime_mutex", None), "__enter__"):
        return f"{_CLIENT}._msgtime_mutex is gone or no longer a lock"
    if not isinstance(getattr(probe, "_last_bytes_received", None), float):
        return f"{_CLIENT}._last_bytes_received is gone or no longer a float"
    if "_sock" not in vars(probe):
        return f"{_CLIENT}._sock is gone"
    return None


class HookedClient(mqtt.Client):
    """paho's client with its socket reads and writes overridable, where paho allows it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hooked = hooks_problem() is None

    def _sock_recv(self, bufsize: int) -> bytes:
        return self.socket_read(bufsize) if self.hooked else super()._sock_recv(bufsize)

    def _sock_send(self, buf: bytes | bytearray) -> int:
        return self.socket_write(buf) if self.hooked else super()._sock_send(buf)

    def socket_read(self, bufsize: int) -> bytes:
        """What paho reads its socket with (called only when ``hooked``): paho's own here."""
        return self.paho_read(bufsize)

    def socket_write(self, buf: bytes | bytearray) -> int:
        """What paho writes its socket with (called only when ``hooked``): paho's own here."""
        return self.paho_write(buf)

    def paho_read(self, bufsize: int) -> bytes:
        """paho's own socket read."""
        return super()._sock_recv(bufsize)

    def paho_write(self, buf: bytes | bytearray) -> int:
        """paho's own socket write."""
        return super()._sock_send(buf)

    def socket_recv_into(self) -> Callable[[memoryview], int] | None:
        """The socket's ``recv_into`` (None without a socket, or on a websocket)."""
        recv_into: Callable[[memoryview], int] | None = getattr(self._sock, "recv_into", None)
        return recv_into

    def want_write_later(self) -> None:
        """Tell paho the socket wants writing (as a TLS read that needs a write does)."""
        self._call_socket_register_write()

    def inside_packet(self) -> bool:
        """Whether paho has read part of a packet and waits for the rest."""
        return bool(self._in_packet["command"] != 0)

    def heard_now(self) -> None:
        """Tell paho's keepalive that bytes came in now (it pings only after silence)."""
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()
