"""Links for UI tests that need a still screen: they connect at once and record what is sent.

They implement the same OrderLink / AlertLink interface as the broker links and the demo.
"""

from __future__ import annotations

from mwm_tui.adapters.base import EventSink
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.ids import alert_topic, order_destination


class RecordingLink:
    def __init__(self, name: LinkName, sink: EventSink) -> None:
        self.name = name
        self.sink = sink
        self.sent: list[tuple[str, str, str]] = []
        # Who made each order, as the link was told (its ``mwm-by`` header on the wire).
        self.senders: list[str] = []

    @property
    def label(self) -> str:
        return f"{self.name.lower()}://test"

    def start(self) -> None:
        self.sink(LinkStateChanged(self.name, LinkState.UP, self.label))

    def stop(self) -> None:
        """Nothing to close."""

    def reconnect_now(self) -> None:
        """Always connected."""

    def send_order(
        self,
        device_id: str,
        text: str,
        *,
        expires_at: float | None = None,
        dispatch_id: str | None = None,
        by: str = "",
    ) -> str:
        del expires_at, dispatch_id
        self.sent.append((order_destination(device_id), device_id, text))
        self.senders.append(by)
        return f"order-{len(self.sent)}"

    def send_alert(self, device_id: str, colour: str, *, dispatch_id: str | None = None) -> str:
        del dispatch_id
        self.sent.append((alert_topic(device_id), device_id, colour))
        return f"alert-{len(self.sent)}"


def recording_links(sink: EventSink) -> tuple[RecordingLink, RecordingLink]:
    return RecordingLink(LinkName.STOMP, sink), RecordingLink(LinkName.MQTT, sink)
