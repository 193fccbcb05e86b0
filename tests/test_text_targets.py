"""Network text shown literally, and broker URLs parsed without ever exposing a password."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mwm_tui.domain.targets import BrokerTarget, Protocol, TargetError, parse_target
from mwm_tui.domain.text import literal

STOMP, MQTT = Protocol.STOMP, Protocol.MQTT
SECRET = "hunter2-s3cret"

# --- literal() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("line\rover", "line\\x0dover"),
        ("ding\x07", "ding\\x07"),
        ("nul\x00byte", "nul\\x00byte"),
        ("\u202eevil", "\\u202eevil"),
        ("tab\there", "tab\\x09here"),
        ("new\nline", "new\\x0aline"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b", "csi\\x9b"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("half\ud800", "half\\ud800"),
    ],
    ids=["esc", "cr", "bel", "nul", "rlo", "tab", "lf", "del", "c1-csi", "tag-char", "surrogate"],
)
def test_literal_makes_control_and_format_characters_visible(raw: str, shown: str) -> None:
    assert literal(raw) == shown


@pytest.mark.parametrize(
    "text",
    ["[red]x[/red]", "[bold link=https://x]y[/]", "Łódź トラック 🚚", "48.8581, 2.2946", ""],
)
def test_literal_leaves_markup_and_ordinary_unicode_alone(text: str) -> None:
    assert literal(text) == text


def test_literal_turns_unusual_spaces_into_plain_spaces() -> None:
    assert literal("a\xa0b\u2003c") == "a b c"


def test_literal_truncates_with_an_ellipsis() -> None:
    assert literal("abcdefghij", 5) == "abcd…"
    assert len(literal("x" * 500, 40)) == 40
    assert literal("abcde", 5) == "abcde"
    assert literal("abc", None) == "abc"


def test_literal_counts_the_limit_on_what_is_shown() -> None:
    shown = literal("\x1b" * 10, 8)
    assert shown == "\\x1b\\x1…"
    assert "\x1b" not in shown


@settings(max_examples=300, deadline=None)
@given(st.text(), st.none() | st.integers(1, 50))
def test_literal_never_lets_a_control_character_through(text: str, limit: int | None) -> None:
    shown = literal(text, limit)
    assert shown.isprintable()
    if limit is not None:
        assert len(shown) <= limit


# --- parse_target ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected", "target"),
    [
        ("stomp://broker", STOMP, BrokerTarget(STOMP, "broker", 61613, False)),
        ("stomp://broker:61614", STOMP, BrokerTarget(STOMP, "broker", 61614, False)),
        ("stomp+ssl://broker", STOMP, BrokerTarget(STOMP, "broker", 61612, True)),
        ("stomp+tls://broker:1234", STOMP, BrokerTarget(STOMP, "broker", 1234, True)),
        ("mqtt://broker", MQTT, BrokerTarget(MQTT, "broker", 1883, False)),
        ("mqtt://broker:1884", MQTT, BrokerTarget(MQTT, "broker", 1884, False)),
        ("mqtts://broker", MQTT, BrokerTarget(MQTT, "broker", 8883, True)),
        ("mqtt+ssl://broker", MQTT, BrokerTarget(MQTT, "broker", 8883, True)),
        ("STOMP://Broker.Example/", STOMP, BrokerTarget(STOMP, "broker.example", 61613, False)),
        ("  mqtt://127.0.0.1  ", MQTT, BrokerTarget(MQTT, "127.0.0.1", 1883, False)),
    ],
)
def test_parse_target(url: str, expected: Protocol, target: BrokerTarget) -> None:
    assert parse_target(url, expected) == target


def test_user_at_host() -> None:
    target = parse_target("stomp://dispatcher@broker:61613", STOMP)
    assert target.username == "dispatcher"
    assert target.password is None
    assert target.host == "broker"


def test_percent_encoded_user() -> None:
    assert parse_target("mqtt://hq%40paris@broker", MQTT).username == "hq@paris"


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [("mqtt://[::1]", "::1", 1883), ("stomp://[2001:db8::7]:61613", "2001:db8::7", 61613)],
)
def test_ipv6_host(url: str, host: str, port: int) -> None:
    expected = MQTT if url.startswith("mqtt") else STOMP
    target = parse_target(url, expected)
    assert (target.host, target.port) == (host, port)
    assert f"[{host}]:{port}" in target.display()


@pytest.mark.parametrize(
    ("url", "expected", "variable"),
    [
        (f"stomp://admin:{SECRET}@broker", STOMP, "MWM_STOMP_PASSWORD"),
        (f"stomp+ssl://admin:{SECRET}@broker:61612", STOMP, "MWM_STOMP_PASSWORD"),
        (f"mqtts://admin:{SECRET}@broker", MQTT, "MWM_MQTT_PASSWORD"),
        ("mqtt://admin:@broker", MQTT, "MWM_MQTT_PASSWORD"),
    ],
)
def test_password_in_url_is_refused(url: str, expected: Protocol, variable: str) -> None:
    with pytest.raises(TargetError) as caught:
        parse_target(url, expected)
    assert variable in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"mqtt://admin:{SECRET}@broker",
        f"http://admin:{SECRET}@broker",
        f"stomp://admin:{SECRET}@broker:notaport",
        f"stomp://admin:{SECRET}@broker:99999",
        f"stomp://admin:{SECRET}@[::1",
        f"stomp://admin:{SECRET}@broker/queue",
        f"stomp://admin:{SECRET}@broker?x=1",
        f"stomp://admin:{SECRET}@@broker#f",
        f"stomp://admin:{SECRET}@",
    ],
)
def test_no_error_message_repeats_a_password(url: str) -> None:
    # Error messages go to logs; the password must not, whatever else is wrong.
    with pytest.raises(TargetError) as caught:
        parse_target(url, STOMP)
    assert SECRET not in str(caught.value)
    assert "admin" in str(caught.value) or "MWM_STOMP_PASSWORD" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [("mqtt://broker", STOMP), ("mqtts://broker", STOMP), ("stomp://broker", MQTT)],
)
def test_wrong_protocol_is_refused(url: str, expected: Protocol) -> None:
    with pytest.raises(TargetError, match="URL is expected"):
        parse_target(url, expected)


@pytest.mark.parametrize("url", ["amqp://broker", "http://broker", "broker:61613", "ws://b"])
def test_unknown_scheme_is_refused_with_the_known_ones(url: str) -> None:
    with pytest.raises(TargetError, match="unknown scheme") as caught:
        parse_target(url, STOMP)
    assert "stomp://" in str(caught.value) and "mqtt://" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["stomp://broker/queue/x", "stomp://broker?client-id=1", "stomp://broker#frag", "stomp://b/x"],
)
def test_path_query_fragment_are_refused(url: str) -> None:
    with pytest.raises(TargetError, match="no path"):
        parse_target(url, STOMP)


@pytest.mark.parametrize("url", ["stomp://", "stomp://:61613", "stomp://user@"])
def test_missing_host_is_refused(url: str) -> None:
    with pytest.raises(TargetError, match="no host"):
        parse_target(url, STOMP)


@pytest.mark.parametrize("url", ["stomp://broker:65536", "stomp://broker:x", "stomp://[::1"])
def test_unusable_port_or_host_is_refused(url: str) -> None:
    with pytest.raises(TargetError, match="not a broker URL"):
        parse_target(url, STOMP)


# --- display ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected", "shown"),
    [
        ("stomp://hq@broker", STOMP, "stomp://hq@broker:61613"),
        ("stomp+tls://broker", STOMP, "stomp+ssl://broker:61612"),
        ("mqtts://hq@broker:9883", MQTT, "mqtts://hq@broker:9883"),
        ("mqtt://[::1]", MQTT, "mqtt://[::1]:1883"),
    ],
)
def test_display(url: str, expected: Protocol, shown: str) -> None:
    assert parse_target(url, expected).display() == shown


def test_display_and_repr_never_contain_the_password() -> None:
    target = parse_target("stomp+ssl://hq@broker", STOMP).with_password(SECRET)
    assert target.password == SECRET
    assert SECRET not in target.display()
    assert SECRET not in repr(target)
    assert SECRET not in str(target)
    assert target.display() == "stomp+ssl://hq@broker:61612"


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=6, max_size=30).filter(lambda s: s.isprintable() and s.strip() == s))
def test_display_never_contains_any_password(password: str) -> None:
    base = BrokerTarget(MQTT, "broker", 1883, True, "hq")
    assume(password not in base.display() and password not in repr(base))
    target = base.with_password(password)
    assert password not in target.display()
    assert password not in repr(target)


@pytest.mark.parametrize(
    "user_info",
    [f"hq%3A{SECRET}", f"hq%3a{SECRET}", f"hq%253A{SECRET}", f"hq%25253a{SECRET}"],
)
def test_password_hidden_by_percent_encoding_is_refused(user_info: str) -> None:
    for scheme, expected in (("mqtt", MQTT), ("stomp+ssl", STOMP)):
        url = f"{scheme}://{user_info}@broker"
        with pytest.raises(TargetError, match="holds a password") as caught:
            parse_target(url, expected)
        assert SECRET not in str(caught.value)
        # Any other fault in such a URL is reported without the password too.
        with pytest.raises(TargetError) as caught:
            parse_target(f"{url}/path", expected)
        assert SECRET not in str(caught.value)
