"""ActiveMQ's consumer advisories on the device order queues: how many consumers each has."""

from __future__ import annotations

from collections.abc import Mapping

from mwm_tui.domain import ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import Event, LinkName, MessageRejected, QueueConsumers

ADVISORY_SUBSCRIPTION_ID = "mwm-tui-order-consumers"
# ActiveMQ's consumer advisories for every device's order queue (needs XStream and Jettison on
# the broker's classpath; without them the broker sends nothing, and no transformation header
# is sent because with it such a broker drops the connection).
ADVISORY_SUBSCRIPTION = "/topic/ActiveMQ.Advisory.Consumer.Queue.device.>"
_ADVISORY_PREFIX = "/topic/ActiveMQ.Advisory.Consumer.Queue.device."
_ADVISORY_SUFFIX = ".text"


def advisory_event(headers: Mapping[str, str]) -> Event:
    """An advisory on ``/queue/device.<ID>.text``: how many consumers that queue has now."""
    destination = headers.get("destination", "")
    if not (destination.startswith(_ADVISORY_PREFIX) and destination.endswith(_ADVISORY_SUFFIX)):
        detail = f"{destination!r} is not an advisory of a device's order queue"
        return MessageRejected(LinkName.STOMP, RejectReason.BAD_DESTINATION, detail, destination)
    device_id = destination[len(_ADVISORY_PREFIX) : len(destination) - len(_ADVISORY_SUFFIX)]
    problem = ids.id_problem(device_id)
    if problem is not None:
        detail = f"advisory for an unusable device id: {problem}"
        return MessageRejected(LinkName.STOMP, RejectReason.BAD_ID, detail, destination)
    count = headers.get("consumerCount")
    if count is None:
        detail = "advisory without a consumerCount header"
        return MessageRejected(LinkName.STOMP, RejectReason.MISSING_FIELD, detail, destination)
    if not (count.isascii() and count.isdigit() and len(count) <= 9):
        detail = f"consumerCount {count[:20]!r} is not a count"
        return MessageRejected(LinkName.STOMP, RejectReason.MISTYPED_FIELD, detail, destination)
    return QueueConsumers(device_id, int(count))
