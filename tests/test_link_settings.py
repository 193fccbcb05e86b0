"""Broker lists in settings: flags, MWM_* variables and the TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.cli import main
from mwm_tui.commands.options import settings_from
from mwm_tui.config import ConfigError, load_settings
from mwm_tui.domain.targets import Protocol, TargetError, parse_targets


def config_file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "mwm-tui" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # it may hold passwords
    return {"XDG_CONFIG_HOME": str(tmp_path)}


def shown(targets: list[object]) -> list[str]:
    return [target.display() for target in targets]  # type: ignore[attr-defined]


def test_comma_separated_urls_are_brokers_in_failover_order() -> None:
    targets = parse_targets("stomp://a:61613, stomp+ssl://hq@b ,stomp://c", Protocol.STOMP)
    assert shown(targets) == ["stomp://a:61613", "stomp+ssl://hq@b:61612", "stomp://c:61613"]


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("", "no stomp broker URL given"),
        (" , ", "no stomp broker URL given"),
        ("stomp://a,,stomp://b", "empty stomp broker URL in the list"),
        ("stomp://a,mqtt://b", "'mqtt://b' is a mqtt URL where a stomp URL is expected"),
        ("stomp://a,stomp://a:61613", "stomp://a:61613 is listed twice"),
        ("stomp://a,stomp://hq:s3cret@b", "stomp URL holds a password"),
    ],
)
def test_bad_broker_lists_are_named(urls: str, message: str) -> None:
    with pytest.raises(TargetError) as raised:
        parse_targets(urls, Protocol.STOMP)
    assert message in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_toml_lists_environment_and_flags_all_give_lists(tmp_path: Path) -> None:
    environ = config_file(
        tmp_path,
        'stomp = ["stomp://hq@a:61613", "stomp://hq@b:61613"]\n'
        'mqtt = "mqtt://a:1883,mqtt://b:1883"\nmqtt_password = "pw"\n',
    )
    environ["MWM_STOMP_PASSWORD"] = "s3cret"
    settings = load_settings({}, environ)
    stomp_targets, mqtt_targets = settings.stomp_targets(), settings.mqtt_targets()
    assert shown(stomp_targets) == ["stomp://hq@a:61613", "stomp://hq@b:61613"]
    assert [target.password for target in stomp_targets] == ["s3cret", "s3cret"]
    assert shown(mqtt_targets) == ["mqtt://a:1883", "mqtt://b:1883"]
    assert [target.password for target in mqtt_targets] == ["pw", "pw"]
    environ["MWM_MQTT"] = "mqtt://env-a,mqtt://env-b"
    assert shown(load_settings({}, environ).mqtt_targets()) == [
        "mqtt://env-a:1883",
        "mqtt://env-b:1883",
    ]
    flags = settings_from(["--stomp", "stomp://x:1,stomp://y:2"])
    assert shown(flags.stomp_targets()) == ["stomp://x:1", "stomp://y:2"]


def test_a_toml_list_of_non_strings_is_refused(tmp_path: Path) -> None:
    environ = config_file(tmp_path, "stomp = [1, 2]\n")
    with pytest.raises(ConfigError, match=r"stomp = \[1, 2\] must be a URL in quotes"):
        load_settings({}, environ)


def test_a_bad_url_in_a_list_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["--mqtt", "mqtt://a,mqtt://u:pw@b"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mwm-tui: error: mqtt URL holds a password")
    assert "pw@" not in error


def test_links_start_on_the_first_broker_and_name_it() -> None:
    targets = parse_targets("stomp://a:1,stomp://b:2", Protocol.STOMP)
    link = StompLink(targets, lambda event: None)
    assert link.label == "stomp://a:1"
    assert link.targets == tuple(targets)
    mqtt = MqttLink(parse_targets("mqtt://a:1", Protocol.MQTT)[0], lambda event: None)
    assert mqtt.label == "mqtt://a:1"
    with pytest.raises(ValueError):
        StompLink([], lambda event: None)
