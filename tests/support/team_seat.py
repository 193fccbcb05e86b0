"""One dashboard of a team without its screen: the real dispatcher, store and links, for a
stress test that runs many of them as processes on one data directory.

``python -m tests.support.team_seat --data-dir D --stomp URL --mqtt URL --name d01 --device T
--orders 50 --spacing 0.2 --ready F --go F --stop F --report F.json``: builds the dispatcher as
``create_app`` does, drains its links' events every 50 ms as the dashboard's drain tick does,
writes ``--ready`` once its STOMP link is up, waits for ``--go`` to exist, submits the orders
("d01 order 07") to ``--device``, keeps serving the team until ``--stop`` exists, then stops as
the dashboard does and writes a JSON report: problems, notices, and the time spent waiting in
``BEGIN IMMEDIATE`` (SQLite's busy wait for another writer).
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, cast

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.store import Store
from mwm_tui.config import Settings
from mwm_tui.domain.dispatch import Kind
from mwm_tui.domain.events import (
    TELEMETRY_TYPES,
    AlertOutcome,
    LinkName,
    LinkState,
    LinkStateChanged,
    OrderOutcome,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.services.dispatcher import Dispatcher

TICK = 0.05
# A BEGIN IMMEDIATE that took longer than this waited for another dashboard's transaction.
CONTENDED = 0.005


class TimedConnection:
    """The store's connection, timing each BEGIN IMMEDIATE and counting "database is locked"."""

    def __init__(self, inner: sqlite3.Connection) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.begins = 0
        self.contended = 0
        self.begin_seconds = 0.0
        self.worst_begin = 0.0
        self.locked = 0

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        if sql != "BEGIN IMMEDIATE":
            return self._inner.execute(sql, parameters)
        started = time.perf_counter()
        try:
            return self._inner.execute(sql)
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                with self._lock:
                    self.locked += 1
            raise
        finally:
            waited = time.perf_counter() - started
            with self._lock:
                self.begins += 1
                self.contended += waited > CONTENDED
                self.begin_seconds += waited
                self.worst_begin = max(self.worst_begin, waited)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="team_seat")
    for flag in ("--data-dir", "--stomp", "--mqtt", "--name", "--device"):
        parser.add_argument(flag, required=True)
    for flag in ("--ready", "--go", "--stop", "--report"):
        parser.add_argument(flag, required=True, type=Path)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--spacing", type=float, default=0.2)
    args = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)  # the test asks a stuck seat where it is

    settings = Settings(stomp=args.stomp, mqtt=args.mqtt, data_dir=args.data_dir)
    inbox = EventInbox()
    stomp_link = StompLink(settings.stomp_targets(), inbox.put)
    mqtt_link = MqttLink(settings.mqtt_targets(), inbox.put)
    store = Store.open(Path(args.data_dir))
    timed = TimedConnection(store._db)
    store._db = cast(sqlite3.Connection, timed)
    fleet = Fleet()
    dispatcher = Dispatcher(
        store,
        stomp_link,
        mqtt_link,
        fleet,
        order_expiry=settings.order_expiry,
        history_days=settings.history_days,
        wall_clock=time.time,
        by=args.name,
    )
    problems: list[str] = []
    notices: list[str] = []
    stomp_up = False

    def drain() -> None:
        nonlocal stomp_up
        for event in inbox.drain(10_000):
            if isinstance(event, TELEMETRY_TYPES):
                fleet.apply(event)
                continue
            dispatcher.observe(event)
            if isinstance(event, LinkStateChanged):
                print(f"{time.time():.3f} {event.link} {event.state} {event.detail}", flush=True)
                if event.link is LinkName.STOMP:
                    stomp_up = event.state is LinkState.UP
        dispatcher.record_changes(fleet.take_changes())
        dispatcher.tick()
        dispatcher.take_reports()
        dispatcher.take_news()
        notices.extend(dispatcher.take_notices())
        problems.extend(dispatcher.take_problems())

    def serve_until(done: Any) -> None:
        while not done():
            drain()
            time.sleep(TICK)

    dispatcher.load()
    led_from_start = dispatcher.leading
    stomp_link.start()
    mqtt_link.start()
    serve_until(lambda: stomp_up)
    args.ready.touch()
    serve_until(args.go.exists)
    for number in range(args.orders):
        dispatcher.submit(Kind.ORDER, args.device, f"{args.name} order {number:02d}")
        deadline = time.monotonic() + args.spacing
        serve_until(lambda deadline=deadline: time.monotonic() >= deadline)
    serve_until(args.stop.exists)

    # As the dashboard quits: links stopped, outcomes that came meanwhile kept, store closed.
    for link in (stomp_link, mqtt_link):
        link.stop()
    for event in inbox.drain(10_000):
        if isinstance(event, OrderOutcome | AlertOutcome):
            dispatcher.observe(event)
    leading_at_end = dispatcher.leading
    problems.extend(dispatcher.take_problems())
    dispatcher.close()
    report = {
        "name": args.name,
        "led_from_start": led_from_start,
        "leading_at_end": leading_at_end,
        "resends": dispatcher.resends,
        "problems": problems,
        "notices": notices,
        "begins": timed.begins,
        "contended": timed.contended,
        "begin_seconds": timed.begin_seconds,
        "worst_begin": timed.worst_begin,
        "locked": timed.locked,
    }
    args.report.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
