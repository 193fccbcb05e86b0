"""The embedded demo fleet: every state a dispatcher can meet shows up, through the real codecs."""

from __future__ import annotations

import time

import pytest

from mwm_tui.adapters.demo import DemoFleet, DemoMqttLink, DemoStompLink
from mwm_tui.domain.errors import InvalidDeviceIdError
from mwm_tui.domain.events import AlertOutcome, Delivery, DeviceNotice, Failure, OrderOutcome
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.domain.inbox import EventInbox


def died(seen: set[tuple[DeviceStatus | None, DeviceStatus]]) -> bool:
    live = (DeviceStatus.ONLINE, DeviceStatus.STALE)
    return any(before in live and after is DeviceStatus.OFFLINE for before, after in seen)


def test_silence_death_return_and_a_malformed_message_all_happen() -> None:
    inbox = EventInbox()
    fleet = Fleet(stale_after=0.8, offline_after=30.0)
    demo = DemoFleet(6, seed=3, pace=0.1)
    links = DemoStompLink(demo, inbox.put), DemoMqttLink(demo, inbox.put)
    seen: set[tuple[DeviceStatus | None, DeviceStatus]] = set()
    for link in links:
        link.start()
    try:
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            fleet.apply_all(inbox.drain(10_000))
            fleet.sweep()
            seen |= {(change.before, change.after) for change in fleet.take_changes()}
            wanted = {
                (DeviceStatus.ONLINE, DeviceStatus.STALE),
                (DeviceStatus.OFFLINE, DeviceStatus.ONLINE),
            }
            if wanted <= seen and died(seen) and fleet.rejects_by_reason:
                break
            time.sleep(0.05)
    finally:
        for link in links:
            link.stop()
    assert (DeviceStatus.ONLINE, DeviceStatus.STALE) in seen, seen
    # A death goes silent first and its will follows (stale by then, at this pace): offline
    # long before offline_after, so by the will.
    assert died(seen), seen
    assert (DeviceStatus.OFFLINE, DeviceStatus.ONLINE) in seen, seen
    assert sum(fleet.rejects_by_reason.values()) >= 1
    assert len(fleet.devices) == 6


def test_orders_and_alerts_get_receipts_and_no_claims_a_real_truck_cannot_make() -> None:
    inbox = EventInbox()
    demo = DemoFleet(3, incidents=False)
    stomp, mqtt = DemoStompLink(demo, inbox.put), DemoMqttLink(demo, inbox.put)
    stomp.start()
    mqtt.start()
    try:
        order_id = stomp.send_order("truck-02", "Back to depot")
        alert_id = mqtt.send_alert("truck-03", "blue")
        with pytest.raises(InvalidDeviceIdError):
            stomp.send_order("truck-*", "everyone")
        events: list[object] = []
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and demo.taken("truck-03")[1] != ["blue"]:
            events.extend(inbox.drain(10_000))
            time.sleep(0.05)
        while time.monotonic() < deadline and not demo.taken("truck-02")[0]:
            time.sleep(0.05)
        events.extend(inbox.drain(10_000))
    finally:
        stomp.stop()
        mqtt.stop()
    assert OrderOutcome(order_id, "truck-02", Delivery.CONFIRMED, "receipt") in events
    assert any(isinstance(e, AlertOutcome) and e.alert_id == alert_id for e in events)
    assert demo.taken("truck-02") == (["Back to depot"], [])
    assert demo.taken("truck-03") == ([], ["blue"])
    # Devices send nothing back (docs/PROTOCOL.md#at-a-glance): neither may the demo's trucks.
    assert not [e for e in events if isinstance(e, DeviceNotice)]


def test_a_stopped_link_fails_orders_with_a_reason() -> None:
    inbox = EventInbox()
    stomp = DemoStompLink(DemoFleet(2, incidents=False), inbox.put)
    order_id = stomp.send_order("truck-01", "hello")
    down = OrderOutcome(
        order_id, "truck-01", Delivery.FAILED, "STOMP link is down", Failure.NOT_SENT
    )
    assert down in (inbox.drain(100))
