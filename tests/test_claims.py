"""Claims, notes and acknowledgements: the rules, the store's table, the board of two dashboards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mwm_tui.adapters.store import HistoryEntry, Store, database_path
from mwm_tui.domain.claims import (
    NOTE_MAX,
    Claim,
    ack_line,
    ack_problem,
    claim_after,
    claim_line,
    note_line,
    note_text,
    send_question,
    whose,
)
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.services.team_board import RefusedError, TeamBoard
from tests.support.clock import FakeClock

T0 = 1_800_000_000.0
CLAIMS = {"truck-07": Claim("truck-07", "d1", T0)}


def test_a_claimed_truck_asks_everyone_but_its_claimant_once() -> None:
    assert whose(CLAIMS, "truck-07") == "d1"
    assert whose(CLAIMS, "truck-08") is None
    assert send_question(CLAIMS, "truck-07", "d2") == "truck-07 is d1's: send anyway?"
    assert send_question(CLAIMS, "truck-07", "d1") is None
    assert send_question(CLAIMS, "truck-08", "d2") is None
    # Names come from the shared file and the network: shown literally.
    odd = {"t\x1b[2J": Claim("t\x1b[2J", "d\x07", T0)}
    assert send_question(odd, "t\x1b[2J", "d2") == "t\\x1b[2J is d\\x07's: send anyway?"


def test_claim_toggles_for_its_claimant_and_takes_over_from_another() -> None:
    assert claim_after(CLAIMS, "truck-08", "d2") == "d2"
    assert claim_after(CLAIMS, "truck-07", "d1") is None
    assert claim_after(CLAIMS, "truck-07", "d2") == "d2"
    assert claim_line("truck-08", "d2", None, "d2") == "d2 claims truck-08"
    assert claim_line("truck-07", "d1", "d1", None) == "d1 releases truck-07"
    assert claim_line("truck-07", "d2", "d1", "d2") == "d2 claims truck-07 (was d1's)"


def test_a_note_is_one_trimmed_line_of_at_most_200_characters() -> None:
    assert note_text("  pick up\nat   Rungis ") == "pick up at Rungis"
    assert note_text(" \n ") == ""
    assert len(note_text("x" * 500)) == NOTE_MAX == 200
    assert note_line("truck-07", "d2", "go to Orly") == "d2's note on truck-07: go to Orly"
    assert note_line("truck-07", "d2", "a\x1b[31m") == "d2's note on truck-07: a\\x1b[31m"


def test_only_a_stale_or_offline_truck_is_acknowledged() -> None:
    assert ack_problem("truck-07", DeviceStatus.OFFLINE) is None
    assert ack_problem("truck-07", DeviceStatus.STALE) is None
    assert ack_problem("truck-07", DeviceStatus.ONLINE) == (
        "truck-07 is online: nothing to acknowledge"
    )
    assert ack_problem("truck-07", None) == "HQ does not know truck-07"
    assert ack_line("truck-07", "d1", DeviceStatus.OFFLINE) == "d1 is on it: truck-07 offline"


def test_the_store_keeps_claims_with_their_line_and_refuses_a_stale_expectation(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path)
    line = HistoryEntry(T0, "claim", "d1 claims truck-07", "truck-07", by="d1")
    assert store.claim("truck-07", None, "d1", line) == "d1"
    taken = HistoryEntry(T0 + 1, "claim", "d2 claims truck-07", "truck-07", by="d2")
    # d2 thought it was nobody's: refused, nothing written.
    assert store.claim("truck-07", None, "d2", taken) == "d1"
    store.close()

    again = Store.open(tmp_path)
    assert again.claims() == {"truck-07": Claim("truck-07", "d1", T0)}
    assert again.history(kinds=["claim"]) == [line]
    released = HistoryEntry(T0 + 2, "claim", "d1 releases truck-07", "truck-07", by="d1")
    assert again.claim("truck-07", "d1", None, released) is None
    assert again.claims() == {}
    again.close()
    db = sqlite3.connect(database_path(tmp_path))
    rows = db.execute("SELECT kind, by, text FROM history ORDER BY id").fetchall()
    db.close()
    assert rows == [("claim", "d1", "d1 claims truck-07"), ("claim", "d1", "d1 releases truck-07")]


def test_two_boards_on_one_directory_share_claims_notes_and_acks(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    one, two = Store.open(tmp_path), Store.open(tmp_path)
    d1 = TeamBoard(one, by="d1", wall_clock=clock)
    d2 = TeamBoard(two, by="d2", wall_clock=clock)
    assert d1.toggle_claim("truck-07") == "d1 claims truck-07"
    assert d2.whose("truck-07") is None, "d2 reads claims when told to"
    d2.refresh()
    assert d2.whose("truck-07") == "d1"
    assert d2.send_question("truck-07") == "truck-07 is d1's: send anyway?"
    assert d1.send_question("truck-07") is None
    # d2 takes it over: from the store's claim, not a stale picture.
    assert d2.toggle_claim("truck-07") == "d2 claims truck-07 (was d1's)"
    d1.refresh()
    assert d1.claim_of("truck-07") == Claim("truck-07", "d2", T0)
    assert d2.add_note("truck-07", " go to Orly,\n not Rungis ") == (
        "d2's note on truck-07: go to Orly, not Rungis"
    )
    assert d2.add_note("truck-07", "   ") is None
    with pytest.raises(RefusedError, match="truck-07 is online: nothing to acknowledge"):
        d1.acknowledge("truck-07", DeviceStatus.ONLINE)
    assert d1.acknowledge("truck-07", DeviceStatus.OFFLINE) == "d1 is on it: truck-07 offline"
    news = [(e.kind, e.by, e.text) for e in one.news_since(0)[1]]
    assert news == [
        ("claim", "d2", "d2 claims truck-07 (was d1's)"),
        ("note", "d2", "d2's note on truck-07: go to Orly, not Rungis"),
    ]
    one.close()
    two.close()
