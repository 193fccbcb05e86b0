"""HQ's own reader of the frames a STOMP broker sends: bytes in, whole well-formed frames out.

A body is read by ``content-length`` when the broker gives one, so a NUL inside it never ends
the frame. A frame whose headers hold a NUL or another control character (ActiveMQ forwards a
NUL in a destination unescaped) is rejected whole, with a reason, and reading resumes at the
frame's real end, so nothing inside it can be read as a frame of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Commands a broker sends to a client (STOMP 1.2, section "Server Frames").
SERVER_COMMANDS = frozenset({"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"})
# Longest header block and body kept in memory; a longer frame is rejected and skipped unread.
MAX_PREAMBLE_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024

# A blank line ends the headers; lines end with LF or CR LF.
_PREAMBLE_END = re.compile(rb"\n\r?\n")
# Any C0 control byte but LF, a CR not before LF, or DEL: none may appear in a header block.
_BAD_PREAMBLE_BYTE = re.compile(rb"[\x00-\x09\x0b-\x0c\x0e-\x1f\x7f]|\r(?!\n)")
# The first content-length line of a header block, read even from a block rejected otherwise.
_CONTENT_LENGTH_LINE = re.compile(rb"\ncontent-length:([0-9]{1,12})\r?(?=\n|\Z)")
# The control bytes of _BAD_PREAMBLE_BYTE (CR aside, which is bad only when not before LF).
_CONTROL_BYTES = bytes([*range(0x00, 0x0A), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_UNESCAPED = {"n": "\n", "r": "\r", "c": ":", "\\": "\\"}
_EOL_BYTES = b"\r\n"


@dataclass(frozen=True, slots=True)
class StompFrame:
    """One well-formed frame from the broker; ``headers`` keep the first of repeated names."""

    command: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A frame HQ refused to read, why, and its destination (control characters escaped)."""

    reason: str
    command: str
    destination: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One or more end-of-line bytes between frames: the broker is alive."""


HEARTBEAT = Heartbeat()

FrameItem = StompFrame | FrameRejected | Heartbeat


def printable(text: str, limit: int = 200) -> str:
    """``text`` with every control character shown as an escape, cut to ``limit`` characters."""
    shown = text[:limit]
    if shown.isprintable():
        return shown
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in shown)


class _MalformedError(ValueError):
    pass


def _unescape(value: str) -> str:
    """A header's text with its STOMP 1.2 escapes undone, by str.replace: no regex callback
    per escape (ActiveMQ's message-id holds five). An escaped backslash is set aside first as
    a NUL, which a header block checked for control bytes cannot hold."""
    if "\\" not in value:
        return value
    if "\0" in value:
        return _unescape_by_scan(value)
    text = value.replace("\\\\", "\0").replace("\\c", ":").replace("\\n", "\n")
    text = text.replace("\\r", "\r")
    if "\\" in text:
        return _unescape_by_scan(value)  # an undefined escape: raise as the scan finds it
    return text.replace("\0", "\\")


def _unescape_by_scan(value: str) -> str:
    """``_unescape`` escape by escape, from the left: the first undefined escape is reported."""
    pieces: list[str] = []
    done = 0
    start = value.find("\\")
    while start >= 0:
        char = _UNESCAPED.get(value[start + 1 : start + 2])
        if char is None:
            raise _MalformedError(f"undefined escape {value[start : start + 2]!r} in a header")
        pieces += (value[done:start], char)
        done = start + 2
        start = value.find("\\", done)
    pieces.append(value[done:])
    return "".join(pieces)


def _parse_preamble(preamble: bytes) -> tuple[str, dict[str, str]]:
    """Command and headers of a header block already checked for control bytes."""
    try:
        text = preamble.decode("utf-8")
    except UnicodeDecodeError:
        raise _MalformedError("headers are not UTF-8") from None
    lines = text.split("\n")
    command = lines[0].removesuffix("\r")
    if command not in SERVER_COMMANDS:
        raise _MalformedError(f"{printable(command, 40)!r} is not a frame a broker sends")
    if "\\" not in text and "\r" not in text:
        # The usual frame: nothing to unescape, no CR; each name once, each line with a ':'.
        pairs = [line.partition(":") for line in lines[1:]]
        plain = {key: value for key, colon, value in pairs}
        if len(plain) == len(pairs) and all(colon for _, colon, _ in pairs):
            return command, plain
    # CONNECTED is the one server frame whose headers are not escaped (STOMP 1.2).
    escaped = command != "CONNECTED"
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, colon, value = line.removesuffix("\r").partition(":")
        if not colon:
            raise _MalformedError(f"header line {printable(line, 40)!r} has no ':'")
        if escaped and "\\" in line:
            key, value = _unescape(key), _unescape(value)
            if command == "MESSAGE" and not (key + value).isprintable():
                detail = f"header {printable(key, 40)!r} holds an escaped control character"
                raise _MalformedError(detail)
        headers.setdefault(key, value)
    return command, headers


def _lenient_fields(preamble: bytes) -> tuple[str, str]:
    """Command and destination of a rejected header block, for the reject's description."""
    text = preamble.decode("utf-8", "replace")
    command, _, rest = text.partition("\n")
    destination = ""
    for line in rest.split("\n"):
        if line.startswith("destination:"):
            destination = line.removeprefix("destination:").removesuffix("\r")
            break
    return printable(command.removesuffix("\r"), 40), printable(destination)


class FrameReader:
    """Turns the byte stream of one STOMP connection into frames, rejects and heart-beats.

    Pure and single-threaded: ``feed`` takes whatever a read returned, however the stream was
    cut, and returns what became complete. One reader per connection.
    """

    def __init__(
        self, *, max_preamble: int = MAX_PREAMBLE_BYTES, max_body: int = MAX_BODY_BYTES
    ) -> None:
        self._buffer = bytearray()
        self._max_preamble = max_preamble
        self._max_body = max_body
        # Bytes of a rejected frame still to drop, or -1 to drop through the next NUL.
        self._skip = 0
        self._frames_read = 0

    def feed(self, data: bytes) -> list[FrameItem]:
        """Frames completed by ``data``, in order; an incomplete tail is kept for the next feed."""
        buffer = self._buffer
        buffer += data
        items: list[FrameItem] = []
        pos = self._drop_skipped(0)
        end = len(buffer)
        while pos < end and self._skip == 0:
            if buffer[pos] in _EOL_BYTES:
                while pos < end and buffer[pos] in _EOL_BYTES:
                    pos += 1
                if not items or items[-1] is not HEARTBEAT:
                    items.append(HEARTBEAT)
                continue
            consumed = self._read_frame(pos, items)
            if consumed < 0:
                break
            pos = self._drop_skipped(consumed)
        del buffer[:pos]
        return items

    def _drop_skipped(self, pos: int) -> int:
        """Move ``pos`` past bytes a rejected frame still owns; the new position."""
        if self._skip > 0:
            taken = min(self._skip, len(self._buffer) - pos)
            self._skip -= taken
            return pos + taken
        if self._skip < 0:
            nul = self._buffer.find(b"\0", pos)
            if nul < 0:
                return len(self._buffer)
            self._skip = 0
            return nul + 1
        return pos

    def _read_frame(self, pos: int, items: list[FrameItem]) -> int:
        """Read the frame at ``pos``: the position after it, or -1 if it is not all here yet."""
        buffer = self._buffer
        match = _PREAMBLE_END.search(buffer, pos)
        if match is None:
            if len(buffer) - pos > self._max_preamble:
                items.append(self._reject(bytes(buffer[pos : pos + 200]), "headers too long"))
                self._skip = -1
                return pos
            return -1
        # The CR of the last header's CR LF stays before the match: it belongs to that EOL.
        preamble_end = match.start()
        if preamble_end > pos and buffer[preamble_end - 1] == 13:
            preamble_end -= 1
        preamble = bytes(buffer[pos:preamble_end])
        body_start = match.end()
        length_match = _CONTENT_LENGTH_LINE.search(b"\n" + preamble)
        length = int(length_match.group(1)) if length_match else None
        problem = self._preamble_problem(preamble)
        command = ""
        headers: dict[str, str] = {}
        if problem is None:
            try:
                command, headers = _parse_preamble(preamble)
            except _MalformedError as error:
                problem = str(error)
        if problem is None and "content-length" in headers and length is None:
            problem = "content-length is not a number"
        if problem is None and command == "CONNECTED" and self._frames_read:
            problem = "CONNECTED after the connection was made"
        if length is not None and length > self._max_body:
            problem = problem or f"body of {length:,} bytes is over the limit"
        if problem is not None:
            items.append(self._reject(preamble, problem))
            # Skip the frame by its length when it says one, else through the next NUL.
            self._skip = length + 1 if length is not None else -1
            return body_start
        if length is None:
            nul = buffer.find(b"\0", body_start)
            if nul < 0:
                if len(buffer) - body_start > self._max_body:
                    items.append(self._reject(preamble, "body without content-length too long"))
                    self._skip = -1
                    return body_start
                return -1
            body_end = nul
        else:
            body_end = body_start + length
            if body_end >= len(buffer):
                return -1
            if buffer[body_end] != 0:
                items.append(self._reject(preamble, "body does not end where content-length says"))
                self._skip = -1
                return body_end
        self._frames_read += 1
        items.append(StompFrame(command, headers, bytes(buffer[body_start:body_end])))
        return body_end + 1

    @staticmethod
    def _preamble_problem(preamble: bytes) -> str | None:
        if b"\r" not in preamble and len(preamble.translate(None, _CONTROL_BYTES)) == len(preamble):
            return None  # the usual block, checked in C without the regex's lookahead
        bad = _BAD_PREAMBLE_BYTE.search(preamble)
        if bad is None:
            return None
        byte = bad.group(0)[0]
        return f"control character 0x{byte:02X} in the headers"

    def _reject(self, preamble: bytes, reason: str) -> FrameRejected:
        self._frames_read += 1
        command, destination = _lenient_fields(preamble)
        return FrameRejected(reason, command, destination)
