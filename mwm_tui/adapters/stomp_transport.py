"""stomp.py's connection with HQ's frame reader in place of its own splitting at NUL bytes.

stomp.py's receiver thread reads frames in a loop; the transport here takes over that one step
(through ``compat.stomp``), so reading and parsing stay on that same thread and nothing else
changes hands.
"""

from __future__ import annotations

import errno
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Sequence

import stomp
import stomp.connect
import stomp.exception
import stomp.protocol
import stomp.transport
import stomp.utils

from mwm_tui.compat.stomp import HookedTransport

from .socket_reads import READ_BYTES, LandingBuffer, ReadPacer
from .stomp_frames import HEARTBEAT, FrameItem, FrameReader, FrameRejected, StompFrame

RejectHandler = Callable[[FrameRejected], None]
MessageHandler = Callable[[StompFrame], None]


def ignore_reject(rejected: FrameRejected) -> None:
    """Drop a rejected frame unreported (for clients with no one to tell, like simulated trucks)."""


def _nothing() -> None:
    pass


class FramedTransport(HookedTransport):
    """A stomp.py transport whose incoming bytes go through one FrameReader per connection."""

    def __init__(
        self,
        host_and_ports: list[tuple[str, int]],
        *,
        on_reject: RejectHandler,
        timeout: float,
        **kwargs: object,
    ) -> None:
        super().__init__(host_and_ports, timeout=timeout, **kwargs)
        self.frame_reader = FrameReader()
        self.landing = LandingBuffer(READ_BYTES)
        self.on_reject = on_reject
        # When set, MESSAGE frames go straight to it rather than through stomp.py's listeners,
        # and each read counts once as a heart-beat for those listeners.
        self.on_message: MessageHandler | None = None
        # Called before and after the frames of one read are handed on.
        self.read_began: Callable[[], None] = _nothing
        self.read_ended: Callable[[], None] = _nothing
        # Seconds to wait after a read that emptied the socket: a trickle is read in batches.
        self.read_pause = 0.0
        self.pacer = ReadPacer()
        self.sleep: Callable[[float], None] = time.sleep
        # A TLS alert that ended the stream, such as a broker refusing HQ's client certificate.
        self.tls_alert: ssl.SSLError | None = None

    def read_frames(self) -> None:
        data = self._read_available()
        if not data or not self.running:
            return
        items = self.frame_reader.feed(data)
        on_message = self.on_message
        if on_message is None:
            self._hand_on(items)
            return
        self.notify("heartbeat")
        self.read_began()
        try:
            for item in items:
                if type(item) is StompFrame and item.command == "MESSAGE":
                    on_message(item)
                elif item is not HEARTBEAT:
                    self._hand_on((item,))
        finally:
            self.read_ended()
        if self.read_pause and self.pacer.should_pause(len(data), len(data) < READ_BYTES):
            self.sleep(self.read_pause)

    def _hand_on(self, items: Sequence[FrameItem]) -> None:
        """Frames to stomp.py's listeners, heart-beats to its watchdog, rejects to ``on_reject``."""
        for item in items:
            if isinstance(item, StompFrame):
                self.process_frame(stomp.utils.Frame(item.command, item.headers, item.body), b"")
            elif item is HEARTBEAT:
                self.process_frame(stomp.utils.HEARTBEAT_FRAME, b"")
            elif isinstance(item, FrameRejected):
                self.on_reject(item)

    def receive(self) -> bytes:
        """stomp.py's read, into the landing buffer."""
        try:
            return self.landing.read(self.socket.recv_into)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EINTR) and not isinstance(error, ssl.SSLError):
                raise stomp.exception.InterruptedException() from None
            if self.is_connected():
                raise
            return b""

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
            except Exception as error:  # stomp.py too treats any read error as the end
                if isinstance(error, ssl.SSLError):
                    # Ends the stream even on a non-blocking socket, which would wait forever.
                    self.tls_alert = error
                    raise stomp.exception.ConnectionClosedException() from None
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


class TlsFramedTransport(FramedTransport):
    """The framed transport over a socket wrapped by our context (stomp.py builds its own from
    file names and always checks the connect host); keeps the handshake's error."""

    def __init__(
        self,
        host_and_ports: list[tuple[str, int]],
        *,
        context: ssl.SSLContext,
        on_reject: RejectHandler,
        timeout: float,
        **kwargs: object,
    ) -> None:
        super().__init__(host_and_ports, on_reject=on_reject, timeout=timeout, **kwargs)
        self._tls_host_and_port = host_and_ports[0]
        self._tls_timeout = timeout
        self._context = context
        self.handshake_error: OSError | None = None

    def receive(self) -> bytes:
        """The socket's next bytes; unlike stomp.py's, a TLS error before CONNECTED is raised,
        so a refused client certificate is seen as the alert it is."""
        try:
            return self.landing.read(self.socket.recv_into)
        except ssl.SSLError:
            raise
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EINTR):
                raise stomp.exception.InterruptedException() from None
            raise

    def attempt_connection(self) -> None:
        self.connection_error = False
        self.handshake_error = None
        host_and_port = self._tls_host_and_port
        try:
            raw = socket.create_connection(host_and_port, self._tls_timeout)
        except OSError as error:
            self.handshake_error = error
            raise stomp.exception.ConnectFailedException() from None
        try:
            tls = self._context.wrap_socket(raw, server_hostname=host_and_port[0])
        except OSError as error:
            raw.close()
            self.handshake_error = error
            raise stomp.exception.ConnectFailedException() from None
        # As stomp.py's own TLS path: a non-blocking socket fed by a pollable send queue.
        self.send_queue = stomp.utils.PollableQueue()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.send_queue, selectors.EVENT_READ)
        self.sel.register(tls, selectors.EVENT_READ)
        self.blocking = False
        tls.settimeout(self._tls_timeout)
        tls.setblocking(False)
        self.socket = tls
        self.current_host_and_port = host_and_port


class FramedConnection(stomp.Connection12):  # type: ignore[misc]
    """``stomp.Connection12`` built on FramedTransport (same arguments, plus ``on_reject``);
    over TLS with ``tls_context``; ``vhost`` is the CONNECT frame's host header."""

    def __init__(
        self,
        host_and_ports: list[tuple[str, int]],
        *,
        on_reject: RejectHandler,
        timeout: float,
        heartbeats: tuple[int, int],
        heart_beat_receive_scale: float,
        tls_context: ssl.SSLContext | None = None,
        vhost: str | None = None,
    ) -> None:
        # stomp.py tries once; reconnecting is the link's supervisor's.
        options: dict[str, object] = {
            "prefer_localhost": False,
            "try_loopback_connect": False,
            "reconnect_sleep_initial": 0.0,
            "reconnect_sleep_increase": 0.0,
            "reconnect_sleep_jitter": 0.0,
            "reconnect_attempts_max": 1,
            "auto_decode": False,
            "recv_bytes": READ_BYTES,
            # The CONNECT frame's host header; stomp.py sends the dialled host without it.
            "vhost": vhost,
        }
        transport: FramedTransport = (
            FramedTransport(host_and_ports, on_reject=on_reject, timeout=timeout, **options)
            if tls_context is None
            else TlsFramedTransport(
                host_and_ports,
                context=tls_context,
                on_reject=on_reject,
                timeout=timeout,
                **options,
            )
        )
        stomp.connect.BaseConnection.__init__(self, transport)
        stomp.protocol.Protocol12.__init__(
            self, transport, heartbeats, heart_beat_receive_scale=heart_beat_receive_scale
        )
