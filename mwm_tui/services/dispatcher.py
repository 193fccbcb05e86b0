"""The outbox and the history at work: dispatch rules, the SQLite store and the two links.

Runs on the thread that drains the inbox (the UI's), never blocks on a socket (a link's send only
queues), and commits to SQLite once per new dispatch and once per drain tick.

A team shares one store. One dispatcher *leads* (``Store.try_lead``): it sends every order and
alert of the team, oldest first, and records what the fleet and the links did. The others
*follow*: an order of theirs is committed to the shared outbox for the leader to send, and
they try to lead once a second, so a leader that quits or dies is replaced within a second or
two and takes up what it left. Every dispatcher reads the dispatch lines the others wrote
(``take_news``), so each dashboard shows every order, its sender and its outcome.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from mwm_tui.adapters.base import AlertLink, OrderLink
from mwm_tui.adapters.recording import Recorder
from mwm_tui.adapters.store import DAY, HistoryEntry, Store, StoreError
from mwm_tui.adapters.team_links import TeamLinks
from mwm_tui.domain import dispatch as rules
from mwm_tui.domain.dispatch import Dispatch, Kind, Stage
from mwm_tui.domain.errors import InvalidDeviceIdError
from mwm_tui.domain.events import (
    AlertOutcome,
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    OrderOutcome,
    QueueConsumers,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from mwm_tui.domain.leaving import quit_question
from mwm_tui.domain.wills import WillNote

from .device_records import DeviceRecord, read_device_record
from .fleet_memory import FleetMemory
from .motion_asks import MotionAsks
from .team_board import TeamBoard
from .team_following import LEAD_RETRY, TeamFollowing

log = logging.getLogger(__name__)

LINK_OF = {Kind.ORDER: LinkName.STOMP, Kind.ALERT: LinkName.MQTT}
KIND_OF = {link: kind for kind, link in LINK_OF.items()}
# Placeholder send id between committing "sending" and the link naming the attempt.
_HANDING_OVER = "handing-over"


class Dispatcher(TeamFollowing):
    """Takes orders and alerts, keeps them until their link can take them, records outcomes.

    ``take_reports()`` hands over each dispatch whose stage changed, for the log and composer;
    ``take_problems()`` what went wrong with the database, for the log.
    """

    def __init__(
        self,
        store: Store,
        order_link: OrderLink,
        alert_link: AlertLink,
        fleet: Fleet,
        *,
        order_expiry: float,
        history_days: float,
        wall_clock: Callable[[], float],
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        recorder: Recorder | None = None,
        by: str = "",
        fleet_memory: FleetMemory | None = None,
        team_board: TeamBoard | None = None,
    ) -> None:
        """``by``: the dispatcher every order and alert submitted here is sent by."""
        self.store = store
        self.by = by
        # Claims, notes and acknowledgements: refreshed when another dashboard claims.
        self.team = team_board or TeamBoard(store, by=by, wall_clock=wall_clock)
        # Keeps the fleet's last known state: saved on tick and on close.
        self.fleet_memory = fleet_memory
        self._order_link = order_link
        self._alert_link = alert_link
        self._fleet = fleet
        self._expiry = order_expiry
        self._history_days = history_days
        self._clock = wall_clock
        self._new_id = new_id
        self._recorder = recorder
        self._open: dict[str, Dispatch] = {}
        self._by_send_id: dict[str, str] = {}
        self._link_up: dict[LinkName, bool] = dict.fromkeys(LinkName, False)
        # When each down link went down: the lead goes to another dashboard after a while.
        self._down_since: dict[LinkName, float] = dict.fromkeys(LinkName, wall_clock())
        self.team_links = TeamLinks(store)
        self._consumers: dict[str, int] = {}
        self._unsaved: dict[str, Dispatch] = {}
        self._history: list[HistoryEntry] = []
        self._reports: list[Dispatch] = []
        self._problems: list[str] = []
        self._pruned_at = 0.0
        # Why the outbox cannot keep anything now, or None: shown until a commit succeeds.
        self.store_problem: str | None = None
        self._lead_tried_at = -LEAD_RETRY
        self._data_version = -1
        self._news_from = 0
        self._news: list[HistoryEntry] = []
        self._notices: list[str] = []
        # What this dashboard handed to another leader: their news is this composer's too.
        self.mine: set[str] = set()
        self._motion_asks = MotionAsks(alert_link, fleet)
        self.resends = 0
        self.outcomes: Counter[Stage] = Counter()

    # Start

    def load(self) -> int:
        """Lead if nobody does, and then take up what was left queued or sending; return count."""
        self.store_problem = self.store.write_problem()
        if self.store_problem is not None:
            self._problems.append(self.store_problem)
        try:
            self._news_from = self.store.last_history_id()
            self._data_version = self.store.data_version()
            self.team.refresh()
        except StoreError as error:
            self._problems.append(str(error))
        self._lead_tried_at = self._clock()
        if self.store.try_lead(self.by or "a dashboard"):
            return self._take_up()
        self._notices.append(
            f"following: the team's outbox is sent by {self.store.leader()} dashboard; "
            "orders and alerts from here go through it"
        )
        return 0

    # Input from the UI

    def submit(self, kind: Kind, device_id: str, body: str) -> Dispatch:
        """A new order or alert: committed to the outbox, then sent if its link is up (or by
        the team's leader, when another dashboard leads)."""
        now = self._clock()
        try:
            seq = self.store.next_seq()
        except StoreError as error:
            self.store_problem = str(error)
            self._problems.append(str(error))
            seq = 0
        created = rules.new_dispatch(
            self._new_id(),
            seq,
            kind,
            device_id,
            body,
            now=now,
            expiry=self._expiry,
            by=self.by,
        )
        if seq == 0:
            refused = rules.refused(created, "the outbox cannot keep it", now)
            self._reports.append(refused)
            self.outcomes[refused.stage] += 1
            return refused
        if not self.leading:
            return self._hand_to_leader(created, now)
        self._open[created.dispatch_id] = created
        self._unsaved[created.dispatch_id] = created
        self._history.append(self._entry(created, now))
        if not self._commit():
            self._change(created, rules.refused(created, "the outbox cannot keep it", now))
            return self._latest(created)
        if self._link_up[LINK_OF[kind]]:
            self._send_queued(kind)
        else:
            self._reports.append(created)
        return self._latest(created)

    def _hand_to_leader(self, created: Dispatch, now: float) -> Dispatch:
        """Following: commit it to the team's outbox, where the leading dashboard takes it."""
        self.mine.add(created.dispatch_id)
        self._unsaved[created.dispatch_id] = created
        self._history.append(self._entry(created, now))
        if not self._commit():
            refused = rules.refused(created, "the outbox cannot keep it", now)
            self._reports.append(refused)
            self.outcomes[refused.stage] += 1
            return refused
        self._reports.append(
            replace(created, detail=f"the team's leader sends it: {self.store.leader()}")
        )
        return created

    # Events from the links (drained on the UI thread)

    def observe(self, event: Event) -> None:
        if isinstance(event, OrderOutcome):
            self._settle(event.order_id, event)
        elif isinstance(event, AlertOutcome):
            self._settle(event.alert_id, event)
        elif isinstance(event, LinkStateChanged):
            self._link_changed(event)
        elif isinstance(event, QueueConsumers):
            self._consumers[event.device_id] = event.consumers

    def record_changes(self, changes: Iterable[StatusChange]) -> None:
        """The fleet's status changes, for the history: the leading dashboard's only."""
        now = self._clock()
        for change in changes:
            if change.before is None:
                text = f"first heard: {change.after} ({change.reason})"
                self._motion_asks.first_heard(change.device_id)
            else:
                text = f"{change.before} -> {change.after}"
                if change.reason:
                    text += f" ({change.reason})"
            if self.leading:
                self._history.append(HistoryEntry(now, "status", text, change.device_id))

    def record_wills(self, notes: Iterable[WillNote]) -> None:
        """The wills the fleet weighed, believed or disputed: the leading dashboard's only."""
        if self.leading:
            now = self._clock()
            for note in notes:
                self._history.append(HistoryEntry(now, "will", note.text, note.device_id))

    def record_geofence(self, device_id: str, line: str) -> None:
        """A truck entered or left one of the operator's geofences."""
        if self.leading:
            self._history.append(HistoryEntry(self._clock(), "geofence", line, device_id))

    def tick(self) -> None:
        """Follow the team, expire what waited too long, retry what a link handed back,
        commit, prune daily."""
        now = self._clock()
        self._follow_team(now)
        for dispatch in list(self._open.values()):
            self._change(dispatch, rules.expire(dispatch, now))
        for link, up in self._link_up.items():
            if up:
                self._send_queued(KIND_OF[link])
        self._commit()
        self._motion_asks.tick()
        if self.fleet_memory is not None:
            self.fleet_memory.tick()
        if now - self._pruned_at >= DAY:
            self._prune(now)

    # Output to the UI

    def take_reports(self) -> list[Dispatch]:
        reports, self._reports = self._reports, []
        return reports

    def take_problems(self) -> list[str]:
        problems, self._problems = self._problems, []
        if self.fleet_memory is not None:
            problems.extend(self.fleet_memory.take_problems())
        return problems

    def queued(self, kind: Kind | None = None) -> list[Dispatch]:
        return [
            d
            for d in self._open.values()
            if d.stage is Stage.QUEUED and (kind is None or d.kind is kind)
        ]

    def device_record(self, device_id: str, *, transitions: int, dispatches: int) -> DeviceRecord:
        """The newest ``transitions`` and ``dispatches`` the store has kept of ``device_id``."""
        return read_device_record(
            self.store, self.team, device_id, transitions=transitions, dispatches=dispatches
        )

    def quit_question(self) -> str | None:
        """What to ask before this dashboard quits, or None (``domain/leaving.py``)."""
        self._commit()
        try:
            own = self.store.own_open(self.by)
        except StoreError:
            own = len(self._open)
        return quit_question(own, self.store.alone(), self._expiry)

    def unsettled(self) -> int:
        """Dispatches queued or sending."""
        return len(self._open)

    def close(self) -> None:
        self._commit()
        with contextlib.suppress(StoreError):
            self.team_links.withdraw()
        if self.fleet_memory is not None:
            self.fleet_memory.close()
        self.store.close()

    # Inside

    def _latest(self, dispatch: Dispatch) -> Dispatch:
        return self._open.get(dispatch.dispatch_id, dispatch)

    def _link_changed(self, event: LinkStateChanged) -> None:
        up = event.state is LinkState.UP
        was_up = self._link_up[event.link]
        self._link_up[event.link] = up
        if up:
            self._down_since.pop(event.link, None)
        else:
            self._down_since.setdefault(event.link, self._clock())
        if up != was_up:
            self.publish_links()
        text = f"{event.link} link {event.state}"
        if event.detail:
            text += f": {event.detail}"
        if self.leading:
            self._history.append(HistoryEntry(self._clock(), "link", text))
        if self._recorder is not None:
            self._recorder.link(str(event.link), str(event.state), event.detail)
        if up and not was_up:
            self._send_queued(KIND_OF[event.link])

    def _waiting_links(self) -> set[LinkName]:
        """The links the queued dispatches need."""
        return {LINK_OF[d.kind] for d in self._open.values() if d.stage is Stage.QUEUED}

    def _send_queued(self, kind: Kind) -> None:
        """Send every queued dispatch of ``kind``, oldest first, each committed as sending."""
        now = self._clock()
        batch = []
        for queued in rules.send_order(self._open.values(), kind):
            current = rules.expire(queued, now)
            if current.stage is Stage.EXPIRED:
                self._change(queued, current)
                continue
            batch.append(rules.sending(queued, _HANDING_OVER, now))
        if not batch:
            return
        for dispatch in batch:
            self._open[dispatch.dispatch_id] = dispatch
            self._unsaved[dispatch.dispatch_id] = dispatch
        self._commit()  # on failure still sent: at least once, only the restart promise is lost
        for dispatch in batch:
            self._hand_over(dispatch, now)

    def _hand_over(self, dispatch: Dispatch, now: float) -> None:
        try:
            if dispatch.kind is Kind.ORDER:
                send_id = self._order_link.send_order(
                    dispatch.device_id,
                    dispatch.body,
                    expires_at=dispatch.expires_at,
                    dispatch_id=dispatch.dispatch_id,
                    by=dispatch.by,
                )
            else:
                send_id = self._alert_link.send_alert(
                    dispatch.device_id, dispatch.body, dispatch_id=dispatch.dispatch_id
                )
        except InvalidDeviceIdError as error:
            self._change(dispatch, rules.refused(dispatch, str(error), now))
            return
        sent = replace(dispatch, send_id=send_id)
        if self._recorder is not None:
            kind, device_id = dispatch.kind.value, dispatch.device_id
            self._recorder.sent(kind, device_id, dispatch.body, send_id, dispatch.dispatch_id)
        self._by_send_id[send_id] = dispatch.dispatch_id
        if sent.possible_duplicate:
            self.resends += 1
        self._change(dispatch, sent, force=True)

    def _settle(self, send_id: str, event: OrderOutcome | AlertOutcome) -> None:
        if self._recorder is not None:
            self._recorder.outcome(send_id, event.device_id, str(event.delivery), event.detail)
        dispatch_id = self._by_send_id.pop(send_id, None)
        dispatch = self._open.get(dispatch_id) if dispatch_id is not None else None
        if dispatch is None or dispatch.send_id != send_id:
            log.info("outcome for an unknown or superseded send %s: %s", send_id, event.delivery)
            return
        device = self._fleet.devices.get(dispatch.device_id)
        online = device is not None and device.status is DeviceStatus.ONLINE
        reach = rules.reach_of(dispatch.kind, online, self._consumers.get(dispatch.device_id))
        after = rules.outcome(
            dispatch,
            event.delivery,
            event.failure,
            detail=event.detail,
            reach=reach,
            now=self._clock(),
        )
        self._change(dispatch, after)

    def _change(
        self, before: Dispatch, after: Dispatch, note: str = "", *, force: bool = False
    ) -> None:
        """Keep ``after``: in memory while open, for the next commit, and as news."""
        if after == before and not note:
            return
        if after.is_open:
            self._open[after.dispatch_id] = after
        else:
            self._open.pop(after.dispatch_id, None)
            self.outcomes[after.stage] += 1
        self._unsaved[after.dispatch_id] = after
        if after.stage is not before.stage or note or force:
            self._history.append(self._entry(after, self._clock(), note))
            self._reports.append(after)

    def _entry(self, dispatch: Dispatch, now: float, note: str = "") -> HistoryEntry:
        line, _ = rules.describe(dispatch, order_limit=None)
        if note:
            line += f" ({note})"
        kind, device_id, dispatch_id = dispatch.kind.value, dispatch.device_id, dispatch.dispatch_id
        return HistoryEntry(now, kind, line, device_id, dispatch_id, dispatch.by or None)

    def _commit(self) -> bool:
        dispatches = list(self._unsaved.values())
        history, self._history = self._history, []
        self._unsaved.clear()
        if not dispatches and not history:
            return self.store_problem is None
        try:
            self.store.save(dispatches, history)
        except StoreError as error:
            self.store_problem = str(error)
            self._problems.append(str(error))
            return False
        self.store_problem = None
        return True

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        try:
            self.store.prune(now, self._history_days)
        except StoreError as error:
            self._problems.append(str(error))
