"""The simulated fleet: each device behaves like the book's STOMP and MQTT device apps.

Every connection of every device is served by one asyncio event loop on the calling thread: no
thread per connection. Sends and retries are taken in time order from a heap; new connections
go through a token bucket (``connect_rate`` a second); once a second every link is tended
(heart-beats, pings, attempts that take too long).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.supervisor import describe_connect_error, host_port
from mwm_tui.adapters.tls import client_context
from mwm_tui.domain import codecs
from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from . import stomp_wire
from .access import WrongPort, device_target
from .device import SimDevice
from .link import DeviceLink
from .mqtt_side import MqttLink
from .schedule import ConnectGate, Due, Schedule
from .stomp_side import StompLink

CONNECT_TIMEOUT = 10.0
# New connections a second, both protocols counted: 10,000 devices are up in 40 s.
DEFAULT_CONNECT_RATE = 500.0
_MAX_IDLE = 0.5
# Sends due within this of each other leave in one turn of the loop.
_MIN_IDLE = 0.02
_TEND_EVERY = 1.0
_SHUTDOWN_GRACE = 2.0

StatusHandler = Callable[[int, int, int], None]


class LineWriter:
    """Writes whole lines from any thread, flushed at once; a closed pipe is ignored."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass


@dataclass(frozen=True, slots=True)
class SimSettings:
    stomp: BrokerTarget
    mqtt: BrokerTarget
    location_interval: float = 2.0
    motion_interval: float = 1.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(initial=0.25, maximum=5.0))
    connect_rate: float = DEFAULT_CONNECT_RATE
    # Device id -> its password: such a device logs in as itself (``--credentials``).
    passwords: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """Where a side connects: the address resolved once, and TLS if the URL asked for it."""

    target: BrokerTarget
    host: str
    tls: ssl.SSLContext | None
    server_hostname: str | None

    @classmethod
    def of(cls, target: BrokerTarget) -> _Endpoint:
        host = target.host
        with contextlib.suppress(OSError):
            host = str(socket.getaddrinfo(host, target.port, type=socket.SOCK_STREAM)[0][4][0])
        if not target.tls:
            return cls(target, host, None, None)
        name = target.tls_options.server_name or target.host
        return cls(target, host, client_context(target.tls_options), name)


class FleetSimulator:
    """Runs on the calling thread until ``stop``; ``kill``, ``quiet`` and ``stop`` are
    thread-safe.

    ``say`` gets the output lines (READY, ORDER, ALERT, KILLED), ``complain`` the diagnostics;
    ``on_status`` (default: a line to ``complain`` when it changed) gets, once a second, how
    many living devices have their STOMP and their MQTT subscription, and how many live.
    """

    def __init__(
        self,
        settings: SimSettings,
        trucks: list[SimulatedTruck],
        say: LineWriter,
        complain: LineWriter | None = None,
        *,
        on_status: StatusHandler | None = None,
    ) -> None:
        self._settings = settings
        # One random stream for every backoff's jitter: one each would weigh 2.5 kB a device.
        jitter = random.Random()
        reconnect = settings.reconnect
        self._by_index = [
            SimDevice(truck, index, _backoff(reconnect, jitter), _backoff(reconnect, jitter))
            for index, truck in enumerate(trucks)
        ]
        self._devices = {device.device_id: device for device in self._by_index}
        self.say = say
        self._complain = complain or LineWriter(sys.stderr)
        self._on_status = on_status or self._status_line
        # The default status line says why a side is short; a worker's parent counts only.
        self._status_says_why = on_status is None
        self._wrong_port = {"STOMP": WrongPort(), "MQTT": WrongPort()}
        self._schedule = Schedule()
        self._gate = ConnectGate(settings.connect_rate)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future[None] | None = None
        self._stop_asked = False
        self._early_kills: list[str] = []
        self._kill_plan: list[tuple[float, str]] = []
        self._turn_handle: asyncio.TimerHandle | None = None
        self._turn_at = math.inf
        self._tend_handle: asyncio.TimerHandle | None = None
        self._endpoints: dict[str, _Endpoint] = {}
        self._stopping = False
        self._living = len(self._by_index)
        self._subscribed = {"STOMP": 0, "MQTT": 0}
        self._last_error = {"STOMP": "", "MQTT": ""}
        self._ready_announced = False
        self._last_status: tuple[tuple[int, int, int], tuple[str, ...]] | None = None

    # Thread-safe controls

    def complain(self, line: str) -> None:
        self._complain(f"mwm-sim: {line}")

    def stop(self) -> None:
        """Leave cleanly: DISCONNECT on both protocols, so no will is published."""
        self._call_soon(self._stop_now, stop=True)

    def kill(self, device_id: str) -> bool:
        """Make a device die without DISCONNECT; False for an id the fleet does not have."""
        if device_id not in self._devices:
            return False
        self._call_soon(lambda: self._kill_now(device_id), early_kill=device_id)
        return True

    def quiet(self, device_id: str) -> bool:
        """Make a device stop sending, its connections kept; False for an id it does not have."""
        device = self._devices.get(device_id)
        if device is None:
            return False
        self._call_soon(lambda: setattr(device, "sending", False))
        return True

    def kill_after(self, device_id: str, seconds: float) -> None:
        """Schedule ``kill`` for ``seconds`` after ``run`` starts; call before ``run``."""
        if device_id not in self._devices:
            raise KeyError(device_id)
        self._kill_plan.append((seconds, device_id))

    def _call_soon(
        self, action: Callable[[], None], *, stop: bool = False, early_kill: str = ""
    ) -> None:
        with self._lock:
            loop = self._loop
            if loop is None:
                self._stop_asked |= stop
                if early_kill:
                    self._early_kills.append(early_kill)
                return
        with contextlib.suppress(RuntimeError):  # the loop has ended
            loop.call_soon_threadsafe(action)

    # The loop

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._endpoints = {
            "STOMP": _Endpoint.of(self._settings.stomp),
            "MQTT": _Endpoint.of(self._settings.mqtt),
        }
        start = time.monotonic()
        self._plan(start)
        with self._lock:
            self._loop = loop
            early, stop = list(self._early_kills), self._stop_asked
        for device_id in early:
            self._kill_now(device_id)
        if stop:
            self._stop_now()
        self._turn()
        self._tend_handle = loop.call_later(_TEND_EVERY, self._tend)
        try:
            await self._done
        finally:
            await self._shutdown()

    def _plan(self, start: float) -> None:
        settings, count = self._settings, len(self._by_index)
        for device in self._by_index:
            # Spread the devices over an interval so fixes do not all leave at once.
            index = device.index
            device.next_location_at = start + settings.location_interval * index / count
            device.next_motion_at = start + settings.motion_interval * index / count
            device.last_advance = start
            self._schedule.add(device.next_location_at, Due.LOCATION, index)
            self._schedule.add(device.next_motion_at, Due.MOTION, index)
            self._gate.ask(index, "STOMP")
            self._gate.ask(index, "MQTT")
        for after, device_id in self._kill_plan:
            self._schedule.add(start + after, Due.KILL, self._devices[device_id].index)

    def _turn(self) -> None:
        """Everything due now: sends, retries, kills, the connections whose turn has come."""
        self._turn_handle, self._turn_at = None, math.inf
        now = time.monotonic()
        due = self._schedule.take_due(now)
        wall = datetime.now(UTC)
        settings = self._settings
        for at, what, index in due:
            device = self._by_index[index]
            if not device.alive:
                continue
            if what is Due.LOCATION:
                device.next_location_at = _next_tick(at, settings.location_interval, now)
                self._schedule.add(device.next_location_at, Due.LOCATION, index)
                self._advance(device, now)
                if device.stomp is not None and device.sending:
                    body = codecs.encode_location(device.truck.fix(wall))
                    device.stomp.send(stomp_wire.send_frame(device.location_prefix, body))
            elif what is Due.MOTION:
                device.next_motion_at = _next_tick(at, settings.motion_interval, now)
                self._schedule.add(device.next_motion_at, Due.MOTION, index)
                self._advance(device, now)
                if device.mqtt is not None and device.sending:
                    payload = codecs.encode_motion(device.truck.motion())
                    device.mqtt.send(device.motion_prefix + payload)
            elif what is Due.STOMP_RETRY:
                self._gate.ask(index, "STOMP")
            elif what is Due.MQTT_RETRY:
                self._gate.ask(index, "MQTT")
            else:
                self._die(device)
        for index, side in self._gate.let_through(now):
            self._open(self._by_index[index], side)
        self._wake_by(now + self._idle_time(now))

    def _idle_time(self, now: float) -> float:
        """How long the loop may wait before its next turn: until the next thing due, but
        at least ``_MIN_IDLE`` (so sends due close together leave together) and at most
        ``_MAX_IDLE``."""
        due = [now + _MAX_IDLE]
        for at in (self._schedule.next_at(), self._gate.next_at(now)):
            if at is not None:
                due.append(at)
        return max(min(due) - now, _MIN_IDLE)

    def _wake_by(self, at: float) -> None:
        """Make sure a turn comes at ``at`` or before."""
        if at >= self._turn_at or self._loop is None:
            return
        if self._turn_handle is not None:
            self._turn_handle.cancel()
        self._turn_at = at
        self._turn_handle = self._loop.call_at(at, self._turn)

    def _advance(self, device: SimDevice, now: float) -> None:
        device.truck.advance(now - device.last_advance)
        device.last_advance = now

    def _tend(self) -> None:
        now = time.monotonic()
        for device in self._by_index:
            if device.alive:
                if device.stomp is not None:
                    device.stomp.tend(now, CONNECT_TIMEOUT)
                if device.mqtt is not None:
                    device.mqtt.tend(now, CONNECT_TIMEOUT)
        self._report()
        assert self._loop is not None
        self._tend_handle = self._loop.call_later(_TEND_EVERY, self._tend)

    # Connections

    def _open(self, device: SimDevice, side: str) -> None:
        if not device.alive or self._stopping or self._loop is None:
            return
        endpoint = self._endpoints[side]
        link: DeviceLink
        target = device_target(endpoint.target, self._settings.passwords, device.device_id)
        if side == "STOMP":
            if device.stomp is not None:
                return
            link = device.stomp = StompLink(device, self, target)
        else:
            if device.mqtt is not None:
                return
            link = device.mqtt = MqttLink(device, self, target)
        link.opening = self._loop.create_task(self._connect(link, endpoint))

    async def _connect(self, link: DeviceLink, endpoint: _Endpoint) -> None:
        assert self._loop is not None
        try:
            await self._loop.create_connection(
                lambda: link,
                endpoint.host,
                endpoint.target.port,
                ssl=endpoint.tls,
                server_hostname=endpoint.server_hostname,
            )
        except asyncio.CancelledError:
            link.failed_to_open()
        except OSError as error:
            self._connect_failed(link.side, endpoint, error)
            link.failed_to_open()

    def _connect_failed(self, side: str, endpoint: _Endpoint, error: OSError) -> None:
        """Say why a side cannot connect, once until the reason changes."""
        reason = describe_connect_error(error, host_port(endpoint.target))
        if reason != self._last_error[side]:
            self._last_error[side] = reason
            if not self._status_says_why:
                where = endpoint.target.display()
                self.complain(f"{side}: cannot connect to {where}: {reason}; devices keep trying")

    def _unanswered(self, side: str, timed_out: bool) -> None:
        """A connection was made but the handshake got no answer (in time, or before the
        broker closed it): say so, and ask once (off the loop) whether the port speaks the
        other protocol."""
        target = self._endpoints[side].target
        where = host_port(target)
        self._last_error[side] = (
            f"no answer to {side}'s handshake from {where} within {CONNECT_TIMEOUT:g} s"
            if timed_out
            else f"{where} closed the connection before answering {side}'s handshake"
        )
        wrong = self._wrong_port[side]
        if wrong.said is not None:
            self._last_error[side] = wrong.said
        elif not wrong.asked and self._loop is not None:
            wrong.asked = True
            probe = self._loop.run_in_executor(None, WrongPort().check, target)
            probe.add_done_callback(lambda done: self._probed(side, done))

    def _probed(self, side: str, done: asyncio.Future[str | None]) -> None:
        said = None if done.cancelled() or done.exception() else done.result()
        if said is not None:
            self._wrong_port[side].said = said
            self._last_error[side] = said

    def link_subscribed(self, link: DeviceLink) -> None:
        device = self._by_index[link.device.index]
        self._subscribed[link.side] += 1
        self._last_error[link.side] = ""
        backoff = device.stomp_backoff if link.side == "STOMP" else device.mqtt_backoff
        backoff.reset()
        self._check_ready()

    def link_lost(self, link: DeviceLink) -> None:
        device = self._by_index[link.device.index]
        if link.side == "STOMP":
            if device.stomp is not link:
                return
            device.stomp = None
            retry, backoff = Due.STOMP_RETRY, device.stomp_backoff
        else:
            if device.mqtt is not link:
                return
            device.mqtt = None
            retry, backoff = Due.MQTT_RETRY, device.mqtt_backoff
        if link.subscribed:
            self._subscribed[link.side] -= 1
        elif link.transport_made and not link.connected and not self._stopping:
            self._unanswered(link.side, link.timed_out)
        if device.alive and not self._stopping:
            at = time.monotonic() + backoff.next_delay()
            self._schedule.add(at, retry, device.index)
            self._wake_by(at)

    # Kills, reports, shutdown

    def _kill_now(self, device_id: str) -> None:
        device = self._devices[device_id]
        if device.alive and not self._stopping:
            self._die(device)

    def _die(self, device: SimDevice) -> None:
        """Vanish like a phone losing power: sockets closed, no DISCONNECT on either protocol."""
        device.alive = False
        self._living -= 1
        mqtt, stomp = device.mqtt, device.stomp
        device.mqtt = device.stomp = None
        for link in (mqtt, stomp):
            if link is not None and link.subscribed:
                self._subscribed[link.side] -= 1
        if mqtt is not None:
            mqtt.crash()
        if stomp is not None:
            stomp.abort()
        self.say(f"KILLED {literal(device.device_id)}")
        self._check_ready()

    def _check_ready(self) -> None:
        living = self._living
        if self._ready_announced or not living:
            return
        if self._subscribed["STOMP"] == living and self._subscribed["MQTT"] == living:
            self._ready_announced = True
            self._report()
            self.say(f"READY {living} devices")

    def _report(self) -> None:
        status = (self._subscribed["STOMP"], self._subscribed["MQTT"], self._living)
        why = self._why_short(*status) if self._status_says_why else ()
        if (status, why) != self._last_status:
            self._last_status = (status, why)
            self._on_status(*status)

    def _why_short(self, stomp: int, mqtt: int, living: int) -> tuple[str, ...]:
        """Why each side short of its devices is, by its latest failure."""
        counts = (("STOMP", stomp), ("MQTT", mqtt))
        return tuple(
            f"{side}: {self._last_error[side]}"
            for side, count in counts
            if count < living and self._last_error[side]
        )

    def _status_line(self, stomp: int, mqtt: int, living: int) -> None:
        line = f"STOMP {stomp}/{living} subscribed, MQTT {mqtt}/{living}"
        why = self._why_short(stomp, mqtt, living)
        self.complain(f"{line}; {'; '.join(why)}" if why else line)

    def _stop_now(self) -> None:
        self._stopping = True
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _shutdown(self) -> None:
        """DISCONNECT on both protocols (no will), then wait for the STOMP receipts a while."""
        self._stopping = True
        for handle in (self._turn_handle, self._tend_handle):
            if handle is not None:
                handle.cancel()
        living = [device for device in self._by_index if device.alive]
        for device in living:
            if device.mqtt is not None:
                device.mqtt.say_goodbye()
            if device.stomp is not None:
                if device.stomp.connected:
                    device.stomp.say_goodbye()
                else:
                    device.stomp.abort()
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        while time.monotonic() < deadline and any(d.stomp is not None for d in living):
            await asyncio.sleep(0.05)
        for device in living:
            for link in (device.stomp, device.mqtt):
                if link is not None:
                    link.abort()
        # Let the transports finish closing before the loop ends.
        await asyncio.sleep(0)
        await asyncio.sleep(0)


def _backoff(settings: Backoff, rng: random.Random) -> Backoff:
    return Backoff(settings.initial, settings.maximum, settings.factor, settings.jitter, rng=rng)


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The next due time after ``now`` on the grid ``previous + k * interval``."""
    following = previous + interval
    if following <= now:
        following = now + interval
    return following
