"""TLS to real brokers with a CA made by the test: verified, refused by cause, client certs."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.events import Delivery, LinkName, LinkState, LinkStateChanged, OrderOutcome
from mwm_tui.domain.targets import BrokerTarget, Protocol, TlsOptions, parse_target
from tests.support.brokers import ActiveMQ, BrokerStarter, BrokerTls, Mosquitto
from tests.support.link_events import Recorder, wait_until
from tests.support.pki import KeyPair, TestCA

MQTT = LinkName.MQTT


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    directory = tmp_path_factory.mktemp("pki")
    ca = TestCA(directory / "ca")
    other_ca = TestCA(directory / "other-ca", name="someone else's CA")
    return {
        "ca": ca,
        "other_ca": other_ca,
        "server": ca.issue("broker.test", dns=("broker.test",), ips=("127.0.0.1",)),
        "expired": ca.issue("old.test", dns=("old.test",), ips=("127.0.0.1",), expired=True),
        "client": ca.issue("hq", client=True),
        # A client certificate the brokers' CA never signed.
        "stranger": other_ca.issue("hq", client=True),
    }


def tls_mosquitto(workdir: Path, server: KeyPair, ca: TestCA, *, clients: bool) -> Mosquitto:
    tls = BrokerTls(server.cert, server.key, ca.cert, require_certificate=clients)
    return Mosquitto(workdir=workdir, tls=tls)


def mqtts(broker: Mosquitto, options: TlsOptions, host: str = "127.0.0.1") -> BrokerTarget:
    target = parse_target(f"mqtts://{host}:{broker.port}", Protocol.MQTT)
    return target.with_tls_options(options)


def first_outcome(target: BrokerTarget) -> LinkStateChanged:
    """The link's first UP or DOWN after connecting to ``target``."""
    events = Recorder()
    link = MqttLink([target], events)
    link.start()
    try:
        return wait_until(
            lambda: next(
                (
                    event
                    for _, event in events.states(MQTT)
                    if event.state in (LinkState.UP, LinkState.DOWN)
                ),
                None,
            ),
            20,
            "MQTT up or down",
        )
    finally:
        link.stop()


def test_mqtt_link_verifies_the_broker_with_the_given_ca(
    pki: dict[str, object], tmp_path: Path, own_brokers: BrokerStarter
) -> None:
    ca, server = pki["ca"], pki["server"]
    assert isinstance(ca, TestCA) and isinstance(server, KeyPair)
    broker = own_brokers(tls_mosquitto(tmp_path / "m", server, ca, clients=False))
    outcome = first_outcome(mqtts(broker, TlsOptions(cafile=str(ca.cert))))
    assert outcome.state is LinkState.UP, outcome.detail
    # The certificate names broker.test, not the host HQ connects to.
    named = TlsOptions(cafile=str(ca.cert), server_name="broker.test")
    outcome = first_outcome(mqtts(broker, named, host="localhost"))
    assert outcome.state is LinkState.UP, outcome.detail


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("unknown CA", "unknown CA"),
        ("wrong name", "name mismatch"),
        ("expired", "certificate expired"),
    ],
)
def test_mqtt_link_refuses_a_bad_certificate_and_names_the_cause(
    pki: dict[str, object], tmp_path: Path, own_brokers: BrokerStarter, case: str, cause: str
) -> None:
    ca, other_ca = pki["ca"], pki["other_ca"]
    assert isinstance(ca, TestCA) and isinstance(other_ca, TestCA)
    server = pki["expired" if case == "expired" else "server"]
    assert isinstance(server, KeyPair)
    broker = own_brokers(tls_mosquitto(tmp_path / "m", server, ca, clients=False))
    trusted = other_ca if case == "unknown CA" else ca
    name = "elsewhere.test" if case == "wrong name" else None
    outcome = first_outcome(mqtts(broker, TlsOptions(cafile=str(trusted.cert), server_name=name)))
    assert outcome.state is LinkState.DOWN
    assert f"TLS certificate of 127.0.0.1:{broker.port} rejected: {cause}" in outcome.detail


def test_mqtt_link_presents_a_client_certificate_when_the_broker_requires_one(
    pki: dict[str, object], tmp_path: Path, own_brokers: BrokerStarter
) -> None:
    ca, server, client = pki["ca"], pki["server"], pki["client"]
    assert isinstance(ca, TestCA) and isinstance(server, KeyPair) and isinstance(client, KeyPair)
    broker = own_brokers(tls_mosquitto(tmp_path / "m", server, ca, clients=True))
    without = first_outcome(mqtts(broker, TlsOptions(cafile=str(ca.cert))))
    assert without.state is LinkState.DOWN
    assert without.detail == (
        f"TLS: 127.0.0.1:{broker.port} requires a client certificate and HQ gave none "
        "(give one with --cert FILE --key FILE)"
    )
    stranger = pki["stranger"]
    assert isinstance(stranger, KeyPair)
    foreign = TlsOptions(
        cafile=str(ca.cert), certfile=str(stranger.cert), keyfile=str(stranger.key)
    )
    refused = first_outcome(mqtts(broker, foreign))
    assert refused.state is LinkState.DOWN
    assert f"TLS: 127.0.0.1:{broker.port} refused HQ's client certificate (" in refused.detail
    options = TlsOptions(cafile=str(ca.cert), certfile=str(client.cert), keyfile=str(client.key))
    outcome = first_outcome(mqtts(broker, options))
    assert outcome.state is LinkState.UP, outcome.detail


def test_insecure_connects_to_an_unknown_ca_and_says_so(
    pki: dict[str, object], tmp_path: Path, own_brokers: BrokerStarter
) -> None:
    ca, server = pki["ca"], pki["server"]
    assert isinstance(ca, TestCA) and isinstance(server, KeyPair)
    broker = own_brokers(tls_mosquitto(tmp_path / "m", server, ca, clients=False))
    outcome = first_outcome(mqtts(broker, TlsOptions(insecure=True), host="localhost"))
    assert outcome.state is LinkState.UP, outcome.detail
    assert "INSECURE" in outcome.broker


@pytest.fixture
def tls_listener(pki: dict[str, object]) -> Iterator[int]:
    """A TLS server socket with the expired certificate that answers handshakes and closes."""
    server = pki["expired"]
    assert isinstance(server, KeyPair)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server.cert, server.key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
                pass
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stopping.set()
    thread.join(5)
    listener.close()


def test_stomp_link_names_the_cause_of_a_refused_handshake(
    pki: dict[str, object], tls_listener: int
) -> None:
    ca = pki["ca"]
    assert isinstance(ca, TestCA)
    target = parse_target(f"stomp+ssl://127.0.0.1:{tls_listener}", Protocol.STOMP)
    events = Recorder()
    link = StompLink([target.with_tls_options(TlsOptions(cafile=str(ca.cert)))], events)
    link.start()
    try:
        down = wait_until(
            lambda: next(
                (e for _, e in events.states(LinkName.STOMP) if e.state is LinkState.DOWN), None
            ),
            20,
            "STOMP down",
        )
    finally:
        link.stop()
    where = f"127.0.0.1:{tls_listener}"
    assert f"TLS certificate of {where} rejected: certificate expired" in down.detail


@pytest.fixture(scope="module")
def activemq_tls(
    real_brokers: None, pki: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], ActiveMQ]]:
    """ActiveMQ with a ``stomp+ssl`` connector, by certificate: "server", "expired" or
    "clients" (the server certificate, and a client certificate from the CA required)."""
    ca, client = pki["ca"], pki["client"]
    assert isinstance(ca, TestCA) and isinstance(client, KeyPair)
    started: dict[str, ActiveMQ] = {}

    def broker(kind: str) -> ActiveMQ:
        if kind not in started:
            server = pki["expired" if kind == "expired" else "server"]
            assert isinstance(server, KeyPair)
            clients = kind == "clients"
            tls = BrokerTls(
                server.cert,
                server.key,
                ca.cert,
                require_certificate=clients,
                probe_certfile=client.cert if clients else None,
                probe_keyfile=client.key if clients else None,
            )
            workdir = tmp_path_factory.mktemp(f"activemq-{kind}")
            started[kind] = ActiveMQ(workdir=workdir, tls=tls).start()
        return started[kind]

    yield broker
    for running_broker in started.values():
        running_broker.close()


def stomp_ssl(broker: ActiveMQ, options: TlsOptions, host: str = "127.0.0.1") -> BrokerTarget:
    target = parse_target(f"stomp+ssl://{host}:{broker.port}", Protocol.STOMP)
    return target.with_tls_options(options)


@contextlib.contextmanager
def stomp_link(target: BrokerTarget) -> Iterator[tuple[StompLink, Recorder, LinkStateChanged]]:
    """A running STOMP link on ``target``, what it records, and its first UP or DOWN."""
    events = Recorder()
    link = StompLink([target], events, advisories=False)
    link.start()
    try:
        outcome = wait_until(
            lambda: next(
                (
                    event
                    for _, event in events.states(LinkName.STOMP)
                    if event.state in (LinkState.UP, LinkState.DOWN)
                ),
                None,
            ),
            30,
            "STOMP up or down",
        )
        yield link, events, outcome
    finally:
        link.stop()


def test_stomp_link_verifies_activemq_with_the_given_ca_and_gets_receipts(
    pki: dict[str, object], activemq_tls: Callable[[str], ActiveMQ]
) -> None:
    ca = pki["ca"]
    assert isinstance(ca, TestCA)
    broker = activemq_tls("server")
    with stomp_link(stomp_ssl(broker, TlsOptions(cafile=str(ca.cert)))) as (link, events, up):
        assert up.state is LinkState.UP, up.detail
        order_id = link.send_order("truck-07", "Back to depot")
        _, outcome = wait_until(
            lambda: events.first(OrderOutcome, order_id=order_id), 20, "the order's receipt"
        )
    assert outcome.delivery is Delivery.CONFIRMED, outcome.detail
    # The certificate names broker.test, not the host HQ connects to.
    named = TlsOptions(cafile=str(ca.cert), server_name="broker.test")
    with stomp_link(stomp_ssl(broker, named, host="localhost")) as (_, _, up):
        assert up.state is LinkState.UP, up.detail


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("unknown CA", "unknown CA"),
        ("wrong name", "name mismatch"),
        ("expired", "certificate expired"),
    ],
)
def test_stomp_link_refuses_a_bad_activemq_certificate_and_names_the_cause(
    pki: dict[str, object], activemq_tls: Callable[[str], ActiveMQ], case: str, cause: str
) -> None:
    ca, other_ca = pki["ca"], pki["other_ca"]
    assert isinstance(ca, TestCA) and isinstance(other_ca, TestCA)
    broker = activemq_tls("expired" if case == "expired" else "server")
    trusted = other_ca if case == "unknown CA" else ca
    name = "elsewhere.test" if case == "wrong name" else None
    options = TlsOptions(cafile=str(trusted.cert), server_name=name)
    with stomp_link(stomp_ssl(broker, options)) as (_, _, outcome):
        assert outcome.state is LinkState.DOWN
    assert f"TLS certificate of 127.0.0.1:{broker.port} rejected: {cause}" in outcome.detail


def test_stomp_link_presents_a_client_certificate_when_activemq_requires_one(
    pki: dict[str, object], activemq_tls: Callable[[str], ActiveMQ]
) -> None:
    ca, client = pki["ca"], pki["client"]
    assert isinstance(ca, TestCA) and isinstance(client, KeyPair)
    broker = activemq_tls("clients")
    with stomp_link(stomp_ssl(broker, TlsOptions(cafile=str(ca.cert)))) as (_, _, without):
        assert without.state is LinkState.DOWN
    # Java answers a missing certificate with a bad_certificate alert after the handshake.
    assert without.detail == (
        f"TLS: 127.0.0.1:{broker.port} requires a client certificate and HQ gave none "
        "(give one with --cert FILE --key FILE)"
    )
    stranger = pki["stranger"]
    assert isinstance(stranger, KeyPair)
    foreign = TlsOptions(
        cafile=str(ca.cert), certfile=str(stranger.cert), keyfile=str(stranger.key)
    )
    with stomp_link(stomp_ssl(broker, foreign)) as (_, _, refused):
        assert refused.state is LinkState.DOWN
    assert f"TLS: 127.0.0.1:{broker.port} refused HQ's client certificate (" in refused.detail
    options = TlsOptions(cafile=str(ca.cert), certfile=str(client.cert), keyfile=str(client.key))
    with stomp_link(stomp_ssl(broker, options)) as (_, _, outcome):
        assert outcome.state is LinkState.UP, outcome.detail
