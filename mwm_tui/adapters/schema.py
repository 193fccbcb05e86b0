"""The database's schema, as the steps that build it: each keyed by the version it produces.

``Store`` applies the steps a file lacks in order, one transaction each (``user_version``
says how far a file is). A new table or column is a new step at the end; a step never changes.
"""

from __future__ import annotations

_DISPATCHES_AND_HISTORY = """
CREATE TABLE dispatches (
    dispatch_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    device_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    stage TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    possible_duplicate INTEGER NOT NULL,
    send_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX dispatches_by_stage ON dispatches (stage, seq);
CREATE INDEX dispatches_by_device ON dispatches (device_id, seq);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    device_id TEXT,
    text TEXT NOT NULL,
    dispatch_id TEXT
);
CREATE INDEX history_by_time ON history (at);
CREATE INDEX history_by_device ON history (device_id, at);
"""
# Who sent each order or alert, and who did what a history line tells.
_BY = """
ALTER TABLE dispatches ADD COLUMN by TEXT NOT NULL DEFAULT '';
ALTER TABLE history ADD COLUMN by TEXT;
CREATE INDEX history_by_sender ON history (by, at);
"""
# A team: each line names the dashboard session that wrote it; one sequence for the outbox.
_TEAM = """
ALTER TABLE history ADD COLUMN session TEXT;
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters (name, value) SELECT 'seq', COALESCE(MAX(seq), 0) FROM dispatches;
"""
# Each device's last known state (adapters/fleet_state.py reads and writes it). Times are wall
# clock; a NULL motion_at with a motion: retained, of unknown age.
_FLEET_STATE = """
CREATE TABLE fleet_state (
    device_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    lat REAL,
    lng REAL,
    device_ts TEXT,
    fix_at REAL,
    pitch REAL,
    roll REAL,
    yaw REAL,
    motion_at REAL,
    updated_at REAL NOT NULL
);
CREATE INDEX fleet_state_by_time ON fleet_state (updated_at);
"""
# Which dispatcher claims which truck, since when (wall clock); notes and acks are history lines.
_CLAIMS = """
CREATE TABLE claims (device_id TEXT PRIMARY KEY, by TEXT NOT NULL, at REAL NOT NULL);
"""
# Which links each running dashboard has up: the team's outbox goes to one that can send.
_LINKS = """
CREATE TABLE links (
    session TEXT PRIMARY KEY,
    by TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    up TEXT NOT NULL,
    at REAL NOT NULL
);
"""
# The steps that build the schema, keyed by the version each produces, applied in order.
MIGRATIONS = {
    1: _DISPATCHES_AND_HISTORY,
    2: _BY,
    3: _TEAM,
    4: _FLEET_STATE,
    5: _CLAIMS,
    6: _LINKS,
}
SCHEMA_VERSION = max(MIGRATIONS)
