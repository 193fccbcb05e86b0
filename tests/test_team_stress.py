"""Many dashboards of one team on one data directory, each sending orders while ActiveMQ is
killed and restarted: none is lost, and none arrives twice unless the history says it may.

Each dashboard is a process of its own (``tests/support/team_seat.py``: the real dispatcher,
store and links, without the screen); an independent consumer counts what reached the truck's
queue, by the broker's message-id, so a redelivery to the consumer is not taken for a resend.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mwm_tui.adapters.store import HistoryQuery, database_path, read_history
from mwm_tui.domain import ids
from tests.support.brokers import ActiveMQFactory, Mosquitto
from tests.support.counters import QueueCounter
from tests.support.sim import ROOT, unique_prefix

SEATS = 20
ORDERS = 50
SPACING = 0.2  # seconds between two orders of one dashboard: 10 s of sending each


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.1)


def open_dispatches(data_dir: Path) -> int:
    """Orders still queued or sending in the team's outbox."""
    db = sqlite3.connect(f"{database_path(data_dir).as_uri()}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        query = "SELECT COUNT(*) FROM dispatches WHERE stage IN ('queued', 'sending')"
        return int(db.execute(query).fetchone()[0])
    finally:
        db.close()


def final_stages(data_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(f"{database_path(data_dir).as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT stage, COUNT(*) FROM dispatches GROUP BY stage").fetchall()
        return {str(stage): int(count) for stage, count in rows}
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_team_of_twenty_loses_no_order_and_flags_every_second_copy_across_a_broker_kill(
    tmp_path: Path, fresh_activemq: ActiveMQFactory, mosquitto: Mosquitto
) -> None:
    broker = fresh_activemq(persistent=True)
    team_dir = tmp_path / "team"
    team_dir.mkdir()
    team_dir.chmod(0o2770)  # a team's directory (here root's group: every seat is root)
    truck = unique_prefix("strs") + "01"
    counter = QueueCounter(broker.port, ids.order_destination(truck))
    names = [f"d{n:02d}" for n in range(1, SEATS + 1)]
    go, stop = tmp_path / "go", tmp_path / "stop"
    seats: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            command = [
                sys.executable, "-m", "tests.support.team_seat",
                "--data-dir", str(team_dir), "--stomp", broker.url, "--mqtt", mosquitto.url,
                "--name", name, "--device", truck, "--orders", str(ORDERS),
                "--spacing", str(SPACING), "--ready", str(tmp_path / f"{name}.ready"),
                "--go", str(go), "--stop", str(stop), "--report", str(tmp_path / f"{name}.json"),
            ]  # fmt: skip
            log = (tmp_path / f"{name}.log").open("wb")
            seats.append(subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log))
            log.close()

        def all_ready() -> bool:
            pairs = zip(names, seats, strict=True)
            ended = {name: seat.returncode for name, seat in pairs if seat.poll() is not None}
            assert not ended, f"dashboards ended: {ended}"
            return all((tmp_path / f"{name}.ready").exists() for name in names)

        wait(
            all_ready,
            120,
            "every dashboard's STOMP link up",
        )
        wait(counter.connected.is_set, 30, "the independent consumer")

        go.touch()
        time.sleep(3.0)  # about 15 orders from each dashboard before the kill
        broker.kill()
        killed_at = time.monotonic()
        time.sleep(2.0)
        broker.start()
        down = time.monotonic() - killed_at

        expected = {f"{name} order {n:02d}" for name in names for n in range(ORDERS)}
        wait(lambda: expected <= set(counter.counts()), 240, "every order at the consumer")
        wait(lambda: open_dispatches(team_dir) == 0, 60, "every dispatch settled")
        time.sleep(1.0)  # a late second copy would show by now
        stop.touch()
        for seat in seats:
            assert seat.wait(60) == 0, (tmp_path / f"{names[seats.index(seat)]}.log").read_text()
    finally:
        stop.touch()
        stuck = [seat for seat in seats if seat.poll() is None]
        for seat in stuck:
            seat.send_signal(signal.SIGUSR1)  # its threads' stacks, into its log
        time.sleep(0.5 if stuck else 0)
        for seat in stuck:
            seat.kill()
            seat.wait()
        counter.close()

    sends = counter.sends()
    reports = [json.loads((tmp_path / f"{name}.json").read_text()) for name in names]
    history = read_history(team_dir, HistoryQuery(kinds=("order",)))
    flagged = {
        body
        for body in expected
        if any(f"({body})" in entry.text and "may arrive twice" in entry.text for entry in history)
    }
    twice = {body for body, copies in sends.items() if copies > 1}
    stages = final_stages(team_dir)
    leaders = [report["name"] for report in reports if report["led_from_start"]]
    begins = sum(report["begins"] for report in reports)
    contended = sum(report["contended"] for report in reports)
    begin_seconds = [report["begin_seconds"] for report in reports]
    print(
        f"\n{SEATS} dashboards x {ORDERS} orders, ActiveMQ down {down:.1f} s: "
        f"{len(expected)} made, {len(set(sends) & expected)} arrived, "
        f"{sum(sends.values()) - len(sends)} second copies ({len(twice)} orders), "
        f"{len(flagged)} flagged 'may arrive twice', redeliveries to the consumer "
        f"{sum(counter.counts().values()) - sum(sends.values())}; final stages {stages}; "
        f"SQLite: {begins} BEGIN IMMEDIATE, {contended} waited > 5 ms, "
        f"{sum(r['locked'] for r in reports)} 'database is locked', "
        f"wait per dashboard median {statistics.median(begin_seconds) * 1000:.0f} ms, "
        f"worst single wait {max(r['worst_begin'] for r in reports) * 1000:.0f} ms"
    )
    assert set(sends) == expected, "no order lost, no stranger"
    assert twice <= flagged, f"second copies nobody was told of: {sorted(twice - flagged)}"
    assert sum(stages.values()) == len(expected)
    assert set(stages) <= {"accepted", "waiting"}, stages
    assert len(leaders) == 1, leaders
    assert not [r["problems"] for r in reports if r["problems"]]
    assert sum(report["locked"] for report in reports) == 0
    assert os.stat(database_path(team_dir)).st_mode & 0o777 == 0o660
