"""One connection of one simulated device, served by the fleet's event loop: no thread of its
own. The STOMP and MQTT sides (``stomp_side``, ``mqtt_side``) say what goes over it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import ClassVar, Protocol

# Bytes a device lets wait in its socket's user-space buffer; past them a send is skipped, as
# a phone on a bad network drops a fix rather than queueing it without end.
MAX_PENDING_BYTES = 64 * 1024
# Linger on, with a time of 0: close() resets the connection, as a crash does.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class LinkDevice(Protocol):
    """What a link knows of its device (``SimDevice``)."""

    index: int
    # Whether the broker refused the device id as STOMP client id (``<ID>.stomp`` then).
    stomp_id_clashes: bool

    @property
    def device_id(self) -> str: ...


class LinkOwner(Protocol):
    """What a link reports to: the fleet, on the same loop."""

    def say(self, line: str) -> None: ...

    def complain(self, line: str) -> None: ...

    def link_subscribed(self, link: DeviceLink) -> None: ...

    def link_lost(self, link: DeviceLink) -> None: ...


class DeviceLink(asyncio.Protocol):
    """An asyncio protocol for one device and one broker, from TCP connect to its loss.

    The link is ``subscribed`` once the broker confirmed the device's subscription; ``closed``
    once it is over, for whatever reason (reported once to the owner by ``link_lost``).
    """

    side: ClassVar[str] = ""

    def __init__(self, device: LinkDevice, owner: LinkOwner) -> None:
        self.device = device
        self.owner = owner
        self.started_at = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self.opening: asyncio.Task[None] | None = None
        self.connected = False
        self.subscribed = False
        self.closed = False
        # Whether the attempt was given up for taking too long (TCP made or not).
        self.timed_out = False
        # Whether the TCP (and TLS) connection was ever made.
        self.transport_made = False
        self.last_heard = self.started_at
        self.last_sent = self.started_at

    # asyncio's calls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.transport_made = True
        self.last_heard = time.monotonic()
        self.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._end()

    # What a side does

    def opened(self) -> None:
        """The TCP (and TLS) connection is up: say hello to the broker."""
        raise NotImplementedError

    def tend(self, now: float, connect_timeout: float) -> None:
        """Once a second: give up an attempt that takes too long; heart-beats, pings."""
        if not self.subscribed and now - self.started_at > connect_timeout:
            self.timed_out = True
            self.abort()

    # Writing and ending

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            self.last_sent = time.monotonic()

    @property
    def open(self) -> bool:
        """Connected, not lost, and not so far behind that another send would only queue."""
        transport = self.transport
        return (
            self.connected
            and not self.closed
            and transport is not None
            and transport.get_write_buffer_size() <= MAX_PENDING_BYTES
        )

    def failed_to_open(self) -> None:
        """The TCP or TLS connection could not be made."""
        self._end()

    def abort(self) -> None:
        """Drop the connection at once (a connect in progress too); the owner hears of it."""
        if self.opening is not None and not self.opening.done():
            self.opening.cancel()
        if self.transport is not None:
            self.transport.abort()
        self._end()

    def crash(self) -> None:
        """End as a device losing power: a reset, no goodbye, so the broker acts at once."""
        if self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.abort()

    def close(self) -> None:
        """Close after what is written has left; the owner hears of it."""
        if self.transport is not None:
            self.transport.close()
        elif self.opening is not None and not self.opening.done():
            self.opening.cancel()
            self._end()
        else:
            self._end()

    def _end(self) -> None:
        if not self.closed:
            self.closed = True
            self.owner.link_lost(self)
