"""What the dashboard needs of a link, whether it talks to a real broker or to the demo fleet."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from mwm_tui.domain.events import Event, LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.inbox import EventInbox

# Called from a link's own threads; must return at once (EventInbox.put does).
EventSink = Callable[[Event], None]
# Takes the events of one read burst, in order, at once (EventInbox.put_many does).
BatchSink = Callable[[Sequence[Event]], None]
# Sees each message as received (source, raw payload, retained, headers worth keeping), on the
# link's thread, before it is decoded; must return at once (Recorder.message does).
MessageTap = Callable[[str, bytes, bool, Mapping[str, str] | None], None]


def batch_sink(sink: EventSink) -> BatchSink:
    """``EventInbox.put_many`` when ``sink`` is an inbox's ``put``, else one call per event."""
    owner = getattr(sink, "__self__", None)
    if isinstance(owner, EventInbox) and getattr(sink, "__func__", None) is EventInbox.put:
        return owner.put_many

    def one_by_one(events: Sequence[Event]) -> None:
        for event in events:
            sink(event)

    return one_by_one


class Link(Protocol):
    name: LinkName

    @property
    def label(self) -> str:
        """Where the link goes, for the status bar (never holds a password)."""
        ...

    def start(self) -> None:
        """Begin connecting on the link's own thread and return at once."""
        ...

    def stop(self) -> None:
        """Disconnect and end the link's threads; safe to call twice."""
        ...

    def reconnect_now(self) -> None:
        """Cut any wait before the next connection attempt short and connect at once."""
        ...


class OrderLink(Link, Protocol):
    def send_order(
        self,
        device_id: str,
        text: str,
        *,
        expires_at: float | None = None,
        dispatch_id: str | None = None,
        by: str = "",
    ) -> str:
        """Queue a text order for one device; return its order id.

        ``expires_at`` (epoch seconds) tells the broker to drop it if no truck took it by then;
        ``dispatch_id`` names the dispatch it belongs to, the same on every resend; ``by`` the
        dispatcher who made it.

        Raises InvalidDeviceIdError before anything is sent when the id cannot be addressed.
        The outcome comes back later as an OrderOutcome event.
        """
        ...


class AlertLink(Link, Protocol):
    def send_alert(self, device_id: str, colour: str, *, dispatch_id: str | None = None) -> str:
        """Publish an alert to one device at QoS 1; return its alert id.

        Raises InvalidDeviceIdError before anything is sent when the id cannot be addressed.
        The outcome comes back later as an AlertOutcome event.
        """
        ...


@runtime_checkable
class MotionAsker(Protocol):
    def ask_motion(self, device_id: str) -> None:
        """Ask the broker once for the device's retained motion by its exact topic.

        For brokers that give retained messages to no wildcard subscription (RabbitMQ). An id
        that cannot be addressed is ignored. Returns at once; the motion comes as an event.
        """
        ...


class MessageSource(Protocol):
    """What an in-process link feeds from: the demo's fleet, a replay's player."""

    def attach(self, name: LinkName, sink: EventSink | None) -> None:
        """Start sending ``name``'s events to ``sink`` (None: stop)."""
        ...


class InProcessLink:
    """A link whose broker is in this process: it reports connecting then up, and feeds from
    its source until stopped. It never waits to reconnect: a stopped one stays stopped."""

    name: LinkName

    def __init__(self, source: MessageSource, sink: EventSink, label: str) -> None:
        self._source = source
        self._sink = sink
        self._label = label
        self._up = False
        self._ids = itertools.count(1)

    @property
    def label(self) -> str:
        return self._label

    def start(self) -> None:
        if self._up:
            return
        self._sink(LinkStateChanged(self.name, LinkState.CONNECTING, self._label))
        self._up = True
        self._sink(LinkStateChanged(self.name, LinkState.UP, self._label))
        self._source.attach(self.name, self._sink)

    def stop(self) -> None:
        if not self._up:
            return
        self._up = False
        self._source.attach(self.name, None)
        self._sink(LinkStateChanged(self.name, LinkState.DOWN, "stopped"))

    def reconnect_now(self) -> None:
        """Nothing to reconnect to."""
