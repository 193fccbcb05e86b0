"""A link's socket reads land in one kept buffer; each allocates only the bytes that came."""

from __future__ import annotations

import socket
import tracemalloc

from mwm_tui.adapters.socket_reads import READ_BYTES, LandingBuffer


def test_each_read_returns_what_came_and_the_end_of_the_stream() -> None:
    left, right = socket.socketpair()
    with left, right:
        landing = LandingBuffer()
        right.sendall(b"MESSAGE\n\n{}\0")
        assert landing.read(left.recv_into) == b"MESSAGE\n\n{}\0"
        right.sendall(b"x" * 10)
        assert landing.read(left.recv_into) == b"x" * 10
        right.close()
        assert landing.read(left.recv_into) == b""


def test_a_read_fills_at_most_the_buffer() -> None:
    left, right = socket.socketpair()
    with left, right:
        landing = LandingBuffer(size=16)
        right.sendall(bytes(range(40)))
        assert landing.read(left.recv_into) == bytes(range(16))
        assert landing.read(left.recv_into) == bytes(range(16, 32))


def test_a_short_read_allocates_the_bytes_that_came_not_the_buffer() -> None:
    left, right = socket.socketpair()
    with left, right:
        landing = LandingBuffer()
        tracemalloc.start()
        try:
            for _ in range(100):
                right.sendall(b"0123456789")
                assert landing.read(left.recv_into) == b"0123456789"
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # recv(65536) would make a 64 KiB block for each read before shrinking it.
        assert peak < READ_BYTES // 8
