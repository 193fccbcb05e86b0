"""The ``links`` table: which links each running dashboard of a team has up.

A dashboard writes its row when a link goes up or down and deletes it when it closes; a row
whose process has ended (killed, crashed) on this host is not believed. Rows written on
another host are believed as they stand.
"""

from __future__ import annotations

import os
import socket

from mwm_tui.domain.events import LinkName
from mwm_tui.domain.team_lead import LinkReport

from .store import Store, StoreError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another dispatcher's process
    return True


def _links(text: str) -> frozenset[LinkName]:
    names = {link.value: link for link in LinkName}
    return frozenset(names[part] for part in text.split(",") if part in names)


class TeamLinks:
    """This dashboard's row of the ``links`` table, and the other dashboards' rows."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._host = socket.gethostname()

    def publish(self, by: str, up: frozenset[LinkName], now: float) -> None:
        """Tell the team which of this dashboard's links are up."""
        text = ",".join(sorted(link.value for link in up))
        row = (self._store.session, by, os.getpid(), self._host, text, now)
        with self._store.writing() as db:
            db.execute("INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?)", row)

    def withdraw(self) -> None:
        """This dashboard stops: its row goes."""
        with self._store.writing() as db:
            db.execute("DELETE FROM links WHERE session = ?", (self._store.session,))

    def others(self) -> list[LinkReport]:
        """The other running dashboards' links; rows of ended processes are skipped."""
        with self._store.reading() as db:
            rows = db.execute(
                "SELECT session, by, pid, host, up FROM links WHERE session != ?",
                (self._store.session,),
            ).fetchall()
        return [
            LinkReport(str(session), str(by), _links(str(up)))
            for session, by, pid, host, up in rows
            if host != self._host or _alive(int(pid))
        ]


__all__ = ["StoreError", "TeamLinks"]
