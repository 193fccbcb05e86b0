"""Shared pytest fixtures."""

from __future__ import annotations

import gc
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from mwm_tui.config import locale_is_utf8
from tests.support.brokers import (
    ActiveMQ,
    ActiveMQFactory,
    Broker,
    BrokerStarter,
    BrokerT,
    Mosquitto,
    MosquittoFactory,
    RabbitMQ,
)
from tests.support.cli import Finished, RunCli, run_main
from tests.support.matrix import PAIR_NAMES, BrokerPair
from tests.support.sim import Sim
from tests.support.sshd import Sshd

# The app and the terminals the tests start draw in Unicode unless a test asks for ASCII.
if not locale_is_utf8(os.environ):
    os.environ["LC_ALL"] = "C.UTF-8"


# The group a test joins when it uses one of these fixtures, itself or through another fixture.
# `make check` runs the tests of no group: they need nothing that apt installs.
GROUP_OF_FIXTURE = {
    "real_brokers": "brokers",
    "tmux": "e2e",
    "sshd": "ssh",
    "chromium_profile": "browser",
    "system_services": "system",
    "completion_shells": "e2e",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the groups of the fixtures it uses; the slow ones go first, so
    that in a parallel run the other tests fill the time around them."""
    for item in items:
        used = getattr(item, "fixturenames", ())
        for group in sorted({GROUP_OF_FIXTURE[name] for name in used if name in GROUP_OF_FIXTURE}):
            item.add_marker(group)
    items.sort(key=lambda item: "slow" not in item.keywords)


# A young collection after this many new objects, as the dashboard has it (ui/gc_policy.py).
YOUNG_COLLECTION_THRESHOLD = 10_000

# Importing and collecting the tests make objects that live as long as the process: no
# collection looks for garbage among them until collection is done (0.1 s a test process).
gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Collect garbage as the dashboard does: what imports and collection made is frozen, and
    young collections are rarer. With CPython's defaults the apps the tests start and drop
    cost each test process a quarter of its CPU in full collections. These stay automatic."""
    gc.collect()
    gc.freeze()
    gc.enable()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """One full collection at the end, then freeze what is left: pytest's own five collections
    for unraisable exceptions then find only what that one freed (0.2-0.5 s a test process)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def stays_in_its_groups(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test outside a group may not start that group's programs: it would pass only where
    they happen to be installed. Ask for the fixture that gives them instead."""

    def refuse(what: str, fixture: str) -> Callable[..., NoReturn]:
        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            pytest.fail(f"{request.node.nodeid} starts {what} without asking for `{fixture}`")

        return refused

    groups = request.node.keywords
    # A patch of its own: a test's monkeypatch.undo() leaves this one in place.
    with pytest.MonkeyPatch.context() as patch:
        if "brokers" not in groups:
            patch.setattr(Broker, "start", refuse("a broker", "own_brokers"))
        if "ssh" not in groups:
            patch.setattr(Sshd, "__enter__", refuse("sshd", "sshd"))
        # Only a test module that drives Chromium imports its support (and Playwright).
        browser = sys.modules.get("tests.support.browser")
        if browser is not None and "browser" not in groups:
            patch.setattr(browser.Browser, "__init__", refuse("Chromium", "chromium_profile"))
        yield


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own $XDG_DATA_HOME: no outbox or history is shared or left in ~/.local."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``cli(*args, env=..., stdin=...)``: `mwm-tui ARGS` in this process, its status and
    output."""

    def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Finished:
        return run_main(capsys, monkeypatch, *args, env=env, stdin=stdin)

    return run


@pytest.fixture
def clean_cli(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """``cli`` with no MWM_ variable (and, as ``cli`` has it, no config file)."""
    for name in [name for name in os.environ if name.startswith("MWM_")]:
        monkeypatch.delenv(name)
    return cli


# Real brokers. The session ones are shared by every test: never stop, kill or restart them;
# ask fresh_mosquitto() / fresh_activemq() / own_brokers() for a broker of your own instead.
# Under pytest-xdist each worker has session brokers of its own (own ports and work dirs).


@pytest.fixture(scope="session")
def real_brokers() -> None:
    """Asked for by every fixture that starts a broker: it puts the test in group `brokers`."""


@pytest.fixture(scope="session")
def mosquitto(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A Mosquitto for the whole session; ``.url`` is ``mqtt://127.0.0.1:PORT``."""
    with Mosquitto(workdir=tmp_path_factory.mktemp("mosquitto")) as broker:
        yield broker


@pytest.fixture(scope="session")
def activemq(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActiveMQ]:
    """An ActiveMQ for the whole session; ``.url`` is ``stomp://127.0.0.1:PORT``."""
    with ActiveMQ(workdir=tmp_path_factory.mktemp("activemq")) as broker:
        yield broker


@pytest.fixture(scope="session")
def rabbitmq(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQ]:
    """A RabbitMQ (STOMP ``.url`` and MQTT ``.mqtt_url``) for the whole session."""
    with RabbitMQ(workdir=tmp_path_factory.mktemp("rabbitmq")) as broker:
        yield broker


@pytest.fixture(scope="session")
def activemq_both(
    real_brokers: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ActiveMQ]:
    """An ActiveMQ serving STOMP (``.url``) and MQTT (``.mqtt_url``), with advisories."""
    workdir = tmp_path_factory.mktemp("activemq-both")
    with ActiveMQ(workdir=workdir, mqtt=True, advisories=True) as broker:
        yield broker


@pytest.fixture(params=PAIR_NAMES)
def broker_pair(real_brokers: None, request: pytest.FixtureRequest) -> BrokerPair:
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
def fresh_mosquitto(real_brokers: None, tmp_path: Path) -> Iterator[MosquittoFactory]:
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
def fresh_activemq(real_brokers: None, tmp_path: Path) -> Iterator[ActiveMQFactory]:
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


@pytest.fixture
def own_brokers(real_brokers: None) -> Iterator[BrokerStarter]:
    """Starts brokers a test sets up itself (accounts, TLS, a chosen port): ``own_brokers(
    Mosquitto(...))`` returns it started. Free to kill and restart; all closed after the test."""
    started: list[Broker] = []

    def start(broker: BrokerT) -> BrokerT:
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.close()


@pytest.fixture
def completion_shells() -> None:
    """Asked for by a test that runs zsh and fish (installed by `make bootstrap`), as a person
    would use them: it joins group `e2e`."""
    missing = [shell for shell in ("zsh", "fish") if shutil.which(shell) is None]
    assert not missing, f"{', '.join(missing)} not installed: run `make bootstrap`"


@pytest.fixture
def system_services() -> None:
    """Asked for by a test that installs services on this machine and removes them: root."""
    assert os.geteuid() == 0, "the `system` tests change this machine's services: run as root"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    """A real sshd on loopback that lets in the user running the tests with its own key."""
    with Sshd(tmp_path) as server:
        yield server


@pytest.fixture
def chromium_profile(tmp_path: Path) -> Path:
    """Where this test's headless Chromium keeps its profile: ``chromium(chromium_profile)``."""
    return tmp_path / "profile"


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """Starts mwm-sim: ``sim_factory(stomp_url, mqtt_url, *arguments)``; all stopped after."""
    made: list[Sim] = []

    def make(stomp_url: str, mqtt_url: str, *arguments: str) -> Sim:
        sim = Sim(stomp_url, mqtt_url, tmp_path / f"sim-{len(made)}", *arguments)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.stop()
