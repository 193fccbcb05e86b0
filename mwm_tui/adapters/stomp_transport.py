"""stomp.py's connection with HQ's frame reader in place of its own splitting at NUL bytes.

stomp.py's receiver thread calls ``__read_frames`` in a loop; the transport here overrides that
one method, so reading and parsing stay on that same thread and nothing else changes hands.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import stomp
import stomp.connect
import stomp.exception
import stomp.protocol
import stomp.transport
import stomp.utils

from .stomp_frames import HEARTBEAT, FrameReader, FrameRejected, StompFrame

RejectHandler = Callable[[FrameRejected], None]


def ignore_reject(rejected: FrameRejected) -> None:
    """Drop a rejected frame unreported (for clients with no one to tell, like simulated trucks)."""


class FramedTransport(stomp.transport.Transport):  # type: ignore[misc]
    """A stomp.py transport whose incoming bytes go through one FrameReader per connection."""

    def __init__(self, *args: object, on_reject: RejectHandler, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.frame_reader = FrameReader()
        self.on_reject = on_reject

    def _BaseTransport__read_frames(self) -> None:  # noqa: N802 (the name stomp.py calls)
        data = self._read_available()
        if not data or not self.running:
            return
        for item in self.frame_reader.feed(data):
            if isinstance(item, StompFrame):
                self.process_frame(stomp.utils.Frame(item.command, item.headers, item.body), b"")
            elif item is HEARTBEAT:
                self.process_frame(stomp.utils.HEARTBEAT_FRAME, b"")
            elif isinstance(item, FrameRejected):
                self.on_reject(item)

    def _read_available(self) -> bytes:
        """What the socket has now; raises ConnectionClosedException at its end, as stomp.py."""
        chunks: list[bytes] = []
        while self.running:
            try:
                chunk = self.receive()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except stomp.exception.InterruptedException:
                continue
            except Exception:  # stomp.py too treats any read error as the end of the stream
                chunk = b""
            if not chunk:
                if not self.blocking:
                    break
                raise stomp.exception.ConnectionClosedException()
            chunks.append(chunk)
            # A blocking socket is read again at once; a TLS one until a frame may have ended.
            if self.blocking or b"\0" in chunk:
                break
        return b"".join(chunks)


class FramedConnection(stomp.Connection12):  # type: ignore[misc]
    """``stomp.Connection12`` built on FramedTransport (same arguments, plus ``on_reject``)."""

    def __init__(
        self,
        host_and_ports: list[tuple[str, int]],
        *,
        on_reject: RejectHandler,
        timeout: float,
        heartbeats: tuple[int, int],
        heart_beat_receive_scale: float,
    ) -> None:
        transport = FramedTransport(
            host_and_ports,
            prefer_localhost=False,
            try_loopback_connect=False,
            reconnect_sleep_initial=0.0,
            reconnect_sleep_increase=0.0,
            reconnect_sleep_jitter=0.0,
            reconnect_attempts_max=1,
            timeout=timeout,
            auto_decode=False,
            on_reject=on_reject,
        )
        stomp.connect.BaseConnection.__init__(self, transport)
        stomp.protocol.Protocol12.__init__(
            self, transport, heartbeats, heart_beat_receive_scale=heart_beat_receive_scale
        )
