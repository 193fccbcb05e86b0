"""STOMP 1.2 frames as a simulated device sends them; what the broker sends back is read by
HQ's own frame reader (``adapters.stomp_frames``)."""

from __future__ import annotations

from collections.abc import Iterable

HEARTBEAT = b"\n"
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", ":": "\\c"})


def escape(value: str) -> str:
    """A header name or value with STOMP 1.2's escapes (every frame but CONNECT)."""
    return value.translate(_ESCAPES)


def frame(command: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """One frame; headers escaped, except on CONNECT, whose headers STOMP 1.2 leaves as they are."""
    if command == "CONNECT":
        lines = [f"{name}:{value}" for name, value in headers]
    else:
        lines = [f"{escape(name)}:{escape(value)}" for name, value in headers]
    preamble = "\n".join([command, *lines]) + "\n\n"
    return preamble.encode() + body + b"\0"


def connect_frame(
    client_id: str,
    vhost: str,
    heartbeats: tuple[int, int],
    login: str | None = None,
    passcode: str | None = None,
) -> bytes:
    headers = [
        ("accept-version", "1.2"),
        ("host", vhost),
        ("heart-beat", f"{heartbeats[0]},{heartbeats[1]}"),
        ("client-id", client_id),
    ]
    if login is not None:
        headers += [("login", login), ("passcode", passcode or "")]
    return frame("CONNECT", headers)


def subscribe_frame(destination: str, subscription: str, receipt: str) -> bytes:
    headers = [("destination", destination), ("id", subscription), ("ack", "auto")]
    return frame("SUBSCRIBE", [*headers, ("receipt", receipt)])


def send_prefix(destination: str, content_type: str) -> bytes:
    """A SEND frame up to its ``content-length`` value; ``send_frame`` adds length and body."""
    headers = f"destination:{escape(destination)}\ncontent-type:{escape(content_type)}\n"
    return f"SEND\n{headers}content-length:".encode()


def send_frame(prefix: bytes, body: bytes) -> bytes:
    return b"".join((prefix, str(len(body)).encode(), b"\n\n", body, b"\0"))


def disconnect_frame(receipt: str) -> bytes:
    return frame("DISCONNECT", [("receipt", receipt)])


def agreed_heartbeats(ours: tuple[int, int], header: str) -> tuple[float, float]:
    """Seconds between the heart-beats we send and those we expect, from CONNECTED's
    ``heart-beat`` header (STOMP 1.2, "Heart-beating"); 0 for none."""
    try:
        server_sends, server_wants = (int(part) for part in header.split(","))
    except ValueError:
        return 0.0, 0.0
    send = max(ours[0], server_wants) if ours[0] and server_wants else 0
    expect = max(ours[1], server_sends) if ours[1] and server_sends else 0
    return send / 1000, expect / 1000
