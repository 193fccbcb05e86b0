"""The SQLite store on a real file: WAL, reopening, retention, a reader beside the writer."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from mwm_tui.adapters.schema import SCHEMA_VERSION
from mwm_tui.adapters.store import (
    DAY,
    HistoryEntry,
    HistoryQuery,
    Store,
    StoreError,
    database_path,
    read_history,
)
from mwm_tui.domain import dispatch as rules
from mwm_tui.domain.dispatch import Dispatch, Kind, Stage

T0 = 1_800_000_000.0


def make(store: Store, device_id: str = "truck-1", body: str = "go") -> Dispatch:
    return rules.new_dispatch(f"id-{body}", store.next_seq(), Kind.ORDER, device_id, body, now=T0)


def test_the_database_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    store.close()
    db = sqlite3.connect(database_path(tmp_path / "data"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_queued_and_sending_dispatches_survive_closing_and_reopening(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    first, second, third = make(store, body="a"), make(store, body="b"), make(store, body="c")
    sending = rules.sending(second, "order-9", T0 + 1)
    done = rules.refused(third, "no", T0 + 1)
    store.save([first, sending, done], [HistoryEntry(T0, "order", "queued", "truck-1", "id-a")])
    store.close()

    again = Store.open(tmp_path)
    assert again.open_dispatches() == [first, sending]
    assert again.next_seq() == 4  # sequence numbers go on after the stored ones
    assert [d.stage for d in again.dispatches_for("truck-1")] == [
        Stage.FAILED,
        Stage.SENDING,
        Stage.QUEUED,
    ]
    assert again.history() == [HistoryEntry(T0, "order", "queued", "truck-1", "id-a")]
    again.close()


def test_one_dashboard_of_a_data_directory_leads_and_the_next_takes_over(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path), Store.open(tmp_path)
    assert first.try_lead("d1") and first.leading
    assert not second.try_lead("d2") and not second.leading
    assert second.leader().startswith(f"d1's, pid {os.getpid()} on ")
    first.close()
    assert second.try_lead("d2") and second.leader() == "this dashboard"
    second.close()


def test_the_team_shares_one_sequence_and_each_reads_what_the_others_wrote(
    tmp_path: Path,
) -> None:
    first, second = Store.open(tmp_path), Store.open(tmp_path)
    numbers = [store.next_seq() for store in (first, second, first, second, second)]
    assert numbers == [1, 2, 3, 4, 5]
    start = second.last_history_id()
    version = second.data_version()
    first.save(history=[HistoryEntry(T0, "order", "d1: order to t (go) sending", "t", "x", "d1")])
    second.save(history=[HistoryEntry(T0, "link", "STOMP link up")])
    assert second.data_version() != version
    newest, news = second.news_since(start)
    assert [(e.text, e.by) for e in news] == [("d1: order to t (go) sending", "d1")]
    assert newest == second.last_history_id() and second.news_since(newest) == (newest, [])
    first.close()
    second.close()


def test_retention_prunes_old_history_and_old_settled_dispatches_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    old_queued = make(store, body="old-queued")
    old_done = rules.refused(make(store, body="old-done"), "no", T0)
    store.save(
        [old_queued, old_done],
        [HistoryEntry(T0, "link", "old"), HistoryEntry(T0 + 30 * DAY, "link", "new")],
    )
    gone = store.prune(T0 + 31 * DAY, days=30)
    assert gone == 2
    assert [e.text for e in store.history()] == ["new"]
    assert store.open_dispatches() == [old_queued]  # never drop what is still to be sent
    assert store.dispatches_for("truck-1") == [old_queued]
    store.close()


def test_history_filters_by_device_time_and_kind(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.save(
        history=[
            HistoryEntry(T0, "status", "online -> stale", "a"),
            HistoryEntry(T0 + 10, "will", "last will", "a"),
            HistoryEntry(T0 + 20, "status", "online -> stale", "b"),
            HistoryEntry(T0 + 30, "link", "STOMP link down"),
        ]
    )
    assert [e.at for e in store.history("a")] == [T0, T0 + 10]
    assert [e.at for e in store.history(since=T0 + 15)] == [T0 + 20, T0 + 30]
    assert [e.kind for e in store.history("a", kinds=["will"])] == ["will"]
    assert [e.at for e in store.history(limit=2)] == [T0 + 20, T0 + 30]
    store.close()
    assert [e.device_id for e in read_history(tmp_path, HistoryQuery(since=T0 + 5))] == [
        "a",
        "b",
        None,
    ]


def test_a_reader_in_another_thread_reads_while_the_writer_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.save(history=[HistoryEntry(T0, "link", "start")])
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(len(read_history(tmp_path)))
            except BaseException as error:
                errors.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    for batch in range(200):
        store.save(history=[HistoryEntry(T0 + batch, "link", f"line {batch}")] * 5)
    stop.set()
    reader.join(10)
    assert errors == []
    assert len(seen) > 1 and seen == sorted(seen)  # each read sees whole commits, growing
    assert all((count - 1) % 5 == 0 for count in seen)
    assert len(read_history(tmp_path)) == 1 + 200 * 5
    store.close()


def test_no_database_yet_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no history yet: .* does not exist"):
        read_history(tmp_path / "nothing")


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    db = sqlite3.connect(database_path(tmp_path))
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer mwm-tui"):
        Store.open(tmp_path)
    with pytest.raises(StoreError, match="schema"):
        read_history(tmp_path)


def test_an_unusable_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot use the data directory"):
        Store.open(blocker / "data")


def test_the_demo_store_is_in_memory() -> None:
    store = Store.memory()
    store.save([make(store)])
    assert store.path is None and len(store.open_dispatches()) == 1
    store.close()


def test_a_database_of_the_first_schema_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = database_path(tmp_path)
    first = sqlite3.connect(path)
    first.executescript(FIRST_SCHEMA + "PRAGMA user_version = 1;")
    first.execute(
        "INSERT INTO dispatches VALUES ('x1', 1, 'order', 'truck-1', 'go', ?, ?, 'queued', 0, 0,"
        " '', '', ?)",
        (T0, T0 + 60, T0),
    )
    first.execute("INSERT INTO history (at, kind, text) VALUES (?, 'link', 'STOMP link up')", (T0,))
    first.commit()
    first.close()

    store = Store.open(tmp_path)
    (kept,) = store.open_dispatches()
    assert (kept.dispatch_id, kept.body, kept.by) == ("x1", "go", "")
    assert [(e.text, e.by) for e in store.history()] == [("STOMP link up", None)]
    store.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()


# The schema mwm-tui wrote before dispatches and history lines named who sent them.
FIRST_SCHEMA = """
CREATE TABLE dispatches (
    dispatch_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    device_id TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL NOT NULL, stage TEXT NOT NULL, attempts INTEGER NOT NULL,
    possible_duplicate INTEGER NOT NULL, send_id TEXT NOT NULL, detail TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, device_id TEXT,
    text TEXT NOT NULL, dispatch_id TEXT
);
"""
