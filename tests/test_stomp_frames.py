"""HQ's STOMP frame reader on hand-built byte streams, cut at every position."""

from __future__ import annotations

import pytest

from mwm_tui.adapters.stomp_frames import (
    HEARTBEAT,
    FrameItem,
    FrameReader,
    FrameRejected,
    StompFrame,
)

CONNECTED = b"CONNECTED\nversion:1.2\nsession:ID:host-1:2\nheart-beat:5000,10000\n\n\x00\n"
HONEST = b"MESSAGE\ndestination:/topic/device.T1.location\nsubscription:s\n\n{}\x00\n"
RECEIPT = b"RECEIPT\r\nreceipt-id:r-1\r\n\r\n\x00"


def message(destination: bytes, body: bytes, *, length: bool = True) -> bytes:
    header = b"content-length:%d\n" % len(body) if length else b""
    return (
        b"MESSAGE\n"
        + header
        + b"destination:"
        + destination
        + b"\nsubscription:s\n\n"
        + body
        + b"\x00\n"
    )


FORGED_BODY = b"A\x00" + message(b"/topic/device.VICTIM.location", b'{"deviceID":"VICTIM"}')
FORGED_ERROR = b"A\x00ERROR\nmessage:forged\n\nforged\x00\nRECEIPT\nreceipt-id:r-1\n\n\x00"


def read_all(stream: bytes, cut: int | None = None) -> list[FrameItem]:
    reader = FrameReader()
    if cut is None:
        return [item for item in reader.feed(stream) if item is not HEARTBEAT]
    items = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
    return [item for item in items if item is not HEARTBEAT]


def every_cut(stream: bytes) -> list[list[FrameItem]]:
    """What the reader makes of ``stream`` whole, one byte at a time, and cut at each position."""
    reader = FrameReader()
    bytewise = [item for i in range(len(stream)) for item in reader.feed(stream[i : i + 1])]
    runs = [read_all(stream), [item for item in bytewise if item is not HEARTBEAT]]
    return runs + [read_all(stream, cut) for cut in range(len(stream) + 1)]


def kinds(items: list[FrameItem]) -> list[str]:
    return [item.command if isinstance(item, StompFrame | FrameRejected) else "?" for item in items]


def test_frames_with_and_without_content_length_read_the_same_however_cut() -> None:
    with_nul = message(b"/topic/device.T2.location", b"a\x00b")
    stream = CONNECTED + HONEST + with_nul + RECEIPT + b"\n\n"
    for items in every_cut(stream):
        assert kinds(items) == ["CONNECTED", "MESSAGE", "MESSAGE", "RECEIPT"]
        connected, honest, binary, receipt = items
        assert isinstance(connected, StompFrame) and connected.headers["session"] == "ID:host-1:2"
        assert isinstance(honest, StompFrame) and honest.body == b"{}"
        assert isinstance(binary, StompFrame) and binary.body == b"a\x00b"
        assert isinstance(receipt, StompFrame) and receipt.headers == {"receipt-id": "r-1"}


@pytest.mark.parametrize("forged", [FORGED_BODY, FORGED_ERROR], ids=["message", "error"])
def test_a_nul_in_a_destination_rejects_the_frame_and_nothing_inside_it_is_read(
    forged: bytes,
) -> None:
    hostile = message(b"/topic/device.EVIL\x00Z.location", forged)
    stream = CONNECTED + hostile + HONEST
    for items in every_cut(stream):
        assert kinds(items) == ["CONNECTED", "MESSAGE", "MESSAGE"]
        rejected, honest = items[1], items[2]
        assert isinstance(rejected, FrameRejected)
        assert rejected.reason == "control character 0x00 in the headers"
        assert rejected.destination == "/topic/device.EVIL\\x00Z.location"
        assert isinstance(honest, StompFrame) and honest.body == b"{}"


def test_without_content_length_a_rejected_frame_ends_at_its_first_nul() -> None:
    hostile = message(b"/topic/device.EVIL\x01.location", b"junk", length=False)
    for items in every_cut(CONNECTED + hostile + HONEST):
        assert kinds(items) == ["CONNECTED", "MESSAGE", "MESSAGE"]
        assert isinstance(items[1], FrameRejected) and "0x01" in items[1].reason


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (message(b"/topic/device.A\x1b[31m.location", b"{}"), "control character 0x1B"),
        (message(b"/topic/device.A\x7f.location", b"{}"), "control character 0x7F"),
        (message(b"/topic/device.A\rB.location", b"{}"), "control character 0x0D"),
        (message(b"/topic/device.A\\nB.location", b"{}"), "escaped control character"),
        (message(b"/topic/device.A\\tB.location", b"{}"), "undefined escape"),
        (message(b"/topic/device.\xff.location", b"{}"), "not UTF-8"),
        (b"MESSAGE\nno colon here\n\n{}\x00", "has no ':'"),
        (b"SEND\ndestination:/queue/x\n\n{}\x00", "not a frame a broker sends"),
        (b"MESSAGE\ncontent-length:x2\n\n{}\x00", "content-length is not a number"),
        (b"MESSAGE\ncontent-length:1\n\n{}\x00", "does not end where content-length says"),
        (CONNECTED, "CONNECTED after the connection was made"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(frame: bytes, reason: str) -> None:
    for items in every_cut(CONNECTED + frame + HONEST):
        assert kinds(items)[-1] == "MESSAGE" and isinstance(items[-1], StompFrame)
        assert items[-1].body == b"{}"
        rejects = [item for item in items if isinstance(item, FrameRejected)]
        assert len(rejects) == 1 and reason in rejects[0].reason


def test_heartbeats_between_frames_are_reported_once_per_read() -> None:
    reader = FrameReader()
    assert reader.feed(b"\n") == [HEARTBEAT]
    assert reader.feed(b"\r\n\n") == [HEARTBEAT]
    items = reader.feed(b"\n" + HONEST)
    assert items[0] is HEARTBEAT and isinstance(items[1], StompFrame)


def test_an_oversized_frame_is_skipped_without_being_kept() -> None:
    reader = FrameReader(max_body=1000)
    header = b"MESSAGE\ncontent-length:5000\ndestination:/topic/device.A.location\n\n"
    (rejected,) = reader.feed(header)
    assert isinstance(rejected, FrameRejected) and "over the limit" in rejected.reason
    for _ in range(5):
        assert reader.feed(b"\x00" * 1000) == []
        assert len(reader._buffer) == 0
    items = reader.feed(b"\x00\n" + HONEST)
    assert kinds([item for item in items if item is not HEARTBEAT]) == ["MESSAGE"]


def test_headers_keep_the_first_of_repeated_names_and_are_unescaped() -> None:
    frame = b"MESSAGE\nk\\c1:a\\\\b\\cc\nk:1\nk:2\n\n\x00"
    (item,) = read_all(frame)
    assert isinstance(item, StompFrame) and item.headers == {"k:1": "a\\b:c", "k": "1"}
