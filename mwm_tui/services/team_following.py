"""A dispatcher's part in the team: leading when nobody does, reading what the others wrote.

The holder of the data directory's lock leads (``Store.try_lead``): it alone sends the team's
outbox. A follower tries to lead once a second, so a leader that quits or dies is replaced
within a second or two, and the new one takes up what was left. A leader whose link has been
down while another dashboard's is up hands the lead over (``domain/team_lead.py``). Every
dispatcher reads the lines other dashboards wrote when SQLite says another connection committed
(and once a second in any case), for the log, and the leader takes the dispatches they
committed.
"""

from __future__ import annotations

from collections.abc import Callable

from mwm_tui.adapters.store import HistoryEntry, Store, StoreError
from mwm_tui.adapters.team_links import TeamLinks
from mwm_tui.domain import dispatch as rules
from mwm_tui.domain.claims import TeamKind
from mwm_tui.domain.dispatch import Dispatch, Kind, Stage
from mwm_tui.domain.events import LinkName
from mwm_tui.domain.team_lead import LinkReport, hand_over_reason, should_ask_for_lead

from .team_board import TeamBoard

# How often a follower tries to take the lead.
LEAD_RETRY = 1.0
# History kinds another dashboard's line is shown for: what a dispatcher did.
NEWS_KINDS = frozenset({Kind.ORDER.value, Kind.ALERT.value, *(kind.value for kind in TeamKind)})


class TeamFollowing:
    """Mixed into ``Dispatcher``, whose outbox state it reads and changes."""

    store: Store
    by: str
    team: TeamBoard
    _open: dict[str, Dispatch]
    _clock: Callable[[], float]
    _problems: list[str]
    _notices: list[str]
    _news: list[HistoryEntry]
    _news_from: int
    _data_version: int
    _lead_tried_at: float
    team_links: TeamLinks
    _link_up: dict[LinkName, bool]
    _down_since: dict[LinkName, float]
    _by_send_id: dict[str, str]

    def _waiting_links(self) -> set[LinkName]:
        raise NotImplementedError

    def _change(
        self, before: Dispatch, after: Dispatch, note: str = "", *, force: bool = False
    ) -> None:
        raise NotImplementedError

    def _commit(self) -> bool:
        raise NotImplementedError

    def _prune(self, now: float) -> None:
        raise NotImplementedError

    @property
    def leading(self) -> bool:
        """This dispatcher sends the team's outbox."""
        return self.store.leading

    def _take_up(self) -> int:
        """Now leading: every open dispatch of the team is this dispatcher's to send."""
        now = self._clock()
        self._prune(now)
        try:
            left = self.store.open_dispatches()
        except StoreError as error:
            self._problems.append(str(error))
            return 0
        for stored in left:
            if stored.dispatch_id not in self._open:
                self._change(stored, rules.recovered(stored, now), "taken up from the outbox")
        self._commit()
        return len(left)

    def _follow_team(self, now: float) -> None:
        """Read what other dashboards wrote; lead when the leader is gone; take new dispatches.

        Reads only when SQLite says another connection committed; a read that failed leaves
        the version unseen, so the next tick reads again."""
        if now - self._lead_tried_at >= LEAD_RETRY:
            self._lead_tried_at = now
            if self.leading:
                self._hand_over_if_stuck(now)
            elif self._may_lead() and self.store.try_lead(self.by or "a dashboard"):
                taken = self._take_up()
                self._notices.append(
                    f"leading: this dashboard now sends the team's outbox ({taken} taken up)"
                )
        try:
            version = self.store.data_version()
            if version == self._data_version:
                return
            news = self._read_news()
            self._news.extend(entry for entry in news if entry.kind in NEWS_KINDS)
            if any(entry.kind == TeamKind.CLAIM.value for entry in news):
                self.team.refresh()
            if self.leading:
                if not self._commit():
                    return
                self._take_new(now)
            self._data_version = version
        except StoreError as error:
            self._problems.append(str(error))

    def _others(self) -> list[LinkReport]:
        try:
            return self.team_links.others()
        except StoreError as error:
            self._problems.append(str(error))
            return []

    def _may_lead(self) -> bool:
        """Unless another dashboard has a link up that this one lacks."""
        own_up = {link for link, up in self._link_up.items() if up}
        return should_ask_for_lead(own_up, self._others())

    def _hand_over_if_stuck(self, now: float) -> None:
        """Leading with dispatches a down link holds back: give the lead to a dashboard whose
        link is up. What was open stays committed in the outbox for the new leader."""
        waiting = self._waiting_links()
        if not any(link in self._down_since for link in waiting):
            return
        reason = hand_over_reason(now, waiting, self._down_since, self._others())
        if reason is None or not self._commit():
            return
        self.store.resign()
        self._open.clear()
        self._by_send_id.clear()
        self._notices.append(f"following: the team's outbox goes to another dashboard ({reason})")

    def publish_links(self) -> None:
        """Tell the team which of this dashboard's links are up."""
        up = frozenset(link for link, is_up in self._link_up.items() if is_up)
        try:
            self.team_links.publish(self.by, up, self._clock())
        except StoreError as error:
            self._problems.append(str(error))

    def _read_news(self) -> list[HistoryEntry]:
        """Every line written since the last read, in as many reads as it takes."""
        news: list[HistoryEntry] = []
        while True:
            newest, more = self.store.news_since(self._news_from)
            news.extend(more)
            if newest == self._news_from:
                return news
            self._news_from = newest

    def _take_new(self, now: float) -> None:
        """Leading: dispatches other dashboards committed since are this one's to send.

        A queued one is taken as it is (its sender's line already told the team); one left
        sending was a leader's that is gone, and may have arrived."""
        for stored in self.store.open_dispatches():
            if stored.dispatch_id in self._open:
                continue
            if stored.stage is Stage.QUEUED:
                self._open[stored.dispatch_id] = rules.expire(stored, now)
            else:
                self._change(stored, rules.recovered(stored, now), "taken up from the outbox")

    def following(self) -> str | None:
        """Whose dashboard leads ("d1's") while this one follows; None while it leads."""
        return None if self.leading else self.store.leader().partition(",")[0]

    def outbox_size(self) -> int:
        """Orders and alerts the team's outbox holds: this leader's own count, or the file's."""
        if self.leading:
            return len(self._open)
        try:
            return self.store.open_count()
        except StoreError:
            return 0

    def take_notices(self) -> list[str]:
        """What changed in how this dashboard serves the team (leading, following)."""
        notices, self._notices = self._notices, []
        return notices

    def take_news(self) -> list[HistoryEntry]:
        """Dispatch, claim, note and acknowledgement lines other dashboards of the team wrote
        since the last call."""
        news, self._news = self._news, []
        return news
