"""The test proxy itself, against an echo server: forwards, cuts, restores, freezes."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.brokers import HOST
from tests.support.proxy import TcpProxy


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A server on a free loopback port that sends every byte back."""
    server = socket.create_server((HOST, 0))
    stop = threading.Event()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy's cut resets it
            while data := conn.recv(4096):
                conn.sendall(data)

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2.0)
    server.close()


def round_trip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_proxy_forwards_cuts_restores_and_freezes(echo_port: int) -> None:
    with TcpProxy(echo_port) as proxy:
        first = socket.create_connection((HOST, proxy.port), timeout=2.0)
        assert round_trip(first, b"hello") == b"hello"
        assert proxy.connections == 1

        proxy.cut()
        with pytest.raises(ConnectionResetError):
            first.recv(1)
        first.close()
        # The reset may come while connecting or at the first read: either way, reset.
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection((HOST, proxy.port), timeout=2.0) as refused,
        ):
            refused.recv(1)
        assert proxy.connections == 0

        proxy.restore()
        second = socket.create_connection((HOST, proxy.port), timeout=2.0)
        assert round_trip(second, b"again") == b"again"

        proxy.freeze()
        second.settimeout(0.5)
        second.sendall(b"silence")
        with pytest.raises(TimeoutError):
            second.recv(4096)
        assert proxy.connections == 1  # nothing closed
        proxy.thaw()
        second.settimeout(2.0)
        assert second.recv(4096) == b"silence"
        second.close()
