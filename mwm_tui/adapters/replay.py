"""``mwm-tui replay``: a record file played back through in-process links, like the demo's.

Each received message goes through ``domain.messages`` as live data does; orders and alerts HQ
sent then, their outcomes and link changes are told as notices. Nothing is ever sent. A
``ReplayClock`` stands in for HQ's clocks: the fleet judges freshness by it.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    DeviceNotice,
    Event,
    Failure,
    LinkName,
    OrderOutcome,
)
from mwm_tui.domain.ids import WILL_TOPIC, alert_topic, order_destination
from mwm_tui.domain.messages import location_event, mqtt_event
from mwm_tui.domain.text import literal

from .base import EventSink, InProcessLink
from .recording import LINK, MESSAGE, OUTCOME, SENT, RecordLines, decode_payload
from .stomp_advisories import advisory_event

SPEEDS = (1, 2, 5, 10, 30, 60)
# Messages per topic or destination a jump applies from before its horizon: what a truck's
# motion history (50) and trail (20) hold.
JUMP_KEEP = 50
NOT_SENT = "replay: nothing is sent to a broker"
# The notices' device id for what was HQ's own (link changes).
HQ = "HQ"
_IDLE_WAIT = 0.1


class ReplayClock:
    """Replay time in epoch seconds: runs at ``speed`` times real time unless paused (as it
    starts: the player starts it).

    ``pinned`` holds it at one instant while a jump applies records at their own times.
    """

    def __init__(self, start: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._base = start
        self._base_real = monotonic()
        self.speed = 1
        self.paused = True
        self._pinned: float | None = None
        self._lock = threading.Lock()

    def __call__(self) -> float:
        pinned = self._pinned
        return pinned if pinned is not None else self.running()

    def running(self) -> float:
        """Replay time as it runs, ignoring any pin."""
        with self._lock:
            if self.paused:
                return self._base
            return self._base + (self._monotonic() - self._base_real) * self.speed

    def _rebase(self, at: float) -> None:
        self._base, self._base_real = at, self._monotonic()

    def set(self, at: float) -> None:
        with self._lock:
            self._rebase(at)

    def pause(self, at: float | None = None) -> None:
        now = self.running()
        with self._lock:
            self._rebase(now if at is None else at)
            self.paused = True

    def resume(self) -> None:
        now = self.running()
        with self._lock:
            self._rebase(now)
            self.paused = False

    def set_speed(self, speed: int) -> None:
        now = self.running()
        with self._lock:
            self._rebase(now)
            self.speed = speed

    @contextmanager
    def pinned(self, at: float) -> Iterator[None]:
        self._pinned = at
        try:
            yield
        finally:
            self._pinned = None


def _source(record: Mapping[str, Any]) -> str | None:
    """A received message's topic or destination; None for what HQ sent or did."""
    return str(record.get("source", "")) if record.get("kind") == MESSAGE else None


def record_event(record: Mapping[str, Any]) -> Event | None:
    """The event a record line stands for, decoded as live data is; None if unusable."""
    kind = record.get("kind")
    try:
        if kind == MESSAGE:
            source = str(record.get("source", ""))
            payload = decode_payload(record)
            if record.get("link") == LinkName.STOMP:
                headers = record.get("headers")
                if isinstance(headers, dict):
                    return advisory_event({str(k): str(v) for k, v in headers.items()})
                return location_event(source, payload)
            if record.get("link") == LinkName.MQTT:
                return mqtt_event(source, payload, retained=record.get("retained") is True)
            return None
        if kind == SENT:
            what = literal(str(record.get("what", "")), 10)
            return DeviceNotice(str(record["device"]), f"HQ sent {what}: {record['body']}")
        if kind == OUTCOME:
            detail = f" ({record['detail']})" if record.get("detail") else ""
            return DeviceNotice(
                str(record["device"]), f"broker's answer: {record['delivery']}{detail}"
            )
        if kind == LINK:
            detail = f": {record['detail']}" if record.get("detail") else ""
            return DeviceNotice(HQ, f"{record['link']} link was {record['state']}{detail}")
    except (KeyError, ValueError, TypeError):
        return None
    return None


class ReplayPlayer:
    """Plays records in time order by a ``ReplayClock`` to whichever replay links are attached."""

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        label: str,
        times: Sequence[float] | None = None,
    ) -> None:
        """``records`` in time order; ``times`` their times, when known without parsing."""
        self.records = records
        self.times = list(times) if times is not None else [float(r["at"]) for r in records]
        self.label = label
        self.start = self.times[0] if self.times else time.time()
        self.end = self.times[-1] if self.times else self.start
        self.clock = ReplayClock(self.start)
        self.index = 0
        self.skipped = 0
        # Held while records are emitted, so a jump sees one consistent position.
        self.lock = threading.RLock()
        self._sinks: dict[LinkName, EventSink] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self.start_paused = False

    @property
    def at_end(self) -> bool:
        return self.index >= len(self.records)

    def attach(self, name: LinkName, sink: EventSink | None) -> None:
        """Connect (or with None, disconnect) a link; records play while any is attached."""
        with self.lock:
            if sink is None:
                self._sinks.pop(name, None)
            else:
                self._sinks[name] = sink
            running = bool(self._sinks)
        if running and self._thread is None:
            if not self._started:
                self._started = True
                if not self.start_paused:
                    self.clock.resume()
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
            self._thread.start()
        elif not running and self._thread is not None:
            self._stopping.set()
            self._wake.set()
            self._thread.join(timeout=2.0)
            self._thread = None

    def _emit(self, record: Mapping[str, Any]) -> None:
        event = record_event(record)
        if event is None:
            self.skipped += 1
            return
        link = LinkName.MQTT if record.get("link") == LinkName.MQTT else LinkName.STOMP
        sink = self._sinks.get(link) or next(iter(self._sinks.values()), None)
        if sink is not None:
            sink(event)

    def play_until(self, now: float) -> int:
        """Emit every record from before ``now``; how many. (A record at ``now`` itself waits,
        so the first record, where the clock starts, is what the first step plays.)"""
        with self.lock:
            stop = bisect.bisect_left(self.times, now, lo=self.index)
            for index in range(self.index, stop):
                self._emit(self.records[index])
            played, self.index = stop - self.index, stop
            return played

    def _run(self) -> None:
        wait = 0.0
        while not self._stopping.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            with self.lock:
                clock = self.clock
                self.play_until(clock.running())
                if self.at_end and not clock.paused:
                    clock.pause(max(self.end, clock.running()))
                if clock.paused or self.at_end:
                    wait = _IDLE_WAIT
                else:
                    due = (self.times[self.index] - clock.running()) / clock.speed
                    wait = min(max(due, 0.0), _IDLE_WAIT)

    # Controls, from the UI thread

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        with self.lock:
            if self.clock.paused:
                if self.at_end:
                    return True
                self.clock.resume()
            else:
                self.clock.pause()
        self._wake.set()
        return self.clock.paused

    def step_message(self) -> bool:
        """Pause, then play the next record at its time; False at the end."""
        with self.lock:
            self.clock.pause()
            if self.at_end:
                return False
            at = self.times[self.index]
            self.clock.pause(max(at, self.clock.running()))
            self._emit(self.records[self.index])
            self.index += 1
            return True

    def step_seconds(self, seconds: float = 1.0) -> int:
        """Pause, move the clock on ``seconds`` and play what fell due; how many records."""
        with self.lock:
            self.clock.pause()
            self.clock.pause(self.clock.running() + seconds)
            return self.play_until(self.clock.running())

    def change_speed(self, faster: bool) -> int:
        index = SPEEDS.index(self.clock.speed) if self.clock.speed in SPEEDS else 0
        index = min(index + 1, len(SPEEDS) - 1) if faster else max(index - 1, 0)
        self.clock.set_speed(SPEEDS[index])
        self._wake.set()
        return self.clock.speed

    def jump(
        self, target: float, apply: Callable[[float, Event], None], horizon: float = 0.0
    ) -> int:
        """Move to ``target``: records up to it go to ``apply`` with their own time, not to the
        links; how many. Those of the last ``horizon`` seconds all go; before that, each topic's
        or destination's newest ``JUMP_KEEP`` and every will, which is all a fleet keeps (a
        jump over an hour of a hundred trucks takes a fraction of a second, not ten).
        Call it after the caller forgot the state past ``target`` when going back (``rewind``).
        """
        with self.lock:
            stop = bisect.bisect_right(self.times, target, lo=self.index)
            recent = max(bisect.bisect_left(self.times, target - horizon, lo=self.index), 0)
            chosen = [*self._newest_per_source(self.index, min(recent, stop)), *range(recent, stop)]
            for index in chosen:
                event = record_event(self.records[index])
                if event is None:
                    self.skipped += 1
                else:
                    apply(self.times[index], event)
            self.index = stop
            paused = self.clock.paused
            self.clock.pause(target)
            if not paused and not self.at_end:
                self.clock.resume()
        self._wake.set()
        return len(chosen)

    def _newest_per_source(self, start: int, stop: int) -> list[int]:
        """Indexes of each source's newest JUMP_KEEP messages and of every will, in order."""
        newest: dict[str, deque[int]] = {}
        kept: list[int] = []
        records = self.records
        lines = records if isinstance(records, RecordLines) else None
        for index in range(start, stop):
            source = lines.source_of(index) if lines is not None else _source(records[index])
            if source is None:
                continue
            if source == WILL_TOPIC:
                kept.append(index)
            else:
                newest.setdefault(source, deque(maxlen=JUMP_KEEP)).append(index)
        kept.extend(index for indexes in newest.values() for index in indexes)
        kept.sort()
        return kept

    def rewind(self) -> None:
        with self.lock:
            self.index = 0


class _ReplayLink(InProcessLink):
    """Both replay links: fed by the player; whatever is sent fails as not sent."""

    def __init__(self, player: ReplayPlayer, sink: EventSink) -> None:
        super().__init__(player, sink, f"REPLAY {player.label}")


class ReplayStompLink(_ReplayLink):
    name = LinkName.STOMP

    def send_order(
        self,
        device_id: str,
        text: str,
        *,
        expires_at: float | None = None,
        dispatch_id: str | None = None,
        by: str = "",
    ) -> str:
        del text, expires_at, dispatch_id, by
        order_destination(device_id)  # the same id rule as the real link
        order_id = f"replay-order-{next(self._ids)}"
        self._sink(OrderOutcome(order_id, device_id, Delivery.FAILED, NOT_SENT, Failure.NOT_SENT))
        return order_id


class ReplayMqttLink(_ReplayLink):
    name = LinkName.MQTT

    def send_alert(self, device_id: str, colour: str, *, dispatch_id: str | None = None) -> str:
        del dispatch_id
        alert_topic(device_id)
        alert_id = f"replay-alert-{next(self._ids)}"
        self._sink(
            AlertOutcome(alert_id, device_id, colour, Delivery.FAILED, NOT_SENT, Failure.NOT_SENT)
        )
        return alert_id


_OFFSET = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_jump(text: str, now: float) -> float:
    """``+90s``/``-5m``/``+1h`` from ``now``, ``14:05[:30]`` on ``now``'s local day, or an ISO
    date and time (local unless it says otherwise); epoch seconds. Raises ValueError."""
    offset = _OFFSET.match(text)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        return now + sign * float(offset.group(2)) * _UNIT[offset.group(3)]
    clock = _CLOCK.match(text)
    if clock:
        hour, minute, second = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        day = datetime.fromtimestamp(now).astimezone()
        return day.replace(hour=hour, minute=minute, second=second, microsecond=0).timestamp()
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"{text.strip()[:40]!r} is not +90s, -5m, 14:05 or 2026-11-30T14:05"
        ) from None


def player_for(paths: Sequence[Path], records: RecordLines) -> ReplayPlayer:
    label = paths[-1].name if len(paths) == 1 else f"{paths[-1].name} (+{len(paths) - 1} files)"
    return ReplayPlayer(records, label, records.times)
