"""The composition root: the links, the outbox, the fleet and the dispatcher built from the
settings and handed to the app. The command line, the tests and the benchmarks build here."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from textual.widget import Widget

from mwm_tui.adapters.base import AlertLink, EventSink, OrderLink
from mwm_tui.adapters.demo import DemoFleet, DemoMqttLink, DemoStompLink
from mwm_tui.adapters.identity import unix_account
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.adapters.recording import Recorder, RecordReader
from mwm_tui.adapters.replay import ReplayMqttLink, ReplayStompLink, player_for
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.store import Store
from mwm_tui.config import Settings, data_path
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.services.dispatcher import Dispatcher
from mwm_tui.services.fleet_memory import FleetMemory
from mwm_tui.services.team_board import TeamBoard
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.replay import ReplayApp
from mwm_tui.ui.widgets.record_status import RecordStatus
from mwm_tui.ui.widgets.replay_bar import ReplayBar

LinkFactory = Callable[[EventSink], tuple[OrderLink, AlertLink]]


def links_for(settings: Settings) -> LinkFactory:
    """The demo's in-process links, or the real brokers' links, as the settings say."""

    def build(sink: EventSink) -> tuple[OrderLink, AlertLink]:
        if settings.demo:
            fleet = DemoFleet(settings.devices, seed=settings.seed)
            return DemoStompLink(fleet, sink), DemoMqttLink(fleet, sink)
        return (
            StompLink(settings.stomp_targets(), sink, client_id=settings.client_id),
            MqttLink(settings.mqtt_targets(), sink, client_id=settings.client_id),
        )

    return build


def tap_links(recorder: Recorder, *links: object) -> None:
    """Hand every message the links receive to ``recorder`` as it comes."""
    for link in links:
        if isinstance(link, StompLink | MqttLink | DemoStompLink | DemoMqttLink):
            link.tap = partial(recorder.message, str(link.name))


def create_app(
    settings: Settings,
    *,
    links: LinkFactory | None = None,
    fleet: Fleet | None = None,
    tune_gc: bool = True,
    wall_clock: Callable[[], float] = time.time,
    recorder: Recorder | None = None,
    store: Store | None = None,
    app_class: type[MwmApp] = MwmApp,
    extras: Sequence[Widget] = (),
    dispatcher_name: str | None = None,
) -> MwmApp:
    """The one way to build the dashboard: from settings, with links around the app's inbox.

    ``dispatcher_name`` signs every order and alert sent from it: the Unix account running
    it unless given. Raises StoreError when the outbox's database cannot be opened,
    OverlayError when an overlay file cannot be read.
    """
    inbox = EventInbox()
    # The demo's orders must never reach a real outbox: it keeps them in memory.
    if store is None:
        store = Store.memory() if settings.demo else Store.open(data_path(settings))
    stomp_link, mqtt_link = (links or links_for(settings))(inbox.put)
    if recorder is not None:
        tap_links(recorder, stomp_link, mqtt_link)
    fleet = fleet or Fleet(
        stale_after=settings.stale_after,
        offline_after=settings.offline_after,
        max_devices=settings.max_devices,
    )
    # The fleet as last known, before any link starts: no dashboard starts blind.
    fleet_memory = FleetMemory(store, fleet, wall_clock=wall_clock, keep_days=settings.history_days)
    fleet_memory.restore()
    by = dispatcher_name if dispatcher_name is not None else unix_account()
    dispatcher = Dispatcher(
        store,
        stomp_link,
        mqtt_link,
        fleet,
        order_expiry=settings.order_expiry,
        history_days=settings.history_days,
        wall_clock=wall_clock,
        recorder=recorder,
        by=by,
        fleet_memory=fleet_memory,
        team_board=TeamBoard(store, by=by, wall_clock=wall_clock),
    )
    app = app_class(
        fleet=fleet,
        inbox=inbox,
        stomp_link=stomp_link,
        mqtt_link=mqtt_link,
        dispatcher=dispatcher,
        demo=settings.demo,
        ascii_only=settings.ascii,
        tune_gc=tune_gc,
        wall_clock=wall_clock,
        screenshot_dir=settings.screenshot_dir,
        extras=[*extras, *([RecordStatus(recorder)] if recorder is not None else [])],
    )
    app.position_map.overlay = load_overlays(settings.overlay_files(), settings.overlay_max_points)
    return app


def create_replay_app(
    settings: Settings, paths: Sequence[Path], records: RecordReader, *, tune_gc: bool = True
) -> ReplayApp:
    """The dashboard over ``records``, with nothing that could reach a broker or the outbox."""
    settings = replace(settings, demo=False)
    player = player_for(paths, records.records)

    def links(sink: EventSink) -> tuple[OrderLink, AlertLink]:
        return ReplayStompLink(player, sink), ReplayMqttLink(player, sink)

    fleet = Fleet(
        clock=player.clock,
        stale_after=settings.stale_after,
        offline_after=settings.offline_after,
        max_devices=settings.max_devices,
    )
    app = create_app(
        settings,
        links=links,
        fleet=fleet,
        tune_gc=tune_gc,
        wall_clock=player.clock,
        store=Store.memory(),
        app_class=ReplayApp,
        extras=[ReplayBar(player)],
    )
    assert isinstance(app, ReplayApp)
    app.player = player
    return app
