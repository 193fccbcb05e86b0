"""The locked-down fleet's accounts and the files written for them, without a broker."""

from __future__ import annotations

import base64
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mwm_tui.adapters import broker_formats as formats
from mwm_tui.cli import main as mwm_tui
from mwm_tui.domain.fleet_access import (
    AccessError,
    fleet_accounts,
    format_credentials,
    mosquitto_password_hash,
    parse_credentials,
    read_device_ids,
)
from mwm_tui.sim.cli import main as mwm_sim


def test_the_password_hash_is_the_one_mosquitto_passwd_wrote() -> None:
    # `mosquitto_passwd -b FILE alice s3cret` (Mosquitto 2.0.11) wrote this line.
    line = (
        "$7$101$s4mWxhPM1DZ5ACD+$fpmBUH4lF/ASvuCbASR7Q3Z6IRR2aVHYutAxaSTi0oId65LWi9B9mI/c+/"
        "ajej2CVZEHECDDIO7FqqVkHjT8Kw=="
    )
    salt = base64.b64decode(line.split("$")[3])
    assert mosquitto_password_hash("s3cret", salt) == line


def test_hq_comes_first_and_a_truck_gets_only_its_own_destinations() -> None:
    hq, truck = fleet_accounts(["AAA"], "dispatch")
    assert (hq.name, hq.is_hq, truck.name, truck.is_hq) == ("dispatch", True, "AAA", False)
    assert truck.rights.mqtt_publish == ("/mwm/AAA/motion", "/mwm/lastWill")
    assert truck.rights.mqtt_subscribe == ("/mwm/AAA/alert",)
    assert [d.name for d in truck.rights.stomp_send] == ["device.AAA.location"]
    assert [d.name for d in truck.rights.stomp_subscribe] == ["device.AAA.text"]
    assert hq.rights.mqtt_subscribe == ("/mwm/+/motion", "/mwm/lastWill")
    assert hq.rights.mqtt_publish == ("/mwm/+/alert", "/mwm/lastWill/web")


@pytest.mark.parametrize(
    ("device_ids", "said"),
    [
        (["AAA", "AAA"], "'AAA' is listed twice"),
        (["hq"], "'hq' is HQ's user"),
        (["a:b"], "contains ':'"),
        (["a*"], "contains '*'"),
        ([], "names no device"),
    ],
)
def test_an_unusable_device_list_is_refused_with_the_reason(
    device_ids: list[str], said: str
) -> None:
    with pytest.raises(AccessError, match=re.escape(said)):
        fleet_accounts(device_ids)


def test_the_device_file_skips_blank_and_comment_lines_and_names_a_bad_line() -> None:
    assert read_device_ids("# fleet\n\n AAA \nŁódź\n", "ids") == ["AAA", "Łódź"]
    with pytest.raises(AccessError, match=r"ids line 3: 'a\.b' cannot be used: it contains '\.'"):
        read_device_ids("AAA\n\na.b\n", "ids")


def test_credentials_read_back_as_written() -> None:
    passwords = {"hq": "p-1", "Łódź": "p_2"}
    assert parse_credentials(format_credentials(passwords), "c") == passwords
    with pytest.raises(AccessError, match="c line 1: expected 'ID PASSWORD'"):
        parse_credentials("lonely\n", "c")


def test_ids_are_quoted_for_every_format_they_land_in() -> None:
    odd = "q<&\"'(x)$\\=Łódź🚚"
    accounts = fleet_accounts([odd])
    users = formats.activemq_users({odd: "pw"})
    assert "q<&\"'(x)$\\\\\\=\\u0141\\u00f3d\\u017a\\ud83d\\ude9a=pw" in users
    xml = formats.activemq_xml(accounts, formats.Listener("127.0.0.1", 61613), "/data")
    namespace = "{http://activemq.apache.org/schema/core}"
    entries = ET.fromstring(xml.encode()).iter(f"{namespace}authorizationEntry")
    named = {entry.get("queue") or entry.get("topic") for entry in entries}
    assert {f"device.{odd}.text", f"device.{odd}.location"} <= named
    resource, topic = formats.rabbitmq_permissions(accounts[1])
    assert re.fullmatch(resource[2], f"device.{odd}.text")
    assert not re.fullmatch(resource[2], "device.other.text")
    assert re.fullmatch(topic[0], f".mwm.{odd}.motion")
    assert re.fullmatch(formats.rabbitmq_permissions(accounts[0])[1][1], ".mwm.x.motion")


def test_the_command_writes_every_file_for_the_owner_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ids").write_text("AAA\nBBB\n")
    out = tmp_path / "fleet"
    assert (
        mwm_tui(["brokers", "config", "--devices", str(tmp_path / "ids"), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert f"mosquitto -c {out}/mosquitto/mosquitto.conf" in printed
    assert f"xbean:file:{out}/activemq/activemq.xml" in printed
    credentials = (out / "credentials").read_text().splitlines()
    assert [line.split()[0] for line in credentials] == ["hq", "AAA", "BBB"]
    for path in out.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
    assert "listener 1883 127.0.0.1" in (out / "mosquitto" / "mosquitto.conf").read_text()
    # Never over what is there.
    assert (
        mwm_tui(["brokers", "config", "--devices", str(tmp_path / "ids"), "--out", str(out)]) == 2
    )
    assert "exists and is not an empty directory" in capsys.readouterr().err


def test_the_command_refuses_half_of_tls_and_a_bad_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids_file = tmp_path / "ids"
    ids_file.write_text("AAA\n")
    common = ["brokers", "config", "--devices", str(ids_file), "--out", str(tmp_path / "f")]
    assert mwm_tui([*common, "--tls-cert", str(ids_file)]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err
    ids_file.write_text("AAA\nB B\n")
    assert mwm_tui(common) == 2
    assert "line 2" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()
    # A certificate openssl cannot read leaves nothing behind, no password above all.
    ids_file.write_text("AAA\n")
    assert mwm_tui([*common, "--tls-cert", str(ids_file), "--tls-key", str(ids_file)]) == 2
    assert "ActiveMQ's keystore" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_the_simulator_wants_a_private_credentials_file_with_every_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(format_credentials({"hq": "x", "AAA": "y"}))
    credentials.chmod(0o644)
    assert mwm_sim(["--credentials", str(credentials), "--ids", "AAA"]) == 2
    assert "chmod 600" in capsys.readouterr().err
    credentials.chmod(0o600)
    assert mwm_sim(["--credentials", str(credentials), "--ids", "AAA,BBB"]) == 2
    assert "has no password for BBB" in capsys.readouterr().err
