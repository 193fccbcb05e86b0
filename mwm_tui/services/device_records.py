"""What the store has kept of one truck, read for its detail screen: screens ask the dispatcher,
which reads here, never the store."""

from __future__ import annotations

from dataclasses import dataclass

from mwm_tui.adapters.store import HistoryEntry, Store, StoreError
from mwm_tui.domain.claims import Claim, TeamKind
from mwm_tui.domain.dispatch import Dispatch

from .team_board import TeamBoard

# The team's lines about one truck the detail screen shows.
TEAM_ROWS = 10


@dataclass(frozen=True)
class DeviceRecord:
    """What the history keeps of one device: its newest status transitions and last wills
    (oldest first) and dispatches (newest first). A part the store could not read is empty,
    its problem said in ``transitions_problem`` or ``dispatches_problem``."""

    transitions: list[HistoryEntry]
    dispatches: list[Dispatch]
    transitions_problem: str | None = None
    dispatches_problem: str | None = None
    claim: Claim | None = None
    # The team's claims, notes and acknowledgements of it, oldest first.
    team: tuple[HistoryEntry, ...] = ()
    team_problem: str | None = None


def read_device_record(
    store: Store, team: TeamBoard, device_id: str, *, transitions: int, dispatches: int
) -> DeviceRecord:
    """The newest ``transitions`` and ``dispatches`` kept of ``device_id``, and the team's lines."""
    found_transitions: list[HistoryEntry] = []
    found_dispatches: list[Dispatch] = []
    transitions_problem = dispatches_problem = None
    try:
        found_transitions = store.history(device_id, kinds=("status", "will"), limit=transitions)
    except StoreError as error:
        transitions_problem = str(error)
    try:
        found_dispatches = store.dispatches_for(device_id, dispatches)
    except StoreError as error:
        dispatches_problem = str(error)
    lines: list[HistoryEntry] = []
    team_problem = None
    try:
        kinds = tuple(kind.value for kind in TeamKind)
        lines = store.history(device_id, kinds=kinds, limit=TEAM_ROWS)
    except StoreError as error:
        team_problem = str(error)
    return DeviceRecord(
        found_transitions,
        found_dispatches,
        transitions_problem,
        dispatches_problem,
        team.claim_of(device_id),
        tuple(lines),
        team_problem,
    )
