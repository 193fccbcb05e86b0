"""The broker matrix: a STOMP broker and an MQTT broker HQ and mwm-sim run against, and what
those brokers can do. ``broker_pair`` in tests/conftest.py hands one to a test per pair."""

from __future__ import annotations

from dataclasses import dataclass

from mwm_tui.domain.targets import Protocol, parse_target

# Mosquitto + ActiveMQ, ActiveMQ serving both protocols, RabbitMQ serving both.
PAIR_NAMES = ("mosquitto+activemq", "activemq", "rabbitmq")


@dataclass(frozen=True)
class BrokerPair:
    """Where HQ's two links go, and the broker capabilities a test's assertions depend on.

    ``retained_to_wildcard``: a new ``/mwm/+/motion`` subscription gets each truck's retained
    motion (RabbitMQ gives retained messages to exact subscriptions only).
    ``advisories``: the STOMP broker tells who consumes a truck's order queue.
    """

    name: str
    stomp_url: str
    mqtt_url: str
    retained_to_wildcard: bool
    advisories: bool

    @property
    def stomp_port(self) -> int:
        return parse_target(self.stomp_url, Protocol.STOMP).port

    @property
    def mqtt_port(self) -> int:
        return parse_target(self.mqtt_url, Protocol.MQTT).port

    @property
    def one_broker(self) -> bool:
        """Both protocols served by one broker (one client-id namespace for both)."""
        return self.name != "mosquitto+activemq"
