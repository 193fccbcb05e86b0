"""HQ's SQLite database: the outbox (orders and alerts not yet settled) and the history.

One file under the data directory, in WAL mode with a busy timeout, shared by every dashboard
of a team and by ``mwm-tui history``. Each dashboard writes its own rows in short transactions;
one of them, the holder of the directory's lock, *leads*: it alone sends the outbox and records
what the fleet and the links did (``try_lead``). The lock file names the leader, and the kernel
frees it when the leader's process ends, however it ends. History lines name the session that
wrote them, so each dashboard reads what the others wrote (``news_since``). Files are private,
or the team's in a team directory (``data_dir``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from mwm_tui.domain.claims import Claim
from mwm_tui.domain.dispatch import Dispatch, Kind, Stage

from .data_dir import DataDir, DataDirError, prepare
from .history_rows import HistoryEntry, HistoryQuery, read_rows
from .schema import MIGRATIONS, SCHEMA_VERSION

DATABASE_NAME = "mwm-tui.sqlite3"
LOCK_NAME = "mwm-tui.lock"
# Every running dashboard holds a shared lock on this file: how one knows whether it is alone.
MEMBERS_NAME = "mwm-tui.members"
DAY = 86400.0

_COLUMNS = (
    "dispatch_id, seq, kind, device_id, body, created_at, expires_at, stage, attempts, "
    "possible_duplicate, send_id, detail, updated_at, by"
)


__all__ = [
    "DATABASE_NAME",
    "DAY",
    "LOCK_NAME",
    "MEMBERS_NAME",
    "HistoryEntry",
    "HistoryQuery",
    "Store",
    "StoreError",
    "database_path",
    "read_history",
]


class StoreError(RuntimeError):
    """The database cannot be used; the message says why, for the operator."""


def database_path(data_dir: Path) -> Path:
    return data_dir / DATABASE_NAME


_DATABASE_FILES = (DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm")


def _lock_of(data: DataDir) -> IO[str]:
    """The directory's lock file, open but not held: ``Store.try_lead`` takes it."""
    return data.create(LOCK_NAME).open("r+", encoding="utf-8")


def _membership(data: DataDir) -> IO[str]:
    """The members file, held shared for as long as this dashboard runs."""
    members = data.create(MEMBERS_NAME).open("r", encoding="utf-8")
    fcntl.flock(members.fileno(), fcntl.LOCK_SH)
    return members


def _dispatch(row: tuple[object, ...]) -> Dispatch:
    (dispatch_id, seq, kind, device_id, body, created, expires, stage, attempts, dup, send_id,
     detail, updated, by) = row  # fmt: skip
    return Dispatch(
        dispatch_id=str(dispatch_id),
        seq=int(str(seq)),
        kind=Kind(str(kind)),
        device_id=str(device_id),
        body=str(body),
        created_at=float(str(created)),
        expires_at=float(str(expires)),
        stage=Stage(str(stage)),
        attempts=int(str(attempts)),
        possible_duplicate=bool(dup),
        send_id=str(send_id),
        detail=str(detail),
        updated_at=float(str(updated)),
        by=str(by),
    )


def _dispatch_row(d: Dispatch) -> tuple[object, ...]:
    return (
        d.dispatch_id, d.seq, d.kind.value, d.device_id, d.body, d.created_at, d.expires_at,
        d.stage.value, d.attempts, int(d.possible_duplicate), d.send_id, d.detail, d.updated_at,
        d.by,
    )  # fmt: skip


def connect(path: Path) -> sqlite3.Connection:
    """A connection to HQ's database file that waits for another writer (5 s) instead of failing.

    Usable from any one thread at a time; its commits survive mwm-tui being killed (only a
    power loss may take the last ones)."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA synchronous = NORMAL")
    return connection


class Store:
    """The writer. ``Store.open(dir)`` for the real file, ``Store.memory()`` for the demo."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None, lock: IO[str] | None):
        """``lock``: the directory's lock file; None leads at once (the demo's, a test's)."""
        self._db = connection
        self._lock_file = lock
        self._guard = threading.Lock()
        self.path = path
        # This dashboard's session: its history lines say so, and it skips them in the news.
        self.session = uuid.uuid4().hex
        self.leading = lock is None
        self._members: IO[str] | None = None
        self._migrate()

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        try:
            data = prepare(data_dir)
            lock = _lock_of(data)
            members = _membership(data)
        except DataDirError as error:
            raise StoreError(str(error)) from None
        except OSError as error:
            raise StoreError(f"cannot use the data directory {data_dir}: {error}") from None
        path = database_path(data_dir)
        connection: sqlite3.Connection | None = None
        try:
            # Before connecting, and never after: SQLite holds POSIX locks on these files that
            # closing any other descriptor of them would drop. It gives its WAL files our mode.
            data.settle_existing(*_DATABASE_FILES)
            if not path.exists():
                data.create(DATABASE_NAME)
            connection = connect(path)
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: SQLite refused WAL mode ({mode})")
            store = cls(connection, path, lock)
            store._members = members
            return store
        except (sqlite3.Error, StoreError, OSError) as error:
            if connection is not None:
                connection.close()
            lock.close()
            members.close()
            if isinstance(error, StoreError):
                raise
            raise StoreError(f"cannot open {path}: {error}") from None

    @classmethod
    def memory(cls) -> Store:
        """A database that ends with the process: nothing of the demo reaches the real outbox."""
        return cls(sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None),
                   None, None)  # fmt: skip

    def close(self) -> None:
        with self._guard:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            if self._lock_file is not None:
                self._lock_file.close()  # frees the lead for another dashboard
                self._lock_file = None
            if self._members is not None:
                self._members.close()
                self._members = None

    def alone(self) -> bool:
        """No other dashboard has this data directory open (a demo's store is always alone)."""
        members = self._members
        if members is None:
            return True
        try:
            fcntl.flock(members.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            alone = False
        else:
            alone = True
        fcntl.flock(members.fileno(), fcntl.LOCK_SH)  # ours again, as before the question
        return alone

    def open_count(self) -> int:
        """Dispatches still queued or sending in the team's outbox."""
        with self._guard:
            row = self._db.execute(
                "SELECT COUNT(*) FROM dispatches WHERE stage IN (?, ?)",
                (Stage.QUEUED.value, Stage.SENDING.value),
            ).fetchone()
        return int(row[0])

    def own_open(self, by: str) -> int:
        """Dispatches ``by`` sent that are still queued or sending in the team's outbox."""
        with self._guard:
            row = self._db.execute(
                "SELECT COUNT(*) FROM dispatches WHERE by = ? AND stage IN (?, ?)",
                (by, Stage.QUEUED.value, Stage.SENDING.value),
            ).fetchone()
        return int(row[0])

    # Leading the team

    def try_lead(self, name: str) -> bool:
        """Take the lead if no other dashboard has it; the lock file then names ``name``."""
        lock = self._lock_file
        if self.leading or lock is None:
            return self.leading
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        since = time.strftime("%H:%M", time.localtime())
        lock.seek(0)
        lock.truncate(0)
        lock.write(f"{name}'s, pid {os.getpid()} on {socket.gethostname()}, since {since}")
        lock.flush()
        self.leading = True
        return True

    def resign(self) -> None:
        """Give the lead up (the lock file stays open): another dashboard may take it."""
        if self.leading and self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self.leading = False

    def leader(self) -> str:
        """Whose dashboard leads, as its lock file says ("d1's, pid 42 on hq, since 14:05")."""
        if self.leading or self._lock_file is None:
            return "this dashboard"
        try:
            self._lock_file.seek(0)
            return self._lock_file.read(200).strip() or "another dashboard"
        except OSError:
            return "another dashboard"

    def data_version(self) -> int:
        """Changes whenever another connection commits: cheap enough for every drain tick."""
        with self._guard:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def last_history_id(self) -> int:
        with self._guard:
            return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM history").fetchone()[0])

    def news_since(self, last_id: int, limit: int = 500) -> tuple[int, list[HistoryEntry]]:
        """History lines other sessions wrote after line ``last_id``, and the newest id seen."""
        with self._guard:
            rows = self._db.execute(
                "SELECT id, at, kind, text, device_id, dispatch_id, by, session FROM history "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, limit),
            ).fetchall()
        newest = int(rows[-1][0]) if rows else last_id
        news = [
            HistoryEntry(float(at), str(kind), str(text), dev, did, by)
            for _, at, kind, text, dev, did, by, session in rows
            if session != self.session
        ]
        return newest, news

    def _migrate(self) -> None:
        """Bring the file to SCHEMA_VERSION one step per transaction: another dashboard opening
        it meanwhile finds each step done or not done, never half done."""
        with self._transaction():
            while True:
                self._db.execute("BEGIN IMMEDIATE")
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                if version >= SCHEMA_VERSION:
                    self._db.execute("COMMIT")
                    break
                for statement in MIGRATIONS[version + 1].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version + 1}")
                self._db.execute("COMMIT")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer mwm-tui (schema {version}, "
                f"this one knows {SCHEMA_VERSION})"
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.rollback()
            raise StoreError(f"cannot write {self.path or 'the database'}: {error}") from None

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed at the end of the block.

        On a database error it is rolled back and StoreError raised.
        """
        with self._guard, self._transaction():
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for queries, held by no other thread; a database error: StoreError."""
        with self._guard:
            try:
                yield self._db
            except sqlite3.Error as error:
                raise StoreError(f"cannot read {self.path or 'the database'}: {error}") from None

    # Writing (one thread at a time; the dashboard writes from its UI thread)

    def next_seq(self) -> int:
        """The next number of the team's outbox: dispatches go out in this order."""
        with self._guard, self._transaction():
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq'")
            value = int(
                self._db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
            )
            self._db.execute("COMMIT")
        return value

    def save(
        self, dispatches: Iterable[Dispatch] = (), history: Iterable[HistoryEntry] = ()
    ) -> None:
        """Write dispatches (insert or replace) and history lines in one committed transaction."""
        rows = [_dispatch_row(d) for d in dispatches]
        session = self.session
        lines = [(h.at, h.kind, h.device_id, h.text, h.dispatch_id, h.by, session) for h in history]
        if not rows and not lines:
            return
        with self._guard, self._transaction():
            self._db.execute("BEGIN IMMEDIATE")
            if rows:
                self._db.executemany(
                    f"INSERT OR REPLACE INTO dispatches ({_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            if lines:
                self._db.executemany(
                    "INSERT INTO history (at, kind, device_id, text, dispatch_id, by, session) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    lines,
                )
            self._db.execute("COMMIT")

    def prune(self, now: float, days: float) -> int:
        """Forget history older than ``days`` and settled dispatches as old; return rows gone."""
        cutoff = now - days * DAY
        open_stages = (Stage.QUEUED.value, Stage.SENDING.value)
        with self._guard, self._transaction():
            self._db.execute("BEGIN IMMEDIATE")
            gone = self._db.execute("DELETE FROM history WHERE at < ?", (cutoff,)).rowcount
            gone += self._db.execute(
                "DELETE FROM dispatches WHERE updated_at < ? AND stage NOT IN (?, ?)",
                (cutoff, *open_stages),
            ).rowcount
            self._db.execute("COMMIT")
        return gone

    def write_problem(self) -> str | None:
        """Why the database cannot be written (a read-only file or directory), or None."""
        with self._guard:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
                self._db.execute(f"PRAGMA user_version = {version}")
                self._db.execute("ROLLBACK")
            except sqlite3.Error as error:
                if self._db.in_transaction:
                    self._db.rollback()
                return f"cannot write {self.path or 'the database'}: {error}"
        return None

    def claim(
        self, device_id: str, expected: str | None, after: str | None, line: HistoryEntry
    ) -> str | None:
        """Set who claims ``device_id`` to ``after`` (None: nobody) if it is still ``expected``,
        with its history ``line``, in one transaction; return who claims it now either way."""
        with self._guard, self._transaction():
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute(
                "SELECT by FROM claims WHERE device_id = ?", (device_id,)
            ).fetchone()
            now_by = None if row is None else str(row[0])
            if now_by != expected:
                self._db.execute("ROLLBACK")
                return now_by
            if after is None:
                self._db.execute("DELETE FROM claims WHERE device_id = ?", (device_id,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO claims (device_id, by, at) VALUES (?, ?, ?)",
                    (device_id, after, line.at),
                )
            self._db.execute(
                "INSERT INTO history (at, kind, device_id, text, dispatch_id, by, session) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (line.at, line.kind, line.device_id, line.text, None, line.by, self.session),
            )
            self._db.execute("COMMIT")
        return after

    # Reading

    def claims(self) -> dict[str, Claim]:
        """Every claim of the team, by device id."""
        with self._guard:
            rows = self._db.execute("SELECT device_id, by, at FROM claims").fetchall()
        return {str(d): Claim(str(d), str(by), float(at)) for d, by, at in rows}

    def open_dispatches(self) -> list[Dispatch]:
        """Queued or sending dispatches, oldest first."""
        with self._guard:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM dispatches WHERE stage IN (?, ?) ORDER BY seq",
                (Stage.QUEUED.value, Stage.SENDING.value),
            ).fetchall()
        return [_dispatch(row) for row in rows]

    def dispatches_for(self, device_id: str, limit: int = 50) -> list[Dispatch]:
        """The newest dispatches to one device, newest first."""
        with self._guard:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM dispatches WHERE device_id = ? ORDER BY seq DESC LIMIT ?",
                (device_id, limit),
            ).fetchall()
        return [_dispatch(row) for row in rows]

    def history(
        self,
        device_id: str | None = None,
        since: float | None = None,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        """History lines, oldest first (the newest ``limit`` when given)."""
        query = HistoryQuery(device_id, since, kinds=tuple(kinds) if kinds else None)
        with self._guard:
            return read_rows(self._db, query, limit)


def read_history(data_dir: Path, query: HistoryQuery | None = None) -> list[HistoryEntry]:
    """History from another process, read only: the dashboard may be writing meanwhile."""
    path = database_path(data_dir)
    if not path.is_file():
        raise StoreError(
            f"no history yet: {path} does not exist (mwm-tui writes it when it runs "
            "against brokers; see --data-dir)"
        )
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from None
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema {version}; this mwm-tui reads {SCHEMA_VERSION} "
                "(a dashboard of this version upgrades it when it starts)"
            )
        return read_rows(db, query or HistoryQuery())
    except sqlite3.Error as error:
        raise StoreError(f"cannot read {path}: {error}") from None
    finally:
        db.close()
