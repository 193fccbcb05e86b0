"""``--record FILE``: every message HQ receives and every order and alert it sends, as JSON lines.

The links' threads only append a tuple to a bounded deque (no lock, no I/O); a writer thread
turns them into lines and rotates the file by size: FILE, then FILE.1.gz (older), ...
FILE.<keep>.gz, each compressed by gzip as it rotates (about 5 times smaller).
One line a record; payloads that are UTF-8 text are kept as ``text``, others as ``b64``, and
the file is pure ASCII JSON whatever the broker sent.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import logging
import math
import os
import re
import shutil
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, overload

from mwm_tui.adapters.private_file import Existing, open_private
from mwm_tui.domain.bounded_json import JsonError, loads_bounded

log = logging.getLogger(__name__)

DEFAULT_MAX_MB = 100.0
# Rotated files kept besides FILE: FILE.1.gz ... FILE.<KEEP>.gz. A 200-truck fleet records
# 163 MB an hour, which gzip -6 makes 5.2 times smaller: 48 x 100 MiB is 30 hours in ~1 GB.
DEFAULT_KEEP = 48
# zlib's default: 1 s of CPU for 100 MB; -9 takes twice that for 5% less.
_GZIP_LEVEL = 6
GZIP_SUFFIX = ".gz"
_GZIP_MAGIC = b"\x1f\x8b"
# Records waiting for the writer at most; past it they are dropped and counted.
QUEUE_LIMIT = 200_000
_WRITE_INTERVAL = 0.1
# Record kinds in the file.
MESSAGE = "message"
SENT = "sent"
OUTCOME = "outcome"
LINK = "link"


class RecordError(Exception):
    """A record file that cannot be opened, written or read, with a message for the operator."""


def encode_payload(payload: bytes) -> dict[str, str]:
    """``{"text": ...}`` for a UTF-8 payload, else ``{"b64": ...}``: bytes kept exactly."""
    try:
        return {"text": payload.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(payload).decode("ascii")}


def decode_payload(record: Mapping[str, Any]) -> bytes:
    """The payload bytes of a record line; raises ValueError when it has none usable."""
    if isinstance(record.get("text"), str):
        text: str = record["text"]
        return text.encode("utf-8", "surrogatepass")
    if isinstance(record.get("b64"), str):
        try:
            return base64.b64decode(record["b64"], validate=True)
        except binascii.Error as error:
            raise ValueError(f"bad base64: {error}") from None
    raise ValueError("no text or b64 payload")


def record_line(record: Mapping[str, Any]) -> str:
    """One record as a line of ASCII JSON (control and non-ASCII characters escaped)."""
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), allow_nan=False) + "\n"


# What a reader takes: a file, a line, its nesting (the writer's lines are 2 deep), its time.
MAX_FILE_BYTES = 2 * 1024**3
MAX_LINE_CHARS = 4 * 1024**2
MAX_LINE_DEPTH = 32
EARLIEST_AT, LATEST_AT = 0.0, 4_102_444_800.0  # 1970 to 2100, UTC

# Where the writer puts it: a line's time, read without parsing the whole line.
_LEADING_AT = re.compile(r'^\{"at":(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[,}]')
_MESSAGE_KIND = '"kind":"message"'
_SOURCE = re.compile(r'"source":"((?:[^"\\]|\\.)*)"')


class RecordLines(Sequence[dict[str, Any]]):
    """Record lines in time order, each parsed only when asked for (a shift can be millions).

    A line that is not a JSON object reads as ``{"at": ..., "kind": "unreadable"}``.
    """

    def __init__(self, times: list[float], lines: list[str]) -> None:
        self.times = times
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        try:
            record = _parsed(self._lines[index])
        except JsonError:
            record = None
        if not isinstance(record, dict):
            return {"at": self.times[index], "kind": "unreadable"}
        return record

    def source_of(self, index: int) -> str | None:
        """A message's topic or destination, read without parsing a line written as the writer
        writes (compact JSON); None for records of other kinds."""
        line = self._lines[index]
        if not _LEADING_AT.match(line):
            return _source_of_parsed(self[index])
        if _MESSAGE_KIND not in line:
            return None  # no JSON string can hold it unescaped: it is this line's kind or none
        found = _SOURCE.search(line)
        if found is None:
            return None
        escaped = found.group(1)
        return str(json.loads(f'"{escaped}"')) if "\\" in escaped else escaped


def _source_of_parsed(record: Mapping[str, Any]) -> str | None:
    return str(record.get("source", "")) if record.get("kind") == MESSAGE else None


@dataclass
class RecordReader:
    """Records from one or more files (rotated ones too), oldest first; bad lines counted, the
    first of them named in ``first_problem`` ("FILE line N: what is wrong")."""

    paths: list[Path]
    bad_lines: int = 0
    records: RecordLines = field(default_factory=lambda: RecordLines([], []))
    first_problem: str | None = None

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> RecordReader:
        """Raises RecordError when a file cannot be read or is over ``MAX_FILE_BYTES``."""
        reader = cls([Path(p) for p in paths])
        found: list[tuple[float, str]] = []
        for path in reader.paths:
            try:
                with _open_record(path) as file:
                    size = os.fstat(file.fileno()).st_size
                    if size > MAX_FILE_BYTES:
                        raise RecordError(
                            f"{path}: {size:,} bytes, over the {MAX_FILE_BYTES:,} a record "
                            "file may hold (--record-max-mb rotates it sooner)"
                        )
                    for number, line in enumerate(_bounded_lines(file), 1):
                        try:
                            if line is None:
                                raise JsonError(f"a line over {MAX_LINE_CHARS:,} characters")
                            at = _time_of(line)
                        except JsonError as error:
                            reader._bad(f"{path} line {number}: {error.problem}")
                            continue
                        if at is not None:
                            found.append((at, line))
            except OSError as error:
                said = error.strerror or str(error)
                raise RecordError(f"cannot read the record {path}: {said}") from None
            except (EOFError, zlib.error):
                reader.bad_lines += 1  # a compressed file cut short: what came before it counts
        found.sort(key=lambda pair: pair[0])
        reader.records = RecordLines([at for at, _ in found], [line for _, line in found])
        return reader

    def _bad(self, problem: str) -> None:
        self.bad_lines += 1
        if self.first_problem is None:
            self.first_problem = problem


def _bounded_lines(file: TextIO) -> Iterable[str | None]:
    """The file's lines; one over ``MAX_LINE_CHARS`` is skipped unread and given as None."""
    while line := file.readline(MAX_LINE_CHARS + 1):
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            while (rest := file.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                pass
            yield None
        else:
            yield line


def _parsed(line: str) -> Any:
    return loads_bounded(line, max_chars=MAX_LINE_CHARS, max_depth=MAX_LINE_DEPTH)


def _time_of(line: str) -> float | None:
    """A line's time (None: a blank line); JsonError says what is wrong with a bad one."""
    if not line.strip():
        return None
    leading = _LEADING_AT.match(line)
    if leading and line.count("{") + line.count("[") <= MAX_LINE_DEPTH:
        at: object = float(leading.group(1))
    else:
        record = _parsed(line)
        at = record.get("at") if isinstance(record, dict) else None
    if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
        raise JsonError('no "at" time')
    if not EARLIEST_AT <= at <= LATEST_AT:
        raise JsonError(f'"at" {at:g} is not a time between 1970 and 2100')
    return float(at)


def _open_record(path: Path) -> TextIO:
    """A record file for reading, plain or gzip-compressed (told by its first bytes)."""
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if compressed:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open("r", encoding="utf-8", errors="replace")


Item = tuple[Any, ...]


class Recorder:
    """The ``--record`` writer: ``message``/``sent``/``outcome``/``link`` queue a record."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int = int(DEFAULT_MAX_MB * 1024 * 1024),
        keep: int = DEFAULT_KEEP,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = time.time,
        append: bool = False,
    ) -> None:
        """Creates FILE at once (0600), or with ``append`` adds to the operator's existing one;
        raises RecordError when it cannot, or when FILE exists and ``append`` is not given."""
        self.path = Path(path)
        self._append = append
        self._max_bytes = max(max_bytes, 1024)
        self._keep = max(keep, 1)
        self._limit = queue_limit
        self._clock = clock
        self._queue: deque[Item] = deque()
        self.dropped = 0
        self._drop_lock = threading.Lock()  # taken only when dropping
        self.written = 0
        self.rotations = 0
        self.error: str | None = None
        self._file = self._open()
        self._size = self._file.tell()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def _open(self) -> TextIO:
        try:
            return _open_owner_only(self.path, append=self._append)
        except FileExistsError:
            raise RecordError(
                f"the record file {self.path} exists and this run did not create it: "
                "name a new file, or give --append to add to it"
            ) from None
        except OSError as error:
            raise RecordError(
                f"cannot open the record file {self.path}: {error.strerror or error}"
            ) from None

    # Called from any thread: O(1), never blocks, never raises.

    def _put(self, item: Item) -> None:
        if len(self._queue) >= self._limit:
            self._count_dropped(1)
            return
        self._queue.append(item)

    def _count_dropped(self, count: int) -> None:
        with self._drop_lock:
            self.dropped += count

    def message(
        self,
        link: str,
        source: str,
        payload: bytes,
        retained: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """A message as received: link, destination or topic, raw payload, HQ's time."""
        self._put((MESSAGE, self._clock(), link, source, payload, retained, headers))

    def sent(self, kind: str, device_id: str, body: str, send_id: str, dispatch_id: str) -> None:
        self._put((SENT, self._clock(), kind, device_id, body, send_id, dispatch_id))

    def outcome(self, send_id: str, device_id: str, delivery: str, detail: str) -> None:
        self._put((OUTCOME, self._clock(), send_id, device_id, delivery, detail))

    def link(self, link: str, state: str, detail: str) -> None:
        self._put((LINK, self._clock(), link, state, detail))

    # The writer thread

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and close the file; safe to call twice."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            stopping = self._stopping.wait(_WRITE_INTERVAL)
            self._write_queued()
            if stopping:
                break
        if self.dropped:
            log.warning("record %s: %d records dropped (writer behind)", self.path, self.dropped)
        try:
            self._file.close()
        except OSError as error:
            self._fail(error)

    def _write_queued(self) -> None:
        if self.error is not None:
            lost = 0
            while self._queue:
                self._queue.popleft()
                lost += 1
            self._count_dropped(lost)
            return
        queue = self._queue
        lines: list[str] = []
        size = 0
        try:
            while queue:
                try:
                    line = _line(queue.popleft())
                except (TypeError, ValueError) as error:
                    self._count_dropped(1)  # not a record JSON can hold: counted, never fatal
                    log.warning("record %s: a record dropped: %s", self.path, error)
                    continue
                if self._size + size + len(line) > self._max_bytes and (self._size or size):
                    self._flush(lines)
                    lines, size = [], 0
                    self._rotate()
                lines.append(line)
                size += len(line)
            self._flush(lines)
        except OSError as error:
            self._count_dropped(len(lines) or 1)  # what was being written, or rotated to
            self._fail(error)

    def _flush(self, lines: list[str]) -> None:
        if not lines:
            return
        text = "".join(lines)
        self._file.write(text)
        self._file.flush()
        self._size += len(text)
        self.written += len(lines)

    def _rotate(self) -> None:
        """FILE becomes FILE.1.gz, each older one moves up a number, past ``keep`` is gone.

        FILE.1 stays plain until its compressed copy is whole: a crash leaves a readable pair.
        """
        self._file.close()
        for number in range(self._keep - 1, 0, -1):
            for suffix in ("", GZIP_SUFFIX):
                older = Path(f"{self.path}.{number}{suffix}")
                if older.exists():
                    _remove_rotation(self.path, number + 1)
                    os.replace(older, f"{self.path}.{number + 1}{suffix}")
        _remove_rotation(self.path, 1)
        first = Path(f"{self.path}.1")
        os.replace(self.path, first)
        self._file = _open_owner_only(self.path)
        self._size = 0
        self.rotations += 1
        _compress(first)

    def _fail(self, error: OSError) -> None:
        self.error = f"cannot write the record file {self.path}: {error.strerror or error}"
        log.error("%s", self.error)


def _remove_rotation(path: Path, number: int) -> None:
    for suffix in ("", GZIP_SUFFIX):
        Path(f"{path}.{number}{suffix}").unlink(missing_ok=True)


def _compress(path: Path) -> None:
    """PATH becomes PATH.gz (the owner's alone), PATH removed once the copy is whole."""
    partial = Path(f"{path}{GZIP_SUFFIX}.partial")
    try:
        descriptor = open_private(partial, Existing.REPLACE)  # a crash may have left one
    except OSError as error:
        log.warning("record %s: left uncompressed: %s", path, error.strerror or error)
        return
    try:
        with (
            path.open("rb") as plain,
            os.fdopen(descriptor, "wb") as target,
            gzip.GzipFile(path.name, "wb", _GZIP_LEVEL, target, mtime=0) as packed,
        ):
            shutil.copyfileobj(plain, packed, _COPY_CHUNK)
        os.replace(partial, f"{path}{GZIP_SUFFIX}")
    except OSError as error:
        # Recording goes on; the rotated file stays plain, which readers take as well.
        partial.unlink(missing_ok=True)
        log.warning("record %s: left uncompressed: %s", path, error.strerror or error)
        return
    path.unlink()


_COPY_CHUNK = 1 << 20


def _open_owner_only(path: Path, *, append: bool = False) -> TextIO:
    """FILE for appending, the owner's alone (it holds orders and routes): created anew, or an
    existing one with ``append``; never through a symbolic link (``private_file``)."""
    descriptor = open_private(path, Existing.APPEND if append else Existing.REFUSE)
    return os.fdopen(descriptor, "a", encoding="ascii", newline="\n")


_encode_string = json.JSONEncoder(ensure_ascii=True).encode


def _line(item: Item) -> str:
    """``record_line(_as_record(item))``, a message in half the time (the hot kind)."""
    if item[0] != MESSAGE or item[6] or not isinstance(item[4], bytes):
        return record_line(_as_record(item))
    _, at, link, source, payload, retained, _ = item
    try:
        kept = '"text":' + _encode_string(payload.decode("utf-8"))
    except UnicodeDecodeError:
        kept = '"b64":"' + base64.b64encode(payload).decode("ascii") + '"'
    flag = ',"retained":true' if retained else ""
    return (
        f'{{"at":{round(at, 6)!r},"kind":"message","link":{_encode_string(link)},'
        f'"source":{_encode_string(source)},{kept}{flag}}}\n'
    )


def _as_record(item: Item) -> dict[str, Any]:
    kind, at = item[0], round(item[1], 6)
    if kind == MESSAGE:
        _, _, link, source, payload, retained, headers = item
        record: dict[str, Any] = {"at": at, "kind": kind, "link": link, "source": source}
        raw = payload if isinstance(payload, bytes) else str(payload).encode("utf-8")
        record.update(encode_payload(raw))
        if retained:
            record["retained"] = True
        if headers:
            record["headers"] = dict(headers)
        return record
    if kind == SENT:
        _, _, what, device_id, body, send_id, dispatch_id = item
        return {
            "at": at,
            "kind": kind,
            "what": what,
            "device": device_id,
            "body": body,
            "id": send_id,
            "dispatch": dispatch_id,
        }
    if kind == OUTCOME:
        _, _, send_id, device_id, delivery, detail = item
        return {
            "at": at,
            "kind": kind,
            "id": send_id,
            "device": device_id,
            "delivery": delivery,
            "detail": detail,
        }
    _, _, link, state, detail = item
    return {"at": at, "kind": kind, "link": link, "state": state, "detail": detail}
