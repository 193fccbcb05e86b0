"""A TCP proxy on a free loopback port in front of a broker: HQ's own network, made to fail.

``cut()`` resets every connection and every new one until ``restore()`` (a network that says
no); ``freeze()`` stops every byte without closing anything until ``thaw()`` (a silent one).
One thread serves every connection with a selector; sockets never block it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from .brokers import HOST

_CHUNK = 65536
# A reset rather than a FIN when closing: what a failing network shows the two ends.
_LINGER_ZERO = struct.pack("ii", 1, 0)


@dataclass(eq=False, slots=True)
class _Leg:
    """One socket of a forwarded connection and the bytes waiting to be written to it."""

    sock: socket.socket
    pending: bytearray = field(default_factory=bytearray)
    peer: _Leg | None = None


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``HOST:upstream_port`` until closed."""

    def __init__(self, upstream_port: int, upstream_host: str = HOST) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((HOST, 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._lock = threading.Lock()
        self._cut = False
        self._frozen = False
        self._closing = False
        self._legs: set[_Leg] = set()
        # Accepted while frozen: connected to nothing until thawed.
        self._held: list[socket.socket] = []
        self._acknowledge: threading.Event | None = None
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_reader, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, name="test-proxy", daemon=True)
        self._thread.start()

    def url(self, scheme: str) -> str:
        return f"{scheme}://{HOST}:{self.port}"

    def cut(self) -> None:
        """Reset every connection and refuse new ones (they are reset at once) until restored."""
        self._command(cut=True)

    def restore(self) -> None:
        """Accept and forward again, after ``cut`` or ``freeze``."""
        self._command(cut=False, frozen=False)

    def freeze(self) -> None:
        """Forward nothing, close nothing: both ends see silence. New connections hang too."""
        self._command(frozen=True)

    def thaw(self) -> None:
        self.restore()

    @property
    def connections(self) -> int:
        """Forwarded connections open now."""
        return len(self._legs) // 2

    def close(self) -> None:
        with self._lock:
            self._closing = True
        self._wake_writer.send(b"\x00")
        self._thread.join(5.0)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # The proxy's thread

    def _command(self, *, cut: bool | None = None, frozen: bool | None = None) -> None:
        done = threading.Event()
        with self._lock:
            if cut is not None:
                self._cut = cut
            if frozen is not None:
                self._frozen = frozen
            self._acknowledge = done
        self._wake_writer.send(b"\x00")
        if not done.wait(5.0):
            raise AssertionError("the proxy thread did not apply the change")

    def _serve(self) -> None:
        try:
            while not self._closing:
                for key, events in self._selector.select(timeout=1.0):
                    if key.fileobj is self._listener:
                        self._accept()
                    elif key.fileobj is self._wake_reader:
                        self._apply()
                    else:
                        self._service(key.data, events)
        finally:
            for leg in list(self._legs):
                self._drop(leg, reset=True)
            for sock in self._held:
                _reset(sock)
            self._selector.close()
            self._listener.close()
            self._wake_reader.close()
            self._wake_writer.close()

    def _apply(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_reader.recv(4096):
                pass
        with self._lock:
            cut, frozen, done = self._cut, self._frozen, self._acknowledge
            self._acknowledge = None
        if cut:
            for leg in list(self._legs):
                self._drop(leg, reset=True)
            for sock in self._held:
                _reset(sock)
            self._held.clear()
        for leg in self._legs:
            self._watch(leg)
        if not frozen and not cut:
            held, self._held = self._held, []
            for sock in held:
                self._connect(sock)
        if done is not None:
            done.set()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        if self._cut:
            _reset(sock)
        elif self._frozen:
            self._held.append(sock)
        else:
            self._connect(sock)

    def _connect(self, client: socket.socket) -> None:
        try:
            # Loopback: the connection is made or refused at once.
            upstream = socket.create_connection(self.upstream, timeout=2.0)
        except OSError:
            _reset(client)
            return
        client.setblocking(False)
        upstream.setblocking(False)
        near, far = _Leg(client), _Leg(upstream)
        near.peer, far.peer = far, near
        self._legs.update((near, far))
        self._watch(near)
        self._watch(far)

    def _watch(self, leg: _Leg) -> None:
        """Read while the peer has room and nothing is frozen; write while bytes wait."""
        wanted = 0
        if not self._frozen:
            if leg.peer is not None and len(leg.peer.pending) < 4 * _CHUNK:
                wanted |= selectors.EVENT_READ
            if leg.pending:
                wanted |= selectors.EVENT_WRITE
        registered = self._selector.get_map().get(leg.sock)
        if registered is not None and not wanted:
            self._selector.unregister(leg.sock)
        elif registered is None and wanted:
            self._selector.register(leg.sock, wanted, leg)
        elif registered is not None and registered.events != wanted:
            self._selector.modify(leg.sock, wanted, leg)

    def _service(self, leg: _Leg, events: int) -> None:
        peer = leg.peer
        if peer is None:
            return
        if events & selectors.EVENT_READ:
            try:
                data = leg.sock.recv(_CHUNK)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                # One end closed or reset: close the other too, after what it is owed.
                self._drop(leg, reset=False)
                return
            if data:
                peer.pending += data
                self._flush(peer)
        if events & selectors.EVENT_WRITE and leg.peer is not None:
            self._flush(leg)
        if leg.peer is not None:
            self._watch(leg)
            self._watch(peer)

    def _flush(self, leg: _Leg) -> None:
        if not leg.pending or self._frozen:
            return
        try:
            sent = leg.sock.send(leg.pending)
        except BlockingIOError:
            return
        except OSError:
            self._drop(leg, reset=True)
            return
        del leg.pending[:sent]

    def _drop(self, leg: _Leg, *, reset: bool) -> None:
        """Close ``leg`` and its peer; ``reset`` discards what was not yet written."""
        peer = leg.peer
        for each in (leg, peer):
            if each is None or each not in self._legs:
                continue  # closed already, as the peer of one dropped before
            each.peer = None
            self._legs.discard(each)
            if each.sock in self._selector.get_map():
                self._selector.unregister(each.sock)
            if reset:
                _reset(each.sock)
                continue
            with contextlib.suppress(OSError):
                each.sock.setblocking(True)
                each.sock.settimeout(0.5)
                if each.pending:
                    each.sock.sendall(each.pending)
            with contextlib.suppress(OSError):
                each.sock.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
    with contextlib.suppress(OSError):
        sock.close()
