"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwm_tui.config import locale_is_utf8
from tests.support.brokers import (
    ActiveMQ,
    ActiveMQFactory,
    Mosquitto,
    MosquittoFactory,
    RabbitMQ,
)
from tests.support.matrix import PAIR_NAMES, BrokerPair

# The app and the terminals the tests start draw in Unicode unless a test asks for ASCII.
if not locale_is_utf8(os.environ):
    os.environ["LC_ALL"] = "C.UTF-8"


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own $XDG_DATA_HOME: no outbox or history is shared or left in ~/.local."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


# Real brokers. The session ones are shared by every test: never stop, kill or restart them;
# ask fresh_mosquitto() / fresh_activemq() for a broker of your own instead.


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A Mosquitto for the whole session; ``.url`` is ``mqtt://127.0.0.1:PORT``."""
    with Mosquitto(workdir=tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture(scope="session")
def activemq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActiveMQ]:
    """An ActiveMQ for the whole session; ``.url`` is ``stomp://127.0.0.1:PORT``."""
    with ActiveMQ(workdir=tmp_path_factory.mktemp("activemq")) as broker:
        yield broker


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQ]:
    """A RabbitMQ (STOMP ``.url`` and MQTT ``.mqtt_url``) for the whole session."""
    with RabbitMQ(workdir=tmp_path_factory.mktemp("rabbitmq")) as broker:
        yield broker


@pytest.fixture(scope="session")
def activemq_both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActiveMQ]:
    """An ActiveMQ serving STOMP (``.url``) and MQTT (``.mqtt_url``), with advisories."""
    workdir = tmp_path_factory.mktemp("activemq-both")
    with ActiveMQ(workdir=workdir, mqtt=True, advisories=True) as broker:
        yield broker


@pytest.fixture(params=PAIR_NAMES)
def broker_pair(request: pytest.FixtureRequest) -> BrokerPair:
    """Each pair of session brokers in turn; a pair's brokers start when a test first asks."""
    name = request.param
    if name == "activemq":
        both: ActiveMQ = request.getfixturevalue("activemq_both")
        assert both.mqtt_url is not None
        return BrokerPair(name, both.url, both.mqtt_url, True, True)
    if name == "rabbitmq":
        rabbit: RabbitMQ = request.getfixturevalue("rabbitmq")
        return BrokerPair(name, rabbit.url, rabbit.mqtt_url, False, False)
    activemq: ActiveMQ = request.getfixturevalue("activemq")
    mosquitto: Mosquitto = request.getfixturevalue("mosquitto")
    return BrokerPair(name, activemq.url, mosquitto.url, True, False)


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Factory of private Mosquittos, free to kill and restart; all stopped after the test."""
    brokers: list[Mosquitto] = []

    def make(*, port: int | None = None, persistent: bool = False) -> Mosquitto:
        broker = Mosquitto(port, tmp_path / f"mosquitto-{len(brokers)}", persistent=persistent)
        brokers.append(broker)
        return broker.start()

    yield make
    for broker in brokers:
        broker.close()


@pytest.fixture
def fresh_activemq(tmp_path: Path) -> Iterator[ActiveMQFactory]:
    """Factory of private ActiveMQs (``mqtt=True`` adds an MQTT connector); stopped after."""
    brokers: list[ActiveMQ] = []

    def make(*, port: int | None = None, mqtt: bool = False, persistent: bool = False) -> ActiveMQ:
        workdir = tmp_path / f"activemq-{len(brokers)}"
        broker = ActiveMQ(port, workdir, mqtt=mqtt, persistent=persistent)
        brokers.append(broker)
        return broker.start()

    yield make
    for broker in brokers:
        broker.close()
