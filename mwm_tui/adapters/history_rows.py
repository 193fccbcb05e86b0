"""History lines as rows: what a line holds, which lines a query picks, and reading them.

Shared by the dashboard's store and ``mwm-tui history``'s read-only connection.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of history: ``kind`` is status, will, link, order, alert, geofence, or what the
    team did to a truck: claim, note, ack;
    ``by`` the dispatcher who did what it tells (None for what the fleet or a link did)."""

    at: float
    kind: str
    text: str
    device_id: str | None = None
    dispatch_id: str | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Which history lines to read; None matches everything."""

    device_id: str | None = None
    since: float | None = None
    until: float | None = None
    by: str | None = None
    kinds: tuple[str, ...] | None = None


def _history_filter(query: HistoryQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if query.device_id is not None:
        clauses.append("device_id = ?")
        params.append(query.device_id)
    if query.since is not None:
        clauses.append("at >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("at < ?")
        params.append(query.until)
    if query.by is not None:
        clauses.append("by = ?")
        params.append(query.by)
    if query.kinds:
        clauses.append(f"kind IN ({', '.join('?' for _ in query.kinds)})")
        params.extend(query.kinds)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, params


def read_rows(
    db: sqlite3.Connection, query: HistoryQuery, limit: int | None = None
) -> list[HistoryEntry]:
    where, params = _history_filter(query)
    sql = f"SELECT at, kind, text, device_id, dispatch_id, by FROM history{where} ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = db.execute(sql, params).fetchall()
    return [HistoryEntry(float(at), str(kind), str(text), dev, did, by)
            for at, kind, text, dev, did, by in reversed(rows)]  # fmt: skip
