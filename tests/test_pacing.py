"""The device list's pace: news (a new device, a status change) at once, values once a second."""

from __future__ import annotations

from mwm_tui.domain.codecs import Position
from mwm_tui.domain.fleet import Fleet
from mwm_tui.ui.pacing import RefreshPacer


def test_first_look_is_due() -> None:
    assert RefreshPacer(0.9).due(0, 100.0)


def test_values_alone_are_due_once_per_pace() -> None:
    pacer = RefreshPacer(0.9)
    assert pacer.due(3, 0.0)
    ticks = [round(n / 3, 6) for n in range(1, 13)]  # the list's timer, three times a second
    due = [at for at in ticks if pacer.due(3, at)]
    assert due == [1.0, 2.0, 3.0, 4.0]


def test_news_is_due_at_once_and_restarts_the_pace() -> None:
    pacer = RefreshPacer(0.9)
    assert pacer.due(1, 0.0)
    assert not pacer.due(1, 0.3)
    assert pacer.due(2, 0.4)  # a status changed: no waiting for the second to end
    assert not pacer.due(2, 1.0)
    assert pacer.due(2, 1.3)


def test_a_fleet_status_change_is_news() -> None:
    now = [0.0]
    fleet = Fleet(clock=lambda: now[0], stale_after=15.0, offline_after=120.0)
    pacer = RefreshPacer(0.9)
    fleet.apply_location(Position("truck-1", 48.0, 2.0))
    assert pacer.due(fleet.version, 0.0)
    fleet.apply_location(Position("truck-1", 48.1, 2.0))  # a new value only
    assert not pacer.due(fleet.version, 0.3)
    now[0] = 2.0  # silent a while: the will is believed at once
    fleet.apply_will("truck-1")  # offline: news
    assert pacer.due(fleet.version, 0.35)
    fleet.apply_location(Position("truck-2", 48.0, 2.0))  # a new device: news
    assert pacer.due(fleet.version, 0.4)
