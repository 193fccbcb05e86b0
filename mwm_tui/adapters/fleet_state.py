"""The fleet's last known state in HQ's database (table ``fleet_state``, see store.py).

Dashboards sharing one database each write what they heard: a row keeps the newest of each
part (position by its receive time, motion likewise, status by when it was taken), so a
dashboard that heard less never takes back what another heard later.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.freshness import DeviceStatus
from mwm_tui.domain.last_known import LastKnown

from .store import DAY, Store, StoreError, connect

_COLUMNS = (
    "device_id, status, reason, lat, lng, device_ts, fix_at, pitch, roll, yaw, motion_at, "
    "updated_at"
)
# Per part, the newer wins; a retained motion (no motion_at) only where none was kept.
_UPSERT = f"""
INSERT INTO fleet_state ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (device_id) DO UPDATE SET
    status = CASE WHEN excluded.updated_at >= updated_at THEN excluded.status ELSE status END,
    reason = CASE WHEN excluded.updated_at >= updated_at THEN excluded.reason ELSE reason END,
    lat = CASE WHEN {{fix}} THEN excluded.lat ELSE lat END,
    lng = CASE WHEN {{fix}} THEN excluded.lng ELSE lng END,
    device_ts = CASE WHEN {{fix}} THEN excluded.device_ts ELSE device_ts END,
    fix_at = CASE WHEN {{fix}} THEN excluded.fix_at ELSE fix_at END,
    pitch = CASE WHEN {{motion}} THEN excluded.pitch ELSE pitch END,
    roll = CASE WHEN {{motion}} THEN excluded.roll ELSE roll END,
    yaw = CASE WHEN {{motion}} THEN excluded.yaw ELSE yaw END,
    motion_at = CASE WHEN {{motion}} THEN excluded.motion_at ELSE motion_at END,
    updated_at = MAX(excluded.updated_at, updated_at)
""".format(
    fix="excluded.fix_at IS NOT NULL AND (fix_at IS NULL OR excluded.fix_at >= fix_at)",
    motion=(
        "excluded.pitch IS NOT NULL AND (motion_at IS NULL "
        "OR (excluded.motion_at IS NOT NULL AND excluded.motion_at >= motion_at))"
    ),
)


def _row(state: LastKnown) -> tuple[object, ...]:
    position, motion = state.position, state.motion
    device_ts = None
    if position is not None:
        stamp = position.ts
        device_ts = position.raw_ts or (stamp.isoformat() if stamp is not None else None)
    return (
        state.device_id,
        state.status.value,
        state.reason,
        position.lat if position else None,
        position.lng if position else None,
        device_ts,
        state.fix_at,
        motion.pitch if motion else None,
        motion.roll if motion else None,
        motion.yaw if motion else None,
        state.motion_at if motion else None,
        state.updated_at,
    )


def _state(row: tuple[object, ...]) -> LastKnown | None:
    """The row as a state; None for one this version cannot read (a status it does not know)."""
    (device_id, status, reason, lat, lng, device_ts, fix_at, pitch, roll, yaw, motion_at,
     updated_at) = row  # fmt: skip
    try:
        known_status = DeviceStatus(str(status))
    except ValueError:
        return None
    position = None
    if isinstance(lat, float) and isinstance(lng, float):
        raw_ts = str(device_ts) if device_ts is not None else None
        position = Position(str(device_id), lat, lng, raw_ts=raw_ts)
    motion = None
    if isinstance(pitch, float) and isinstance(roll, float) and isinstance(yaw, float):
        motion = Motion(pitch, roll, yaw)
    return LastKnown(
        device_id=str(device_id),
        status=known_status,
        reason=str(reason),
        position=position,
        fix_at=float(fix_at) if isinstance(fix_at, float) and position is not None else None,
        motion=motion,
        motion_at=float(motion_at) if isinstance(motion_at, float) and motion else None,
        updated_at=float(str(updated_at)),
    )


def save_fleet_state(store: Store, states: Sequence[LastKnown]) -> None:
    """Upsert every state in one committed transaction; StoreError when it cannot."""
    if not states:
        return
    with store.writing() as db:
        _upsert(db, states)


def _upsert(db: sqlite3.Connection, states: Sequence[LastKnown]) -> None:
    db.executemany(_UPSERT, [_row(state) for state in states])


def load_fleet_state(store: Store, limit: int) -> list[LastKnown]:
    """The ``limit`` newest states, newest first; StoreError when they cannot be read."""
    with store.reading() as db:
        rows = db.execute(
            f"SELECT {_COLUMNS} FROM fleet_state ORDER BY updated_at DESC LIMIT ?", (limit,)
        ).fetchall()
    return [state for row in rows if (state := _state(row)) is not None]


def prune_fleet_state(store: Store, now: float, days: float) -> int:
    """Forget devices not updated for ``days``; return how many. StoreError when it cannot."""
    with store.writing() as db:
        return int(
            db.execute("DELETE FROM fleet_state WHERE updated_at < ?", (now - days * DAY,)).rowcount
        )


class FleetStateWriter:
    """Saves last known states on a thread of its own, over a connection of its own, so that
    writing thousands of rows never holds up the screen.

    ``submit`` hands states over and returns at once. What is handed over while a write runs
    joins the next one (a device's newer state replaces its older); the states of a failed
    write wait for the next ``submit`` or ``close``, and ``take_problems`` tells the failure.
    ``close`` writes what is left and waits for it. A store without a file (the demo's) is
    written on the caller's thread.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Condition()
        self._pending: dict[str, LastKnown] = {}
        self._writing = False
        self._failed = False
        self._closing = False
        self._problems: list[str] = []
        self._thread: threading.Thread | None = None
        self.writes = 0

    def submit(self, states: Sequence[LastKnown]) -> None:
        if not states:
            return
        with self._lock:
            for state in states:
                self._pending[state.device_id] = state
            if self._store.path is None:
                self._write_here()
                return
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(
                    target=self._run, name="mwm-fleet-state", daemon=True
                )
                self._thread.start()
            self._failed = False
            self._lock.notify()

    def idle(self) -> bool:
        """Nothing handed over is waiting or being written."""
        with self._lock:
            return not self._pending and not self._writing

    def take_problems(self) -> list[str]:
        with self._lock:
            problems, self._problems = self._problems, []
        return problems

    def close(self, timeout: float = 10.0) -> None:
        """Try once more what is left, then stop the thread (``timeout`` s at most)."""
        with self._lock:
            self._closing, self._failed = True, False
            self._lock.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _write_here(self) -> None:
        states, self._pending = list(self._pending.values()), {}
        try:
            save_fleet_state(self._store, states)
        except StoreError as error:
            self._keep(states, str(error))
            return
        self.writes += 1

    def _keep(self, states: list[LastKnown], problem: str) -> None:
        """Under the lock: a failed write's states wait for the next, unless newer ones came."""
        for state in states:
            self._pending.setdefault(state.device_id, state)
        self._problems.append(problem)

    def _run(self) -> None:
        path = self._store.path
        assert path is not None
        connection: sqlite3.Connection | None = None
        while True:
            with self._lock:
                while (not self._pending or self._failed) and not self._closing:
                    self._lock.wait()
                if not self._pending or self._failed:
                    break  # closing, with nothing left or after its last try
                states, self._pending = list(self._pending.values()), {}
                self._writing = True
            connection, problem = _write(connection, path, states)
            with self._lock:
                self._writing, self._failed = False, problem is not None
                if problem is None:
                    self.writes += 1
                else:
                    self._keep(states, f"cannot write {path}: {problem}")
        if connection is not None:
            connection.close()


def _write(
    connection: sqlite3.Connection | None, path: Path, states: list[LastKnown]
) -> tuple[sqlite3.Connection | None, str | None]:
    """Upsert ``states`` in one transaction, connecting first if need be; the connection, and
    the database's complaint or None when written."""
    try:
        if connection is None:
            connection = connect(path)
        connection.execute("BEGIN IMMEDIATE")
        _upsert(connection, states)
        connection.execute("COMMIT")
    except sqlite3.Error as error:
        if connection is not None and connection.in_transaction:
            connection.rollback()
        return connection, str(error)
    return connection, None
