"""The embedded demo: an in-process fleet behind links with exactly the interface of the real ones.

Payloads are encoded to wire bytes and decoded through `domain.messages`, like a broker's, so
the dashboard cannot tell the difference. Now and then a truck goes silent, one dies (its will
fires) and comes back, and a malformed message arrives, so every state shows within a minute.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mwm_tui.domain.alerts import flash_colour
from mwm_tui.domain.codecs import encode_location, encode_motion, encode_will
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Event,
    Failure,
    LinkName,
    OrderOutcome,
)
from mwm_tui.domain.ids import (
    WILL_TOPIC,
    alert_topic,
    location_destination,
    motion_topic,
    order_destination,
)
from mwm_tui.domain.messages import location_event, mqtt_event
from mwm_tui.domain.simulation import SimulatedTruck, device_ids, make_trucks
from mwm_tui.domain.wills import SPOKE_BEFORE

from .base import EventSink, InProcessLink, MessageTap

DEMO_LABEL = "DEMO (in-process fleet)"
_TICK = 0.1
_FIRST_INCIDENT = 5.0
# One of each within the first half minute, then round again: every state shows in a minute.
_INCIDENTS = ("silent", "malformed", "dies")
# Real seconds from a death to its will: past ``SPOKE_BEFORE``, so HQ believes it at once.
WILL_AFTER_SILENCE = SPOKE_BEFORE + 0.5


@dataclass(order=True)
class _Scheduled:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class _TruckState:
    truck: SimulatedTruck
    silent_until: float = 0.0
    dead: bool = False
    next_fix: float = 0.0
    next_motion: float = 0.0
    waiting_orders: list[str] = field(default_factory=list)
    waiting_alerts: list[str] = field(default_factory=list)
    taken_orders: list[str] = field(default_factory=list)
    flashed: list[str] = field(default_factory=list)


class DemoFleet:
    """Simulated trucks driven by one thread, publishing to whichever demo links are attached."""

    def __init__(
        self,
        count: int = 20,
        *,
        seed: int = 2014,
        prefix: str = "truck-",
        location_interval: float = 2.0,
        motion_interval: float = 1.0,
        incidents: bool = True,
        pace: float = 1.0,
    ) -> None:
        """``pace`` scales the incident schedule (0.1 makes it ten times faster)."""
        self._trucks = {
            truck.device_id: _TruckState(truck)
            for truck in make_trucks(device_ids(prefix, count), seed)
        }
        self._rng = random.Random(seed)
        self._location_interval = location_interval
        self._motion_interval = motion_interval
        self._incidents = incidents
        self._pace = pace
        self._stomp_sink: EventSink | None = None
        self._mqtt_sink: EventSink | None = None
        # What --record sees of each link's messages, as a broker's link would.
        self.taps: dict[LinkName, MessageTap] = {}
        self._lock = threading.Lock()
        self._schedule: list[_Scheduled] = []
        self._sequence = itertools.count()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def device_ids(self) -> list[str]:
        return list(self._trucks)

    def attach(self, name: LinkName, sink: EventSink | None) -> None:
        """Connect (or with None, disconnect) a link; the fleet runs while any link is attached."""
        with self._lock:
            if name is LinkName.STOMP:
                self._stomp_sink = sink
            else:
                self._mqtt_sink = sink
            running = self._stomp_sink is not None or self._mqtt_sink is not None
        if running and self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="demo-fleet", daemon=True)
            self._thread.start()
        elif not running and self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=2.0)
            self._thread = None

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the fleet thread after ``delay`` seconds."""
        with self._lock:
            heapq.heappush(
                self._schedule, _Scheduled(time.monotonic() + delay, next(self._sequence), action)
            )

    def deliver_order(self, device_id: str, text: str) -> None:
        """An order reached the device's queue: a live device takes it, a dead one on return.

        Real devices send nothing back (docs/PROTOCOL.md), so neither does the demo: what a truck
        took is counted here only, never claimed on the dispatcher's screen.
        """
        state = self._trucks.get(device_id)
        if state is None:
            return
        if state.dead:
            state.waiting_orders.append(text)
        else:
            state.taken_orders.append(text)

    def deliver_alert(self, device_id: str, colour: str) -> None:
        """An alert reached the device's topic; an offline device gets it on return."""
        state = self._trucks.get(device_id)
        if state is None:
            return
        if state.dead:
            state.waiting_alerts.append(colour)
        else:
            state.flashed.append(flash_colour(colour))

    def taken(self, device_id: str) -> tuple[list[str], list[str]]:
        """The orders a truck took and the colours it flashed, oldest first."""
        state = self._trucks[device_id]
        return list(state.taken_orders), list(state.flashed)

    def _emit_stomp(self, event: Event) -> None:
        sink = self._stomp_sink
        if sink is not None:
            sink(event)

    def _emit_mqtt(self, event: Event) -> None:
        sink = self._mqtt_sink
        if sink is not None:
            sink(event)

    def _publish_stomp(self, destination: str, body: bytes) -> None:
        tap = self.taps.get(LinkName.STOMP)
        if tap is not None:
            tap(destination, body, False, None)
        self._emit_stomp(location_event(destination, body))

    def _publish_mqtt(self, topic: str, payload: bytes) -> None:
        tap = self.taps.get(LinkName.MQTT)
        if tap is not None:
            tap(topic, payload, False, None)
        self._emit_mqtt(mqtt_event(topic, payload))

    def _run(self) -> None:
        start = time.monotonic()
        # Fixes spread evenly over the sending period, as a real fleet's are, not one burst.
        spread = self._location_interval / max(len(self._trucks), 1)
        for index, state in enumerate(self._trucks.values()):
            state.next_fix = start + index * spread
            state.next_motion = start + self._rng.uniform(0.0, self._motion_interval)
        next_incident = start + _FIRST_INCIDENT * self._pace
        last = start
        kinds = itertools.cycle(_INCIDENTS)
        while not self._stopping.wait(_TICK):
            now = time.monotonic()
            self._run_due(now)
            self._drive(now, now - last)
            last = now
            if self._incidents and now >= next_incident:
                self._incident(now, next(kinds))
                next_incident = now + self._rng.uniform(6.0, 10.0) * self._pace

    def _run_due(self, now: float) -> None:
        while True:
            with self._lock:
                if not self._schedule or self._schedule[0].due > now:
                    return
                item = heapq.heappop(self._schedule)
            item.action()

    def _drive(self, now: float, elapsed: float) -> None:
        stamp = datetime.now(UTC).replace(microsecond=0)
        for device_id, state in self._trucks.items():
            state.truck.advance(elapsed)
            if state.dead or now < state.silent_until:
                continue
            if now >= state.next_fix:
                state.next_fix = now + self._location_interval
                body = encode_location(state.truck.fix(stamp))
                self._publish_stomp(location_destination(device_id), body)
            if now >= state.next_motion:
                state.next_motion = now + self._motion_interval
                payload = encode_motion(state.truck.motion())
                self._publish_mqtt(motion_topic(device_id), payload)

    def _incident(self, now: float, kind: str) -> None:
        live = [d for d, s in self._trucks.items() if not s.dead and now >= s.silent_until]
        if not live:
            return
        device_id = self._rng.choice(live)
        if kind == "silent":
            self._trucks[device_id].silent_until = now + 22.0 * self._pace
        elif kind == "dies":
            self._die(device_id)
            back = WILL_AFTER_SILENCE + self._rng.uniform(15.0, 25.0) * self._pace
            self.later(back, lambda: self._revive(device_id))
        else:
            self._malformed(device_id)

    def _die(self, device_id: str) -> None:
        """Silent at once; its will follows, as a broker notices a lost connection late."""
        self._trucks[device_id].dead = True
        self.later(WILL_AFTER_SILENCE, lambda: self._publish_will(device_id))

    def _publish_will(self, device_id: str) -> None:
        self._publish_mqtt(WILL_TOPIC, encode_will(device_id))

    def _revive(self, device_id: str) -> None:
        state = self._trucks[device_id]
        state.dead = False
        orders, state.waiting_orders = state.waiting_orders, []
        alerts, state.waiting_alerts = state.waiting_alerts, []
        for text in orders:
            self.deliver_order(device_id, text)
        for colour in alerts:
            self.deliver_alert(device_id, colour)

    def _malformed(self, device_id: str) -> None:
        """A device with a bug: a cut-off JSON body, a 23-byte motion, or a NaN latitude."""
        choice = self._rng.randrange(3)
        if choice == 0:
            body = encode_location(self._trucks[device_id].truck.fix(datetime.now(UTC)))[:-7]
            self._publish_stomp(location_destination(device_id), body)
        elif choice == 1:
            payload = encode_motion(self._trucks[device_id].truck.motion())[:23]
            self._publish_mqtt(motion_topic(device_id), payload)
        else:
            body = f'{{"deviceID": "{device_id}", "lat": NaN, "lng": 2.35}}'.encode()
            self._publish_stomp(location_destination(device_id), body)


class _DemoLink(InProcessLink):
    """Both demo links: fed by the demo's fleet, their messages seen by a recording tap."""

    def __init__(self, fleet: DemoFleet, sink: EventSink) -> None:
        super().__init__(fleet, sink, DEMO_LABEL)
        self._fleet = fleet

    @property
    def tap(self) -> MessageTap | None:
        return self._fleet.taps.get(self.name)

    @tap.setter
    def tap(self, tap: MessageTap | None) -> None:
        if tap is None:
            self._fleet.taps.pop(self.name, None)
        else:
            self._fleet.taps[self.name] = tap

    def _next_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"


class DemoStompLink(_DemoLink):
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
        del expires_at, dispatch_id, by  # the demo's broker delivers at once and keeps nothing
        order_destination(device_id)  # the same id rule as the real link, before anything moves
        order_id = self._next_id("order")
        if not self._up:
            self._sink(
                OrderOutcome(
                    order_id, device_id, Delivery.FAILED, "STOMP link is down", Failure.NOT_SENT
                )
            )
            return order_id

        def receipt() -> None:
            self._sink(OrderOutcome(order_id, device_id, Delivery.CONFIRMED, "receipt"))
            self._fleet.deliver_order(device_id, text)

        self._fleet.later(0.05, receipt)
        return order_id


class DemoMqttLink(_DemoLink):
    name = LinkName.MQTT

    def send_alert(self, device_id: str, colour: str, *, dispatch_id: str | None = None) -> str:
        del dispatch_id
        alert_topic(device_id)  # the same id rule as the real link, before anything moves
        alert_id = self._next_id("alert")
        if not self._up:
            down = "MQTT link is down"
            self._sink(
                AlertOutcome(alert_id, device_id, colour, Delivery.FAILED, down, Failure.NOT_SENT)
            )
            return alert_id

        def puback() -> None:
            self._sink(AlertOutcome(alert_id, device_id, colour, Delivery.CONFIRMED, "PUBACK"))
            self._fleet.deliver_alert(device_id, colour)

        self._fleet.later(0.03, puback)
        return alert_id
