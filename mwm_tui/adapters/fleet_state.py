"""The fleet's last known state in HQ's database (table ``fleet_state``, see store.py).

Dashboards sharing one database each write what they heard: a row keeps the newest of each
part (position by its receive time, motion likewise, status by when it was taken), so a
dashboard that heard less never takes back what another heard later.
"""

from __future__ import annotations

from collections.abc import Sequence

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.freshness import DeviceStatus
from mwm_tui.domain.last_known import LastKnown

from .store import DAY, Store

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
